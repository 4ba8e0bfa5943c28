// slot_order and priority_buckets (the profile-local orders of the routing engine) against a
// std::set reference: random inserts, re-keys (mostly growing keys, some smaller), erases and
// slot releases; after every step the top, size, membership and min_where agree. Also the
// engine's other internal containers: id_table (id -> slot, against std::unordered_map) and
// paged_vector (records that never move).

#include "routing/engine/slot_order.h"

#include "routing/engine/id_table.h"
#include "routing/engine/paged_vector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace omni::routing::engine {
namespace {

using key = std::pair<std::int64_t, std::uint32_t>;  // (value, slot): a strict total order

// order.min_where(ok) is the reference's first key for which ok holds (or both have none).
template <typename Order, typename Key, typename Ok>
void expect_min_where(const Order& order, const std::set<Key>& ref, int step, Ok ok) {
  const auto* found = order.min_where([&](const auto& e) { return ok(e.key); });
  const Key* expected = nullptr;
  for (const Key& k : ref) {
    if (ok(k)) {
      expected = &k;
      break;
    }
  }
  ASSERT_EQ(found == nullptr, expected == nullptr) << "step " << step;
  if (found != nullptr) {
    ASSERT_EQ(found->key, *expected) << "step " << step;
  }
}

template <typename Order>
void check_against_reference(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Order order;
  std::set<key> ref;
  std::map<std::uint32_t, std::int64_t> value_of;  // members only
  std::map<std::uint32_t, std::int64_t> last_set;  // value of each live slot's last set()
  std::vector<std::uint32_t> slots;
  std::int64_t clock = 0;
  for (int step = 0; step < 5'000; ++step) {
    const int op = static_cast<int>(rng() % 100);
    if (slots.empty() || op < 10) {
      slots.push_back(order.acquire());
      continue;
    }
    const std::uint32_t s = slots[rng() % slots.size()];
    if (op < 75) {
      // Mostly a later key (agents re-keyed by "idle since now"), sometimes an earlier one.
      const std::int64_t v =
          rng() % 5 == 0 ? clock - static_cast<std::int64_t>(rng() % 1000) : ++clock;
      if (auto it = value_of.find(s); it != value_of.end()) ref.erase({it->second, s});
      value_of[s] = v;
      last_set[s] = v;
      ref.insert({v, s});
      order.set(s, key{v, s});
    } else if (op < 85 && !value_of.contains(s) && last_set.contains(s)) {
      // Back with the key of its last set(): revive when that entry is still stored, else
      // store it again.
      const std::int64_t v = last_set[s];
      bool revived = false;
      if constexpr (requires { order.revive(s); }) revived = order.revive(s);
      if (!revived) order.set(s, key{v, s});
      value_of[s] = v;
      ref.insert({v, s});
    } else if (op < 95) {
      if (auto it = value_of.find(s); it != value_of.end()) {
        ref.erase({it->second, s});
        value_of.erase(it);
      }
      order.erase(s);
    } else {
      if (auto it = value_of.find(s); it != value_of.end()) {
        ref.erase({it->second, s});
        value_of.erase(it);
      }
      order.release(s);
      last_set.erase(s);
      std::erase(slots, s);
    }
    ASSERT_EQ(order.size(), ref.size()) << "step " << step;
    ASSERT_EQ(order.empty(), ref.empty());
    ASSERT_TRUE(order.valid()) << "step " << step;
    if constexpr (requires { order.stored(); }) {
      // Compaction runs on set() (erase only marks): the bound holds right after a set.
      if (op < 75) {
        ASSERT_LE(order.stored(), 2 * ref.size() + 64);
      }
    }
    if (!ref.empty()) {
      ASSERT_EQ(order.top().key, *ref.begin()) << "step " << step;
      // min_where skipping odd values = the reference's first even value.
      ASSERT_NO_FATAL_FAILURE(
          expect_min_where(order, ref, step, [](const key& k) { return k.first % 2 == 0; }));
    }
    for (std::uint32_t x : slots) ASSERT_EQ(order.contains(x), value_of.count(x) == 1);
  }
}

// A waiting contact's key in miniature: higher priority first, then value, then a unique tag.
struct prio_key {
  std::int32_t priority = 0;
  std::int64_t value = 0;
  std::uint32_t tag = 0;
  bool operator==(const prio_key&) const = default;
  bool operator<(const prio_key& o) const {
    if (priority != o.priority) return priority > o.priority;
    if (value != o.value) return value < o.value;
    return tag < o.tag;
  }
};

TEST(priority_buckets, matches_an_ordered_set) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    std::mt19937_64 rng(seed);
    priority_buckets<prio_key> order;
    std::set<prio_key> ref;
    std::vector<std::pair<prio_key, std::uint32_t>> members;  // key, slot
    std::int64_t clock = 0;
    std::uint32_t next_tag = 0;
    for (int step = 0; step < 8'000; ++step) {
      const int op = static_cast<int>(rng() % 100);
      if (members.empty() || op < 55) {
        // Mostly a few priorities and growing values (arrivals); sometimes an older value
        // (a requeued or escalated contact) or a rare priority (the bucket count passes the
        // idle limit, so emptied buckets are dropped and made again).
        prio_key k;
        k.priority = rng() % 10 == 0 ? static_cast<std::int32_t>(rng() % 20)
                                     : static_cast<std::int32_t>(rng() % 3);
        k.value = rng() % 6 == 0 ? clock - static_cast<std::int64_t>(rng() % 500) : ++clock;
        k.tag = next_tag++;
        const std::uint32_t slot = order.insert(k);
        ASSERT_FALSE(ref.count(k));
        ref.insert(k);
        members.emplace_back(k, slot);
      } else {
        // Take the best (what a freed agent does) or remove a random member (abandon).
        std::size_t i = rng() % members.size();
        if (op < 80) {
          const prio_key best = *ref.begin();
          i = static_cast<std::size_t>(
              std::find_if(members.begin(), members.end(),
                           [&](const auto& m) { return m.first == best; }) -
              members.begin());
        }
        const auto [k, slot] = members[i];
        ASSERT_TRUE(order.contains(k.priority, slot));
        order.release(k.priority, slot);
        ref.erase(k);
        members[i] = members.back();
        members.pop_back();
      }
      ASSERT_EQ(order.size(), ref.size()) << "step " << step;
      ASSERT_EQ(order.empty(), ref.empty());
      // The full structure check is linear: every 4th step (and the last) is enough to place
      // a failure, and keeps the test quick under the sanitizers.
      if (step % 4 == 0 || step + 1 == 8'000) {
        ASSERT_TRUE(order.valid()) << "step " << step;
        std::size_t members = 0;
        order.for_each_live([&](const auto&) { members++; });
        ASSERT_EQ(members, ref.size());
      }
      if (ref.empty()) continue;
      ASSERT_EQ(order.top().key, *ref.begin()) << "step " << step;
      ASSERT_NO_FATAL_FAILURE(
          expect_min_where(order, ref, step, [](const prio_key& k) { return k.value % 3 == 0; }));
    }
  }
}

