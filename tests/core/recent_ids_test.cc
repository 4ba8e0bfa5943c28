#include "core/recent_ids.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <string>
#include <vector>

namespace omni::core {
namespace {

// The dedupe window against a plain model (a deque of the last `capacity` distinct ids): random
// inserts and lookups over a small id space, so ids come back, get evicted and come back again,
// and the index's probe runs collide, wrap around the table's end and shift on deletion.
TEST(recent_ids, remembers_exactly_the_last_capacity_distinct_ids) {
  std::mt19937 rng(7);
  for (std::size_t capacity : {0u, 1u, 2u, 3u, 7u, 8u, 9u, 100u, 1000u}) {
    recent_ids ids(capacity);
    std::deque<std::string> model;
    const int space = static_cast<int>(capacity) * 3 + 5;
    std::uniform_int_distribution<int> pick(0, space - 1);
    for (int step = 0; step < 20000; ++step) {
      const std::string id = "id-" + std::to_string(pick(rng));
      const bool known = std::find(model.begin(), model.end(), id) != model.end();
      ASSERT_EQ(ids.contains(id), known)
          << "capacity " << capacity << " step " << step << " " << id;
      if (step % 3 == 0) continue;  // lookups only, now and then
      ASSERT_EQ(ids.insert(id), !known) << "capacity " << capacity << " step " << step;
      if (!known && capacity > 0) {
        model.push_back(id);
        if (model.size() > capacity) model.pop_front();
      }
      ASSERT_EQ(ids.size(), model.size());
    }
    for (int i = 0; i < space; ++i) {
      const std::string id = "id-" + std::to_string(i);
      EXPECT_EQ(ids.contains(id), std::find(model.begin(), model.end(), id) != model.end()) << id;
    }
    // for_each: oldest first, exactly the window; inserting them so rebuilds the same set.
    std::vector<std::string> listed;
    ids.for_each([&](std::string_view id) { listed.emplace_back(id); });
    EXPECT_TRUE(std::equal(listed.begin(), listed.end(), model.begin(), model.end()))
        << "capacity " << capacity;
    recent_ids copy(capacity);
    for (const auto& id : listed) copy.insert(id);
    for (int i = 0; i < space; ++i) {
      const std::string id = "id-" + std::to_string(i);
      EXPECT_EQ(copy.contains(id), ids.contains(id)) << id;
    }
  }
}

}  // namespace
}  // namespace omni::core
