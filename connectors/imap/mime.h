#pragma once
// Internet mail -> the fields a contact needs, parsed by GMime 3 (RFC 5322, MIME, RFC 2047 encoded
// words, RFC 2231 parameters) so nothing here re-implements MIME. Pure functions: no sockets, no
// threads of their own; safe to call from any thread (GMime is initialised once on first use).
//
// Everything returned is valid UTF-8: bodies are converted from their declared charset (KOI8-R,
// windows-1251, ISO-8859-5, ...); undeclared 8-bit headers and bodies are decoded with the
// configured fallback charsets, and whatever still does not convert is replaced (U+FFFD).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/events/events.h"
#include "core/result.h"

namespace omni::connectors::imap {

struct mime_settings {
  // Tried in order for 8-bit text that declares no charset (or a wrong one), after UTF-8.
  std::vector<std::string> fallback_charsets{"windows-1251", "koi8-r", "iso-8859-1"};
  int max_depth = 16;                    // multipart nesting deeper than this is not walked
  std::size_t max_parts = 200;           // parts looked at per message
  std::size_t max_text_bytes = 1 << 20;  // body text kept (UTF-8, cut at a character boundary)
};

// One parsed message. Message ids are without their angle brackets.
struct mail {
  std::string message_id;
  std::string in_reply_to;
  std::vector<std::string> references;
  std::string from_address;  // lower-cased
  std::string from_name;
  std::vector<std::string> to;  // To and Cc addresses
  std::string subject;
  std::string text;
  bool text_from_html = false;                // no text/plain part: the HTML part converted to text
  std::vector<core::attachment> attachments;  // ref = MIME section ("2", "1.3")
  core::timestamp_ms date = 0;                // the Date header; 0 when absent or unreadable
  std::string auto_reply;  // why this looks machine-sent (auto-reply, bounce); empty: a person
  bool nesting_truncated = false;  // parts below max_depth / beyond max_parts were skipped
  std::size_t size = 0;            // bytes of the raw message
  bool too_large = false;          // only the header was parsed (see parse_header_only)

  // The conversation key: the thread's root message id (first References entry, else In-Reply-To,
  // else this message's own id). Empty when the message has no ids at all.
  std::string thread_root() const;
};

// Parses a whole message. An error only when GMime cannot make a message of it at all.
core::result<mail> parse_mail(std::string_view raw, const mime_settings& s);

// Parses only the header of a message too big to fetch whole: `header` is the header block
// (BODY[HEADER]), `size` the full message size. The text says the message was too large.
core::result<mail> parse_header_only(std::string_view header, std::size_t size, std::size_t limit,
                                     const mime_settings& s);

// HTML -> readable plain text (libxml2's forgiving HTML parser): scripts, styles and the head are
// dropped, block elements become line breaks, entities are decoded. Input and output are UTF-8.
std::string html_to_text(std::string_view html);

// Where a message came from, for its contact.
struct mail_origin {
  std::string connector;  // connector name
  std::string mailbox;    // e.g. INBOX
  std::uint32_t uidvalidity = 0;
  std::uint32_t uid = 0;
  std::string address;  // the address customers write to (the contact's `to`); empty: first To
  std::string domain;   // routing domain
  core::timestamp_ms now = 0;
};

// The contact source id: "<connector>:<Message-ID>", or "<connector>:<mailbox>:<uidvalidity>:<uid>"
// for a message without one, so a message fetched again after a crash gets the same contact id.
std::string source_id(const mail& m, const mail_origin& o);

// The omni.contact.v1 for a parsed message (channel email, provider imap).
core::contact to_contact(const mail& m, const mail_origin& o);

}  // namespace omni::connectors::imap
