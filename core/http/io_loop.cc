#include "core/http/io_loop.h"

#include <exception>

namespace omni::core::http {

std::uint64_t run_io_loop(boost::asio::io_context& ioc,
                          const std::function<void(std::string_view what)>& on_escape) {
  std::uint64_t escaped = 0;
  for (;;) {
    try {
      ioc.run();
      return escaped;
    } catch (const std::exception& e) {
      ++escaped;
      if (on_escape) on_escape(e.what());
    } catch (...) {
      ++escaped;
      if (on_escape) on_escape("unknown exception");
    }
  }
}

}  // namespace omni::core::http
