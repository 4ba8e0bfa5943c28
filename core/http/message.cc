#include "core/http/message.h"

#include "core/http/detail/responder_state.h"

#include <algorithm>
#include <cstdio>

namespace omni::core::http {

namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view to_string(method m) {
  switch (m) {
    case method::get:
      return "GET";
    case method::head:
      return "HEAD";
    case method::post:
      return "POST";
    case method::put:
      return "PUT";
    case method::patch:
      return "PATCH";
    case method::delete_:
      return "DELETE";
    case method::options:
      return "OPTIONS";
    case method::other:
      return "OTHER";
    case method::any:
      return "ANY";
  }
  return "OTHER";
}

method method_from_string(std::string_view name) {
  // Methods are case-sensitive (RFC 9110 9.1).
  if (name == "GET") return method::get;
  if (name == "HEAD") return method::head;
  if (name == "POST") return method::post;
  if (name == "PUT") return method::put;
  if (name == "PATCH") return method::patch;
  if (name == "DELETE") return method::delete_;
  if (name == "OPTIONS") return method::options;
  return method::other;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

// ---- header_map ----------------------------------------------------------------------------

std::optional<std::string_view> header_map::get(std::string_view name) const {
  for (const auto& f : fields_) {
    if (iequals(f.name, name)) return std::string_view(f.value);
  }
  return std::nullopt;
}

std::vector<std::string_view> header_map::get_all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& f : fields_) {
    if (iequals(f.name, name)) out.emplace_back(f.value);
  }
  return out;
}

void header_map::add(std::string name, std::string value) {
  fields_.push_back({std::move(name), std::move(value)});
}

void header_map::set(std::string name, std::string value) {
  erase(name);
  add(std::move(name), std::move(value));
}

std::size_t header_map::erase(std::string_view name) {
  auto it = std::remove_if(fields_.begin(), fields_.end(),
                           [&](const field& f) { return iequals(f.name, name); });
  auto n = static_cast<std::size_t>(fields_.end() - it);
  fields_.erase(it, fields_.end());
  return n;
}

// ---- request -------------------------------------------------------------------------------

void request::set_target(std::string raw_target) {
  target = std::move(raw_target);
  query_params.clear();
  auto q = target.find('?');
  path = target.substr(0, q);
  query_string = q == std::string::npos ? std::string() : target.substr(q + 1);
  query_params = parse_form(query_string);
}

std::optional<std::string_view> request::query(std::string_view name) const {
  for (const auto& [k, v] : query_params) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

// ---- response ------------------------------------------------------------------------------

response response::text(int status, std::string body) {
  response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

response response::json(int status, std::string body) {
  response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

response response::error(int status, std::string_view message) {
  return json(status, "{\"error\":\"" + json_escape(message) + "\"}");
}

form_fields parse_form(std::string_view in) {
  form_fields out;
  while (!in.empty()) {
    auto amp = in.find('&');
    std::string_view pair = in.substr(0, amp);
    in = amp == std::string_view::npos ? std::string_view() : in.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string_view k = pair.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    out.emplace_back(url_decode(k, true), url_decode(v, true));
  }
  return out;
}

std::string url_decode(std::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%' && i + 2 < in.size()) {
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_as_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::string json_escape(std::string_view in) {
  std::string out;
  out.reserve(in.size() + 2);
  for (char c : in) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

// ---- responder -----------------------------------------------------------------------------

responder::responder(sink deliver)
    : state_(std::make_shared<detail::responder_state>(std::move(deliver))) {}

bool responder::send(response r) const { return state_ ? state_->send(std::move(r)) : false; }

bool responder::done() const { return state_ ? state_->done() : true; }

}  // namespace omni::core::http
