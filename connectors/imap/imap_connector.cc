#include "connectors/imap/imap_connector.h"

#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include "connectors/imap/protocol.h"
#include "connectors/imap/resume.h"
#include "connectors/imap/transport.h"
#include "connectors/publisher.h"
#include "core/clock.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace omni::connectors::imap {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

// What the connector counts, labelled by connector name (omniroute_imap_*_total).
struct imap_counters {
  explicit imap_counters(const std::string& name) {
    auto& m = core::metrics::global();
    core::metrics::labels l{{"connector", name}};
    fetched =
        &m.counter_of("omniroute_imap_messages_fetched_total", "Messages fetched over IMAP", l);
    routed = &m.counter_of("omniroute_imap_messages_routed_total",
                           "Messages published as contacts and acknowledged by Kafka", l);
    parse_failures = &m.counter_of("omniroute_imap_parse_failures_total",
                                   "Messages GMime could not parse (left in the mailbox)", l);
    too_large =
        &m.counter_of("omniroute_imap_too_large_total",
                      "Messages over max_message_size (routed as a note, left in place)", l);
    auto_replies = &m.counter_of("omniroute_imap_auto_replies_skipped_total",
                                 "Auto-replies and bounces not routed", l);
    reconnects = &m.counter_of("omniroute_imap_reconnects_total",
                               "IMAP sessions lost or refused and retried", l);
    protocol_errors = &m.counter_of("omniroute_imap_protocol_errors_total",
                                    "Malformed or over-limit server responses", l);
    moves_failed =
        &m.counter_of("omniroute_imap_move_failures_total",
                      "Routed messages the server refused to move to the processed folder", l);
    idle_refreshes = &m.counter_of("omniroute_imap_idle_refreshes_total",
                                   "IDLE commands ended by idle_refresh and issued again", l);
    smtp_sent = &m.counter_of("omniroute_smtp_sent_total", "Replies sent by SMTP", l);
    smtp_failed = &m.counter_of("omniroute_smtp_failed_total", "Replies SMTP refused or failed", l);
  }
  core::metrics::counter* fetched;
  core::metrics::counter* routed;
  core::metrics::counter* parse_failures;
  core::metrics::counter* too_large;
  core::metrics::counter* auto_replies;
  core::metrics::counter* reconnects;
  core::metrics::counter* protocol_errors;
  core::metrics::counter* moves_failed;
  core::metrics::counter* idle_refreshes;
  core::metrics::counter* smtp_sent;
  core::metrics::counter* smtp_failed;
};

namespace {

constexpr const char* left_keyword = "$OmnirouteLeft";

struct imap_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

using core::now_ms;

std::string base64(std::string_view in) {
  std::string out(boost::beast::detail::base64::encoded_size(in.size()), '\0');
  out.resize(boost::beast::detail::base64::encode(out.data(), in.data(), in.size()));
  return out;
}

}  // namespace

// One mailbox: its connection, its resume state and its loop. Lives on its own strand; the
// coroutine holds a shared_ptr, so the session outlives its pending operations.
class imap_connector::session : public std::enable_shared_from_this<session> {
 public:
  session(asio::io_context& ioc, const settings& s, const context& ctx, std::string mailbox,
          std::shared_ptr<imap_counters> counters, std::shared_ptr<asio::ssl::context> tls)
      : strand_(asio::make_strand(ioc)),
        settings_(s),
        ctx_(ctx),
        mailbox_(std::move(mailbox)),
        counters_(std::move(counters)),
        tls_(std::move(tls)),
        wait_(strand_),
        log_(core::log::get("omni.imap")) {}

  void start() {
    auto self = shared_from_this();
    asio::co_spawn(
        strand_, [self]() -> awaitable<void> { co_await self->run(); }, asio::detached);
  }

  void stop() {
    asio::post(strand_, [self = shared_from_this()] {
      self->stopped_ = true;
      self->wait_.cancel();
      if (self->conn_) self->conn_->close();
    });
  }

  std::string last_error() const {
    std::lock_guard lock(error_mutex_);
    return last_error_;
  }
  bool ready() const { return ready_; }

