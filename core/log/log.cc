#include "core/log/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <cstdlib>
#include <mutex>

namespace omni::core::log {
namespace {
std::mutex mutex;
spdlog::sink_ptr current_sink;
spdlog::level::level_enum current_level = spdlog::level::info;

constexpr const char* console_pattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v";

spdlog::sink_ptr console_sink() {
  auto s = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  s->set_pattern(console_pattern);
  return s;
}

spdlog::sink_ptr sink() {
  if (!current_sink) current_sink = console_sink();
  return current_sink;
}
}  // namespace

bool under_systemd() { return std::getenv("JOURNAL_STREAM") != nullptr; }

void init(std::string_view level, sink_kind kind) {
  std::lock_guard lock(mutex);
  if (kind == sink_kind::automatic)
    kind = under_systemd() ? sink_kind::journald : sink_kind::console;
  if (kind == sink_kind::journald)
    current_sink = std::make_shared<spdlog::sinks::systemd_sink_mt>("omniroute");
  else
    current_sink = console_sink();
  current_level = spdlog::level::from_str(std::string(level));
  if (current_level == spdlog::level::off) current_level = spdlog::level::info;
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) {
    l->sinks().assign(1, current_sink);
    l->set_level(current_level);
  });
}

std::shared_ptr<spdlog::logger> get(const std::string& name) {
  std::lock_guard lock(mutex);
  if (auto existing = spdlog::get(name)) return existing;
  auto l = std::make_shared<spdlog::logger>(name, sink());
  l->set_level(current_level);
  spdlog::register_logger(l);
  return l;
}

}  // namespace omni::core::log
