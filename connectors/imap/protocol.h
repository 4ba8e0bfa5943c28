#pragma once
// The IMAP4rev1 wire format (RFC 3501) as pure functions, testable and fuzzable without sockets:
//   framer    splits the server's byte stream into whole responses. Literals ({n}\r\n + n bytes)
//             are capped and taken as they arrive: the announced size is checked against the cap
//             and never used to pre-allocate, so a hostile "{4294967295}" costs nothing.
//   parse()   one whole response -> tagged / untagged / continuation, status and response code,
//             and the data as a tree of atoms, strings and lists (FETCH items, CAPABILITY, ...).
//   quote(), uid_set()  for building commands.
// Owned by one client session; not thread-safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace omni::connectors::imap {

struct framer_limits {
  std::size_t max_line = 64 * 1024;                   // one line outside literals
  std::size_t max_literal = 32 << 20;                 // one literal
  std::size_t max_response = (32 << 20) + (1 << 20);  // a whole response, literals included
};

class framer {
 public:
  explicit framer(framer_limits l = {}) : limits_(l) {}
  // Adds bytes read from the server.
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // The next whole response (CRLF included), nullopt when more bytes are needed, or an error when
  // the stream breaks a limit or the framing rules (then the connection must be dropped).
  core::result<std::optional<std::string>> next();
  std::size_t buffered() const { return buf_.size(); }

 private:
  framer_limits limits_;
  std::string buf_;
  std::size_t scan_ = 0;          // where the current response's unparsed part starts
  std::size_t literal_left_ = 0;  // bytes of a literal still to come
};

// A parsed data item. Numbers are atoms (use number()); NIL is its own kind.
struct value {
  enum class kind { atom, string, nil, list };
  kind k = kind::atom;
  std::string text;          // atom or string (literal or quoted) contents
  std::vector<value> items;  // list

  bool is_atom(std::string_view a) const;  // case-insensitive
  std::optional<std::uint64_t> number() const;
  // In a list of name/value pairs (FETCH data): the value after `name`, or nullptr.
  const value* find(std::string_view name) const;
};

struct response {
  enum class kind { tagged, untagged, continuation };
  kind k = kind::untagged;
  std::string tag;                      // tagged only
  std::string status;                   // OK NO BAD PREAUTH BYE (upper case) or empty
  std::string code;                     // response code: "UIDVALIDITY", "ALREADYEXISTS", ...
  std::string code_args;                // the rest of the bracket ("3857529045")
  std::string text;                     // human-readable text of a status / continuation
  std::optional<std::uint64_t> number;  // "* 23 EXISTS" -> 23
  std::string name;                     // EXISTS, FETCH, CAPABILITY, SEARCH, ... (upper case)
  std::vector<value> data;              // what follows the name
};

core::result<response> parse(std::string_view whole);

// A string argument: an atom-safe quoted string, or a literal ({n}\r\n...) when it holds CR, LF,
// NUL or 8-bit bytes (the caller then waits for "+" unless the server has LITERAL+; see
// needs_literal).
std::string quote(std::string_view s);
bool needs_literal(std::string_view s);
// Ascending UIDs -> "1:5,7,9:10".
std::string uid_set(std::vector<std::uint32_t> uids);
// Modified UTF-7 (RFC 3501 5.1.3) for a mailbox name given in UTF-8.
std::string mailbox_name(std::string_view utf8);

}  // namespace omni::connectors::imap
