#include "core/events/codec.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <type_traits>

#include "core/events/json_writer.h"
#include "core/json/parse.h"

namespace omni::core {
namespace {

using json = nlohmann::json;

// Reads one JSON object field by field, keeping the path for error messages. The first error wins;
// later reads become no-ops so a decoder can read every field and check once at the end.
class object_reader {
 public:
  object_reader(const json& obj, std::string path) : obj_(obj), path_(std::move(path)) {}

  bool failed() const { return error_.has_value(); }
  error take_error() { return std::move(*error_); }

  void fail(std::string_view key, std::string message) {
    if (!error_) error_ = error{std::move(message), join(key)};
  }
  // Records an error whose field is already a full path (from a nested reader).
  void fail_path(std::string field, std::string message) {
    if (!error_) error_ = error{std::move(message), std::move(field)};
  }
  void fail_from(object_reader& nested) {
    if (nested.failed()) {
      error e = nested.take_error();
      fail_path(std::move(e.field), std::move(e.message));
    }
  }

  std::string join(std::string_view key) const {
    if (path_.empty()) return std::string(key);
    return path_ + "." + std::string(key);
  }

  const json* find(std::string_view key) {
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::string str(std::string_view key, bool required,
                  std::size_t max = codec_limits::max_short_bytes) {
    if (failed()) return {};
    const json* v = find(key);
    if (!v) {
      if (required) fail(key, "is required");
      return {};
    }
    if (!v->is_string()) {
      fail(key, std::string("must be a string, got ") + v->type_name());
      return {};
    }
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max) {
      fail(key, "is too long (" + std::to_string(s.size()) + " bytes, at most " +
                    std::to_string(max) + ")");
      return {};
    }
    if (required && s.empty()) {
      fail(key, "must not be empty");
      return {};
    }
    return s;
  }

  std::optional<std::int64_t> integer(std::string_view key, bool required) {
    if (failed()) return std::nullopt;
    const json* v = find(key);
    if (!v) {
      if (required) fail(key, "is required");
      return std::nullopt;
    }
    if (!v->is_number_integer()) {
      fail(key, std::string("must be an integer, got ") + v->type_name());
      return std::nullopt;
    }
    return v->get<std::int64_t>();
  }

  std::optional<bool> boolean(std::string_view key) {
    if (failed()) return std::nullopt;
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) {
      fail(key, std::string("must be a boolean, got ") + v->type_name());
      return std::nullopt;
    }
    return v->get<bool>();
  }

  timestamp_ms time(std::string_view key, bool required) {
    if (failed()) return 0;
    const json* v = find(key);
    if (!v) {
      if (required) fail(key, "is required");
      return 0;
    }
    if (!v->is_string()) {
      fail(key, std::string("must be an RFC 3339 timestamp string, got ") + v->type_name());
      return 0;
    }
    auto t = parse_timestamp(v->get_ref<const std::string&>());
    if (!t) {
      fail(key, t.err().message);
      return 0;
    }
    return *t;
  }

  std::optional<timestamp_ms> optional_time(std::string_view key) {
    if (failed() || !find(key)) return std::nullopt;
    return time(key, true);
  }

  template <typename Enum, typename Parse>
  Enum enumeration(std::string_view key, bool required, Enum fallback, Parse parse,
                   std::string_view allowed) {
    std::string s = str(key, required);
    if (failed() || s.empty()) return fallback;
    std::optional<Enum> e = parse(s);
    if (!e) {
      fail(key, "unknown value '" + s + "' (expected one of " + std::string(allowed) + ")");
      return fallback;
    }
    return *e;
  }

  // Calls each(element_json, element_path) for every element of an array field.
  template <typename Each>
  void array(std::string_view key, Each each) {
    if (failed()) return;
    const json* v = find(key);
    if (!v) return;
    if (!v->is_array()) {
      fail(key, std::string("must be an array, got ") + v->type_name());
      return;
    }
    if (v->size() > codec_limits::max_items) {
      fail(key, "has too many items (" + std::to_string(v->size()) + ", at most " +
                    std::to_string(codec_limits::max_items) + ")");
      return;
    }
    std::size_t i = 0;
    for (const auto& el : *v) {
      if (failed()) return;
      each(el, join(key) + "[" + std::to_string(i++) + "]");
    }
  }

