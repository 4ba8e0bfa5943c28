#pragma once
// Real mail peers for the C++ tests. A real Dovecot: runs tests/e2e/dovecot_harness.py serve (the
// one place that knows how to configure Dovecot; the e2e test and the benchmark use it too) and
// talks to it with the harness's imaplib commands for appending mail and listing UIDs; and an SMTP
// sink.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/metrics/metrics.h"

namespace omni::testing {

inline std::string source_dir() {
  const char* s = std::getenv("OMNI_SOURCE_DIR");
  return s ? s : ".";
}

// One series of the process's metrics registry, e.g. `name{connector="x"}`; 0 when absent.
inline double metric(const std::string& series) {
  std::string text = core::metrics::global().render();
  auto pos = text.find(series + " ");
  return pos == std::string::npos ? 0 : std::stod(text.substr(pos + series.size() + 1));
}

inline std::string read_file(const std::filesystem::path& p) {
  FILE* f = std::fopen(p.c_str(), "rb");
  std::string s;
  if (!f) return s;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

// A helper program that prints one JSON line when ready and runs until its stdin closes.
class json_child {
 public:
  nlohmann::json start(std::vector<std::string> args) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::close(in[1]);
      ::close(out[0]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    ::fcntl(stdin_, F_SETFD, FD_CLOEXEC);
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) throw std::runtime_error(args[1] + " failed to start: " + line);
    return j;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::close(stdin_);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
  }
  ~json_child() { stop(); }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
};

class dovecot {
 public:
  // flags: "--no-idle", "--no-move", "--no-tls"
  explicit dovecot(std::vector<std::string> flags = {}) {
    dir_ = std::filesystem::temp_directory_path() /
           ("omni-dovecot-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::remove_all(dir_);
    std::vector<std::string> args{"python3", harness(), "serve", dir_.string()};
    for (auto& f : flags) args.push_back(f);
    auto j = child_.start(args);
    imap_port = j["imap_port"].get<int>();
    imaps_port = j["imaps_port"].get<int>();
    cert = j["cert"].get<std::string>();
    user = j["user"].get<std::string>();
    password = j["password"].get<std::string>();
  }
  ~dovecot() {
    child_.stop();
    std::filesystem::remove_all(dir_);
  }
  dovecot(const dovecot&) = delete;
  dovecot& operator=(const dovecot&) = delete;

  // Appends fixture files (paths relative to tests/connectors/imap/fixtures/ unless absolute).
  void append(const std::string& mailbox, const std::vector<std::string>& files) const {
    std::string cmd =
        "python3 '" + harness() + "' append " + std::to_string(imap_port) + " '" + mailbox + "'";
    for (const auto& f : files)
      cmd += " '" +
             (f.starts_with("/") ? f : source_dir() + "/tests/connectors/imap/fixtures/" + f) + "'";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("append failed: " + cmd);
  }

  std::vector<int> uids(const std::string& mailbox) const {
    std::string cmd =
        "python3 '" + harness() + "' uids " + std::to_string(imap_port) + " '" + mailbox + "'";
    std::vector<int> out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return out;
    int v;
    while (std::fscanf(p, "%d", &v) == 1) out.push_back(v);
    ::pclose(p);
    return out;
  }

  std::string log() const { return read_file(dir_ / "dovecot.log"); }

  const std::filesystem::path& dir() const { return dir_; }

  int imap_port = 0;
  int imaps_port = 0;
  std::string cert, user, password;

 private:
  static std::string harness() { return source_dir() + "/tests/e2e/dovecot_harness.py"; }
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::filesystem::path dir_;
  json_child child_;
};

// tests/e2e/smtp_sink.py: an SMTP submission server (aiosmtpd) writing what it accepts to a
// directory as <n>.eml + <n>.json.
class smtp_sink {
 public:
  explicit smtp_sink(std::vector<std::string> flags = {}) {
    dir = std::filesystem::temp_directory_path() / ("omni-smtp-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::vector<std::string> args{"python3", source_dir() + "/tests/e2e/smtp_sink.py",
                                  dir.string()};
    for (auto& f : flags) args.push_back(f);
    auto j = child_.start(args);
    port = j["port"].get<int>();
    cert = j["cert"].get<std::string>();
  }
  ~smtp_sink() {
    child_.stop();
    std::filesystem::remove_all(dir);
  }
  smtp_sink(const smtp_sink&) = delete;
  smtp_sink& operator=(const smtp_sink&) = delete;

  // The n-th accepted message (1-based), or "" when there is none yet.
  std::string message(int n) const { return read_file(dir / (std::to_string(n) + ".eml")); }
  std::string envelope(int n) const { return read_file(dir / (std::to_string(n) + ".json")); }

  std::filesystem::path dir;
  int port = 0;
  std::string cert;

 private:
  json_child child_;
};

}  // namespace omni::testing
