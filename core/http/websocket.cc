#include "core/http/websocket.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <list>
#include <optional>
#include <utility>

#include "core/http/detail/ws_frames.h"
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
// What compact_socket reads at once, into its io thread's buffer.
constexpr std::size_t read_chunk_bytes = 64 * 1024;

// How long a reader found too slow has to take its close frame before the TCP connection goes.
constexpr std::chrono::seconds too_slow_grace{5};

// What both kinds of socket set on Beast's stream: the handshake timeout, Beast's idle timeout
// and keepalive pings (off when the socket keeps its own: compact_socket), our Server field.
template <class WebSocketStream>
void configure_stream(WebSocketStream& ws, const options& o, bool beast_keepalive) {
  websocket::stream_base::timeout t{};
  t.handshake_timeout = o.handshake_timeout;
  t.idle_timeout = beast_keepalive ? o.idle_timeout : websocket::stream_base::none();
  t.keep_alive_pings = beast_keepalive;
  ws.set_option(t);
  ws.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, "omniroute"); }));
}

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
    configure_stream(ws_, o, true);
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

// ---- compact_socket --------------------------------------------------------------------------
// RFC 6455 without extensions on a plain TCP socket, for the many-idle-visitors case: Beast answers
// the handshake, then the socket is taken out of Beast's stream (which carries a 1.5 KiB read
// buffer and several timers per connection) and framed here. A socket waiting for its next message
// holds no buffer and one small wait operation: bytes are read, when the socket is readable, into
// one buffer per io thread and unmasked straight into the message. Frames to send are appended to
// one string and written with one system call per batch (all replies to what one read brought in).

using detail::append_frame;
using detail::release_buffer;
using namespace detail::opcodes;

// The payload of a close frame: the code (none: empty) and the reason, cut to fit 125 bytes.
std::string close_payload(std::uint16_t code, std::string_view reason) {
  if (code == 0) return {};
  std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  p.append(reason.substr(0, 120));
  return p;
}

// The read buffer of the io thread running the socket's strand.
std::uint8_t* thread_read_buffer() {
  thread_local std::unique_ptr<std::uint8_t[]> buffer(new std::uint8_t[read_chunk_bytes]);
  return buffer.get();
}

class compact_socket final : public socket, detail::frame_sink {
 public:
  using tcp = asio::ip::tcp;

  compact_socket(tcp::socket s, std::shared_ptr<void> slot, const native_request& req,
                 const options& o, std::shared_ptr<socket_handler> h)
      : sock_(s.get_executor()),
        timer_(s.get_executor()),
        slot_(std::move(slot)),
        handler_(std::move(h)),
        handshake_(std::make_unique<handshake>(std::move(s), req)),
        frames_(o.max_message_bytes),
        queue_bytes_limit_(o.send_queue_bytes),
        queue_messages_limit_(o.send_queue_messages),
        idle_timeout_(o.idle_timeout),
        too_slow_code_(o.too_slow_code) {
    configure_stream(handshake_->ws, o, false);
  }

  void run() {
    handshake_->ws.async_accept(handshake_->req,
                                [self = shared()](beast::error_code ec) { self->on_accept(ec); });
  }

  void send(std::string text) override {
    asio::post(sock_.get_executor(), [self = shared(), text = std::move(text)]() mutable {
      self->send_now(std::move(text));
    });
  }
  void close(std::uint16_t code, std::string reason) override {
    asio::post(sock_.get_executor(), [self = shared(), code, reason = std::move(reason)] {
      self->close_now(code, reason);
    });
  }
  void send_now(std::string text) override {
    if (!open_ || closing_) return;
    if (queued_messages() >= queue_messages_limit_ ||
        queued_bytes() + text.size() > queue_bytes_limit_) {
      // Drop what is queued (what is being written stays: its buffer is in use).
      out_.clear();
      out_messages_ = 0;
      return begin_close({too_slow_code_, "too_slow"}, "too slow");
    }
    append_frame(out_, op_text, text);
    ++out_messages_;
    if (!reading_batch_) flush();
  }
  void close_now(std::uint16_t code, std::string reason) override {
    if (open_) begin_close({code, "server"}, reason);
  }
  asio::any_io_executor executor() const override {
    return const_cast<tcp::socket&>(sock_).get_executor();
  }

