#include "daemon/cli.h"

#include <boost/version.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/bus/bus.h"
#include "daemon/application.h"
#include "daemon/args.h"
#include "daemon/dev_kafka.h"
#include "daemon/simulate.h"
#include "daemon/validate.h"
#include "daemon/version.h"

namespace omni::daemon {
namespace {

constexpr int exit_ok = 0, exit_failure = 1, exit_usage = 2;
constexpr const char* default_config = "/etc/omniroute/omniroute.yaml";

constexpr const char* main_help = R"(omniroute — omnichannel contact routing for contact centers

Turns every inbound customer contact (email, web chat, messengers, phone calls) into one event on
Kafka, routes it to the best agent by skill, load and history, and feeds agent desktops.

Usage: omniroute <command> [options]

Commands:
  serve          run the daemon (connectors, router, agent-desktop gateway)
  check-config   validate a configuration file and print every error
  dev-kafka      run the embedded Kafka cluster as a process of its own
  simulate       run the routing config against a simulated day (virtual time)
  version        print version information
  help [COMMAND] show help for a command

Run 'omniroute <command> --help' for the options of a command.
Documentation: README.md and docs/ in the source tree.
)";

constexpr const char* serve_help = R"(Usage: omniroute serve [--config FILE] [--log-level LEVEL]

Runs the daemon until SIGTERM or SIGINT, which drain it (stop accepting, deliver what is queued,
commit) and exit 0. SIGHUP re-reads the configuration: a file with errors is rejected and the
running configuration stays.

Options:
  -c, --config FILE      configuration file (default: /etc/omniroute/omniroute.yaml)
      --log-level LEVEL  override logging.level: trace, debug, info, warn, error
  -h, --help             show this help

With `kafka.brokers: embedded` (the default) an in-memory Kafka cluster runs inside the process;
its bootstrap address is logged and shown by the admin endpoint's /readyz.
)";

constexpr const char* check_help = R"(Usage: omniroute check-config [--production] [FILE]

Loads FILE (default: /etc/omniroute/omniroute.yaml) exactly as `serve` would, including secret
references (${ENV}, ${file:/path}), and prints every error as file:line:col: message.

Options:
      --production  also refuse what only a demo may use: desk tokens starting with "demo-"
                    (the packaged service runs this before every start)
  -h, --help        show this help

Exit status: 0 when the file is valid, 2 when it has errors.
)";

constexpr const char* dev_kafka_help = R"(Usage: omniroute dev-kafka [options]

Runs the embedded Kafka cluster (librdkafka's mock cluster: real Kafka protocol, data in memory)
as a standalone process, with omniroute's topics created. Prints one line
`bootstrap.servers=HOST:PORT` on stdout when ready, then runs until SIGTERM or SIGINT.

Options:
      --port N            also accept bootstrap connections on 127.0.0.1:N
      --brokers N         number of mock brokers (default 1)
      --partitions N      partitions per topic (default 6)
      --topic-prefix P    topic name prefix (default omni.)
      --bootstrap-file F  also write the bootstrap address to F once ready
      --admin-port N      fault injection over HTTP on 127.0.0.1:N (for tests):
                            POST /brokers/<id>/down, /brokers/<id>/up,
                            /brokers/<id>/latency?ms=N,
                            /partitions/<topic>/<p>/leader?broker=<id>,
                            /errors?api=<key>&count=N&error=<code>
  -h, --help              show this help
)";

constexpr const char* version_help = R"(Usage: omniroute version

Prints the omniroute version and the versions of the libraries that matter for support.
)";

bool is_help(std::string_view a) { return a == "-h" || a == "--help"; }

int usage_error(const std::string& message, const char* command) {
  std::fprintf(stderr, "omniroute %s: %s\nRun 'omniroute %s --help' for usage.\n", command,
               message.c_str(), command);
  return exit_usage;
}

bool parse_int(const std::string& s, int lo, int hi, int& out) {
  try {
    std::size_t pos = 0;
    long v = std::stol(s, &pos);
    if (pos != s.size() || v < lo || v > hi) return false;
    out = static_cast<int>(v);
    return true;
  } catch (...) {
    return false;
  }
}

void print_errors(const std::vector<config::diagnostic>& errors) {
  for (const auto& d : errors) std::fprintf(stderr, "%s\n", config::to_string(d).c_str());
}

int cmd_check_config(const std::vector<std::string>& args) {
  std::string file = default_config;
  bool production = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (is_help(args[i])) return std::fputs(check_help, stdout), exit_ok;
    if (args[i] == "--production") {
      production = true;
      continue;
    }
    if (!args[i].empty() && args[i][0] == '-')
      return usage_error("unknown option " + args[i], "check-config");
    file = args[i];
  }
  auto loaded = config::load_file(file);
  if (loaded.ok()) loaded.errors = validate(*loaded.config, {.production = production}).errors;
  if (!loaded.errors.empty()) {
    print_errors(loaded.errors);
    std::fprintf(stderr, "%s: %zu error(s)\n", file.c_str(), loaded.errors.size());
    return exit_usage;
  }
  std::printf("%s: OK (%zu connector(s))\n", file.c_str(), loaded.config->connectors.size());
  return exit_ok;
}

