#pragma once
// JSON codecs for the canonical events. Decoding takes untrusted bytes (a webhook body, a Kafka
// record written by someone else's producer) and never throws: it returns an error naming the field
// at fault. Encoding always produces valid JSON with the `schema` field first-class.

#include <map>
#include <string>
#include <string_view>

#include "core/events/events.h"
#include "core/result.h"

namespace omni::core {

// Upper bounds that keep one hostile message from costing unbounded memory downstream.
struct codec_limits {
  static constexpr std::size_t max_message_bytes = 4 << 20;  // a whole encoded event
  static constexpr std::size_t max_text_bytes = 1 << 20;     // contact / reply text
  static constexpr std::size_t max_short_bytes = 1024;       // ids, names, keys
  static constexpr std::size_t max_subject_bytes = 8192;
  static constexpr std::size_t max_items = 256;  // identities, attachments, attributes, ...
  // A whole encoded contact as produced: below the 1,000,000 bytes a Kafka producer (librdkafka's
  // and Java's message.max.bytes) and a broker (max.message.bytes, 1,048,588) accept by default,
  // with room for the key and the record's framing. Every field can be within its own limit and
  // the contact still be larger (1 MiB of text, 255 attributes of 8 KiB, escapes): a record Kafka
  // refuses would be answered 503 forever and the contact never stored.
  static constexpr std::size_t max_record_bytes = 900 * 1024;
};

std::string encode(const contact& c);
std::string encode(const agent_event& e);
std::string encode(const assignment& a);
std::string encode(const outbound& o);

result<contact> decode_contact(std::string_view json);
result<agent_event> decode_agent_event(std::string_view json);
result<assignment> decode_assignment(std::string_view json);
result<outbound> decode_outbound(std::string_view json);

// Shortens what a connector mapped so that the contact fits the codec limits (strings cut at a
// UTF-8 boundary, lists cut at max_items) and its encoding fits max_record_bytes (the text is cut
// first, then the largest attributes, attachments, identities dropped); records what was cut in
// attributes["truncated"].
// A mapped contact is always clamped before it is produced, so no consumer ever refuses it.
void clamp_to_limits(contact& c);
// True when clamp_to_limits(c) would change nothing (so a caller can skip copying `c` to clamp it).
bool within_limits(const contact& c);

// RFC 3339 with milliseconds, always UTC ("2026-11-23T03:37:48.123Z").
std::string format_timestamp(timestamp_ms t);
// Accepts RFC 3339 with any fraction and a Z or +hh:mm offset.
result<timestamp_ms> parse_timestamp(std::string_view s);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool valid_utf8(std::string_view s);

// The longest prefix of `s` of at most `max` bytes that does not end inside a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t max);

// A value longer than one attribute may hold (codec_limits::max_subject_bytes), stored as
// attrs[key], attrs[key + ".1001"], attrs[key + ".1002"], ... in pieces of at most `chunk` bytes
// cut at UTF-8 boundaries; joined_attribute() puts it back together (missing key: "").
void put_split_attribute(std::map<std::string, std::string>& attrs, const std::string& key,
                         std::string_view value,
                         std::size_t chunk = codec_limits::max_subject_bytes);
std::string joined_attribute(const std::map<std::string, std::string>& attrs,
                             const std::string& key);

}  // namespace omni::core