  template <typename Value, typename Convert>
  std::map<std::string, Value> map(std::string_view key, Convert convert) {
    std::map<std::string, Value> out;
    if (failed()) return out;
    const json* v = find(key);
    if (!v) return out;
    if (!v->is_object()) {
      fail(key, std::string("must be an object, got ") + v->type_name());
      return out;
    }
    if (v->size() > codec_limits::max_items) {
      fail(key, "has too many entries (at most " + std::to_string(codec_limits::max_items) + ")");
      return out;
    }
    for (const auto& [k, val] : v->items()) {
      if (k.size() > codec_limits::max_short_bytes) {
        fail(key,
             "has a key longer than " + std::to_string(codec_limits::max_short_bytes) + " bytes");
        return out;
      }
      std::optional<Value> converted = convert(val);
      if (!converted) {
        fail(std::string(key) + "." + k, std::string("has the wrong type ") + val.type_name());
        return out;
      }
      out.emplace(k, std::move(*converted));
    }
    return out;
  }

  std::map<std::string, std::string> string_map(std::string_view key) {
    return map<std::string>(key, [](const json& v) -> std::optional<std::string> {
      if (!v.is_string() ||
          v.get_ref<const std::string&>().size() > codec_limits::max_subject_bytes)
        return std::nullopt;
      return v.get<std::string>();
    });
  }

  std::map<std::string, int> int_map(std::string_view key, int lo, int hi) {
    return map<int>(key, [lo, hi](const json& v) -> std::optional<int> {
      if (!v.is_number_integer()) return std::nullopt;
      auto n = v.get<std::int64_t>();
      if (n < lo || n > hi) return std::nullopt;
      return static_cast<int>(n);
    });
  }

 private:
  const json& obj_;
  std::string path_;
  std::optional<error> error_;
};

// Parses the document and checks the envelope: an object whose `schema` is the expected one.
result<json> parse_envelope(std::string_view text, std::string_view schema) {
  if (text.size() > codec_limits::max_message_bytes) {
    return error{"message too large (" + std::to_string(text.size()) + " bytes, at most " +
                     std::to_string(codec_limits::max_message_bytes) + ")",
                 ""};
  }
  auto parsed = parse_json(text);
  if (!parsed) return parsed.err();
  json doc = std::move(*parsed);
  if (!doc.is_object()) return error{"must be a JSON object", ""};
  auto it = doc.find("schema");
  if (it == doc.end() || !it->is_string()) return error{"is required (a string)", "schema"};
  if (it->get_ref<const std::string&>() != schema) {
    return error{"is '" + it->get<std::string>() + "', expected '" + std::string(schema) + "'",
                 "schema"};
  }
  return doc;
}

// A guess at the encoded size, so the output is allocated once in the common case.
std::size_t text_bytes(std::string_view s) { return s.size() + 4; }

// What a contact's encoding costs before its envelope (keys, quotes, brackets) and escapes: the
// bytes of all its strings, and how many items each list and map holds. encode() reserves from it,
// clamp_to_limits() bounds the record size with it.
struct contact_size {
  std::size_t strings = 0;
  std::size_t identities = 0, attachments = 0, attributes = 0;
};
contact_size size_of(const contact& c) {
  contact_size z{c.id.size() + c.provider.size() + c.source_id.size() + c.domain.size() +
                     c.conversation.size() + c.to.size() + c.subject.size() + c.text.size() +
                     c.language.size() + c.customer.display_name.size() + c.customer.tier.size(),
                 c.customer.identities.size(), c.attachments.size(), c.attributes.size()};
  for (const auto& i : c.customer.identities) z.strings += i.kind.size() + i.value.size();
  for (const auto& a : c.attachments)
    z.strings += a.name.size() + a.content_type.size() + a.ref.size();
  for (const auto& [k, v] : c.attributes) z.strings += k.size() + v.size();
  return z;
}
constexpr std::size_t contact_string_fields = 11;  // the top-level strings size_of() adds up

}  // namespace

// ---- enums ------------------------------------------------------------------------------------

std::string_view to_string(channel c) {
  switch (c) {
    case channel::email:
      return "email";
    case channel::chat:
      return "chat";
    case channel::messenger:
      return "messenger";
    case channel::voice:
      return "voice";
    case channel::sms:
      return "sms";
  }
  return "chat";
}

