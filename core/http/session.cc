// One accepted connection: its TLS handshake, then request after request on its own strand
// (reading with limits, routing, the handler call, writing the response head, closing with linger),
// or its stream handed to an upgrade handler.
#include <array>
#include <charconv>
#include <ctime>
#include <limits>
#include <type_traits>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/ssl.hpp>

#include "core/http/detail/listener_impl.h"
#include "core/http/detail/responder_state.h"
#include "core/http/upgrade.h"

namespace omni::core::http {

namespace {

constexpr std::size_t read_chunk = 4096;
constexpr std::size_t linger_max_bytes = 256 * 1024;
constexpr std::chrono::milliseconds linger_time{1000};

void bump(std::atomic<std::uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

std::size_t effective_header_limit(const settings& s) {
  return std::min(s.header_limit, max_header_limit);
}

// The connection's read buffer holds what is not parsed yet: a request head, a chunk-size line
// with its extensions, or a trailer must fit whole, so its size bounds all three (Beast has no
// limit of its own on extensions and trailers); body bytes pass through it into the body.
std::size_t read_buffer_limit(const settings& s) {
  return std::max(effective_header_limit(s), read_chunk) + 4;
}

// The Date header value, formatted once per second per io thread.
std::string_view http_date() {
  thread_local std::time_t cached_at = -1;
  thread_local char buf[64];
  thread_local std::size_t len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_at) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    len = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_at = now;
  }
  return {buf, len};
}

bool valid_field_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == ':' || c == '(' || c == ')' || c == ',' || c == ';' ||
        c == '<' || c == '>' || c == '@' || c == '[' || c == ']' || c == '\\' || c == '"' ||
        c == '/' || c == '?' || c == '=' || c == '{' || c == '}')
      return false;
  }
  return true;
}

