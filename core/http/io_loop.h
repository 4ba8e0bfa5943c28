#pragma once
// The boundary every io thread runs behind. Asio lets an exception that escapes a completion
// handler (ours, or one thrown inside a library's composed operation, e.g. Beast's parser) leave
// io_context::run(); unhandled, it ends the process and every connection with it. run_io_loop
// catches it, reports it and runs the context again: only the operation that threw is gone (its
// handler, and with it the shared_ptr that kept its connection alive, so that connection closes).

#include <cstdint>
#include <functional>
#include <string_view>

#include <boost/asio/io_context.hpp>

namespace omni::core::http {

// Runs `ioc` until it runs out of work or is stopped. Each escaped exception is passed to
// `on_escape` (its what(), or "unknown exception") before the loop resumes. Returns how many
// escaped.
std::uint64_t run_io_loop(boost::asio::io_context& ioc,
                          const std::function<void(std::string_view what)>& on_escape);

}  // namespace omni::core::http