std::optional<channel> parse_channel(std::string_view s) {
  for (channel c :
       {channel::email, channel::chat, channel::messenger, channel::voice, channel::sms})
    if (to_string(c) == s) return c;
  return std::nullopt;
}

std::string_view to_string(contact_kind k) {
  return k == contact_kind::abandoned ? "abandoned" : "message";
}

static std::optional<contact_kind> parse_contact_kind(std::string_view s) {
  if (s == "message") return contact_kind::message;
  if (s == "abandoned") return contact_kind::abandoned;
  return std::nullopt;
}

static constexpr std::array agent_event_types = {
    agent_event_type::login,    agent_event_type::logout, agent_event_type::presence,
    agent_event_type::accept,   agent_event_type::reject, agent_event_type::complete,
    agent_event_type::transfer, agent_event_type::reply,  agent_event_type::skills,
    agent_event_type::heartbeat};

std::string_view to_string(agent_event_type t) {
  switch (t) {
    case agent_event_type::login:
      return "login";
    case agent_event_type::logout:
      return "logout";
    case agent_event_type::presence:
      return "presence";
    case agent_event_type::accept:
      return "accept";
    case agent_event_type::reject:
      return "reject";
    case agent_event_type::complete:
      return "complete";
    case agent_event_type::transfer:
      return "transfer";
    case agent_event_type::reply:
      return "reply";
    case agent_event_type::skills:
      return "skills";
    case agent_event_type::heartbeat:
      return "heartbeat";
  }
  return "heartbeat";
}

static std::optional<agent_event_type> parse_agent_event_type(std::string_view s) {
  for (auto t : agent_event_types)
    if (to_string(t) == s) return t;
  return std::nullopt;
}

std::string_view to_string(outbound_kind k) {
  switch (k) {
    case outbound_kind::reply:
      return "reply";
    case outbound_kind::notice:
      return "notice";
    case outbound_kind::typing:
      return "typing";
    case outbound_kind::joined:
      return "joined";
    case outbound_kind::ended:
      return "ended";
  }
  return "reply";
}

static std::optional<outbound_kind> parse_outbound_kind(std::string_view s) {
  for (auto k : {outbound_kind::reply, outbound_kind::notice, outbound_kind::typing,
                 outbound_kind::joined, outbound_kind::ended})
    if (to_string(k) == s) return k;
  return std::nullopt;
}

// ---- time -------------------------------------------------------------------------------------

namespace {
// Howard Hinnant's civil-date algorithms (public domain formulas).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}
}  // namespace

std::size_t format_timestamp_to(timestamp_ms t, char* buf) {
  std::int64_t days = t >= 0 ? t / 86400000 : (t - 86399999) / 86400000;
  std::int64_t ms_of_day = t - days * 86400000;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  const int h = static_cast<int>(ms_of_day / 3600000),
            mi = static_cast<int>(ms_of_day / 60000 % 60),
            sec = static_cast<int>(ms_of_day / 1000 % 60), ms = static_cast<int>(ms_of_day % 1000);
  if (y < 0 || y > 9999) {
    return static_cast<std::size_t>(std::snprintf(buf, 40, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                                                  static_cast<long long>(y), m, d, h, mi, sec, ms));
  }
  auto put = [&](std::size_t at, int v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10) buf[at + i] = static_cast<char>('0' + v % 10);
  };
  put(0, static_cast<int>(y), 4);
  buf[4] = '-';
  put(5, static_cast<int>(m), 2);
  buf[7] = '-';
  put(8, static_cast<int>(d), 2);
  buf[10] = 'T';
  put(11, h, 2);
  buf[13] = ':';
  put(14, mi, 2);
  buf[16] = ':';
  put(17, sec, 2);
  buf[19] = '.';
  put(20, ms, 3);
  buf[23] = 'Z';
  buf[24] = '\0';
  return 24;
}

std::string format_timestamp(timestamp_ms t) {
  char buf[40];
  return std::string(buf, format_timestamp_to(t, buf));
}