bool valid_field_value(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Response header fields the listener owns; handler-supplied copies are ignored.
bool reserved_field(std::string_view name) {
  return iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
         iequals(name, "connection") || iequals(name, "date") || iequals(name, "server");
}

template <class Stream>
constexpr bool is_tls_v = !std::is_same_v<Stream, tcp_stream>;

// One accepted connection: TLS handshake, then request after request (keep-alive) until close.
// Owned by shared_ptrs held by its pending operations; lives on its own strand or single-threaded
// io_context (`strand_`), and every member is touched only there. States: handshake -> idle ->
// reading -> handling -> writing -> idle ... -> closing; or handling -> upgraded (stream taken by
// an upgrade handler).
template <class Stream>
class connection : public connection_base,
                   public detail::upgrade_source,
                   public std::enable_shared_from_this<connection<Stream>> {
 public:
  template <class... Args>
  connection(std::shared_ptr<listener::impl> owner, std::uint64_t id, tcp::endpoint remote,
             Args&&... stream_args)
      : owner_(std::move(owner)),
        id_(id),
        remote_(std::move(remote)),
        remote_address_(remote_.address().to_string()),
        stream_(std::forward<Args>(stream_args)...),
        strand_(stream_.get_executor()),
        timer_(strand_),
        buffer_(read_buffer_limit(owner_->cfg)) {}

  ~connection() override {
    {
      std::lock_guard lock(owner_->mu);
      owner_->connections.erase(id_);
    }
    owner_->check_stopped();
  }

  void start(std::shared_ptr<void> slot) {
    slot_ = std::move(slot);
    asio::dispatch(strand_, [self = this->shared_from_this()] {
      if constexpr (is_tls_v<Stream>) {
        self->do_handshake();
      } else {
        self->do_wait_request();
      }
    });
  }

  // ---- connection_base ----
  void graceful_stop() override {
    asio::post(strand_, [self = this->shared_from_this()] {
      self->stopping_ = true;
      if (self->state_ == state::idle || self->state_ == state::handshake) self->close_now();
    });
  }

  void force_close() override {
    asio::post(strand_, [self = this->shared_from_this()] { self->close_now(); });
  }

  // ---- detail::upgrade_source ----
  asio::any_io_executor executor() const override { return strand_; }

  std::optional<tcp_stream> take_tcp_stream() override {
    if constexpr (is_tls_v<Stream>) {
      return std::nullopt;
    } else {
      if (!can_take()) return std::nullopt;
      forget();
      return std::optional<tcp_stream>(std::move(stream_));
    }
  }

  std::optional<tls_stream> take_tls_stream() override {
    if constexpr (!is_tls_v<Stream>) {
      return std::nullopt;
    } else {
      if (!can_take()) return std::nullopt;
      forget();
      return std::optional<tls_stream>(std::move(stream_));
    }
  }

  std::shared_ptr<void> take_slot() override { return std::move(slot_); }

  void reject(response r) override {
    asio::post(strand_, [self = this->shared_from_this(), r = std::move(r)]() mutable {
      if (self->state_ != state::upgraded || self->taken_ || self->closed_) return;
      self->timer_.cancel();
      self->keep_alive_ = false;
      self->do_write(std::move(r));
    });
  }

  void abandon() override {
    asio::post(strand_, [self = this->shared_from_this()] {
      if (self->state_ == state::upgraded && !self->taken_) self->close_now();
    });
  }

 private:
  enum class state { handshake, idle, reading, handling, upgraded, writing, closing };

  const settings& cfg() const { return owner_->cfg; }
  listener_stats& stats() { return owner_->stats; }
  auto& lowest() { return beast::get_lowest_layer(stream_); }
  bool can_take() const { return state_ == state::upgraded && !taken_ && !closed_; }

  // The upgraded connection is no longer the listener's: stop() neither waits for it nor closes it.
  void forget() {
    taken_ = true;
    timer_.cancel();
    beast::get_lowest_layer(stream_).expires_never();
    {
      std::lock_guard lock(owner_->mu);
      owner_->connections.erase(id_);
    }
    owner_->check_stopped();
  }

  // ---- TLS handshake ----
  void do_handshake() {
    state_ = state::handshake;
    lowest().expires_after(cfg().read_timeout);
    stream_.async_handshake(
        asio::ssl::stream_base::server,
        beast::bind_front_handler(&connection::on_handshake, this->shared_from_this()));
  }

  void on_handshake(error_code ec) {
    if (ec) {
      if (!closed_) bump(stats().tls_handshake_failures);
      return close_now();
    }
    do_wait_request();
  }

  // ---- waiting for a request: idle deadline until its first byte ----
  void do_wait_request() {
    state_ = state::idle;
    if (stopping_ || closed_) return close_now();
    if (buffer_.size() > 0) return do_read_header();  // pipelined request already buffered
    // The first request must start promptly (read_timeout); keep-alive waits idle_timeout.
    lowest().expires_after(requests_served_ == 0 ? cfg().read_timeout : cfg().idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(read_chunk),
        beast::bind_front_handler(&connection::on_first_bytes, this->shared_from_this()));
  }

  void on_first_bytes(error_code ec, std::size_t n) {
    buffer_.commit(n);
    if (ec) {
      if (ec == beast::error::timeout) {
        bump(requests_served_ == 0 ? stats().timeouts : stats().idle_timeouts);
      }
      return close_now();
    }
    if (stopping_) return close_now();
    do_read_header();
  }

  // ---- reading the request: header, checks, then body ----
  void do_read_header() {
    state_ = state::reading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(effective_header_limit(cfg())));
    parser_->body_limit(cfg().body_limit);
    // One deadline for the whole request, header and body (a trickling client cannot stretch it).
    read_deadline_ = std::chrono::steady_clock::now() + cfg().read_timeout;
    lowest().expires_at(read_deadline_);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&connection::on_read_header, this->shared_from_this()));
  }

  // Maps a read error to a response (or to a silent close). Returns true if handled.
  bool fail_read(error_code ec) {
    if (!ec) return false;
    if (ec == bhttp::error::header_limit ||
        (ec == bhttp::error::buffer_overflow && !parser_->is_header_done())) {
      bump(stats().rejected_431);
      reply_error(431, "request header fields too large");
    } else if (ec == bhttp::error::buffer_overflow) {
      // A chunk-size line (its extensions) or the trailer outgrew the read buffer, which is
      // bounded by the header limit: Beast keeps both whole in the buffer before parsing them.
      bump(stats().rejected_431);
      reply_error(431, "chunk extension or trailer fields too large");
    } else if (ec == bhttp::error::body_limit) {
      bump(stats().rejected_413);
      reply_error(413, "payload too large");
    } else if (ec == beast::error::timeout) {
      bump(stats().timeouts);
      close_now();
    } else if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
               ec == asio::error::eof || ec == asio::error::operation_aborted ||
               ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated ||
               closed_) {
      close_now();
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::need_more).category()) {
      // Any other parse error: malformed request.
      bump(stats().rejected_400);
      reply_error(400, "malformed request");
    } else {
      close_now();  // socket-level error
    }
    return true;
  }

  void on_read_header(error_code ec, std::size_t header_bytes) {
    if (fail_read(ec)) return;
    // Beast 1.74 checks header_limit per parse step, so a header arriving in several reads can
    // pass up to twice the limit; the bytes the whole header took are checked here.
    if (header_bytes > cfg().header_limit) {
      bump(stats().rejected_431);
      return reply_error(431, "request header fields too large");
    }
    const auto& h = parser_->get();
    // Request smuggling: Content-Length together with Transfer-Encoding is never accepted, and a
    // Transfer-Encoding whose final coding is not chunked leaves the length undeterminable
    // (RFC 9112 6.1, 6.3). Beast rejects some orderings itself; this covers all of them.
    const bool has_te = h.find(bhttp::field::transfer_encoding) != h.end();
    if (has_te && (h.find(bhttp::field::content_length) != h.end() || !parser_->chunked())) {
      bump(stats().rejected_400);
      return reply_error(400, "bad framing: transfer-encoding");
    }
    // RFC 9112 3.2: an HTTP/1.1 request without Host, or with more than one, is answered 400.
    if (h.version() >= 11 && h.count(bhttp::field::host) != 1) {
      bump(stats().rejected_400);
      return reply_error(400, h.count(bhttp::field::host) == 0 ? "missing Host header"
                                                               : "more than one Host header");
    }
    if (auto it = h.find(bhttp::field::expect); it != h.end()) {
      if (!iequals(it->value(), "100-continue")) {
        return reply_error(417, "expectation failed");
      }
      if (h.version() >= 11 && !parser_->is_done()) {
        lowest().expires_after(cfg().write_timeout);
        static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
        return asio::async_write(stream_, asio::buffer(continue_line.data(), continue_line.size()),
                                 [self = this->shared_from_this()](error_code wec, std::size_t) {
                                   if (wec) {
                                     if (wec == beast::error::timeout) bump(self->stats().timeouts);
                                     return self->close_now();
                                   }
                                   // The client waited for our 100 before sending the body.
                                   self->read_deadline_ =
                                       std::chrono::steady_clock::now() + self->cfg().read_timeout;
                                   self->do_read_body();
                                 });
      }
    }
    do_read_body();
  }

  void do_read_body() {
    if (parser_->is_done()) return on_read_body({}, 0);
    lowest().expires_at(read_deadline_);  // the request's deadline, set when its first byte came
    bhttp::async_read(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&connection::on_read_body, this->shared_from_this()));
  }

  void on_read_body(error_code ec, std::size_t) {
    if (fail_read(ec)) return;
    lowest().expires_never();
    dispatch();
  }

  // ---- routing and handler call ----
  // The body is moved out of `n` unless the request is an upgrade (its handler gets `n` whole).
  request make_request(native_request& n, bool keep_body) const {
    request r;
    r.method_name = std::string(n.method_string());
    r.verb = method_from_string(r.method_name);
    r.set_target(std::string(n.target()));
    for (const auto& f : n) r.headers.add(std::string(f.name_string()), std::string(f.value()));
    r.body = keep_body ? n.body() : std::move(n.body());
    r.remote_address = remote_address_;
    r.remote_port = remote_.port();
    r.secure = is_tls_v<Stream>;
    r.version = n.version();
    r.id = owner_->next_request_id.fetch_add(1, std::memory_order_relaxed) + 1;
    return r;
  }

  void dispatch() {
    state_ = state::handling;
    const bool is_upgrade = parser_->upgrade();
    native_request native = parser_->release();
    parser_.reset();
    keep_alive_ = native.keep_alive();
    version_ = native.version();
    head_ = native.method() == bhttp::verb::head;
    ++requests_served_;
    bump(stats().requests);
    ++request_seq_;

    request req = make_request(native, is_upgrade);

    const auto routes = owner_->routes();  // kept until the handler returned
    if (is_upgrade) {
      if (auto it = routes->upgrades.find(req.path); it != routes->upgrades.end()) {
        return hand_over(it->second, std::move(req), std::move(native));
      }
    }

    const route* r = routes->find(req.path);
    if (r == nullptr) {
      if (routes->upgrades.count(req.path)) {
        return do_write(response::error(426, "upgrade required"));
      }
      return do_write(response::error(404, "not found"));
    }
    const handler* h = nullptr;
    if (auto it = r->by_method.find(req.verb); it != r->by_method.end()) {
      h = &it->second;
    } else if (req.verb == method::head) {
      if (auto g = r->by_method.find(method::get); g != r->by_method.end()) h = &g->second;
    }
    if (h == nullptr) {
      if (auto a = r->by_method.find(method::any); a != r->by_method.end()) h = &a->second;
    }
    if (h == nullptr) {
      response res = response::error(405, "method not allowed");
      std::string allow;
      for (const auto& [m, _] : r->by_method) {
        if (m == method::any || m == method::other) continue;
        if (!allow.empty()) allow += ", ";
        allow += to_string(m);
        if (m == method::get && !r->by_method.count(method::head)) allow += ", HEAD";
      }
      res.headers.set("Allow", allow);
      return do_write(std::move(res));
    }
    call_handler(*h, std::move(req));
  }

  void call_handler(const handler& h, request req) {
    std::weak_ptr<connection> weak = this->shared_from_this();
    const std::uint64_t seq = request_seq_;
    auto strand = strand_;
    responder res([weak, seq, strand](response r) {
      auto self = weak.lock();
      if (!self) return;  // connection gone: nothing to answer
      asio::post(strand, [self = std::move(self), seq, r = std::move(r)]() mutable {
        self->on_handler_response(seq, std::move(r));
      });
    });
    pending_ = responder_access::state(res);
    arm_handler_timer();
    try {
      h(std::move(req), res);
    } catch (...) {
      bump(stats().handler_exceptions);
      res.send(response::error(500, "internal error"));
    }
  }

  void arm_handler_timer() {
    timer_.expires_after(cfg().handler_timeout);
    timer_.async_wait([self = this->shared_from_this(), seq = request_seq_](error_code ec) {
      if (ec || seq != self->request_seq_ || self->closed_) return;
      self->on_handler_timeout();
    });
  }

  void on_handler_timeout() {
    if (state_ == state::upgraded) {
      if (!taken_) close_now();
      return;
    }
    if (state_ != state::handling) return;
    auto st = pending_.lock();
    if (!st || !st->abandon()) return;  // an answer is already on its way to this strand
    bump(stats().handler_timeouts);
    keep_alive_ = false;
    do_write(response::error(503, "handler timeout"));
  }

  void on_handler_response(std::uint64_t seq, response r) {
    if (seq != request_seq_ || state_ != state::handling || closed_) return;
    timer_.cancel();
    do_write(std::move(r));
  }

  void hand_over(const upgrade_handler& h, request req, native_request native) {
    state_ = state::upgraded;
    bump(stats().upgrades);
    lowest().expires_never();
    arm_handler_timer();
    auto up = std::make_unique<upgrade>(
        std::static_pointer_cast<detail::upgrade_source>(this->shared_from_this()), std::move(req),
        std::move(native));
    try {
      h(std::move(up));
    } catch (...) {
      bump(stats().handler_exceptions);
    }
  }

  // ---- writing ----
  void reply_error(int status, std::string_view message) {
    keep_alive_ = false;
    drain_on_close_ = true;  // the rest of the request may still be arriving
    do_write(response::error(status, message));
  }

  void do_write(response r) {
    if (closed_) return;
    state_ = state::writing;
    if (r.status < 100 || r.status > 599 || (r.status >= 100 && r.status < 200)) {
      r = response::error(500, "invalid response status");
    }
    switch (r.status / 100) {
      case 2:
        bump(stats().responses_2xx);
        break;
      case 3:
        bump(stats().responses_3xx);
        break;
      case 4:
        bump(stats().responses_4xx);
        break;
      default:
        bump(stats().responses_5xx);
    }
    keep_alive_ = keep_alive_ && !r.close && !stopping_ && !owner_->stopping.load();
    write_head(r);
    if (!head_ && r.status != 204 && r.status != 304) body_ = std::move(r.body);
    const std::array<asio::const_buffer, 2> out{asio::buffer(head_out_), asio::buffer(body_)};
    lowest().expires_after(cfg().write_timeout);
    asio::async_write(stream_, out,
                      beast::bind_front_handler(&connection::on_write, this->shared_from_this()));
  }

  // The status line and header fields, byte for byte what Beast's serializer wrote for the
  // response this listener used to build (a bhttp::response with Server, Date, Content-Type, the
  // handler's fields, Content-Length, then keep_alive()), written into one buffer the connection
  // reuses: no field list allocated and no serializer per response.
  void write_head(const response& r) {
    std::string& h = head_out_;
    h.clear();
    const auto code = static_cast<unsigned>(r.status);
    char status_line[] = "HTTP/X.Y ### ";
    status_line[5] = static_cast<char>('0' + version_ / 10);
    status_line[7] = static_cast<char>('0' + version_ % 10);
    status_line[9] = static_cast<char>('0' + code / 100);
    status_line[10] = static_cast<char>('0' + code / 10 % 10);
    status_line[11] = static_cast<char>('0' + code % 10);
    h.append(status_line, sizeof status_line - 1);
    h += bhttp::obsolete_reason(static_cast<bhttp::status>(code));
    h += "\r\n";
    auto field = [&h](std::string_view name, std::string_view value) {
      h += name;
      h += ": ";
      h += value;
      h += "\r\n";
    };
    if (!cfg().server_name.empty()) field("Server", cfg().server_name);
    field("Date", http_date());
    if (!r.content_type.empty() && valid_field_value(r.content_type)) {
      field("Content-Type", r.content_type);
    }
    for (const auto& f : r.headers) {
      if (valid_field_name(f.name) && valid_field_value(f.value) && !reserved_field(f.name)) {
        field(f.name, f.value);
      }
    }
    if (r.status != 204 && r.status != 304) {  // no body and no Content-Length (RFC 9110 8.6)
      char digits[24];
      const auto end = std::to_chars(digits, digits + sizeof digits, r.body.size()).ptr;
      field("Content-Length", std::string_view(digits, static_cast<std::size_t>(end - digits)));
    }
    // What Beast's keep_alive() adds: HTTP/1.1 keeps alive unless told to close, HTTP/1.0 the
    // other way round.
    if (version_ >= 11 && !keep_alive_) field("Connection", "close");
    if (version_ < 11 && keep_alive_) field("Connection", "keep-alive");
    h += "\r\n";
  }

  void on_write(error_code ec, std::size_t) {
    std::string().swap(body_);  // a large body is not kept for the connection's life
    if (ec) {
      if (ec == beast::error::timeout) bump(stats().timeouts);
      return close_now();
    }
    if (!keep_alive_) return do_close();
    head_ = false;
    do_wait_request();
  }

  // ---- closing ----
  // Orderly close after a final response: TLS close_notify or TCP FIN, then, if the client may
  // still be sending the request we refused, read and discard a bounded amount for a bounded
  // time so the client sees our response instead of a reset.
  void do_close() {
    state_ = state::closing;
    if constexpr (is_tls_v<Stream>) {
      lowest().expires_after(linger_time);
      stream_.async_shutdown([self = this->shared_from_this()](error_code) { self->close_now(); });
    } else {
      error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      if (!drain_on_close_) return close_now();
      lowest().expires_after(linger_time);
      do_drain();
    }
  }

  void do_drain() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(read_chunk),
                            [self = this->shared_from_this()](error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > linger_max_bytes || self->closed_) {
                                return self->close_now();
                              }
                              self->do_drain();
                            });
  }

  void close_now() {
    if (closed_ || taken_) return;
    closed_ = true;
    state_ = state::closing;
    timer_.cancel();
    if (auto st = pending_.lock()) st->abandon();  // a late send() now returns false
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  std::shared_ptr<listener::impl> owner_;
  const std::uint64_t id_;
  const tcp::endpoint remote_;
  const std::string remote_address_;
  Stream stream_;
  asio::any_io_executor strand_;
  asio::steady_timer timer_;                               // handler deadline
  std::chrono::steady_clock::time_point read_deadline_{};  // whole-request read deadline
  std::shared_ptr<void> slot_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string head_out_;  // the response head being written; its buffer is reused
  std::string body_;      // the response body being written
  std::weak_ptr<detail::responder_state> pending_;
  state state_ = state::handshake;
  std::uint64_t request_seq_ = 0;
  std::uint64_t requests_served_ = 0;
  std::size_t drained_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  bool stopping_ = false;
  bool closed_ = false;
  bool taken_ = false;
  bool drain_on_close_ = false;
};

}  // namespace

std::shared_ptr<connection_base> detail::start_connection(std::shared_ptr<listener::impl> owner,
                                                          std::uint64_t id,
                                                          const tcp::endpoint& remote,
                                                          tcp::socket socket,
                                                          std::shared_ptr<void> slot) {
  std::shared_ptr<connection_base> conn;
  if (owner->tls) {
    auto c =
        std::make_shared<connection<tls_stream>>(owner, id, remote, std::move(socket), *owner->tls);
    c->start(std::move(slot));
    conn = c;
  } else {
    auto c = std::make_shared<connection<tcp_stream>>(owner, id, remote, std::move(socket));
    c->start(std::move(slot));
    conn = c;
  }
  return conn;
}

}  // namespace omni::core::http
