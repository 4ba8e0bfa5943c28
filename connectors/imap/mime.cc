#include "connectors/imap/mime.h"

#include <gmime/gmime.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include "core/events/codec.h"

namespace omni::connectors::imap {

namespace {

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_mime_init();
    xmlInitParser();
  });
}

struct gobject_unref {
  void operator()(void* p) const {
    if (p) g_object_unref(p);
  }
};
template <class T>
using gptr = std::unique_ptr<T, gobject_unref>;

struct gfree {
  void operator()(void* p) const { g_free(p); }
};
using gstring = std::unique_ptr<char, gfree>;

std::string take(char* s) {
  gstring owned(s);
  return s ? std::string(s) : std::string();
}

// Valid UTF-8, invalid sequences replaced by U+FFFD.
std::string make_valid(std::string_view s) {
  if (g_utf8_validate(s.data(), static_cast<gssize>(s.size()), nullptr)) return std::string(s);
  return take(g_utf8_make_valid(s.data(), static_cast<gssize>(s.size())));
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// Parser options with the fallback charsets; owned per call (cheap) so settings can differ.
struct options_holder {
  explicit options_holder(const mime_settings& s) : opts(g_mime_parser_options_new()) {
    charsets.push_back("utf-8");
    for (const auto& c : s.fallback_charsets) charsets.push_back(c.c_str());
    charsets.push_back(nullptr);
    g_mime_parser_options_set_fallback_charsets(opts, charsets.data());
    g_mime_parser_options_set_rfc2047_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_parameter_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_address_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
  }
  ~options_holder() { g_mime_parser_options_free(opts); }
  options_holder(const options_holder&) = delete;
  options_holder& operator=(const options_holder&) = delete;

  std::vector<const char*> charsets;
  GMimeParserOptions* opts;
};

// Bytes in `charset` -> UTF-8. An unknown or wrong charset (8-bit text labelled us-ascii) falls
// back to GMime's 8-bit decoder, which tries UTF-8 and then the fallback charsets.
std::string to_utf8(std::string_view raw, const char* charset, GMimeParserOptions* opts) {
  if (charset && *charset) {
    iconv_t cd = g_mime_iconv_open("UTF-8", charset);
    if (cd != reinterpret_cast<iconv_t>(-1)) {
      // Convert by hand so a single bad byte is an error (g_mime_iconv_strndup skips them).
      std::string out;
      out.resize(raw.size() * 4 + 16);
      char* in = const_cast<char*>(raw.data());
      std::size_t in_left = raw.size();
      char* dst = out.data();
      std::size_t out_left = out.size();
      std::size_t rc = iconv(cd, &in, &in_left, &dst, &out_left);
      g_mime_iconv_close(cd);
      if (rc != static_cast<std::size_t>(-1) && in_left == 0) {
        out.resize(out.size() - out_left);
        return make_valid(out);
      }
    }
  }
  return make_valid(take(g_mime_utils_decode_8bit(opts, raw.data(), raw.size())));
}

// CRLF and a lone CR become LF.
std::string lf_line_ends(std::string s) {
  if (s.find('\r') == std::string::npos) return s;
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\r') {
      out += s[i];
    } else if (i + 1 >= s.size() || s[i + 1] != '\n') {
      out += '\n';
    }
  }
  return out;
}