result<timestamp_ms> parse_timestamp(std::string_view s) {
  const error bad{"is not an RFC 3339 timestamp (e.g. 2026-11-23T03:37:48.123Z)", ""};
  int y, mo, d, h, mi, sec;
  if (s.size() < 20 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, sec))
    return bad;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return bad;
  std::size_t pos = 19;
  int ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int scale = 100, n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
      ++n;
    }
    if (n == 0) return bad;
  }
  int offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om))
      return bad;
    offset_min = (oh * 60 + om) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return bad;
  }
  if (pos != s.size()) return bad;
  std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  std::int64_t secs = days * 86400 + h * 3600 + mi * 60 + std::min(sec, 59) - offset_min * 60;
  return secs * 1000 + ms;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0)
      n = 1, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
      n = 2, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
      n = 3, cp = c & 0x07;
    else
      return false;
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    p += n + 1;
  }
  return true;
}

// ---- limits -----------------------------------------------------------------------------------

std::string_view utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

void put_split_attribute(std::map<std::string, std::string>& attrs, const std::string& key,
                         std::string_view value, std::size_t chunk) {
  for (int piece = 0; piece == 0 || !value.empty(); ++piece) {
    std::string_view part = utf8_prefix(value, chunk);
    if (part.empty() && !value.empty()) part = value.substr(0, 1);  // chunk < one sequence
    attrs[piece == 0 ? key : key + "." + std::to_string(1000 + piece)] = std::string(part);
    value.remove_prefix(part.size());
  }
}

std::string joined_attribute(const std::map<std::string, std::string>& attrs,
                             const std::string& key) {
  auto it = attrs.find(key);
  if (it == attrs.end()) return {};
  std::string out = it->second;
  const std::string prefix = key + ".";
  for (it = attrs.upper_bound(prefix); it != attrs.end() && it->first.starts_with(prefix); ++it)
    out += it->second;
  return out;
}

namespace {
// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence; true when it cut.
bool cut_utf8(std::string& s, std::size_t max) {
  if (s.size() <= max) return false;
  s.resize(utf8_prefix(s, max).size());
  return true;
}

// How many bytes encode(c) is over codec_limits::max_record_bytes (0: it fits). A bound first (an
// escape writes at most 6 bytes for one byte; every key, bracket and number of the envelope, an
// identity, an attachment or an attribute fits in the fixed allowances); the encoding itself only
// for a contact whose strings could come near the limit.
std::size_t record_excess(const contact& c) {
  const contact_size z = size_of(c);
  const std::size_t items = z.identities + z.attachments + z.attributes;
  if (1024 + 6 * z.strings + 96 * items <= codec_limits::max_record_bytes) return 0;
  const std::size_t size = encode(c).size();
  return size > codec_limits::max_record_bytes ? size - codec_limits::max_record_bytes : 0;
}

// The attribute with the longest value, other than "truncated" (end() when there is none).
std::map<std::string, std::string>::iterator largest_attribute(
    std::map<std::string, std::string>& attrs) {
  auto best = attrs.end();
  for (auto it = attrs.begin(); it != attrs.end(); ++it)
    if (it->first != "truncated" &&
        (best == attrs.end() ||
         it->second.size() + it->first.size() > best->second.size() + best->first.size()))
      best = it;
  return best;
}
}  // namespace

bool within_limits(const contact& c) {
  const auto short_max = codec_limits::max_short_bytes;
  for (const auto* f : {&c.id, &c.provider, &c.source_id, &c.domain, &c.conversation, &c.to,
                        &c.language, &c.customer.display_name, &c.customer.tier})
    if (f->size() > short_max) return false;
  if (c.subject.size() > codec_limits::max_subject_bytes ||
      c.text.size() > codec_limits::max_text_bytes ||
      c.customer.identities.size() > codec_limits::max_items ||
      c.attachments.size() > codec_limits::max_items ||
      c.attributes.size() > codec_limits::max_items - 1)  // clamp keeps max_items - 1 of them
    return false;
  for (const auto& i : c.customer.identities)
    if (i.kind.size() > short_max || i.value.size() > short_max) return false;
  for (const auto& a : c.attachments)
    if (a.name.size() > short_max || a.content_type.size() > short_max ||
        a.ref.size() > codec_limits::max_subject_bytes)
      return false;
  for (const auto& [k, v] : c.attributes)
    if (k.size() > short_max || v.size() > codec_limits::max_subject_bytes) return false;
  return record_excess(c) == 0;
}

