// Snapshots of a partition's domains (README, "Snapshots"): written every N steps or T seconds to
// omni.snapshots, and loaded by recovery so that it replays only the changelog after them.
//
// A snapshot of input partition p is one body (every domain of p: its sequence, the engine's
// export_state(), the desk details of its active contacts, its conversation map and its seen ids;
// and the highest source offset taken per input topic), cut into chunks of at most 256 KiB, keyed
// "<p>/<slot>/<i>" on partition p of omni.snapshots, then a manifest "<p>/<slot>/manifest" (JSON:
// id, chunk count, size, checksum, and the changelog offset it covers). Slots alternate between
// snapshots, so compaction never removes the previous complete snapshot while the next one is
// being written. The manifest is produced only once the changelog marker of the last step in the
// snapshot is delivered (its offset is what the manifest names): the router's producer is in
// order and gapless, so a delivered marker means every record before it is in Kafka too.
#include <nlohmann/json.hpp>

#include "routing/engine/state_codec.h"
#include "routing/service/router_impl.h"

namespace omni::routing::service {
namespace {

namespace codec = eng::state_codec;

constexpr std::string_view body_magic = "omni.router.snapshot";
constexpr std::string_view chunk_magic = "omni.snapshot.chunk";
constexpr std::uint64_t body_version = 1;
constexpr std::size_t chunk_bytes = 256 * 1024;

eng::timestamp wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

void put_meta(codec::writer& w, const contact_meta& m) {
  for (const std::string* f : {&m.id, &m.customer_id, &m.display_name, &m.channel, &m.provider,
                               &m.conversation, &m.subject, &m.snippet, &m.text})
    w.s(*f);
  w.b(m.text_cut);
  w.s(m.recipient.kind);
  w.s(m.recipient.value);
  w.s(m.history);
}

contact_meta get_meta(codec::reader& r) {
  contact_meta m;
  for (std::string* f : {&m.id, &m.customer_id, &m.display_name, &m.channel, &m.provider,
                         &m.conversation, &m.subject, &m.snippet, &m.text})
    *f = r.s();
  m.text_cut = r.b();
  m.recipient.kind = r.s();
  m.recipient.value = r.s();
  m.history = r.s();
  return m;
}

// A domain as read from a snapshot body, before its engine is imported.
struct domain_image {
  std::string name;
  std::int64_t seq = 0;
  std::string engine;
  std::vector<contact_meta> contacts;
  std::vector<std::pair<std::string, std::string>> conversations;
  std::vector<std::string> seen;
};

struct body_image {
  std::uint64_t id = 0;
  std::int64_t taken = 0;
  std::map<std::string, std::int64_t> through;
  std::vector<domain_image> domains;
};

std::string read_body(std::string_view data, std::int32_t partition, body_image& out) {
  std::string_view body;
  if (!codec::reader::verify(data, body)) return "checksum mismatch";
  if (body.substr(0, body_magic.size()) != body_magic) return "not a router snapshot";
  codec::reader r(body.substr(body_magic.size()));
  const std::uint64_t version = r.u();
  if (version == 0 || version > body_version)
    return "snapshot format " + std::to_string(version) + " is newer than this release";
  if (static_cast<std::int64_t>(r.u()) != partition) return "snapshot of another partition";
  out.id = r.u();
  out.taken = r.i();
  for (std::size_t n = r.count(); n > 0; --n) {
    std::string topic = r.s();
    out.through[topic] = r.i();
  }
  out.domains.resize(r.count());
  for (auto& d : out.domains) {
    d.name = r.s();
    d.seq = r.i();
    d.engine = r.s();
    d.contacts.resize(r.count());
    for (auto& m : d.contacts) m = get_meta(r);
    d.conversations.resize(r.count());
    for (auto& [key, id] : d.conversations) {
      key = r.s();
      id = r.s();
    }
    d.seen = r.ids();
  }
  if (!r.error().empty()) return r.error();
  if (!r.at_end()) return "unexpected data after the last domain";
  return {};
}

}  // namespace

void router::impl::maybe_snapshot(partition_state& ps) {
  if (ps.snapshot_wait || ps.steps_since_snapshot == 0) return;
  const auto& c = opts.config;
  const bool by_steps =
      c.snapshot_every_steps > 0 && ps.steps_since_snapshot >= c.snapshot_every_steps;
  const bool by_time = c.snapshot_every > 0 && clock_type::now() - ps.last_snapshot >=
                                                   std::chrono::milliseconds(c.snapshot_every);
  if (by_steps || by_time) take_snapshot(ps);
}

void router::impl::take_snapshot(partition_state& ps) {
  const auto started = clock_type::now();
  const std::uint64_t id = ++ps.snapshot_id;
  const eng::timestamp taken = wall_ms();
  codec::writer w;
  w.raw(body_magic);
  w.u(body_version);
  w.u(static_cast<std::uint64_t>(ps.partition));
  w.u(id);
  w.i(taken);
  w.u(ps.through.size());
  for (const auto& [topic, offset] : ps.through) {
    w.s(topic);
    w.i(offset);
  }
  nlohmann::json domains = nlohmann::json::array();
  w.u(ps.domains.size());
  for (const auto& [name, d] : ps.domains) {
    const std::size_t before = w.size();
    w.s(name);
    w.i(d->seq);
    w.s(d->engine->export_state());
    std::vector<const contact_meta*> metas;
    for (const auto& [cid, m] : d->contacts) metas.push_back(&m);
    std::sort(metas.begin(), metas.end(), [](auto* a, auto* b) { return a->id < b->id; });
    w.u(metas.size());
    for (const auto* m : metas) put_meta(w, *m);
    std::vector<std::pair<std::string_view, std::string_view>> convs(d->conversations.begin(),
                                                                     d->conversations.end());
    std::sort(convs.begin(), convs.end());
    w.u(convs.size());
    for (const auto& [key, cid] : convs) {
      w.s(key);
      w.s(cid);
    }
    w.ids(d->seen.size());
    d->seen.for_each([&](std::string_view seen_id) { w.id(seen_id); });
    snapshot_sizes[name] = w.size() - before;
    domains.push_back({{"name", name}, {"seq", d->seq}, {"bytes", w.size() - before}});
  }
  const std::string body = w.finish();
  snapshot_seconds.observe(std::chrono::duration<double>(clock_type::now() - started).count());

  const std::string slot = std::to_string(ps.partition) + "/" + std::to_string(id % 2) + "/";
  const std::size_t chunks =
      std::max<std::size_t>(1, (body.size() + chunk_bytes - 1) / chunk_bytes);
  for (std::size_t i = 0; i < chunks; ++i) {
    codec::writer cw;
    cw.raw(chunk_magic);
    cw.u(id);
    cw.u(i);
    cw.u(chunks);
    cw.s(std::string_view(body).substr(i * chunk_bytes, chunk_bytes));
    std::string value = cw.finish();
    produce_to(opts.topics.snapshots, ps.partition, slot + std::to_string(i), std::move(value),
               {ps.generation, ps.partition, "", -1, false, {}});
  }
  nlohmann::json manifest = {{"id", id},
                             {"partition", ps.partition},
                             {"chunks", chunks},
                             {"bytes", body.size()},
                             {"checksum", hex(codec::fnv1a(body))},
                             {"taken_at", taken},
                             {"steps", ps.steps_since_snapshot},
                             {"domains", domains}};
  logger().debug("partition {}: snapshot {} ({} domain(s), {} bytes in {} chunk(s))", ps.partition,
                 id, ps.domains.size(), body.size(), chunks);
  ps.steps_since_snapshot = 0;
  ps.last_snapshot = clock_type::now();
  if (ps.markers_delivered == ps.markers_emitted)
    write_manifest(ps, std::move(manifest), id, ps.marker_offset);
  else
    ps.snapshot_wait = snapshot_in_flight{ps.markers_emitted, std::move(manifest), id};
}

void router::impl::write_manifest(partition_state& ps, json m, std::uint64_t id,
                                  std::int64_t changelog_offset) {
  m["changelog_offset"] = changelog_offset;
  completion done{ps.generation, ps.partition, "", -1, false, {}};
  done.snapshot = id;
  done.snapshot_taken = m.value("taken_at", std::int64_t{0});
  produce_to(opts.topics.snapshots, ps.partition,
             std::to_string(ps.partition) + "/" + std::to_string(id % 2) + "/manifest", m.dump(),
             std::move(done));
}

void router::impl::on_marker_delivered(partition_state& ps, const completion& c) {
  ps.markers_delivered = c.marker;
  ps.marker_offset = c.produced_offset;
  if (ps.snapshot_wait && ps.snapshot_wait->marker == c.marker) {
    snapshot_in_flight w = std::move(*ps.snapshot_wait);
    ps.snapshot_wait.reset();
    write_manifest(ps, std::move(w.manifest), w.id, c.produced_offset);
  }
}

std::int64_t router::impl::load_snapshot(partition_state& ps) {
  const std::int32_t p = ps.partition;
  const std::string prefix = std::to_string(p) + "/";
  // Manifests by id, and the chunks of the newest few ids (older ones are dropped as newer appear,
  // so an uncompacted topic does not fill memory).
  std::map<std::uint64_t, nlohmann::json> manifests;
  std::map<std::uint64_t, std::map<std::uint64_t, std::string>> chunks;
  auto r = core::bus::read_partition(
      opts.kafka, opts.topics.snapshots, p, 0,
      [&](const core::bus::message& m) {
        if (m.key.compare(0, prefix.size(), prefix) != 0) return true;
        if (m.key.size() > 9 && m.key.compare(m.key.size() - 9, 9, "/manifest") == 0) {
          auto j = nlohmann::json::parse(m.value, nullptr, false);
          if (j.is_object() && j.contains("id") && j["id"].is_number_unsigned()) {
            const auto id = j["id"].get<std::uint64_t>();
            manifests[id] = std::move(j);
          }
          return true;
        }
        std::string_view data;
        if (!codec::reader::verify(m.value, data) ||
            data.substr(0, chunk_magic.size()) != chunk_magic)
          return true;  // torn or foreign: the manifest check below finds the gap
        codec::reader cr(data.substr(chunk_magic.size()));
        const std::uint64_t id = cr.u(), index = cr.u(), count = cr.u();
        std::string piece = cr.s();
        if (!cr.error().empty() || !cr.at_end() || index >= count) return true;
        chunks[id][index] = std::move(piece);
        while (chunks.size() > 3) chunks.erase(chunks.begin());
        return true;
      },
      60s);
  if (!r) {
    logger().warn("partition {}: cannot read {} ({}); replaying the whole changelog", p,
                  opts.topics.snapshots, r.err().to_string());
    return 0;
  }
  // Newest first: the first whose chunks are all there, whose checksum holds and whose domains
  // import. A torn or damaged one is skipped for the one before it.
  for (auto it = manifests.rbegin(); it != manifests.rend(); ++it) {
    const std::uint64_t id = it->first;
    const auto& m = it->second;
    auto fail = [&](const std::string& why) {
      logger().warn("partition {}: snapshot {} is unusable ({}); trying an older one", p, id, why);
    };
    const auto count = m.value("chunks", std::uint64_t{0});
    auto c = chunks.find(id);
    if (count == 0 || c == chunks.end() || c->second.size() != count) {
      fail("chunks missing");
      continue;
    }
    std::string body;
    for (const auto& [index, piece] : c->second) body += piece;
    if (body.size() != m.value("bytes", std::uint64_t{0}) ||
        hex(codec::fnv1a(body)) != m.value("checksum", std::string())) {
      fail("checksum mismatch");
      continue;
    }
    body_image img;
    if (auto err = read_body(body, p, img); !err.empty()) {
      fail(err);
      continue;
    }
    std::vector<std::unique_ptr<domain_state>> loaded;
    std::string refused;
    for (auto& di : img.domains) {
      auto d = std::make_unique<domain_state>(opts.config.seen_window);
      d->name = di.name;
      d->seq = di.seq;
      d->engine = std::make_unique<eng::engine>(opts.config.engine);
      std::vector<eng::decision> moved;
      eng::engine::import_summary summary;
      if (auto err = d->engine->import_state(di.engine, moved, &summary); !err.empty()) {
        refused = "domain " + di.name + ": " + err;
        break;
      }
      if (summary.moved > 0)
        logger().warn(
            "domain {}: {} contact(s) of queues the configuration no longer has went "
            "to the default queue",
            di.name, summary.moved);
      for (auto& meta : di.contacts) {
        std::string cid = meta.id;
        d->contacts.emplace(std::move(cid), std::move(meta));
      }
      for (auto& [key, cid] : di.conversations) d->conversations.emplace(key, cid);
      for (const auto& s : di.seen) d->seen.insert(s);
      loaded.push_back(std::move(d));
    }
    if (!refused.empty()) {
      fail(refused);
      continue;
    }
    for (auto& d : loaded) {
      std::string name = d->name;
      ps.domains[name] = std::move(d);
    }
    ps.snapshot_id = id;
    ps.snapshot_taken = img.taken;
    ps.snapshot_through = img.through;
    ps.through = img.through;
    const std::int64_t offset = m.value("changelog_offset", std::int64_t{-1});
    ps.marker_offset = offset;
    logger().info(
        "partition {}: loaded snapshot {} ({} domain(s), {} bytes, changelog up to offset "
        "{})",
        p, id, img.domains.size(), body.size(), offset);
    return offset + 1;
  }
  if (!manifests.empty()) ps.snapshot_id = manifests.rbegin()->first;  // ids keep growing
  return 0;
}

}  // namespace omni::routing::service