// The decoded (transfer-encoding removed) bytes of a part.
std::string part_bytes(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (!content) return {};
  gptr<GMimeStream> mem(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(content, mem.get());
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

std::int64_t part_size(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (!content) return 0;
  gptr<GMimeStream> null(g_mime_stream_null_new());
  g_mime_data_wrapper_write_to_stream(content, null.get());
  return static_cast<std::int64_t>(GMIME_STREAM_NULL(null.get())->written);
}

struct walker {
  const mime_settings& settings;
  GMimeParserOptions* opts;
  mail& m;
  std::string plain, html;
  bool have_plain = false, have_html = false;
  std::size_t parts = 0;

  void walk(GMimeObject* obj, int depth, const std::string& section) {
    if (depth > settings.max_depth || parts >= settings.max_parts) {
      m.nesting_truncated = true;
      return;
    }
    ++parts;
    if (GMIME_IS_MULTIPART(obj)) {
      GMimeMultipart* mp = GMIME_MULTIPART(obj);
      int n = g_mime_multipart_get_count(mp);
      for (int i = 0; i < n; ++i) {
        std::string child =
            section.empty() ? std::to_string(i + 1) : section + "." + std::to_string(i + 1);
        walk(g_mime_multipart_get_part(mp, i), depth + 1, child);
      }
      return;
    }
    GMimeContentType* ct = g_mime_object_get_content_type(obj);
    std::string type = ct ? take(g_mime_content_type_get_mime_type(ct)) : "text/plain";
    type = lower(type);
    if (GMIME_IS_MESSAGE_PART(obj)) {  // a forwarded message: a descriptor, not walked
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
      const char* subj = inner ? g_mime_message_get_subject(inner) : nullptr;
      std::string name = subj && *subj ? make_valid(subj) + ".eml" : "message.eml";
      gptr<GMimeStream> null(g_mime_stream_null_new());
      if (inner) g_mime_object_write_to_stream(GMIME_OBJECT(inner), nullptr, null.get());
      m.attachments.push_back({name, type,
                               static_cast<std::int64_t>(GMIME_STREAM_NULL(null.get())->written),
                               section.empty() ? "1" : section});
      return;
    }
    if (!GMIME_IS_PART(obj)) return;
    GMimePart* part = GMIME_PART(obj);
    const char* filename = g_mime_part_get_filename(part);
    bool attachment = g_mime_part_is_attachment(part) || (filename && *filename);
    bool text = ct && g_mime_content_type_is_type(ct, "text", "*");
    if (!attachment && text) {
      bool is_plain = g_mime_content_type_is_type(ct, "text", "plain");
      bool is_html = g_mime_content_type_is_type(ct, "text", "html");
      if ((is_plain && have_plain) || (is_html && have_html) || (!is_plain && !is_html)) {
        if (is_plain && have_plain) {  // more inline text (multipart/mixed): keep it in order
          plain += "\n\n" + decode_text(obj, part);
        }
        return;
      }
      (is_plain ? plain : html) = decode_text(obj, part);
      (is_plain ? have_plain : have_html) = true;
      return;
    }
    std::string name = filename && *filename ? make_valid(filename) : "";
    if (name.empty()) name = "part-" + (section.empty() ? std::string("1") : section);
    m.attachments.push_back({name, type, part_size(part), section.empty() ? "1" : section});
  }

  // A text part in UTF-8 with LF line ends: mail is CRLF on the wire, and what GMime's decoders
  // leave of that depends on the transfer encoding (8bit text kept it, quoted-printable did not).
  std::string decode_text(GMimeObject* obj, GMimePart* part) {
    std::string raw = part_bytes(part);
    const char* charset = g_mime_object_get_content_type_parameter(obj, "charset");
    return lf_line_ends(to_utf8(raw, charset, opts));
  }
};

std::string header(GMimeObject* obj, const char* name) {
  const char* v = g_mime_object_get_header(obj, name);
  return v ? std::string(v) : std::string();
}

std::vector<std::string> parse_ids(GMimeParserOptions* opts, const std::string& text) {
  std::vector<std::string> ids;
  if (text.empty()) return ids;
  GMimeReferences* refs = g_mime_references_parse(opts, text.c_str());
  if (!refs) return ids;
  int n = g_mime_references_length(refs);
  for (int i = 0; i < n; ++i) ids.push_back(make_valid(g_mime_references_get_message_id(refs, i)));
  g_mime_references_free(refs);
  return ids;
}

void add_addresses(InternetAddressList* list, std::vector<std::string>& out) {
  if (!list) return;
  int n = internet_address_list_length(list);
  for (int i = 0; i < n; ++i) {
    InternetAddress* a = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
      out.push_back(
          lower(make_valid(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)))));
    } else if (INTERNET_ADDRESS_IS_GROUP(a)) {
      add_addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)), out);
    }
  }
}

// Why a message looks machine-sent (RFC 3834 Auto-Submitted, Precedence, the usual bounce
// senders, delivery reports); empty when it looks like a person wrote it.
std::string auto_reply_reason(GMimeMessage* msg, const mail& m) {
  GMimeObject* obj = GMIME_OBJECT(msg);
  std::string auto_submitted = lower(trim(header(obj, "Auto-Submitted")));
  auto_submitted = auto_submitted.substr(0, auto_submitted.find(';'));
  if (!auto_submitted.empty() && trim(auto_submitted) != "no")
    return "Auto-Submitted: " + trim(auto_submitted);
  std::string precedence = lower(trim(header(obj, "Precedence")));
  if (precedence == "bulk" || precedence == "junk" || precedence == "list" ||
      precedence == "auto_reply")
    return "Precedence: " + precedence;
  for (const char* h : {"X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"}) {
    if (g_mime_object_get_header(obj, h)) return std::string(h) + " header";
  }
  std::string local = m.from_address.substr(0, m.from_address.find('@'));
  if (local == "mailer-daemon" || local == "postmaster") return "bounce from " + m.from_address;
  if (trim(header(obj, "Return-Path")) == "<>") return "bounce (null Return-Path)";
  GMimeObject* body = g_mime_message_get_mime_part(msg);
  if (body) {
    GMimeContentType* ct = g_mime_object_get_content_type(body);
    if (ct && g_mime_content_type_is_type(ct, "multipart", "report")) return "delivery report";
  }
  return {};
}

