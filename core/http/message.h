#pragma once
// Plain HTTP message types shared by the listener and every module that registers a handler.
// Nothing here includes Beast or Asio: connectors and their unit tests build `request` values by
// hand and capture `response` values through a `responder` without opening a socket.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omni::core::http {

// Request methods the router distinguishes. Anything else arrives as `other` (method_name keeps the
// spelling) and can only reach a handler registered for `any`.
enum class method : std::uint8_t { get, head, post, put, patch, delete_, options, other, any };

std::string_view to_string(method m);
method method_from_string(std::string_view name);

// ASCII case-insensitive equality, as HTTP field names compare.
bool iequals(std::string_view a, std::string_view b);

// An ordered list of header fields with case-insensitive lookup. Duplicates are kept in arrival
// order (Set-Cookie, repeated Via); `get` returns the first.
// Plain value type: no thread affinity.
class header_map {
 public:
  struct field {
    std::string name;
    std::string value;
  };

  header_map() = default;
  header_map(std::initializer_list<field> fields) : fields_(fields) {}

  // First value of `name`, or nullopt. The view lives as long as the map is not modified.
  std::optional<std::string_view> get(std::string_view name) const;
  std::vector<std::string_view> get_all(std::string_view name) const;
  bool contains(std::string_view name) const { return get(name).has_value(); }

  void add(std::string name, std::string value);
  // Replaces every field called `name` with one field.
  void set(std::string name, std::string value);
  // Removes every field called `name`; returns how many were removed.
  std::size_t erase(std::string_view name);

  std::size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }

 private:
  std::vector<field> fields_;
};

// application/x-www-form-urlencoded (a query string, a form body) -> decoded name/value pairs in
// arrival order; empty pairs are skipped.
using form_fields = std::vector<std::pair<std::string, std::string>>;
form_fields parse_form(std::string_view in);

// One parsed HTTP request, handed to a handler by value (it owns its bytes).
// `body` holds the raw bytes exactly as received (signature checks need them).
struct request {
  method verb = method::get;
  std::string method_name = "GET";  // as sent, e.g. "GET", "PROPFIND"
  std::string target = "/";         // raw request-target, e.g. "/hook?x=1"
  std::string path = "/";           // target up to '?', not percent-decoded
  std::string query_string;         // after '?', raw
  form_fields query_params;  // decoded ('+' and %XX)
  header_map headers;
  std::string body;
  std::string remote_address;  // peer IP, e.g. "127.0.0.1"
  std::uint16_t remote_port = 0;
  bool secure = false;    // arrived over TLS
  unsigned version = 11;  // 10 or 11
  std::uint64_t id = 0;   // listener-unique request number, for logs

  // Sets target, path, query_string and query_params from a raw request-target.
  void set_target(std::string raw_target);

  // Case-insensitive header lookup.
  std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
  // First decoded value of query parameter `name`.
  std::optional<std::string_view> query(std::string_view name) const;
};

// A response a handler produces. `content_type` is emitted as Content-Type unless empty;
// Content-Length, Date, Server and Connection are set by the listener.
struct response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  header_map headers;
  std::string body;
  bool close = false;  // ask the listener to close the connection after this response

  static response text(int status, std::string body);
  static response json(int status, std::string body);
  // {"error":"<message>"} with the message JSON-escaped.
  static response error(int status, std::string_view message);
};

// Decodes %XX escapes; when `plus_as_space` (query strings) also '+' -> ' '. Invalid escapes are
// kept literally.
std::string url_decode(std::string_view in, bool plus_as_space = false);
// Escapes a string for inclusion inside a JSON string literal (without the quotes).
std::string json_escape(std::string_view in);

namespace detail {
class responder_state;
}

// The one-shot completion of a request. Copyable and movable; every copy refers to the same
// request. `send` may be called from any thread; the first call wins and later calls return false
// (also after the listener gave up on the request: handler timeout, connection gone, stop()).
// If every copy is destroyed without a send, the request is answered 500 {"error":"no response"}.
//
// Handlers are invoked on the connection's strand and must not block: keep a copy, return, and
// call send() when the answer is known (e.g. from a Kafka delivery-report thread).
class responder {
 public:
  using sink = std::function<void(response)>;

  // An inert responder: send() returns false.
  responder() = default;
  // A responder that calls `deliver` exactly once: with the response passed to the first send(),
  // or with a 500 when the last copy is dropped unsent. Used by the listener and by unit tests of
  // handlers (capture the response without a socket). `deliver` runs on the sending thread.
  explicit responder(sink deliver);

  // Returns true when this call delivered the response.
  bool send(response r) const;
  // True once a response was delivered (or the request was abandoned by the listener).
  bool done() const;
  explicit operator bool() const { return static_cast<bool>(state_); }

 private:
  friend class responder_access;
  std::shared_ptr<detail::responder_state> state_;
};

}  // namespace omni::core::http
