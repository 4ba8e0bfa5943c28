#include "connectors/imap/resume.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace omni::connectors::imap {

std::filesystem::path state_path(const std::filesystem::path& dir, const std::string& mailbox) {
  std::string safe;
  for (unsigned char c : mailbox)
    safe += std::isalnum(c) || c == '-' || c == '_' || c == '.' ? static_cast<char>(c) : '_';
  return dir / ("mailbox-" + safe + ".json");
}

core::result<std::optional<mailbox_state>> load_state(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(file)) return std::optional<mailbox_state>();
    return core::error{"cannot read " + file.string(), ""};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j["mailbox"].is_string() ||
      !j["uidvalidity"].is_number_unsigned() || !j["last_uid"].is_number_unsigned())
    return core::error{"damaged resume state " + file.string(), ""};
  mailbox_state s;
  s.mailbox = j["mailbox"].get<std::string>();
  s.uidvalidity = j["uidvalidity"].get<std::uint32_t>();
  s.last_uid = j["last_uid"].get<std::uint32_t>();
  return std::optional<mailbox_state>(s);
}

core::result<bool> save_state(const std::filesystem::path& file, const mailbox_state& s) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  std::string text =
      nlohmann::json{
          {"mailbox", s.mailbox}, {"uidvalidity", s.uidvalidity}, {"last_uid", s.last_uid}}
          .dump() +
      "\n";
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return core::error{"cannot write " + tmp.string() + ": " + std::strerror(errno), ""};
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0)
    return core::error{"cannot write " + file.string() + ": " + std::strerror(ok ? errno : saved),
                       ""};
  return true;
}

}  // namespace omni::connectors::imap