TEST(slot_order, matches_an_ordered_set) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) check_against_reference<slot_order<key>>(seed);
}

TEST(slot_order, revive_restores_an_erased_slot_while_its_entry_is_stored) {
  slot_order<key> order;
  const std::uint32_t a = order.acquire();
  const std::uint32_t b = order.acquire();
  order.set(a, key{1, a});
  order.set(b, key{2, b});
  order.erase(a);
  EXPECT_TRUE(order.revive(a));  // its entry is still stored
  EXPECT_EQ(order.size(), 2u);
  EXPECT_EQ(order.top().key, (key{1, a}));
  EXPECT_FALSE(order.revive(a));  // already a member
  order.erase(a);
  EXPECT_EQ(order.top().key, (key{2, b}));  // drops a's stale entry at the front
  EXPECT_FALSE(order.revive(a));
  order.set(a, key{3, a});
  EXPECT_EQ(order.size(), 2u);
  order.release(b);
  const std::uint32_t c = order.acquire();  // b's slot again
  EXPECT_EQ(c, b);
  EXPECT_FALSE(order.revive(c));  // a new owner revives nothing
  EXPECT_EQ(order.size(), 1u);
  EXPECT_TRUE(order.valid());
}

TEST(slot_order, growing_keys_stay_in_the_run_and_stale_entries_are_bounded) {
  slot_order<key> order;
  std::vector<std::uint32_t> slots;
  for (int i = 0; i < 100; ++i) slots.push_back(order.acquire());
  std::int64_t clock = 0;
  for (int round = 0; round < 1000; ++round) {
    for (std::uint32_t s : slots) order.set(s, key{++clock, s});
    EXPECT_EQ(order.size(), slots.size());
  }
  EXPECT_EQ(order.top().key.first, clock - 99);
  EXPECT_TRUE(order.valid());
  // Memory stays proportional to the members (compaction), not to the 100k re-keys.
  EXPECT_LE(order.stored(), 2 * slots.size() + 64);
}

