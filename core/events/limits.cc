// Size limits of events (codec_limits): attributes split over several keys, and a contact checked
// against or clamped to the record limit.
#include <algorithm>
#include <map>
#include <string>

#include "core/events/codec.h"
#include "core/events/encoded_size.h"

namespace omni::core {

using detail::contact_size;
using detail::size_of;
using detail::text_bytes;

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

}  // namespace omni::core