 private:
  awaitable<void> run() {
    auto backoff = settings_.reconnect_min;
    while (!stopped_) {
      bool selected = false;
      try {
        co_await connect_and_serve(selected);
      } catch (const std::exception& e) {
        if (stopped_) break;
        set_error(e.what());
        counters_->reconnects->inc();
        log_->warn("imap {}/{}: {}; reconnecting in {} ms", settings_.name, mailbox_, e.what(),
                   backoff.count());
      }
      ready_ = false;
      if (conn_) conn_->close();
      if (stopped_) break;
      if (selected) backoff = settings_.reconnect_min;
      co_await sleep(backoff);
      backoff = std::min(backoff * 2, settings_.reconnect_max);
    }
    ready_ = false;
  }

  awaitable<void> sleep(std::chrono::milliseconds d) {
    wait_.expires_after(d);
    boost::system::error_code ec;
    co_await wait_.async_wait(asio::redirect_error(use_awaitable, ec));
  }

  void set_error(std::string e) {
    std::lock_guard lock(error_mutex_);
    last_error_ = std::move(e);
  }

  // ---- protocol plumbing ----

  awaitable<response> read_response(bool idle = false) {
    for (;;) {
      auto next = framer_.next();
      if (!next) {
        counters_->protocol_errors->inc();
        throw imap_failure("protocol error: " + next.err().message);
      }
      if (*next) {
        auto r = parse(**next);
        if (!r) {
          counters_->protocol_errors->inc();
          throw imap_failure("protocol error: " + r.err().message);
        }
        if (r->k == response::kind::untagged && r->status == "BYE")
          throw imap_failure("server said BYE: " + r->text);
        co_return std::move(*r);
      }
      std::optional<std::chrono::milliseconds> t;
      if (!idle) t = settings_.timeout;
      std::size_t n = co_await conn_->read_some(buf_.data(), buf_.size(), t);
      framer_.feed(std::string_view(buf_.data(), n));
    }
  }

  struct command_result {
    response done;
    std::vector<response> untagged;
  };

  // Sends one command and reads to its tagged completion. Throws unless `allow_no` and the
  // server answered NO.
  awaitable<command_result> command(const std::string& text, bool allow_no = false) {
    std::string tag = "a" + std::to_string(++tag_);
    co_await conn_->write(tag + " " + text + "\r\n", settings_.timeout);
    command_result out;
    for (;;) {
      response r = co_await read_response();
      if (r.k == response::kind::tagged && r.tag == tag) {
        out.done = std::move(r);
        break;
      }
      if (r.k == response::kind::untagged) {
        note_untagged(r);
        out.untagged.push_back(std::move(r));
      }
    }
    log_->debug("imap {}/{}: {} -> {} {}", settings_.name, mailbox_, first_word(text),
                out.done.status, out.done.text);
    if (out.done.status != "OK" && !(allow_no && out.done.status == "NO"))
      throw imap_failure(first_word(text) + " failed: " + out.done.status + " " + out.done.text);
    co_return out;
  }

  static std::string first_word(const std::string& text) {
    auto space = text.find(' ');
    std::string w = text.substr(0, space);
    if (w == "UID" && space != std::string::npos)
      w += " " + text.substr(space + 1, text.find(' ', space + 1) - space - 1);
    return w;
  }

  void note_untagged(const response& r) {
    if (r.name == "EXISTS" || r.name == "RECENT") new_mail_ = true;
    if (r.name == "CAPABILITY") set_caps(r.data);
  }

  void set_caps(const std::vector<value>& atoms) {
    caps_.clear();
    for (const auto& a : atoms)
      if (a.k == value::kind::atom) caps_.insert(upper(a.text));
  }
  bool has(const std::string& cap) const { return caps_.count(cap) > 0; }

  // ---- the session ----

