#include "connectors/imap/protocol.h"

#include <iconv.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace omni::connectors::imap {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// "{123}" or "{123+}" at the end of a line: the literal's size.
std::optional<std::uint64_t> literal_size(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  auto open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;
  return n;
}

}  // namespace

core::result<std::optional<std::string>> framer::next() {
  for (;;) {
    if (literal_left_ > 0) {
      std::size_t have = buf_.size() - scan_;
      if (have < literal_left_) {
        literal_left_ -= have;
        scan_ = buf_.size();
        return std::optional<std::string>();
      }
      scan_ += literal_left_;
      literal_left_ = 0;
    }
    auto eol = buf_.find("\r\n", scan_);
    if (eol == std::string::npos) {
      if (buf_.size() - scan_ > limits_.max_line)
        return core::error{"server line longer than " + std::to_string(limits_.max_line) + " bytes",
                           ""};
      return std::optional<std::string>();
    }
    if (eol - scan_ > limits_.max_line)
      return core::error{"server line longer than " + std::to_string(limits_.max_line) + " bytes",
                         ""};
    std::string_view line(buf_.data() + scan_, eol - scan_);
    if (auto n = literal_size(line)) {
      if (*n > limits_.max_literal)
        return core::error{"server literal of " + std::to_string(*n) + " bytes exceeds the " +
                               std::to_string(limits_.max_literal) + "-byte cap",
                           ""};
      if (eol + 2 + *n > limits_.max_response)
        return core::error{
            "server response exceeds " + std::to_string(limits_.max_response) + " bytes", ""};
      scan_ = eol + 2;
      literal_left_ = static_cast<std::size_t>(*n);
      continue;
    }
    std::string whole = buf_.substr(0, eol + 2);
    buf_.erase(0, eol + 2);
    scan_ = 0;
    return std::optional<std::string>(std::move(whole));
  }
}

bool value::is_atom(std::string_view a) const { return k == kind::atom && iequals(text, a); }

std::optional<std::uint64_t> value::number() const {
  if (k != kind::atom || text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return n;
}

const value* value::find(std::string_view name) const {
  if (k != kind::list) return nullptr;
  for (std::size_t i = 0; i + 1 < items.size(); i += 2)
    if (items[i].is_atom(name)) return &items[i + 1];
  return nullptr;
}

namespace {

class tokenizer {
 public:
  explicit tokenizer(std::string_view s) : s_(s) {}

  bool at_end() const { return pos_ >= s_.size(); }
  void skip_spaces() {
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
  }
  std::string_view rest() const { return s_.substr(std::min(pos_, s_.size())); }
  void advance(std::size_t n) { pos_ = std::min(pos_ + n, s_.size()); }

  // An atom up to a space, CRLF or list delimiter; brackets are kept whole (BODY[HEADER.FIELDS
  // (A B)] is one atom).
  std::string_view word() {
    std::size_t start = pos_;
    int brackets = 0;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '[') ++brackets;
      if (c == ']' && brackets > 0) --brackets;
      if (brackets == 0 && (c == ' ' || c == '(' || c == ')' || c == '\r' || c == '\n')) break;
      ++pos_;
    }
    return s_.substr(start, pos_ - start);
  }

  core::result<value> item(int depth) {
    if (depth > 64) return core::error{"lists nested too deeply", ""};
    skip_spaces();
    if (at_end()) return core::error{"unexpected end of response", ""};
    char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      value list{value::kind::list, {}, {}};
      for (;;) {
        skip_spaces();
        if (at_end()) return core::error{"unterminated list", ""};
        if (s_[pos_] == ')') {
          ++pos_;
          return list;
        }
        if (s_[pos_] == '\r') return core::error{"unterminated list", ""};
        auto v = item(depth + 1);
        if (!v) return v.err();
        list.items.push_back(std::move(*v));
      }
    }
    if (c == '"') {
      ++pos_;
      std::string out;
      while (pos_ < s_.size() && s_[pos_] != '"') {
        if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
        if (s_[pos_] == '\r' || s_[pos_] == '\n') return core::error{"CR/LF in quoted string", ""};
        out += s_[pos_++];
      }
      if (at_end()) return core::error{"unterminated quoted string", ""};
      ++pos_;
      return value{value::kind::string, std::move(out), {}};
    }
    if (c == '{') {
      auto close = s_.find('}', pos_);
      if (close == std::string_view::npos) return core::error{"broken literal", ""};
      auto n = literal_size(s_.substr(pos_, close - pos_ + 1));
      if (!n || s_.substr(close + 1, 2) != "\r\n") return core::error{"broken literal", ""};
      std::size_t start = close + 3;
      if (start > s_.size() || s_.size() - start < *n)
        return core::error{"literal shorter than announced", ""};
      pos_ = start + static_cast<std::size_t>(*n);
      return value{value::kind::string, std::string(s_.substr(start, *n)), {}};
    }
    if (c == ')' || c == '\r') return core::error{"unexpected '" + std::string(1, c) + "'", ""};
    std::string_view w = word();
    if (w.empty()) return core::error{"empty atom", ""};
    if (iequals(w, "NIL")) return value{value::kind::nil, {}, {}};
    return value{value::kind::atom, std::string(w), {}};
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

bool is_status(std::string_view w) {
  return iequals(w, "OK") || iequals(w, "NO") || iequals(w, "BAD") || iequals(w, "PREAUTH") ||
         iequals(w, "BYE");
}

// "[CODE args] text" after a status word.
void status_text(std::string_view rest, response& r) {
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close != std::string_view::npos) {
      std::string_view inside = rest.substr(1, close - 1);
      auto space = inside.find(' ');
      r.code = upper(inside.substr(0, space));
      if (space != std::string_view::npos) r.code_args = std::string(inside.substr(space + 1));
      rest.remove_prefix(close + 1);
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    }
  }
  r.text = std::string(rest);
}

}  // namespace