core::result<gptr<GMimeMessage>> construct(std::string_view raw, GMimeParserOptions* opts) {
  init_once();
  gptr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  gptr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GMimeMessage* msg = g_mime_parser_construct_message(parser.get(), opts);
  if (!msg) return core::error{"not an Internet message (no header could be parsed)", ""};
  return gptr<GMimeMessage>(msg);
}

void read_header_fields(GMimeMessage* msg, GMimeParserOptions* opts, mail& m) {
  GMimeObject* obj = GMIME_OBJECT(msg);
  if (const char* id = g_mime_message_get_message_id(msg)) m.message_id = make_valid(id);
  auto irt = parse_ids(opts, header(obj, "In-Reply-To"));
  if (!irt.empty()) m.in_reply_to = irt.front();
  m.references = parse_ids(opts, header(obj, "References"));
  std::vector<std::string> from;
  InternetAddressList* from_list = g_mime_message_get_from(msg);
  add_addresses(from_list, from);
  if (!from.empty()) m.from_address = from.front();
  if (from_list && internet_address_list_length(from_list) > 0) {
    const char* name = internet_address_get_name(internet_address_list_get_address(from_list, 0));
    if (name) m.from_name = make_valid(name);
  }
  add_addresses(g_mime_message_get_to(msg), m.to);
  add_addresses(g_mime_message_get_cc(msg), m.to);
  if (const char* subj = g_mime_message_get_subject(msg)) m.subject = make_valid(subj);
  if (GDateTime* date = g_mime_message_get_date(msg))
    m.date = g_date_time_to_unix(date) * 1000 + g_date_time_get_microsecond(date) / 1000;
  m.auto_reply = auto_reply_reason(msg, m);
}

}  // namespace

std::string mail::thread_root() const {
  if (!references.empty()) return references.front();
  if (!in_reply_to.empty()) return in_reply_to;
  return message_id;
}

namespace {

// How many multipart boundaries the message declares ("boundary=" anywhere, case-insensitive):
// GMime's parser recurses once per nested multipart and checks every line against every open
// boundary, so a message nesting thousands of them would exhaust the stack or the CPU before
// max_depth is ever looked at.
std::size_t declared_boundaries(std::string_view raw, std::size_t stop_at) {
  static constexpr std::string_view key = "boundary=";
  std::size_t n = 0;
  for (std::size_t i = raw.find('='); i != std::string_view::npos && n < stop_at;
       i = raw.find('=', i + 1)) {
    if (i < key.size() - 1) continue;
    bool match = true;
    for (std::size_t k = 0; k + 1 < key.size() && match; ++k)
      match = std::tolower(static_cast<unsigned char>(raw[i - (key.size() - 1) + k])) == key[k];
    n += match;
  }
  return n;
}

}  // namespace

core::result<mail> parse_mail(std::string_view raw, const mime_settings& s) {
  const std::size_t boundary_limit = std::max<std::size_t>(64, 4 * s.max_parts);
  if (declared_boundaries(raw, boundary_limit + 1) > boundary_limit) {
    // Routed on its header alone, like a message over max_message_size.
    const auto end = raw.find("\r\n\r\n");
    const auto head = raw.substr(0, end == std::string_view::npos ? raw.size() : end + 4);
    auto m = parse_header_only(head, raw.size(), 0, s);
    if (!m) return m;
    m->nesting_truncated = true;
    m->too_large = false;
    m->text = "[message structure too complex to route: more than " +
              std::to_string(boundary_limit) +
              " multipart boundaries; the original is left in the mailbox]";
    return m;
  }
  options_holder options(s);
  auto msg = construct(raw, options.opts);
  if (!msg) return msg.err();
  mail m;
  m.size = raw.size();
  read_header_fields(msg->get(), options.opts, m);
  walker w{s, options.opts, m};
  if (GMimeObject* body = g_mime_message_get_mime_part(msg->get())) w.walk(body, 0, "");
  if (w.have_plain) {
    m.text = std::move(w.plain);
  } else if (w.have_html) {
    m.text = html_to_text(w.html);
    m.text_from_html = true;
  }
  m.text = std::string(core::utf8_prefix(trim(m.text), s.max_text_bytes));
  return m;
}

core::result<mail> parse_header_only(std::string_view header_block, std::size_t size,
                                     std::size_t limit, const mime_settings& s) {
  options_holder options(s);
  std::string raw(header_block);
  if (raw.find("\r\n\r\n") == std::string::npos && raw.find("\n\n") == std::string::npos)
    raw += "\r\n";
  auto msg = construct(raw, options.opts);
  if (!msg) return msg.err();
  mail m;
  m.size = size;
  m.too_large = true;
  read_header_fields(msg->get(), options.opts, m);
  m.text = "[message too large to route: " + std::to_string(size) + " bytes, limit " +
           std::to_string(limit) + "; the original is left in the mailbox]";
  return m;
}