void clamp_to_limits(contact& c) {
  std::string cut;
  auto note = [&](bool did, const std::string& what) {  // each kind named once
    if (did && ("," + cut + ",").find("," + what + ",") == std::string::npos)
      cut += cut.empty() ? what : "," + what;
  };
  const auto short_max = codec_limits::max_short_bytes;
  for (auto* f : {&c.id, &c.provider, &c.source_id, &c.domain, &c.conversation, &c.to, &c.language,
                  &c.customer.display_name, &c.customer.tier})
    note(cut_utf8(*f, short_max), "field");
  note(cut_utf8(c.subject, codec_limits::max_subject_bytes), "subject");
  note(cut_utf8(c.text, codec_limits::max_text_bytes), "text");
  if (c.customer.identities.size() > codec_limits::max_items) {
    c.customer.identities.resize(codec_limits::max_items);
    note(true, "identities");
  }
  for (auto& i : c.customer.identities) {
    note(cut_utf8(i.kind, short_max), "identity");  // both cut: no short-circuit
    note(cut_utf8(i.value, short_max), "identity");
  }
  if (c.attachments.size() > codec_limits::max_items) {
    c.attachments.resize(codec_limits::max_items);
    note(true, "attachments");
  }
  for (auto& a : c.attachments) {
    note(cut_utf8(a.name, short_max), "attachment");
    note(cut_utf8(a.content_type, short_max), "attachment");
    note(cut_utf8(a.ref, codec_limits::max_subject_bytes), "attachment");
  }
  std::map<std::string, std::string> attrs;
  for (auto& [k, v] : c.attributes) {
    if (attrs.size() >= codec_limits::max_items - 1) {
      note(true, "attributes");
      break;
    }
    std::string key = k, value = v;
    note(cut_utf8(key, short_max), "attribute");
    note(cut_utf8(value, codec_limits::max_subject_bytes), "attribute");
    attrs.emplace(std::move(key), std::move(value));
  }
  c.attributes = std::move(attrs);
  if (!cut.empty()) c.attributes["truncated"] = cut;
  // Each field within its limit, the whole can still be more than Kafka takes: cut the text by
  // what is over (an encoded byte per raw byte at least, so one cut is enough unless the text runs
  // out), then drop the largest attributes, then attachments, then identities.
  for (std::size_t over; (over = record_excess(c)) > 0;) {
    if (!c.text.empty()) {
      cut_utf8(c.text, c.text.size() > over ? c.text.size() - over : 0);
      note(true, "text");
    } else if (auto it = largest_attribute(c.attributes); it != c.attributes.end()) {
      for (; it != c.attributes.end() && over > 0; it = largest_attribute(c.attributes)) {
        over -= std::min(over, it->first.size() + it->second.size());
        c.attributes.erase(it);
      }
      note(true, "attributes");
    } else if (!c.attachments.empty()) {
      c.attachments.pop_back();
      note(true, "attachments");
    } else if (!c.customer.identities.empty()) {
      c.customer.identities.pop_back();
      note(true, "identities");
    } else {
      break;  // not reached: the short fields alone are far below the limit
    }
    c.attributes["truncated"] = cut;
  }
}

// ---- contact ----------------------------------------------------------------------------------

// Keys in sorted order (see json_writer).
std::string encode(const contact& c) {
  const contact_size z = size_of(c);
  json_writer w(320 + text_bytes({}) * contact_string_fields + z.strings + 24 * z.identities +
                64 * z.attachments + 6 * z.attributes);
  w.begin_object();
  if (!c.attachments.empty()) {
    w.key("attachments");
    w.begin_array();
    for (const auto& a : c.attachments) {
      w.begin_object();
      w.field("content_type", a.content_type);
      w.field("name", a.name);
      w.field_if("ref", a.ref);
      if (a.size >= 0) w.field("size", a.size);
      w.end_object();
    }
    w.end_array();
  }
  w.map_if("attributes", c.attributes);
  w.field("channel", to_string(c.chan));
  w.field_if("conversation", c.conversation);
  w.key("customer");
  w.begin_object();
  w.field_if("display_name", c.customer.display_name);
  w.key("identities");
  w.begin_array();
  for (const auto& i : c.customer.identities) {
    w.begin_object();
    w.field("kind", i.kind);
    w.field("value", i.value);
    w.end_object();
  }
  w.end_array();
  w.field_if("tier", c.customer.tier);
  w.end_object();
  w.field("domain", c.domain);
  w.field("id", c.id);
  if (c.kind != contact_kind::message) w.field("kind", to_string(c.kind));
  w.field_if("language", c.language);
  w.field("provider", c.provider);
  w.time_field("received_at", c.received_at);
  w.field("schema", contact_schema);
  w.field("source_id", c.source_id);
  w.field_if("subject", c.subject);
  w.field("text", c.text);
  w.field_if("to", c.to);
  w.end_object();
  return w.take();
}

