#include "daemon/simulate.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>

#include "config/config.h"
#include "daemon/args.h"
#include "routing/service/config.h"
#include "routing/sim/simulator.h"

namespace omni::daemon {

using namespace routing::sim;  // this file is the simulator's command line
namespace engine = routing::engine;
namespace service = routing::service;

const char* const simulate_help =
    R"(Usage: omniroute simulate --config FILE --scenario FILE [options]

Runs the routing engine the daemon uses against a simulated (or replayed) day, in virtual time:
no Kafka, no sockets. Contacts arrive as the scenario says (Poisson rates, per-interval rates, or a
recorded JSON-lines file), simulated agents accept, handle, wrap up and follow their shifts, and
customers abandon after their patience. Prints per queue and overall: offered, answered,
abandoned, service level at the queue's SLA threshold, P(wait), average speed of answer, wait
p50/p90/p99, occupancy per agent group, and the same per interval.

Options:
  -c, --config FILE    omniroute.yaml whose `routing:` section is simulated
  -s, --scenario FILE  the scenario (see docs/simulator.md and config/scenarios/)
      --vs FILE        also run this second omniroute.yaml and show both side by side
  -o, --out FILE       write the JSON report (omni.sim_report.v1; with --vs omni.sim_comparison.v1)
      --plot FILE      write an SVG plot: service level and waiting contacts over the day
      --seed N         override the scenario's seed (same seed = same report, byte for byte)
  -q, --quiet          no table on stdout, no progress bar
  -h, --help           show this help

A progress bar is drawn on stderr when stderr is a terminal. Exit status: 0 done, 1 the run
failed (e.g. unreadable replay file), 2 usage or configuration error.
)";

namespace {

constexpr int exit_ok = 0, exit_failure = 1, exit_usage = 2;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "omniroute simulate: %s\nRun 'omniroute simulate --help' for usage.\n",
               message.c_str());
  return exit_usage;
}

void print_errors(const std::vector<config::diagnostic>& errors) {
  for (const auto& d : errors) std::fprintf(stderr, "%s\n", config::to_string(d).c_str());
}

// The `routing:` section of an omniroute.yaml as the engine's config.
std::optional<engine::engine_config> load_routing(const std::string& file) {
  auto loaded = config::load_file(file);
  if (!loaded.ok()) {
    print_errors(loaded.errors);
    std::fprintf(stderr, "omniroute simulate: %s has %zu error(s)\n", file.c_str(),
                 loaded.errors.size());
    return std::nullopt;
  }
  config::diagnostics sink;
  auto rc = service::parse_router_config(loaded.config->routing, sink);
  if (!sink.empty()) {
    auto errors = sink.take_sorted();
    print_errors(errors);
    std::fprintf(stderr, "omniroute simulate: %s: %zu error(s) in routing\n", file.c_str(),
                 errors.size());
    return std::nullopt;
  }
  return rc.engine;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "omniroute simulate: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

// A one-line bar redrawn in place; only when stderr is a terminal.
class progress_bar {
 public:
  explicit progress_bar(std::string label) : label_(std::move(label)) {}
  void operator()(double done) {
    const int percent = static_cast<int>(done * 100.0);
    if (percent == last_) return;
    last_ = percent;
    constexpr int width = 40;
    std::string bar(static_cast<std::size_t>(width * percent / 100), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r%s [%s] %3d%%", label_.c_str(), bar.c_str(), percent);
    if (percent >= 100) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  std::string label_;
  int last_ = -1;
};

}  // namespace

int run_simulate_command(const std::vector<std::string>& args) {
  std::string config_file, scenario_file, vs_file, out_file, plot_file, seed_text;
  bool quiet = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") return std::fputs(simulate_help, stdout), exit_ok;
    if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else if (take_value(args, i, "--config", config_file) ||
               take_value(args, i, "-c", config_file) ||
               take_value(args, i, "--scenario", scenario_file) ||
               take_value(args, i, "-s", scenario_file) || take_value(args, i, "--vs", vs_file) ||
               take_value(args, i, "--out", out_file) || take_value(args, i, "-o", out_file) ||
               take_value(args, i, "--plot", plot_file) ||
               take_value(args, i, "--seed", seed_text)) {
    } else {
      return usage_error("unknown option or missing value: " + a);
    }
  }
  if (config_file.empty()) return usage_error("--config FILE is required");
  if (scenario_file.empty()) return usage_error("--scenario FILE is required");

  config::diagnostics sink;
  auto scen = load_scenario(scenario_file, sink);
  if (!scen) {
    auto errors = sink.take_sorted();
    print_errors(errors);
    std::fprintf(stderr, "omniroute simulate: %s has %zu error(s)\n", scenario_file.c_str(),
                 errors.size());
    return exit_usage;
  }
  if (!seed_text.empty()) {
    try {
      std::size_t pos = 0;
      scen->seed = std::stoull(seed_text, &pos);
      if (pos != seed_text.size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      return usage_error("--seed must be a non-negative integer");
    }
  }
  std::vector<std::pair<std::string, engine::engine_config>> configs;
  for (const auto& file : {config_file, vs_file}) {
    if (file.empty()) continue;
    auto cfg = load_routing(file);
    if (!cfg) return exit_usage;
    configs.emplace_back(file, std::move(*cfg));
  }

  const bool tty = !quiet && isatty(STDERR_FILENO) == 1;
  std::vector<report> reports;
  for (const auto& [name, cfg] : configs) {
    run_options options;
    options.config_name = name;
    progress_bar bar("simulating " + name);
    if (tty) options.progress = [&bar](double d) { bar(d); };
    const auto started = std::chrono::steady_clock::now();
    try {
      reports.push_back(simulate(cfg, *scen, options));
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "omniroute simulate: %s: %s\n", name.c_str(), e.what());
      return exit_usage;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "omniroute simulate: %s\n", e.what());
      return exit_failure;
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const auto& r = reports.back();
    std::fprintf(stderr,
                 "omniroute simulate: %s: %llu contacts, %llu engine decisions in %.2f s wall "
                 "(%.0f contacts/s)\n",
                 name.c_str(), static_cast<unsigned long long>(r.contacts_simulated),
                 static_cast<unsigned long long>(r.decisions), secs,
                 secs > 0 ? static_cast<double>(r.contacts_simulated) / secs : 0.0);
  }
  if (!quiet) std::fputs(to_table(reports).c_str(), stdout);
  if (!out_file.empty() && !write_file(out_file, to_json(reports))) return exit_failure;
  if (!plot_file.empty() && !write_file(plot_file, to_svg(reports))) return exit_failure;
  return exit_ok;
}

}  // namespace omni::daemon
