#pragma once
// A real Dovecot for the C++ tests: runs tests/e2e/dovecot_harness.py serve (the one place that
// knows how to configure Dovecot; the e2e test and the benchmark use it too) and talks to it with
// the harness's imaplib commands for appending mail and listing UIDs.

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

namespace omni::testing {

inline std::string source_dir() {
  const char* s = std::getenv("OMNI_SOURCE_DIR");
  return s ? s : ".";
}

class dovecot {
 public:
  // flags: "--no-idle", "--no-move", "--no-tls"
  explicit dovecot(std::vector<std::string> flags = {}) {
    dir_ = std::filesystem::temp_directory_path() /
           ("omni-dovecot-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::remove_all(dir_);
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::close(in[1]);
      ::close(out[0]);
      std::vector<std::string> args{"python3", harness(), "serve", dir_.string()};
      for (auto& f : flags) args.push_back(f);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("python3", argv.data());
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
    if (j.is_discarded()) throw std::runtime_error("dovecot harness failed: " + line);
    imap_port = j["imap_port"].get<int>();
    imaps_port = j["imaps_port"].get<int>();
    cert = j["cert"].get<std::string>();
    user = j["user"].get<std::string>();
    password = j["password"].get<std::string>();
  }
  ~dovecot() {
    ::close(stdin_);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    std::filesystem::remove_all(dir_);
  }
  dovecot(const dovecot&) = delete;
  dovecot& operator=(const dovecot&) = delete;

  // Appends fixture files (paths relative to tests/connectors/fixtures/imap/ unless absolute).
  void append(const std::string& mailbox, const std::vector<std::string>& files) const {
    std::string cmd =
        "python3 '" + harness() + "' append " + std::to_string(imap_port) + " '" + mailbox + "'";
    for (const auto& f : files)
      cmd += " '" +
             (f.starts_with("/") ? f : source_dir() + "/tests/connectors/fixtures/imap/" + f) + "'";
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

  std::string log() const {
    FILE* f = std::fopen((dir_ / "dovecot.log").c_str(), "r");
    std::string s;
    if (!f) return s;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
    return s;
  }

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
  pid_t pid_ = -1;
  int stdin_ = -1;
};

}  // namespace omni::testing