 private:
  // Beast's stream, only for the handshake.
  struct handshake {
    handshake(tcp::socket s, const native_request& r) : ws(std::move(s)), req(r) {}
    websocket::stream<tcp::socket, false> ws;
    native_request req;
  };

  std::shared_ptr<compact_socket> shared() {
    return std::static_pointer_cast<compact_socket>(shared_from_this());
  }
  std::size_t queued_bytes() const { return out_.size() + wbuf_.size(); }
  std::size_t queued_messages() const { return out_messages_ + wbuf_messages_; }

  void on_accept(beast::error_code ec) {
    if (!ec) sock_ = std::move(handshake_->ws.next_layer());
    handshake_.reset();
    if (!ec) sock_.non_blocking(true, ec);
    if (ec) {
      handler_.reset();
      slot_.reset();
      return;
    }
    open_ = true;
    handler_->on_open(*this);
    if (idle_timeout_.count() > 0 && !closing_) arm_timer(idle_timeout_ / 2);
    wait_readable();
  }

  // ---- reading ----
  void wait_readable() {
    sock_.async_wait(tcp::socket::wait_read,
                     [self = shared()](beast::error_code ec) { self->on_readable(ec); });
  }

  void on_readable(beast::error_code ec) {
    if (finished_) return;
    std::size_t n = 0;
    std::uint8_t* buffer = thread_read_buffer();
    if (!ec) n = sock_.read_some(asio::buffer(buffer, read_chunk_bytes), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return wait_readable();
    if (ec) return end(lost());
    active_ = true;
    reading_batch_ = true;  // replies to everything read now go out in one write
    if (!frames_.done()) frames_.feed(buffer, n, *this);
    reading_batch_ = false;
    flush();
    if (!finished_ && !peer_closed_) wait_readable();
  }

  // ---- what the decoder yields (frame_sink) ----
  void on_message(std::string message, bool binary) override {
    if (!closing_ && handler_) handler_->on_message(*this, std::move(message), binary);
  }
  void on_ping(std::string_view payload) override {
    if (!closing_) append_frame(out_, op_pong, payload);
  }
  void on_close(std::uint16_t code, std::string_view) override {
    peer_closed_ = true;
    if (closing_) {
      if (close_sent_) end(why_);  // the answer to ours; else ours is on its way
      return;
    }
    begin_close({code, "peer"}, {});  // the answer: the peer's code back
  }
  // The rest of the input is not parsed; we wait for the peer to hang up.
  void on_error(std::uint16_t code, std::string_view cause) override {
    begin_close({code, cause}, {});
  }

  // ---- closing ----
  // Queues the close frame after what is queued and gives the peer close_grace to take it and
  // answer; `why` is what on_close will report, however the connection then ends.
  void begin_close(close_info why, std::string_view reason) {
    if (closing_ || finished_) return;
    closing_ = true;
    why_ = why;
    append_frame(out_, op_close, close_payload(why.code, reason));
    close_in_out_ = true;
    arm_timer(too_slow_grace);
    if (!reading_batch_) flush();
  }

  // Why the connection ended when the network failed: the close under way, if any.
  close_info lost() const { return closing_ ? why_ : close_info{close_code::abnormal, "network"}; }

  void end(const close_info& why) {
    if (finished_) return;
    finished_ = true;
    closing_ = true;
    beast::error_code ec;
    timer_.cancel();
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
    if (auto h = std::move(handler_); h && open_) h->on_close(*this, why);
    slot_.reset();
    release_buffer(out_);
    frames_.release();
  }

  // ---- writing ----
  // Writes what is queued: at once if the socket takes it, else with one async_write; frames
  // queued meanwhile go out together after it.
  void flush() {
    if (writing_ || finished_ || out_.empty()) return;
    wbuf_.swap(out_);
    wbuf_messages_ = std::exchange(out_messages_, 0);
    close_in_wbuf_ = std::exchange(close_in_out_, false);
    beast::error_code ec;
    std::size_t n = sock_.write_some(asio::buffer(wbuf_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) n = 0, ec = {};
    if (ec) return end(lost());
    if (n == wbuf_.size()) return written();
    writing_ = true;
    asio::async_write(sock_, asio::buffer(wbuf_.data() + n, wbuf_.size() - n),
                      [self = shared()](beast::error_code ec, std::size_t) {
                        self->writing_ = false;
                        if (self->finished_) return;
                        if (ec) return self->end(self->lost());
                        self->written();
                      });
  }

  void written() {
    wbuf_.clear();
    wbuf_messages_ = 0;
    if (out_.empty()) {  // idle again: an idle socket keeps no write buffer either
      release_buffer(out_);
      release_buffer(wbuf_);
    }
    if (std::exchange(close_in_wbuf_, false)) {
      close_sent_ = true;
      if (peer_closed_) return end(why_);
      // Nothing follows a close frame; the FIN lets a peer that reads to the end finish too.
      beast::error_code ec;
      sock_.shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    flush();
  }

  // ---- keepalive and deadlines: one timer ----
  void arm_timer(std::chrono::steady_clock::duration d) {
    timer_.expires_after(d);
    timer_.async_wait([self = shared()](beast::error_code ec) {
      // A completion already queued when the timer was set again is stale: skip it.
      if (!ec && self->timer_.expiry() <= std::chrono::steady_clock::now()) self->on_timer();
    });
  }

  // Every idle_timeout / 2: a ping after a quiet half, the end after a quiet whole. While closing:
  // the close grace is over.
  void on_timer() {
    if (finished_) return;
    if (closing_) return end(why_);
    if (std::exchange(active_, false)) {
      idle_ticks_ = 0;
    } else if (++idle_ticks_ >= 2) {
      return end({close_code::abnormal, "timeout"});
    } else {
      append_frame(out_, op_ping, {});
      flush();
    }
    arm_timer(idle_timeout_ / 2);
  }

  tcp::socket sock_;
  asio::steady_timer timer_;
  std::shared_ptr<void> slot_;
  std::shared_ptr<socket_handler> handler_;
  std::unique_ptr<handshake> handshake_;  // only until the handshake is answered
  detail::frame_decoder frames_;          // what the peer sends
  std::string out_;                       // frames queued
  std::string wbuf_;                      // frames being written
  std::size_t queue_bytes_limit_;
  std::uint32_t queue_messages_limit_;
  std::uint32_t out_messages_ = 0;
  std::uint32_t wbuf_messages_ = 0;
  std::chrono::milliseconds idle_timeout_;
  close_info why_;
  std::uint16_t too_slow_code_;
  std::uint8_t idle_ticks_ = 0;
  bool open_ = false;
  bool active_ = false;         // bytes read since the last timer tick
  bool reading_batch_ = false;  // replies are being gathered for one write
  bool writing_ = false;
  bool closing_ = false;
  bool close_in_out_ = false;
  bool close_in_wbuf_ = false;
  bool close_sent_ = false;
  bool peer_closed_ = false;
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
  if (auto tcp = u->take_tcp_stream()) {
    if (o.deflate) return start(std::move(*tcp), std::move(slot), *u, o, std::move(h));
    auto s = std::make_shared<compact_socket>(tcp->release_socket(), std::move(slot), u->native(),
                                              o, std::move(h));
    s->run();
    return s;
  }
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
