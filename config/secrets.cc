#include "config/secrets.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <unistd.h>

namespace omni::config {
namespace {

bool valid_env_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

std::optional<std::string> read_secret_file(std::string_view spec, std::string& error) {
  std::filesystem::path path{std::string(spec)};
  if (path.is_relative()) {
    if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY"); dir != nullptr && *dir != '\0') {
      path = std::filesystem::path(dir) / path;
    }
  }
  const auto fail = [&](int err) {
    error = "cannot read secret file '" + path.string() + "': " + std::strerror(err);
    return std::nullopt;
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(errno);
  std::string value;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return fail(err);
    }
    if (n == 0) break;
    value.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (!value.empty() && value.back() == '\n') {
    value.pop_back();
    if (!value.empty() && value.back() == '\r') value.pop_back();
  }
  return value;
}

}  // namespace

secret_expansion expand_secrets(std::string_view text) {
  secret_expansion out;
  if (text.find('$') == std::string_view::npos) {
    out.value = std::string(text);
    return out;
  }
  std::string result;
  result.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      result += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      result += text[i++];
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      out.error = "unterminated secret reference '" + std::string(text.substr(i)) +
                  "' (write $${ for a literal ${)";
      return out;
    }
    const std::string_view ref = text.substr(i + 2, close - i - 2);
    if (ref.starts_with("file:")) {
      const std::string_view path = ref.substr(5);
      if (path.empty()) {
        out.error = "empty file path in secret reference '${file:}'";
        return out;
      }
      auto contents = read_secret_file(path, out.error);
      if (!contents) return out;
      result += *contents;
    } else {
      if (!valid_env_name(ref)) {
        out.error = "invalid secret reference '${" + std::string(ref) +
                    "}': expected ${ENV_NAME} or ${file:PATH}";
        return out;
      }
      const std::string name(ref);
      const char* value = std::getenv(name.c_str());
      if (value == nullptr) {
        out.error =
            "environment variable '" + name + "' is not set (referenced as ${" + name + "})";
        return out;
      }
      result += value;
    }
    i = close + 1;
  }
  out.value = std::move(result);
  return out;
}

bool has_secret_reference(std::string_view text) {
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (text.compare(i, 3, "$${") == 0) {
      i += 2;
      continue;
    }
    if (text[i] == '$' && text[i + 1] == '{') return true;
  }
  return false;
}

}  // namespace omni::config