result<contact> decode_contact(std::string_view text) {
  auto doc = parse_envelope(text, contact_schema);
  if (!doc) return doc.err();
  object_reader r(*doc, "");
  contact c;
  c.id = r.str("id", true);
  c.kind =
      r.enumeration("kind", false, contact_kind::message, parse_contact_kind, "message, abandoned");
  c.chan = r.enumeration("channel", true, channel::chat, parse_channel,
                         "email, chat, messenger, voice, sms");
  c.provider = r.str("provider", true);
  c.source_id = r.str("source_id", true);
  c.received_at = r.time("received_at", true);
  c.domain = r.str("domain", true);
  c.conversation = r.str("conversation", false);
  if (!r.failed()) {
    const json* cust = r.find("customer");
    if (!cust) {
      r.fail("customer", "is required");
    } else if (!cust->is_object()) {
      r.fail("customer", std::string("must be an object, got ") + cust->type_name());
    } else {
      object_reader cr(*cust, "customer");
      cr.array("identities", [&](const json& el, const std::string& path) {
        if (!el.is_object()) return cr.fail_path(path, "must be an object");
        object_reader ir(el, path);
        identity id{ir.str("kind", true), ir.str("value", true)};
        if (ir.failed()) return cr.fail_from(ir);
        c.customer.identities.push_back(std::move(id));
      });
      c.customer.display_name = cr.str("display_name", false);
      c.customer.tier = cr.str("tier", false);
      r.fail_from(cr);
    }
  }
  c.to = r.str("to", false);
  c.subject = r.str("subject", false, codec_limits::max_subject_bytes);
  c.text = r.str("text", false, codec_limits::max_text_bytes);
  r.array("attachments", [&](const json& el, const std::string& path) {
    if (!el.is_object()) return r.fail_path(path, "must be an object");
    object_reader ar(el, path);
    attachment a;
    a.name = ar.str("name", false);
    a.content_type = ar.str("content_type", false);
    a.size = ar.integer("size", false).value_or(-1);
    a.ref = ar.str("ref", false, codec_limits::max_subject_bytes);
    if (ar.failed()) return r.fail_from(ar);
    c.attachments.push_back(std::move(a));
  });
  c.language = r.str("language", false);
  c.attributes = r.string_map("attributes");
  if (r.failed()) return r.take_error();
  return c;
}

// ---- agent event ------------------------------------------------------------------------------

std::string encode(const agent_event& e) {
  std::size_t expect = 256 + text_bytes(e.id) + text_bytes(e.domain) + text_bytes(e.agent_id) +
                       text_bytes(e.presence) + text_bytes(e.contact_id) + text_bytes(e.reason) +
                       text_bytes(e.disposition) + text_bytes(e.target_queue) +
                       text_bytes(e.target_agent);
  for (const auto& [k, v] : e.skills) expect += 8 + k.size();
  for (const auto& [k, v] : e.capacity) expect += 8 + k.size();
  for (const auto& [k, v] : e.attributes) expect += 6 + k.size() + v.size();
  json_writer w(expect);
  w.begin_object();
  w.field("agent_id", e.agent_id);
  w.time_field("at", e.at);
  w.map_if("attributes", e.attributes);
  w.map_if("capacity", e.capacity);
  w.field_if("contact_id", e.contact_id);
  w.field_if("disposition", e.disposition);
  w.field("domain", e.domain);
  w.field("id", e.id);
  w.field_if("presence", e.presence);
  w.field_if("reason", e.reason);
  if (e.satisfaction) w.field("satisfaction", *e.satisfaction);
  w.field("schema", agent_event_schema);
  w.map_if("skills", e.skills);
  w.field_if("target_agent", e.target_agent);
  w.field_if("target_queue", e.target_queue);
  w.field("type", to_string(e.type));
  w.end_object();
  return w.take();
}