  awaitable<void> connect_and_serve(bool& selected) {
    conn_ = std::make_unique<transport>(strand_, tls_);
    framer_ =
        framer(framer_limits{64 * 1024, static_cast<std::size_t>(settings_.max_message_size) + 4096,
                             static_cast<std::size_t>(settings_.max_message_size) + (1 << 20)});
    caps_.clear();
    const auto& srv = settings_.server;
    co_await conn_->connect(srv.host, srv.port, settings_.timeout);
    if (srv.tls == tls_mode::implicit) co_await conn_->handshake(srv.host, settings_.timeout);
    response greeting = co_await read_response();
    if (greeting.status != "OK" && greeting.status != "PREAUTH")
      throw imap_failure("unexpected greeting: " + greeting.status + " " + greeting.text);
    if (greeting.code == "CAPABILITY") set_caps(to_atoms(greeting.code_args));
    bool preauth = greeting.status == "PREAUTH";
    if (caps_.empty()) co_await command("CAPABILITY");
    if (srv.tls == tls_mode::starttls) {
      // Never send credentials in clear: no STARTTLS, or a failed one, ends the session here.
      if (!has("STARTTLS"))
        throw imap_failure("server does not offer STARTTLS; refusing to log in without TLS");
      auto r = co_await command("STARTTLS", true);
      if (r.done.status != "OK")
        throw imap_failure("STARTTLS refused (" + r.done.text +
                           "); refusing to log in without TLS");
      framer_ = framer(
          framer_limits{64 * 1024, static_cast<std::size_t>(settings_.max_message_size) + 4096,
                        static_cast<std::size_t>(settings_.max_message_size) + (1 << 20)});
      co_await conn_->handshake(srv.host, settings_.timeout);
      caps_.clear();
      co_await command("CAPABILITY");
    }
    if (!preauth) co_await login();
    if (!has("IMAP4REV1") && !has("IMAP4REV2")) co_await command("CAPABILITY");
    co_await select();
    selected = true;
    ready_ = true;
    set_error("");
    co_await sweep();
    for (;;) {
      co_await process_new();
      if (stopped_) co_return;
      co_await wait_for_mail();
      if (stopped_) co_return;
    }
  }

  static std::vector<value> to_atoms(const std::string& s) {
    std::vector<value> out;
    std::size_t pos = 0;
    while (pos < s.size()) {
      auto end = s.find(' ', pos);
      if (end == std::string::npos) end = s.size();
      if (end > pos) out.push_back(value{value::kind::atom, s.substr(pos, end - pos), {}});
      pos = end + 1;
    }
    return out;
  }

  awaitable<void> login() {
    if (has("LOGINDISABLED") && settings_.auth == auth_mechanism::login)
      throw imap_failure("server disabled LOGIN (LOGINDISABLED)");
    if (settings_.auth == auth_mechanism::plain) {
      std::string token = base64(std::string(1, '\0') + settings_.username + std::string(1, '\0') +
                                 settings_.password);
      if (has("SASL-IR")) {
        co_await command("AUTHENTICATE PLAIN " + token);
      } else {
        std::string tag = "a" + std::to_string(++tag_);
        co_await conn_->write(tag + " AUTHENTICATE PLAIN\r\n", settings_.timeout);
        response r = co_await read_response();
        if (r.k != response::kind::continuation)
          throw imap_failure("AUTHENTICATE PLAIN refused: " + r.status + " " + r.text);
        co_await conn_->write(token + "\r\n", settings_.timeout);
        for (;;) {
          r = co_await read_response();
          if (r.k == response::kind::tagged && r.tag == tag) break;
          if (r.k == response::kind::untagged) note_untagged(r);
        }
        if (r.status != "OK") throw imap_failure("authentication failed: " + r.text);
        if (r.code == "CAPABILITY") set_caps(to_atoms(r.code_args));
      }
    } else {
      bool literal = needs_literal(settings_.username) || needs_literal(settings_.password);
      if (literal && !has("LITERAL+"))
        throw imap_failure("the credentials need literals the server cannot take; use auth: plain");
      auto arg = [](const std::string& s) {
        std::string q = quote(s);
        if (needs_literal(s)) q.insert(q.find('}'), "+");  // LITERAL+: no round trip
        return q;
      };
      co_await command("LOGIN " + arg(settings_.username) + " " + arg(settings_.password));
    }
    caps_.clear();
    co_await command("CAPABILITY");
  }