core::result<response> parse(std::string_view whole) {
  if (whole.size() < 2 || whole.substr(whole.size() - 2) != "\r\n")
    return core::error{"response does not end with CRLF", ""};
  std::string_view body = whole.substr(0, whole.size() - 2);
  response r;
  if (body.starts_with("+")) {
    r.k = response::kind::continuation;
    body.remove_prefix(1);
    if (body.starts_with(" ")) body.remove_prefix(1);
    r.text = std::string(body);
    return r;
  }
  tokenizer t(body);
  std::string_view first = t.word();
  if (first.empty()) return core::error{"empty response", ""};
  if (first == "*") {
    r.k = response::kind::untagged;
  } else {
    r.k = response::kind::tagged;
    r.tag = std::string(first);
  }
  t.skip_spaces();
  std::string_view w = t.word();
  if (w.empty()) return core::error{"response without a name", ""};
  if (r.k == response::kind::untagged && std::isdigit(static_cast<unsigned char>(w.front()))) {
    value num{value::kind::atom, std::string(w), {}};
    r.number = num.number();
    if (!r.number) return core::error{"bad message number '" + std::string(w) + "'", ""};
    t.skip_spaces();
    w = t.word();
    if (w.empty()) return core::error{"response without a name", ""};
  }
  if (is_status(w)) {
    r.status = upper(w);
    status_text(t.rest(), r);
    return r;
  }
  if (r.k == response::kind::tagged) return core::error{"tagged response without a status", ""};
  r.name = upper(w);
  for (;;) {
    t.skip_spaces();
    if (t.at_end()) break;
    auto v = t.item(0);
    if (!v) return v.err();
    r.data.push_back(std::move(*v));
  }
  return r;
}

bool needs_literal(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u == '\r' || u == '\n' || u == 0 || u >= 0x80;
  });
}

std::string quote(std::string_view s) {
  if (needs_literal(s)) return "{" + std::to_string(s.size()) + "}\r\n" + std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string uid_set(std::vector<std::uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  std::string out;
  for (std::size_t i = 0; i < uids.size();) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(uids[i]);
    if (j > i) out += ":" + std::to_string(uids[j]);
    i = j + 1;
  }
  return out;
}

std::string mailbox_name(std::string_view utf8) {
  if (!needs_literal(utf8) && utf8.find('&') == std::string_view::npos) return std::string(utf8);
  iconv_t cd = iconv_open("UTF-7-IMAP", "UTF-8");  // glibc >= 2.36
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::string(utf8);
  std::string out(utf8.size() * 4 + 16, '\0');
  char* in = const_cast<char*>(utf8.data());
  std::size_t in_left = utf8.size();
  char* dst = out.data();
  std::size_t out_left = out.size();
  std::size_t rc = iconv(cd, &in, &in_left, &dst, &out_left);
  if (rc != static_cast<std::size_t>(-1))
    rc = iconv(cd, nullptr, nullptr, &dst, &out_left);  // flush: closes the base64 run with '-'
  iconv_close(cd);
  if (rc == static_cast<std::size_t>(-1)) return std::string(utf8);
  out.resize(out.size() - out_left);
  return out;
}

}  // namespace omni::connectors::imap