int cmd_serve(const std::vector<std::string>& args) {
  std::string file = default_config, level;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (is_help(args[i])) return std::fputs(serve_help, stdout), exit_ok;
    if (take_value(args, i, "--config", file) || take_value(args, i, "-c", file)) continue;
    if (take_value(args, i, "--log-level", level)) continue;
    return usage_error("unknown option " + args[i], "serve");
  }
  auto loaded = config::load_file(file);
  // The same check as check-config (and SIGHUP), before anything starts.
  if (loaded.ok()) loaded.errors = validate(*loaded.config).errors;
  if (!loaded.errors.empty()) {
    print_errors(loaded.errors);
    std::fprintf(stderr, "omniroute serve: %s has %zu error(s); not starting\n", file.c_str(),
                 loaded.errors.size());
    return exit_usage;
  }
  if (!level.empty()) {
    auto parsed = config::load_string("logging: {level: " + level + "}", "--log-level");
    if (!parsed.ok())
      return usage_error("--log-level must be trace, debug, info, warn or error", "serve");
    loaded.config->logging.level = parsed.config->logging.level;
  }
  application app(std::move(*loaded.config), file);
  if (auto err = app.start()) {
    std::fprintf(stderr, "omniroute serve: %s\n", err->c_str());
    return exit_failure;
  }
  return app.run();
}

int cmd_dev_kafka(const std::vector<std::string>& args) {
  dev_kafka_options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string v;
    if (is_help(args[i])) return std::fputs(dev_kafka_help, stdout), exit_ok;
    if (take_value(args, i, "--port", v)) {
      int port;
      if (!parse_int(v, 1, 65535, port)) return usage_error("--port must be 1..65535", "dev-kafka");
      o.port = static_cast<std::uint16_t>(port);
    } else if (take_value(args, i, "--admin-port", v)) {
      int port;
      if (!parse_int(v, 1, 65535, port))
        return usage_error("--admin-port must be 1..65535", "dev-kafka");
      o.admin_port = static_cast<std::uint16_t>(port);
    } else if (take_value(args, i, "--brokers", v)) {
      if (!parse_int(v, 1, 16, o.brokers))
        return usage_error("--brokers must be 1..16", "dev-kafka");
    } else if (take_value(args, i, "--partitions", v)) {
      if (!parse_int(v, 1, 1000, o.partitions))
        return usage_error("--partitions must be 1..1000", "dev-kafka");
    } else if (take_value(args, i, "--topic-prefix", o.topic_prefix) ||
               take_value(args, i, "--bootstrap-file", o.bootstrap_file)) {
    } else {
      return usage_error("unknown option " + args[i], "dev-kafka");
    }
  }
  return run_dev_kafka(o);
}

int cmd_version(const std::vector<std::string>& args) {
  if (!args.empty() && is_help(args[0])) return std::fputs(version_help, stdout), exit_ok;
  std::printf("omniroute %s\nlibrdkafka %s\nboost %d.%d.%d\n", version_string().c_str(),
              core::bus::librdkafka_version().c_str(), BOOST_VERSION / 100000,
              BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100);
  return exit_ok;
}

struct command {
  const char* name;
  const char* help;
  std::function<int(const std::vector<std::string>&)> run;
};

const std::vector<command>& commands() {
  static const std::vector<command> all{
      {"serve", serve_help, cmd_serve},
      {"check-config", check_help, cmd_check_config},
      {"dev-kafka", dev_kafka_help, cmd_dev_kafka},
      {"simulate", simulate_help, run_simulate_command},
      {"version", version_help, cmd_version},
  };
  return all;
}

}  // namespace

int run_cli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(main_help, stderr);
    return exit_usage;
  }
  std::string name = args.front();
  args.erase(args.begin());
  if (is_help(name)) return std::fputs(main_help, stdout), exit_ok;
  if (name == "--version") return cmd_version({});
  if (name == "help") {
    if (args.empty()) return std::fputs(main_help, stdout), exit_ok;
    for (const auto& c : commands())
      if (args[0] == c.name) return std::fputs(c.help, stdout), exit_ok;
    std::fprintf(stderr, "omniroute: no command '%s'\n", args[0].c_str());
    return exit_usage;
  }
  for (const auto& c : commands())
    if (name == c.name) return c.run(args);
  std::fprintf(stderr, "omniroute: unknown command '%s'\n\n%s", name.c_str(), main_help);
  return exit_usage;
}

}  // namespace omni::daemon
