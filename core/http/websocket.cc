#include "core/http/websocket.h"

#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <list>
#include <optional>

#include "core/http/upgrade.h"

namespace omni::core::http::ws {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

websocket::close_reason reason_of(std::uint16_t code, std::string_view text) {
  websocket::close_reason r;
  r.code = code;
  r.reason = std::string(text.substr(0, 120));  // a close frame's payload is at most 125 bytes
  return r;
}

close_info classify(const beast::error_code& ec, std::uint16_t peer_code) {
  if (ec == websocket::error::closed) return {peer_code, "peer"};
  if (ec == websocket::error::message_too_big) return {close_code::too_big, "too_big"};
  if (ec == websocket::error::bad_frame_payload) return {close_code::bad_payload, "bad_utf8"};
  if (ec == beast::error::timeout) return {close_code::abnormal, "timeout"};
  if (ec == websocket::condition::protocol_violation)
    return {close_code::protocol_error, "protocol"};
  return {close_code::abnormal, "network"};
}

// Read sizes: a socket waiting for a message prepares only idle_read_bytes (thousands of idle
// visitors cost little); a message in progress is read busy_read_bytes at a time, and a buffer
// grown past that is given back after the message.
constexpr std::size_t idle_read_bytes = 128;
constexpr std::size_t busy_read_bytes = 16 * 1024;

// How long a reader found too slow has to take its close frame before the TCP connection goes.
constexpr std::chrono::seconds too_slow_grace{5};

template <class Stream>
class socket_impl final : public socket {
 public:
  socket_impl(Stream&& stream, std::shared_ptr<void> slot, native_request req, const options& o,
              std::shared_ptr<socket_handler> h)
      : ws_(std::move(stream)),
        slot_(std::move(slot)),
        req_(std::make_unique<native_request>(std::move(req))),
        handler_(std::move(h)),
        queue_bytes_limit_(o.send_queue_bytes),
        queue_messages_limit_(o.send_queue_messages),
        too_slow_code_(o.too_slow_code) {
    websocket::stream_base::timeout t{};
    t.handshake_timeout = o.handshake_timeout;
    t.idle_timeout = o.idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "omniroute"); }));
    if (o.deflate) {
      websocket::permessage_deflate pmd;
      pmd.server_enable = true;
      ws_.set_option(pmd);
    }
    ws_.read_message_max(o.max_message_bytes);
    ws_.auto_fragment(false);
    ws_.text(true);
  }

  void run() {
    ws_.async_accept(*req_, [self = shared()](beast::error_code ec) { self->on_accept(ec); });
  }

  void send(std::string text) override {
    asio::post(ws_.get_executor(), [self = shared(), text = std::move(text)]() mutable {
      self->send_now(std::move(text));
    });
  }
  void close(std::uint16_t code, std::string reason) override {
    asio::post(ws_.get_executor(), [self = shared(), code, reason = std::move(reason)]() mutable {
      self->close_now(code, std::move(reason));
    });
  }
  void send_now(std::string text) override { enqueue(std::move(text), std::nullopt); }
  void close_now(std::uint16_t code, std::string reason) override {
    enqueue({}, reason_of(code, reason));
  }
  asio::any_io_executor executor() const override {
    return const_cast<websocket::stream<Stream>&>(ws_).get_executor();
  }

 private:
  std::shared_ptr<socket_impl> shared() {
    return std::static_pointer_cast<socket_impl>(shared_from_this());
  }

  void on_accept(beast::error_code ec) {
    req_.reset();
    if (ec) {
      handler_.reset();
      slot_.reset();
      return;
    }
    open_ = true;
    handler_->on_open(*this);
    do_read();
  }

  // Reads a message in pieces: while waiting for one only idle_read_bytes are prepared (Beast's
  // async_read would prepare a whole TCP frame's worth in every idle socket).
  void do_read() {
    ws_.async_read_some(
        buffer_, message_.empty() ? idle_read_bytes : busy_read_bytes,
        [self = shared()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      // Beast has already answered a too-big or invalid-UTF-8 message with its close frame.
      auto why = classify(ec, ws_.reason().code);
      if (closing_ && closing_cause_ == "too_slow")
        why = {too_slow_code_, "too_slow"};  // whether or not the close frame got out
      else if (sent_close_)                  // our close: the read ends however the peer answers it
        why = {sent_close_code_, closing_cause_};
      return finish(why);
    }
    auto data = buffer_.data();
    message_.append(static_cast<const char*>(data.data()), data.size());
    buffer_.consume(buffer_.size());
    if (!ws_.is_message_done()) return do_read();
    std::string message = std::move(message_);
    message_ = std::string();
    if (buffer_.capacity() > busy_read_bytes) buffer_.shrink_to_fit();
    if (!closing_ && handler_) handler_->on_message(*this, std::move(message), !ws_.got_text());
    do_read();
  }

  // On the strand: queue a text message or a close (sent once the queue is written out).
  void enqueue(std::string text, std::optional<websocket::close_reason> close) {
    if (closing_ || finished_) return;
    if (close) {
      closing_ = true;
      closing_cause_ = "server";
      close_ = std::make_unique<websocket::close_reason>(std::move(*close));
    } else if (queue_.size() >= queue_messages_limit_ ||
               queued_bytes_ + text.size() > queue_bytes_limit_) {
      // Drop what is queued, except the message being written (its buffer is in use).
      queue_.erase(writing_ && !queue_.empty() ? std::next(queue_.begin()) : queue_.begin(),
                   queue_.end());
      queued_bytes_ = 0;
      closing_ = true;
      closing_cause_ = "too_slow";
      close_ = std::make_unique<websocket::close_reason>(reason_of(too_slow_code_, "too slow"));
      // The close frame waits behind the message being written; a peer that reads nothing at all
      // would keep it (and the connection) forever, so the connection gets a hard deadline.
      beast::get_lowest_layer(ws_).expires_after(too_slow_grace);
    } else {
      queued_bytes_ += text.size();
      queue_.push_back(std::move(text));
    }
    if (!writing_) do_write();
  }

  void do_write() {
    writing_ = true;
    if (!queue_.empty()) {
      ws_.async_write(asio::buffer(queue_.front()),
                      [self = shared()](beast::error_code ec, std::size_t) {
                        if (ec) {
                          self->queue_.clear();
                          self->writing_ = false;
                          return;
                        }
                        self->queued_bytes_ -= self->queue_.front().size();
                        self->queue_.pop_front();
                        self->do_write();
                      });
    } else if (close_) {
      sent_close_ = true;
      sent_close_code_ = close_->code;
      const websocket::close_reason* reason = close_.get();
      ws_.async_close(*reason, [self = shared(), keep = std::move(close_)](beast::error_code) {
        self->writing_ = false;
      });
    } else {
      writing_ = false;
    }
  }

  void finish(const close_info& why) {
    if (finished_) return;
    finished_ = true;
    closing_ = true;
    if (auto h = std::move(handler_); h && open_) h->on_close(*this, why);
    slot_.reset();
  }

  websocket::stream<Stream> ws_;
  std::shared_ptr<void> slot_;
  std::unique_ptr<native_request> req_;  // only until the handshake is answered
  std::shared_ptr<socket_handler> handler_;
  beast::flat_buffer buffer_;
  std::string message_;  // the message being read
  // A list: elements never move (the front's buffer is in use while written) and an empty one
  // allocates nothing.
  std::list<std::string> queue_;
  std::unique_ptr<websocket::close_reason> close_;  // goes out once queue_ is written
  std::size_t queued_bytes_ = 0;
  std::size_t queue_bytes_limit_;
  std::uint32_t queue_messages_limit_;
  std::uint16_t too_slow_code_;
  std::uint16_t sent_close_code_ = 0;
  std::string_view closing_cause_ = "server";
  bool open_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool sent_close_ = false;
  bool finished_ = false;
};