  awaitable<void> select() {
    auto r = co_await command("SELECT " + quote(mailbox_name(mailbox_)));
    std::uint32_t uidvalidity = 0;
    for (const auto& u : r.untagged)
      if (u.code == "UIDVALIDITY")
        uidvalidity = static_cast<std::uint32_t>(std::stoul(u.code_args));
    if (r.done.code == "READ-ONLY") throw imap_failure("mailbox " + mailbox_ + " is read-only");
    state_file_ = state_path(ctx_.state_dir, mailbox_);
    auto loaded = load_state(state_file_);
    if (!loaded) throw imap_failure(loaded.err().message);
    mailbox_state st{mailbox_, uidvalidity, 0};
    if (*loaded && (*loaded)->uidvalidity == uidvalidity) {
      st = **loaded;
    } else if (*loaded) {
      // The server renumbered the mailbox: start over; contact ids come from Message-IDs, so what
      // was routed before dedupes downstream instead of becoming new contacts.
      log_->warn("imap {}/{}: UIDVALIDITY changed {} -> {}; resynchronizing", settings_.name,
                 mailbox_, (*loaded)->uidvalidity, uidvalidity);
      auto saved = save_state(state_file_, st);
      if (!saved) throw imap_failure(saved.err().message);
    }
    state_ = st;
    log_->info("imap {}/{}: selected (UIDVALIDITY {}, resuming after UID {})", settings_.name,
               mailbox_, st.uidvalidity, st.last_uid);
    if (!settings_.processed_folder.empty())
      co_await command("CREATE " + quote(mailbox_name(settings_.processed_folder)), true);
  }

  // Moves what an earlier run routed but could not move (crash between ack and move).
  awaitable<void> sweep() {
    if (state_.last_uid == 0) co_return;
    // Built before co_await: GCC 12 mishandles temporaries of a ?: inside a co_await expression.
    std::string query = "UID SEARCH UID 1:" + std::to_string(state_.last_uid);
    if (settings_.processed_folder.empty()) query += " NOT KEYWORD " + settings_.processed_keyword;
    query += std::string(" NOT KEYWORD ") + left_keyword + " NOT DELETED";
    auto r = co_await command(query);
    std::vector<std::uint32_t> uids = search_results(r, 1, state_.last_uid);
    if (!uids.empty()) co_await move(uids);
  }

  static std::vector<std::uint32_t> search_results(const command_result& r, std::uint32_t from,
                                                   std::uint32_t to) {
    std::vector<std::uint32_t> uids;
    for (const auto& u : r.untagged) {
      if (u.name != "SEARCH") continue;
      for (const auto& v : u.data)
        if (auto n = v.number(); n && *n >= from && *n <= to)
          uids.push_back(static_cast<std::uint32_t>(*n));
    }
    std::sort(uids.begin(), uids.end());
    return uids;
  }

  struct fetched {
    std::uint32_t uid = 0;
    std::uint64_t size = 0;
    std::string raw;  // the whole message, or only its header when too large
  };

  awaitable<void> process_new() {
    new_mail_ = false;
    auto r = co_await command("UID SEARCH UID " + std::to_string(state_.last_uid + 1) + ":*");
    std::vector<std::uint32_t> uids = search_results(r, state_.last_uid + 1, UINT32_MAX);
    if (uids.empty()) co_return;
    log_->debug("imap {}/{}: {} new message(s) from UID {}", settings_.name, mailbox_, uids.size(),
                uids.front());
    // Sizes first, so bodies are fetched in bounded batches and oversized ones not at all.
    std::map<std::uint32_t, std::uint64_t> sizes;
    for (std::size_t i = 0; i < uids.size(); i += 500) {
      std::vector<std::uint32_t> chunk(uids.begin() + i,
                                       uids.begin() + std::min(uids.size(), i + 500));
      auto f = co_await command("UID FETCH " + uid_set(chunk) + " (UID RFC822.SIZE)");
      for (const auto& u : f.untagged) {
        if (u.name != "FETCH" || u.data.empty()) continue;
        const value* uid = u.data[0].find("UID");
        const value* size = u.data[0].find("RFC822.SIZE");
        if (uid && size && uid->number() && size->number())
          sizes[static_cast<std::uint32_t>(*uid->number())] = *size->number();
      }
    }
    std::vector<std::uint32_t> batch;
    std::uint64_t batch_bytes = 0;
    for (std::uint32_t uid : uids) {
      if (stopped_) co_return;
      auto it = sizes.find(uid);
      if (it == sizes.end()) continue;  // expunged meanwhile
      batch.push_back(uid);
      batch_bytes += std::min(it->second, settings_.max_message_size);
      if (batch_bytes >= settings_.fetch_batch_bytes || batch.size() >= 200) {
        co_await process_batch(batch, sizes);
        batch.clear();
        batch_bytes = 0;
      }
    }
    if (!batch.empty() && !stopped_) co_await process_batch(batch, sizes);
  }