result<agent_event> decode_agent_event(std::string_view text) {
  auto doc = parse_envelope(text, agent_event_schema);
  if (!doc) return doc.err();
  object_reader r(*doc, "");
  agent_event e;
  e.id = r.str("id", true);
  e.type = r.enumeration("type", true, agent_event_type::heartbeat, parse_agent_event_type,
                         "login, logout, presence, accept, reject, complete, transfer, reply, "
                         "skills, heartbeat");
  e.domain = r.str("domain", true);
  e.agent_id = r.str("agent_id", true);
  e.at = r.time("at", true);
  e.presence = r.str("presence", e.type == agent_event_type::presence);
  const bool needs_contact =
      e.type == agent_event_type::accept || e.type == agent_event_type::reject ||
      e.type == agent_event_type::complete || e.type == agent_event_type::transfer;
  e.contact_id = r.str("contact_id", needs_contact);
  e.reason = r.str("reason", false, codec_limits::max_subject_bytes);
  e.disposition = r.str("disposition", false);
  if (auto s = r.integer("satisfaction", false)) {
    if (*s < 1 || *s > 5) r.fail("satisfaction", "must be between 1 and 5");
    e.satisfaction = static_cast<int>(*s);
  }
  e.target_queue = r.str("target_queue", false);
  e.target_agent = r.str("target_agent", false);
  if (e.type == agent_event_type::transfer && !r.failed() && e.target_queue.empty() &&
      e.target_agent.empty())
    r.fail("target_queue", "a transfer needs target_queue or target_agent");
  e.skills = r.int_map("skills", 1, 10);
  e.capacity = r.int_map("capacity", 0, 1000);
  e.attributes = r.string_map("attributes");
  if (r.failed()) return r.take_error();
  return e;
}

// ---- assignment -------------------------------------------------------------------------------

std::string encode(const assignment& a) {
  std::size_t expect = 320 + text_bytes(a.id) + text_bytes(a.type) + text_bytes(a.domain) +
                       text_bytes(a.contact_id) + text_bytes(a.agent_id) + text_bytes(a.queue) +
                       text_bytes(a.reason.rule) + text_bytes(a.reason.strategy) +
                       text_bytes(a.reason.escalation_step) + text_bytes(a.reason.text);
  for (const auto& [k, v] : a.attributes) expect += 6 + k.size() + v.size();
  json_writer w(expect);
  w.begin_object();
  w.field_if("agent_id", a.agent_id);
  w.time_field("at", a.at);
  w.map_if("attributes", a.attributes);
  w.field_if("contact_id", a.contact_id);
  if (a.deadline) w.time_field("deadline", *a.deadline);
  w.field("domain", a.domain);
  w.field("id", a.id);
  if (a.priority) w.field("priority", *a.priority);
  w.field_if("queue", a.queue);
  w.key("reason");
  w.begin_object();
  w.key("affinity");
  w.boolean(a.reason.affinity);
  w.field("candidates", a.reason.candidates);
  w.field_if("escalation_step", a.reason.escalation_step);
  w.field_if("rule", a.reason.rule);
  w.field_if("strategy", a.reason.strategy);
  w.field_if("text", a.reason.text);
  w.end_object();
  w.field("schema", assignment_schema);
  w.field("seq", a.seq);
  w.field("type", a.type);
  w.end_object();
  return w.take();
}