template <class Stream>
std::shared_ptr<socket> start(Stream&& stream, std::shared_ptr<void> slot, upgrade& u,
                              const options& o, std::shared_ptr<socket_handler> h) {
  auto s = std::make_shared<socket_impl<Stream>>(std::move(stream), std::move(slot), u.native(), o,
                                                 std::move(h));
  s->run();
  return s;
}

}  // namespace

std::shared_ptr<socket> accept(std::unique_ptr<upgrade> u, const options& o,
                               std::shared_ptr<socket_handler> h) {
  auto slot = u->take_slot();
  if (auto tcp = u->take_tcp_stream())
    return start(std::move(*tcp), std::move(slot), *u, o, std::move(h));
  if (auto tls = u->take_tls_stream())
    return start(std::move(*tls), std::move(slot), *u, o, std::move(h));
  return nullptr;
}

bool origin_allowed(const request& r, const std::vector<std::string>& allowed) {
  auto origin = r.header("Origin");
  if (!origin) return true;
  if (allowed.empty()) {
    std::string self =
        (r.secure ? "https://" : "http://") + std::string(r.header("Host").value_or(""));
    return iequals(*origin, self);
  }
  for (const auto& a : allowed)
    if (a == "*" || iequals(*origin, a)) return true;
  return false;
}

}  // namespace omni::core::http::ws