  awaitable<std::vector<fetched>> fetch(const std::vector<std::uint32_t>& uids,
                                        const std::map<std::uint32_t, std::uint64_t>& sizes) {
    std::vector<std::uint32_t> whole, header_only;
    for (auto uid : uids)
      (sizes.at(uid) > settings_.max_message_size ? header_only : whole).push_back(uid);
    std::map<std::uint32_t, fetched> got;
    auto run = [&](const std::vector<std::uint32_t>& set, const char* item,
                   const char* answer) -> awaitable<void> {
      if (set.empty()) co_return;
      auto f = co_await command("UID FETCH " + uid_set(set) + " (UID " + item + ")");
      for (auto& u : f.untagged) {
        if (u.name != "FETCH" || u.data.empty()) continue;
        const value* uid = u.data[0].find("UID");
        const value* body = u.data[0].find(answer);
        if (!uid || !uid->number() || !body) continue;
        fetched m;
        m.uid = static_cast<std::uint32_t>(*uid->number());
        if (!sizes.count(m.uid)) continue;
        m.size = sizes.at(m.uid);
        m.raw = body->text;
        got[m.uid] = std::move(m);
      }
    };
    co_await run(whole, "BODY.PEEK[]", "BODY[]");
    co_await run(header_only, "BODY.PEEK[HEADER]", "BODY[HEADER]");
    // A message the server listed but did not return must not be stepped over: try again (if it
    // was expunged meanwhile, the next search will not list it).
    for (auto uid : uids)
      if (!got.count(uid))
        throw imap_failure("server did not return UID " + std::to_string(uid) + "; retrying");
    std::vector<fetched> out;
    for (auto& [uid, m] : got) out.push_back(std::move(m));
    counters_->fetched->inc(out.size());
    co_return out;
  }

  enum class outcome { publish, skip, leave_publish, leave };

