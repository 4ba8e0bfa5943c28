#include "routing/history/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <unordered_map>

#include "core/log/log.h"

namespace omni::routing::history {

namespace {

spdlog::logger& logger() {
  static auto l = core::log::get("omni.history");
  return *l;
}

constexpr const char* schema = R"sql(
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
PRAGMA cache_size=-32768;
PRAGMA foreign_keys=ON;
CREATE TABLE IF NOT EXISTS customers(
  id TEXT PRIMARY KEY, display_name TEXT NOT NULL DEFAULT '', tier TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL, merged_into TEXT);
CREATE TABLE IF NOT EXISTS identities(
  kind TEXT NOT NULL, value TEXT NOT NULL, customer_id TEXT NOT NULL, added_at INTEGER NOT NULL,
  PRIMARY KEY(kind, value));
CREATE INDEX IF NOT EXISTS identities_by_customer ON identities(customer_id);
CREATE TABLE IF NOT EXISTS contacts(
  contact_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, domain TEXT NOT NULL, channel TEXT NOT NULL,
  provider TEXT NOT NULL, queue TEXT NOT NULL DEFAULT '', agent TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '', arrived_at INTEGER NOT NULL, answered_at INTEGER NOT NULL DEFAULT 0,
  completed_at INTEGER NOT NULL DEFAULT 0, disposition TEXT NOT NULL DEFAULT '', satisfaction INTEGER);
CREATE INDEX IF NOT EXISTS contacts_by_customer ON contacts(customer_id, arrived_at);
CREATE TABLE IF NOT EXISTS merges(
  winner TEXT NOT NULL, loser TEXT NOT NULL, at INTEGER NOT NULL, reason TEXT NOT NULL);
)sql";

// A statement from the store's cache (prepared once per connection), reset and unbound when the
// scope ends so the next user finds it fresh.
class statement {
 public:
  explicit statement(sqlite3_stmt* s) : stmt_(s) {}
  ~statement() {
    if (!stmt_) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  explicit operator bool() const { return stmt_ != nullptr; }
  statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  statement& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  bool step_row() { return stmt_ && sqlite3_step(stmt_) == SQLITE_ROW; }
  bool run() { return stmt_ && sqlite3_step(stmt_) == SQLITE_DONE; }
  std::string text(int col) const {
    auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

std::string customer_id_for(const core::identity& first) {
  return "cu_" + core::contact_id("customer:" + first.kind, first.value);
}

contact_record read_contact(const statement& s) {
  contact_record r;
  r.contact_id = s.text(0);
  r.customer_id = s.text(1);
  r.domain = s.text(2);
  r.chan = core::parse_channel(s.text(3)).value_or(core::channel::chat);
  r.provider = s.text(4);
  r.queue = s.text(5);
  r.agent = s.text(6);
  r.subject = s.text(7);
  r.arrived_at = s.integer(8);
  r.answered_at = s.integer(9);
  r.completed_at = s.integer(10);
  r.disposition = s.text(11);
  if (!s.is_null(12)) r.satisfaction = static_cast<int>(s.integer(12));
  return r;
}

// read_contact's columns, in its order.
constexpr const char* select_contact =
    "SELECT contact_id, customer_id, domain, channel, provider, queue, agent, subject, arrived_at,"
    " answered_at, completed_at, disposition, satisfaction FROM contacts WHERE contact_id=?1";
constexpr const char* select_recent =
    "SELECT contact_id, customer_id, domain, channel, provider, queue, agent, subject, arrived_at,"
    " answered_at, completed_at, disposition, satisfaction FROM contacts WHERE customer_id=?1"
    " ORDER BY arrived_at DESC, contact_id LIMIT ?2";

}  // namespace

struct store::impl {
  sqlite3* db = nullptr;
  mutable std::recursive_mutex mutex;  // a batch holds it across the calls inside it
  // Keyed by the SQL text's address: every statement is a string literal of this file.
  mutable std::unordered_map<const char*, sqlite3_stmt*> prepared;
  int batch_depth = 0;

  ~impl() {
    for (auto& [sql, stmt] : prepared) sqlite3_finalize(stmt);
    sqlite3_close(db);
  }

  // The cached statement for `sql` (a null statement when it does not prepare: its run() fails
  // and the caller reports sqlite's message).
  statement stmt(const char* sql) const {
    auto it = prepared.find(sql);
    if (it == prepared.end()) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
        return statement(nullptr);
      it = prepared.emplace(sql, s).first;
    }
    return statement(it->second);
  }

  core::error sql_error(const char* what) const {
    return core::error{std::string(what) + ": " + sqlite3_errmsg(db), "history"};
  }

  // One statement without results (BEGIN, SAVEPOINT, COMMIT...), prepared once like the others.
  bool exec(const char* sql) { return stmt(sql).run(); }

  // The customer an identity belongs to, following merges.
  std::optional<std::string> owner(const core::identity& id) const {
    statement s = stmt("SELECT customer_id FROM identities WHERE kind=?1 AND value=?2");
    s.bind(1, id.kind).bind(2, id.value);
    if (!s.step_row()) return std::nullopt;
    return s.text(0);
  }

  std::int64_t created_at(const std::string& customer) const {
    statement s = stmt("SELECT created_at FROM customers WHERE id=?1");
    s.bind(1, customer);
    return s.step_row() ? s.integer(0) : 0;
  }
};

store::batch::batch(store& s) : store_(&s) {
  auto& d = *s.impl_;
  d.mutex.lock();
  if (d.batch_depth++ == 0 && !d.exec("BEGIN IMMEDIATE"))
    logger().warn("history: cannot begin a batch ({}); writing one by one", sqlite3_errmsg(d.db));
}

store::batch::~batch() {
  auto& d = *store_->impl_;
  if (--d.batch_depth == 0 && sqlite3_get_autocommit(d.db) == 0 && !d.exec("COMMIT")) {
    logger().error("history: batch commit failed: {}", sqlite3_errmsg(d.db));
    d.exec("ROLLBACK");
  }
  d.mutex.unlock();
}

store::store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
store::~store() = default;

core::result<std::unique_ptr<store>> store::open(const std::filesystem::path& file) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  if (ec)
    return core::error{"cannot create " + file.parent_path().string() + ": " + ec.message(),
                       "node.state_dir"};
  // No memory statistics (nobody reads sqlite3_memory_used): with them every allocation of
  // SQLite's takes a global mutex. Process-wide, so only before SQLite initializes: the first
  // open; later calls are refused (SQLITE_MISUSE) and change nothing.
  static std::once_flag configured;
  std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  auto p = std::make_unique<impl>();
  // NOMUTEX: every call holds impl::mutex already; sqlite's own would be a second lock per call.
  if (sqlite3_open_v2(file.c_str(), &p->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK)
    return core::error{"cannot open " + file.string() + ": " + sqlite3_errmsg(p->db),
                       "node.state_dir"};
  sqlite3_busy_timeout(p->db, 5000);
  // Checkpoint the WAL every 250 pages (SQLite's default is 1,000). With synchronous=NORMAL the
  // checkpoint, inside the COMMIT that reaches the limit, is the writer's only wait for the disk
  // (fdatasync of the WAL, then of the database); its time grows with the dirty WAL pages, and the
  // router's batch waits for it. router_load.py at 2,000 contacts/s, 2026-12-02: p99 34-38 ms at
  // 1,000 pages, 23-26 ms at 250, 20-27 ms at 100 (with a lower sustained rate). Checkpointing on
  // a thread of its own was tried and was worse (p99 220-330 ms): the WAL appends of the router's
  // commits waited in the kernel behind the other thread's fdatasync of the same file.
  sqlite3_wal_autocheckpoint(p->db, 250);
  char* err = nullptr;
  if (sqlite3_exec(p->db, schema, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return core::error{"cannot initialize " + file.string() + ": " + msg, "node.state_dir"};
  }
  return std::unique_ptr<store>(new store(std::move(p)));
}

core::result<resolution> store::resolve(const std::vector<core::identity>& identities,
                                        const std::string& display_name, const std::string& tier,
                                        core::timestamp_ms now) {
  if (identities.empty())
    return core::error{"a contact without identities has no customer", "customer.identities"};
  std::lock_guard lock(impl_->mutex);
  auto& d = *impl_;
  resolution res;
  res.tier = tier;  // an existing customer without a new tier keeps the stored one (below)
  // Distinct existing owners, oldest first: the oldest customer survives a merge. An identity
  // with an owner is stored already (a merge moves it below).
  std::vector<std::string> owners;
  std::vector<bool> known(identities.size(), false);
  for (std::size_t i = 0; i < identities.size(); ++i)
    if (auto o = d.owner(identities[i])) {
      known[i] = true;
      if (std::find(owners.begin(), owners.end(), *o) == owners.end()) owners.push_back(*o);
    }
  // A savepoint makes the writes below one unit: needed for a merge (several statements that
  // must not half happen), and outside a batch (one commit, not one per statement). Inside a
  // batch without a merge every write is an insert-if-missing or an overwrite with this call's
  // values, so a failure half-way leaves nothing a later resolve would not redo: no savepoint,
  // two statements fewer per contact on the router's path.
  const bool savepoint = owners.size() > 1 || d.batch_depth == 0;
  if (savepoint && !d.exec("SAVEPOINT resolve")) return d.sql_error("begin");
  std::stable_sort(owners.begin(), owners.end(), [&](const std::string& a, const std::string& b) {
    auto ca = d.created_at(a), cb = d.created_at(b);
    return ca != cb ? ca < cb : a < b;
  });
  bool ok = true;
  if (owners.empty()) {
    res.customer_id = customer_id_for(identities.front());
    res.created = true;
    statement s = d.stmt(
        "INSERT OR IGNORE INTO customers(id, display_name, tier, created_at) VALUES(?1,?2,?3,?4)");
    ok = s.bind(1, res.customer_id).bind(2, display_name).bind(3, tier).bind(4, now).run();
  } else {
    res.customer_id = owners.front();
    for (std::size_t i = 1; ok && i < owners.size(); ++i) {
      const std::string& loser = owners[i];
      statement a = d.stmt("UPDATE identities SET customer_id=?1 WHERE customer_id=?2");
      statement b = d.stmt("UPDATE contacts SET customer_id=?1 WHERE customer_id=?2");
      statement c = d.stmt("UPDATE customers SET merged_into=?1 WHERE id=?2");
      statement m = d.stmt("INSERT INTO merges(winner, loser, at, reason) VALUES(?1,?2,?3,?4)");
      ok = a.bind(1, res.customer_id).bind(2, loser).run() &&
           b.bind(1, res.customer_id).bind(2, loser).run() &&
           c.bind(1, res.customer_id).bind(2, loser).run() &&
           m.bind(1, res.customer_id)
               .bind(2, loser)
               .bind(3, now)
               .bind(4, "identities seen together on one contact")
               .run();
      res.merged.push_back(loser);
      logger().info("customer {} merged into {}: their identities appeared together on one contact",
                    loser, res.customer_id);
    }
    if (ok && (!display_name.empty() || !tier.empty())) {
      statement s = d.stmt(
          "UPDATE customers SET display_name=CASE WHEN ?2<>'' THEN ?2 ELSE display_name END,"
          " tier=CASE WHEN ?3<>'' THEN ?3 ELSE tier END WHERE id=?1");
      ok = s.bind(1, res.customer_id).bind(2, display_name).bind(3, tier).run();
    }
    if (ok && tier.empty()) {
      statement s = d.stmt("SELECT tier FROM customers WHERE id=?1");
      s.bind(1, res.customer_id);
      if (s.step_row()) res.tier = s.text(0);
    }
  }
  for (std::size_t i = 0; ok && i < identities.size(); ++i) {
    if (known[i]) continue;
    const auto& id = identities[i];
    statement s = d.stmt(
        "INSERT OR IGNORE INTO identities(kind, value, customer_id, added_at) VALUES(?1,?2,?3,?4)");
    ok = s.bind(1, id.kind).bind(2, id.value).bind(3, res.customer_id).bind(4, now).run();
  }
  if (!ok) {
    auto e = d.sql_error("resolve");
    if (savepoint) {
      d.exec("ROLLBACK TO resolve");
      d.exec("RELEASE resolve");
    }
    return e;
  }
  if (savepoint && !d.exec("RELEASE resolve")) return d.sql_error("commit");
  return res;
}

core::result<bool> store::record_arrival(const contact_record& r) {
  std::lock_guard lock(impl_->mutex);
  // An existing row is left alone unless this record carries an answer, which it then takes
  // like record_answer would (one statement for a contact answered in the step it arrived in).
  statement s = impl_->stmt(
      "INSERT INTO contacts(contact_id, customer_id, domain, channel, provider, queue, agent,"
      " subject, arrived_at, answered_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
      " ON CONFLICT(contact_id) DO UPDATE SET agent=excluded.agent,"
      " queue=CASE WHEN excluded.queue<>'' THEN excluded.queue ELSE queue END,"
      " answered_at=excluded.answered_at WHERE excluded.answered_at>0");
  s.bind(1, r.contact_id)
      .bind(2, r.customer_id)
      .bind(3, r.domain)
      .bind(4, std::string(core::to_string(r.chan)))
      .bind(5, r.provider)
      .bind(6, r.queue)
      .bind(7, r.agent)
      .bind(8, r.subject)
      .bind(9, r.arrived_at)
      .bind(10, r.answered_at);
  if (!s.run()) return impl_->sql_error("record arrival");
  return true;
}

core::result<bool> store::record_answer(const std::string& contact_id, const std::string& agent,
                                        const std::string& queue, core::timestamp_ms at) {
  std::lock_guard lock(impl_->mutex);
  statement s = impl_->stmt(
      "UPDATE contacts SET agent=?2, queue=CASE WHEN ?3<>'' THEN ?3 ELSE queue END, answered_at=?4"
      " WHERE contact_id=?1");
  if (!s.bind(1, contact_id).bind(2, agent).bind(3, queue).bind(4, at).run())
    return impl_->sql_error("record answer");
  return true;
}

core::result<bool> store::record_completion(const std::string& contact_id, const std::string& agent,
                                            const std::string& disposition,
                                            std::optional<int> satisfaction,
                                            core::timestamp_ms at) {
  std::lock_guard lock(impl_->mutex);
  statement s = impl_->stmt(
      "UPDATE contacts SET agent=CASE WHEN ?2<>'' THEN ?2 ELSE agent END, disposition=?3,"
      " satisfaction=COALESCE(?4, satisfaction), completed_at=?5 WHERE contact_id=?1");
  s.bind(1, contact_id).bind(2, agent).bind(3, disposition);
  if (satisfaction)
    s.bind(4, static_cast<std::int64_t>(*satisfaction));
  else
    s.bind_null(4);
  if (!s.bind(5, at).run()) return impl_->sql_error("record completion");
  return true;
}

core::result<bool> store::set_tier(const std::string& customer_id, const std::string& tier) {
  std::lock_guard lock(impl_->mutex);
  statement s = impl_->stmt("UPDATE customers SET tier=?2 WHERE id=?1");
  if (!s.bind(1, customer_id).bind(2, tier).run()) return impl_->sql_error("set tier");
  return true;
}

std::optional<customer_record> store::customer(const std::string& id) const {
  std::lock_guard lock(impl_->mutex);
  std::string current = id;
  for (int hops = 0; hops < 16; ++hops) {  // follow merges
    statement s = impl_->stmt(
        "SELECT id, display_name, tier, created_at, merged_into FROM customers WHERE id=?1");
    s.bind(1, current);
    if (!s.step_row()) return std::nullopt;
    if (!s.is_null(4)) {
      current = s.text(4);
      continue;
    }
    customer_record c{s.text(0), s.text(1), s.text(2), {}, s.integer(3)};
    statement ids = impl_->stmt(
        "SELECT kind, value FROM identities WHERE customer_id=?1 ORDER BY added_at, kind, value");
    ids.bind(1, c.id);
    while (ids.step_row()) c.identities.push_back({ids.text(0), ids.text(1)});
    return c;
  }
  return std::nullopt;
}

std::optional<std::string> store::find(const core::identity& normalized) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->owner(normalized);
}

std::optional<contact_record> store::contact(const std::string& contact_id) const {
  std::lock_guard lock(impl_->mutex);
  statement s = impl_->stmt(select_contact);
  s.bind(1, contact_id);
  if (!s.step_row()) return std::nullopt;
  return read_contact(s);
}

std::vector<contact_record> store::recent(const std::string& customer_id, int limit) const {
  std::lock_guard lock(impl_->mutex);
  statement s = impl_->stmt(select_recent);
  s.bind(1, customer_id).bind(2, static_cast<std::int64_t>(limit));
  std::vector<contact_record> out;
  while (s.step_row()) out.push_back(read_contact(s));
  return out;
}

std::optional<std::pair<std::string, core::timestamp_ms>> store::last_agent(
    const std::string& customer_id) const {
  std::lock_guard lock(impl_->mutex);
  statement s = impl_->stmt(
      "SELECT agent, answered_at FROM contacts WHERE customer_id=?1 AND agent<>'' AND answered_at>0"
      " ORDER BY answered_at DESC LIMIT 1");
  s.bind(1, customer_id);
  if (!s.step_row()) return std::nullopt;
  return std::make_pair(s.text(0), s.integer(1));
}

}  // namespace omni::routing::history