result<assignment> decode_assignment(std::string_view text) {
  auto doc = parse_envelope(text, assignment_schema);
  if (!doc) return doc.err();
  object_reader r(*doc, "");
  assignment a;
  a.id = r.str("id", true);
  a.type = r.str("type", true);
  a.domain = r.str("domain", true);
  a.seq = r.integer("seq", true).value_or(0);
  a.at = r.time("at", true);
  a.contact_id = r.str("contact_id", false);
  a.agent_id = r.str("agent_id", false);
  a.queue = r.str("queue", false);
  if (auto p = r.integer("priority", false)) a.priority = static_cast<int>(*p);
  a.deadline = r.optional_time("deadline");
  if (!r.failed()) {
    if (const json* reason = r.find("reason")) {
      if (!reason->is_object()) {
        r.fail("reason", "must be an object");
      } else {
        object_reader rr(*reason, "reason");
        a.reason.rule = rr.str("rule", false);
        a.reason.strategy = rr.str("strategy", false);
        a.reason.escalation_step = rr.str("escalation_step", false);
        a.reason.candidates = static_cast<int>(rr.integer("candidates", false).value_or(0));
        a.reason.affinity = rr.boolean("affinity").value_or(false);
        a.reason.text = rr.str("text", false, codec_limits::max_subject_bytes);
        r.fail_from(rr);
      }
    }
  }
  a.attributes = r.string_map("attributes");
  if (r.failed()) return r.take_error();
  return a;
}

// ---- outbound ---------------------------------------------------------------------------------

std::string encode(const outbound& o) {
  std::size_t expect = 288 + text_bytes(o.id) + text_bytes(o.domain) + text_bytes(o.conversation) +
                       text_bytes(o.contact_id) + text_bytes(o.provider) +
                       text_bytes(o.recipient.kind) + text_bytes(o.recipient.value) +
                       text_bytes(o.agent_id) + text_bytes(o.subject) + text_bytes(o.text) +
                       text_bytes(o.in_reply_to);
  for (const auto& r : o.references) expect += text_bytes(r);
  for (const auto& [k, v] : o.attributes) expect += 6 + k.size() + v.size();
  json_writer w(expect);
  w.begin_object();
  w.field_if("agent_id", o.agent_id);
  w.time_field("at", o.at);
  w.map_if("attributes", o.attributes);
  w.field("channel", to_string(o.chan));
  w.field_if("contact_id", o.contact_id);
  w.field("conversation", o.conversation);
  w.field("domain", o.domain);
  w.field("id", o.id);
  w.field_if("in_reply_to", o.in_reply_to);
  w.field("kind", to_string(o.kind));
  w.field_if("provider", o.provider);
  if (!o.recipient.kind.empty()) {
    w.key("recipient");
    w.begin_object();
    w.field("kind", o.recipient.kind);
    w.field("value", o.recipient.value);
    w.end_object();
  }
  if (!o.references.empty()) {
    w.key("references");
    w.begin_array();
    for (const auto& r : o.references) w.string(r);
    w.end_array();
  }
  w.field("schema", outbound_schema);
  w.field_if("subject", o.subject);
  w.field_if("text", o.text);
  w.end_object();
  return w.take();
}

result<outbound> decode_outbound(std::string_view text) {
  auto doc = parse_envelope(text, outbound_schema);
  if (!doc) return doc.err();
  object_reader r(*doc, "");
  outbound o;
  o.id = r.str("id", true);
  o.kind = r.enumeration("kind", true, outbound_kind::reply, parse_outbound_kind,
                         "reply, notice, typing, joined, ended");
  o.domain = r.str("domain", true);
  o.conversation = r.str("conversation", true);
  o.contact_id = r.str("contact_id", false);
  o.chan = r.enumeration("channel", true, channel::chat, parse_channel,
                         "email, chat, messenger, voice, sms");
  o.provider = r.str("provider", false);
  if (!r.failed()) {
    if (const json* rec = r.find("recipient")) {
      if (!rec->is_object()) {
        r.fail("recipient", "must be an object");
      } else {
        object_reader rr(*rec, "recipient");
        o.recipient = {rr.str("kind", true), rr.str("value", true)};
        r.fail_from(rr);
      }
    }
  }
  o.agent_id = r.str("agent_id", false);
  o.at = r.time("at", true);
  o.subject = r.str("subject", false, codec_limits::max_subject_bytes);
  o.text = r.str("text", false, codec_limits::max_text_bytes);
  o.in_reply_to = r.str("in_reply_to", false, codec_limits::max_subject_bytes);
  r.array("references", [&](const json& el, const std::string& path) {
    if (!el.is_string()) return r.fail_path(path, "must be a string");
    o.references.push_back(el.get<std::string>());
  });
  o.attributes = r.string_map("attributes");
  if (r.failed()) return r.take_error();
  return o;
}

}  // namespace omni::core