  awaitable<void> process_batch(const std::vector<std::uint32_t>& uids,
                                const std::map<std::uint32_t, std::uint64_t>& sizes) {
    std::vector<fetched> msgs = co_await fetch(uids, sizes);
    struct item {
      std::uint32_t uid;
      outcome what;
      core::contact c;
    };
    std::vector<item> items;
    std::vector<std::uint32_t> left;
    for (auto& m : msgs) {
      mail_origin o{settings_.name,          mailbox_, state_.uidvalidity, m.uid, settings_.address,
                    settings_.common.domain, now_ms()};
      bool too_large = m.size > settings_.max_message_size;
      auto parsed =
          too_large ? parse_header_only(m.raw, m.size, settings_.max_message_size, settings_.mime)
                    : parse_mail(m.raw, settings_.mime);
      if (!parsed) {
        counters_->parse_failures->inc();
        log_->error("imap {}/{}: UID {} not parsed ({}); left in the mailbox", settings_.name,
                    mailbox_, m.uid, parsed.err().message);
        items.push_back({m.uid, outcome::leave, {}});
        left.push_back(m.uid);
        continue;
      }
      if (too_large) {
        counters_->too_large->inc();
        left.push_back(m.uid);
        items.push_back({m.uid, outcome::leave_publish, to_contact(*parsed, o)});
        continue;
      }
      if (!parsed->auto_reply.empty() && !settings_.route_auto_replies) {
        counters_->auto_replies->inc();
        log_->info("imap {}/{}: UID {} not routed: {}", settings_.name, mailbox_, m.uid,
                   parsed->auto_reply);
        items.push_back({m.uid, outcome::skip, {}});
        continue;
      }
      items.push_back({m.uid, outcome::publish, to_contact(*parsed, o)});
    }
    // Flag what stays in the mailbox first, so no later sweep moves it.
    if (!left.empty())
      co_await command("UID STORE " + uid_set(left) + " +FLAGS.SILENT (" + left_keyword + ")",
                       true);

    // Publish everything; advance the resume state over each acknowledged prefix, in UID order.
    auto acks = std::make_shared<std::vector<std::optional<publish_status>>>(items.size());
    auto pending = std::make_shared<std::size_t>(0);
    auto self = shared_from_this();
    std::size_t next = 0;
    bool failed = false;
    auto advance = [this, acks, &items, &next, &failed] {
      bool moved = false;
      while (next < items.size() && (*acks)[next]) {
        if (!acknowledged(*(*acks)[next])) {
          failed = true;
          break;
        }
        state_.last_uid = std::max(state_.last_uid, items[next].uid);
        ++next;
        moved = true;
      }
      if (moved) {
        auto saved = save_state(state_file_, state_);
        if (!saved) {
          log_->error("imap {}/{}: {}", settings_.name, mailbox_, saved.err().message);
          failed = true;
        }
      }
    };
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (items[i].what == outcome::publish || items[i].what == outcome::leave_publish) {
        ++*pending;
        ctx_.publisher->publish(items[i].c, [self, acks, pending, i](publish_status st) {
          asio::post(self->strand_, [self, acks, pending, i, st] {
            (*acks)[i] = st;
            if (--*pending == 0) self->wait_.cancel();
          });
        });
      } else {
        (*acks)[i] = publish_status::stored;
      }
    }
    while (*pending > 0 && !stopped_) {
      advance();
      co_await sleep(settings_.timeout * 10);  // woken by the last acknowledgement
    }
    advance();
    std::size_t routed = 0;
    std::vector<std::uint32_t> to_move;
    for (std::size_t i = 0; i < next; ++i) {
      if (items[i].what == outcome::publish) ++routed;
      if (items[i].what == outcome::publish || items[i].what == outcome::skip)
        to_move.push_back(items[i].uid);
    }
    counters_->routed->inc(routed);
    if (failed || next < items.size())
      throw imap_failure("Kafka did not store every contact; retrying from UID " +
                         std::to_string(state_.last_uid + 1));
    if (!to_move.empty()) co_await move(to_move);
  }

  awaitable<void> move(const std::vector<std::uint32_t>& uids) {
    std::string set = uid_set(uids);
    if (settings_.processed_folder.empty()) {
      co_await command("UID STORE " + set + " +FLAGS.SILENT (" + settings_.processed_keyword + ")",
                       true);
      co_return;
    }
    std::string folder = quote(mailbox_name(settings_.processed_folder));
    command_result r;
    if (has("MOVE")) {
      r = co_await command("UID MOVE " + set + " " + folder, true);
    } else {
      r = co_await command("UID COPY " + set + " " + folder, true);
      if (r.done.status == "OK") {
        co_await command("UID STORE " + set + " +FLAGS.SILENT (\\Deleted)");
        std::string expunge = "EXPUNGE";
        if (has("UIDPLUS")) expunge = "UID EXPUNGE " + set;
        co_await command(expunge);
      }
    }
    if (r.done.status != "OK") {
      counters_->moves_failed->inc(uids.size());
      log_->error("imap {}/{}: moving {} to {} refused: {}", settings_.name, mailbox_, set,
                  settings_.processed_folder, r.done.text);
    }
  }

  awaitable<void> wait_for_mail() {
    if (new_mail_) co_return;
    if (!has("IDLE")) {
      co_await sleep(settings_.poll_interval);
      if (!stopped_) co_await command("NOOP");
      co_return;
    }
    std::string tag = "a" + std::to_string(++tag_);
    co_await conn_->write(tag + " IDLE\r\n", settings_.timeout);
    bool done_sent = false;
    asio::steady_timer refresh(strand_);
    for (;;) {
      response r = co_await read_response(/*idle=*/true);
      if (r.k == response::kind::continuation) {
        // Idling. Re-issue before the server's 30-minute inactivity limit (RFC 2177).
        refresh.expires_after(settings_.idle_refresh);
        refresh.async_wait([this, &done_sent](boost::system::error_code ec) {
          if (!ec && !done_sent && conn_) {
            done_sent = true;
            counters_->idle_refreshes->inc();
            conn_->write_detached("DONE\r\n");
          }
        });
        continue;
      }
      if (r.k == response::kind::tagged && r.tag == tag) {
        refresh.cancel();
        if (r.status != "OK") throw imap_failure("IDLE failed: " + r.text);
        co_return;
      }
      if (r.k == response::kind::untagged) {
        note_untagged(r);
        if (new_mail_ && !done_sent) {
          done_sent = true;
          co_await conn_->write("DONE\r\n", settings_.timeout);
        }
      }
    }
  }

  asio::strand<asio::io_context::executor_type> strand_;
  const settings settings_;  // a copy: the session may outlive its connector by a few handlers
  context ctx_;
  std::string mailbox_;
  std::shared_ptr<imap_counters> counters_;
  std::shared_ptr<asio::ssl::context> tls_;
  asio::steady_timer wait_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<transport> conn_;
  framer framer_;
  std::array<char, 64 * 1024> buf_{};
  std::set<std::string> caps_;
  unsigned tag_ = 0;
  bool new_mail_ = false;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> ready_{false};
  std::filesystem::path state_file_;
  mailbox_state state_;
  mutable std::mutex error_mutex_;
  std::string last_error_;
};