namespace {

bool is_block(std::string_view name) {
  static constexpr std::string_view blocks[] = {
      "p",  "div",     "br",      "tr",     "li",     "h1", "h2",         "h3",
      "h4", "h5",      "h6",      "table",  "ul",     "ol", "blockquote", "pre",
      "hr", "section", "article", "header", "footer", "dt", "dd"};
  return std::find(std::begin(blocks), std::end(blocks), name) != std::end(blocks);
}

void render(xmlNode* node, std::string& out, int depth) {
  for (xmlNode* n = node; n; n = n->next) {
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
      const char* t = reinterpret_cast<const char*>(n->content);
      if (!t) continue;
      for (const char* p = t; *p; ++p) {  // collapse whitespace like a browser
        bool space = std::isspace(static_cast<unsigned char>(*p));
        if (space) {
          if (!out.empty() && out.back() != ' ' && out.back() != '\n') out += ' ';
        } else {
          out += *p;
        }
      }
      continue;
    }
    if (n->type != XML_ELEMENT_NODE) continue;
    std::string_view name = reinterpret_cast<const char*>(n->name);
    if (name == "script" || name == "style" || name == "head" || name == "title") continue;
    bool block = is_block(name);
    if (block) {
      while (!out.empty() && out.back() == ' ') out.pop_back();
      if (!out.empty() && out.back() != '\n') out += '\n';
    }
    if (name == "li") out += "- ";
    if (depth < 256) render(n->children, out, depth + 1);
    if (block) {
      while (!out.empty() && out.back() == ' ') out.pop_back();
      if (!out.empty() && out.back() != '\n') out += '\n';
    }
  }
}

}  // namespace

std::string html_to_text(std::string_view html) {
  init_once();
  if (html.empty()) return {};
  htmlDocPtr doc =
      htmlReadMemory(html.data(), static_cast<int>(std::min<std::size_t>(html.size(), INT32_MAX)),
                     nullptr, "UTF-8",
                     HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                         HTML_PARSE_NONET | HTML_PARSE_COMPACT);
  if (!doc) return {};
  std::string out;
  render(xmlDocGetRootElement(doc), out, 0);
  xmlFreeDoc(doc);
  // No runs of more than one blank line, no trailing spaces.
  std::string tidy;
  int newlines = 0;
  for (char ch : out) {
    if (ch == '\n') {
      if (++newlines > 2) continue;
    } else {
      newlines = 0;
    }
    tidy += ch;
  }
  return make_valid(trim(tidy));
}

std::string source_id(const mail& m, const mail_origin& o) {
  if (!m.message_id.empty()) return o.connector + ":" + m.message_id;
  return o.connector + ":" + o.mailbox + ":" + std::to_string(o.uidvalidity) + ":" +
         std::to_string(o.uid);
}

core::contact to_contact(const mail& m, const mail_origin& o) {
  core::contact c;
  c.provider = "imap";
  c.source_id = source_id(m, o);
  c.id = core::contact_id(c.provider, c.source_id);
  c.chan = core::channel::email;
  c.received_at = o.now;
  c.domain = o.domain;
  std::string root = m.thread_root();
  c.conversation = "email:" + (root.empty() ? c.source_id : root);
  if (!m.from_address.empty()) c.customer.identities.push_back({"email", m.from_address});
  c.customer.display_name = m.from_name;
  c.to = !o.address.empty() ? o.address : (m.to.empty() ? "" : m.to.front());
  c.subject = m.subject;
  c.text = m.text;
  c.attachments = m.attachments;
  for (auto& a : c.attachments) a.ref = "section:" + a.ref;
  auto& at = c.attributes;
  if (!m.message_id.empty()) at["email_message_id"] = m.message_id;
  if (!m.in_reply_to.empty()) at["email_in_reply_to"] = m.in_reply_to;
  if (!m.references.empty()) {
    std::string refs;
    for (const auto& r : m.references) refs += (refs.empty() ? "" : " ") + r;
    at["email_references"] = refs;
  }
  if (m.date) at["email_date"] = core::format_timestamp(m.date);
  at["imap_mailbox"] = o.mailbox;
  at["imap_uid"] = std::to_string(o.uid);
  at["imap_uidvalidity"] = std::to_string(o.uidvalidity);
  if (m.text_from_html) at["email_text_from_html"] = "true";
  if (m.too_large) at["email_too_large"] = std::to_string(m.size);
  if (m.nesting_truncated) at["email_mime_truncated"] = "true";
  if (!m.auto_reply.empty()) at["email_auto_reply"] = m.auto_reply;
  return c;
}

}  // namespace omni::connectors::imap