// Random inserts and erases (backward-shift deletion moves entries) through several growths;
// every live id is found at its value and erased ids are gone.
TEST(id_table, matches_a_map_through_inserts_erases_and_growth) {
  std::vector<std::string> ids;  // value -> id
  std::unordered_map<std::string, std::uint32_t> ref;
  id_table table;
  auto id_of = [&](std::uint32_t v) { return std::string_view(ids[v]); };
  std::mt19937_64 rng(7);
  for (int step = 0; step < 60'000; ++step) {
    if (ref.empty() || rng() % 3 != 0) {
      std::string id = "c" + std::to_string(rng() % 50'000);
      if (ref.count(id) != 0) continue;
      const auto v = static_cast<std::uint32_t>(ids.size());
      ids.push_back(id);
      table.insert(id_table::hash(id), v);
      ref.emplace(id, v);
    } else {
      auto it = ref.begin();
      std::advance(it, static_cast<long>(rng() % std::min<std::size_t>(ref.size(), 64)));
      const std::uint32_t pos = table.position(it->first, id_table::hash(it->first), id_of);
      ASSERT_NE(pos, id_table::npos) << it->first;
      ASSERT_EQ(table.value_at(pos), it->second);
      table.erase_at(pos);
      ASSERT_EQ(table.find(it->first, id_of), id_table::npos) << it->first;
      ref.erase(it);
    }
    ASSERT_EQ(table.size(), ref.size());
    if (step % 1000 == 0) {
      for (const auto& [id, v] : ref) ASSERT_EQ(table.find(id, id_of), v) << id;
    }
  }
  for (const auto& [id, v] : ref) ASSERT_EQ(table.find(id, id_of), v) << id;
  EXPECT_EQ(table.find("never-inserted", id_of), id_table::npos);
}

TEST(paged_vector, records_keep_their_address_and_value_across_pages) {
  paged_vector<std::string, 4> v;  // 16 records a page
  std::vector<const std::string*> addresses;
  for (int i = 0; i < 100; ++i) {
    v.emplace_back() = "r" + std::to_string(i);
    addresses.push_back(&v[static_cast<std::size_t>(i)]);
  }
  ASSERT_EQ(v.size(), 100u);
  std::size_t n = 0;
  for (const std::string& r : v) {
    EXPECT_EQ(&r, addresses[n]);
    EXPECT_EQ(r, "r" + std::to_string(n));
    ++n;
  }
  EXPECT_EQ(n, 100u);
  EXPECT_EQ(v.bytes(), 7 * 16 * sizeof(std::string));  // whole pages: 100 records in 7
  v.clear();
  EXPECT_TRUE(v.empty());
}

}  // namespace
}  // namespace omni::routing::engine