imap_connector::imap_connector(settings s, context ctx)
    : settings_(std::move(s)),
      ctx_(std::move(ctx)),
      counters_(std::make_shared<imap_counters>(settings_.name)) {}

imap_connector::~imap_connector() {
  for (auto& s : sessions_) s->stop();
}

core::result<bool> imap_connector::start() {
  if (!ctx_.ioc || !ctx_.publisher) return core::error{"imap connector needs an io_context", ""};
  std::shared_ptr<asio::ssl::context> tls;
  try {
    tls = make_tls_context(settings_.server.ca_file, settings_.server.verify);
  } catch (const std::exception& e) {
    return core::error{"imap " + settings_.name + ": TLS setup: " + e.what(), ""};
  }
  for (const auto& mb : settings_.mailboxes) {
    auto s = std::make_shared<session>(*ctx_.ioc, settings_, ctx_, mb, counters_, tls);
    s->start();
    sessions_.push_back(std::move(s));
  }
  if (settings_.smtp) {
    try {
      smtp_ = std::make_unique<smtp_client>(*ctx_.ioc, *settings_.smtp);
    } catch (const std::exception& e) {
      return core::error{"imap " + settings_.name + ": SMTP TLS setup: " + e.what(), ""};
    }
  }
  return true;
}

void imap_connector::stop() {
  for (auto& s : sessions_) s->stop();
}

bool imap_connector::deliver(const core::outbound& o, const outbound_position&) {
  if (o.chan != core::channel::email || o.provider != "imap" || !smtp_) return false;
  if (auto it = o.attributes.find("imap_connector");
      it != o.attributes.end() && it->second != settings_.name)
    return false;  // another email connector's conversation
  if (o.kind != core::outbound_kind::reply && o.kind != core::outbound_kind::notice)
    return true;  // typing / joined / ended mean nothing in email: handled by doing nothing
  auto log = core::log::get("omni.imap");
  if (o.recipient.kind != "email" || o.recipient.value.find('@') == std::string::npos) {
    counters_->smtp_failed->inc();
    log->error("imap {}: outbound {} has no email recipient; not sent", settings_.name, o.id);
    return true;
  }
  if (!o.id.empty() && !remember_outbound(o.id)) return true;  // a re-read record: sent already
  const auto& from = smtp_->config().from;
  std::string message_id = (o.id.empty() ? std::to_string(now_ms()) : o.id) + "." + settings_.name +
                           from.substr(from.find('@'));
  std::string message = build_reply(smtp_->config(), o, message_id);
  auto counters = counters_;
  std::string name = settings_.name, id = o.id;
  smtp_->send(o.recipient.value, std::move(message), [counters, log, name, id](std::string err) {
    if (err.empty()) {
      counters->smtp_sent->inc();
      log->info("imap {}: reply {} sent", name, id);
    } else {
      counters->smtp_failed->inc();
      log->error("imap {}: reply {} not sent: {}", name, id, err);
    }
  });
  return true;
}

bool imap_connector::remember_outbound(const std::string& id) {
  std::lock_guard lock(sent_mutex_);
  return sent_ids_.insert(id);
}

std::string imap_connector::last_error() const {
  for (const auto& s : sessions_)
    if (auto e = s->last_error(); !e.empty()) return e;
  return {};
}

int imap_connector::sessions_ready() const {
  int n = 0;
  for (const auto& s : sessions_) n += s->ready() ? 1 : 0;
  return n;
}

std::optional<connector::peer_status> imap_connector::peer() const {
  if (sessions_.empty()) return peer_status{false, "not started"};
  const int ready = sessions_ready();
  if (ready == static_cast<int>(sessions_.size())) return peer_status{true, ""};
  std::string detail =
      std::to_string(ready) + " of " + std::to_string(sessions_.size()) + " mailbox(es) connected";
  if (auto e = last_error(); !e.empty()) detail += ": " + e;
  return peer_status{false, std::move(detail)};
}

}  // namespace omni::connectors::imap
