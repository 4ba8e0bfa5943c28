#include <gtest/gtest.h>

#include <filesystem>

#include "routing/history/store.h"

namespace omni::routing::history {
namespace {

using core::identity;

class store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("omni-history-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    reopen();
  }
  void TearDown() override {
    s_.reset();
    std::filesystem::remove_all(dir_);
  }
  void reopen() {
    s_.reset();
    auto s = store::open(dir_ / "state" / "history.db");
    ASSERT_TRUE(s) << s.err().to_string();
    s_ = std::move(*s);
  }
  resolution resolve(std::vector<identity> ids, core::timestamp_ms now = 1000,
                     std::string name = "") {
    auto r = s_->resolve(ids, name, "", now);
    EXPECT_TRUE(r) << r.err().to_string();
    return *r;
  }
  contact_record contact(const std::string& id, const std::string& customer, core::timestamp_ms at,
                         core::channel ch = core::channel::email) {
    contact_record r;
    r.contact_id = id;
    r.customer_id = customer;
    r.domain = "acme";
    r.chan = ch;
    r.provider = "imap";
    r.subject = "Заказ " + id;
    r.arrived_at = at;
    return r;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store> s_;
};

TEST_F(store_test, email_then_phone_on_one_contact_then_a_call_finds_the_customer) {
  auto first = resolve({{"email", "ivan@example.ru"}}, 1000, "Иван");
  EXPECT_TRUE(first.created);
  auto again = resolve({{"email", "ivan@example.ru"}}, 2000);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.customer_id, first.customer_id);
  // A mail signed with a phone number links the two.
  auto both = resolve({{"email", "ivan@example.ru"}, {"phone", "+79123456789"}}, 3000);
  EXPECT_EQ(both.customer_id, first.customer_id);
  EXPECT_TRUE(both.merged.empty());
  // A later call from that phone finds the customer who wrote by email.
  auto call = resolve({{"phone", "+79123456789"}}, 4000);
  EXPECT_EQ(call.customer_id, first.customer_id);
  auto c = s_->customer(first.customer_id);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->display_name, "Иван");
  EXPECT_EQ(c->identities.size(), 2u);
}

TEST_F(store_test, a_resolution_carries_the_customers_current_tier) {
  auto gold = s_->resolve({{"email", "vip@example.ru"}}, "", "gold", 1000);
  ASSERT_TRUE(gold) << gold.err().to_string();
  EXPECT_TRUE(gold->created);
  EXPECT_EQ(gold->tier, "gold");
  // A contact that names no tier gets the stored one; a new tier replaces it.
  EXPECT_EQ(resolve({{"email", "vip@example.ru"}}, 2000).tier, "gold");
  ASSERT_TRUE(s_->set_tier(gold->customer_id, "platinum"));
  EXPECT_EQ(resolve({{"email", "vip@example.ru"}}, 3000).tier, "platinum");
  auto silver = s_->resolve({{"email", "vip@example.ru"}}, "", "silver", 4000);
  ASSERT_TRUE(silver);
  EXPECT_EQ(silver->tier, "silver");
  EXPECT_EQ(s_->customer(gold->customer_id)->tier, "silver");
  EXPECT_EQ(resolve({{"email", "nobody@example.ru"}}, 5000).tier, "");
}

TEST_F(store_test, two_customers_seen_together_merge_into_the_oldest_explicitly) {
  auto mail = resolve({{"email", "anna@example.com"}}, 1000);
  auto tg = resolve({{"telegram", "777"}}, 2000);
  ASSERT_NE(mail.customer_id, tg.customer_id);
  ASSERT_TRUE(s_->record_arrival(contact("c-tg", tg.customer_id, 2000, core::channel::messenger)));
  auto both = resolve({{"telegram", "777"}, {"email", "anna@example.com"}}, 3000);
  EXPECT_EQ(both.customer_id, mail.customer_id);
  ASSERT_EQ(both.merged.size(), 1u);
  EXPECT_EQ(both.merged[0], tg.customer_id);
  // The merged customer's contacts and identities now belong to the survivor...
  EXPECT_EQ(s_->find({"telegram", "777"}), mail.customer_id);
  EXPECT_EQ(s_->recent(mail.customer_id, 10).size(), 1u);
  // ...and looking the old id up leads there too.
  auto via_old = s_->customer(tg.customer_id);
  ASSERT_TRUE(via_old);
  EXPECT_EQ(via_old->id, mail.customer_id);
}

// Inside a batch (the router's case) a resolution without a merge takes no savepoint of its own:
// the same customers, links and merges as outside one, durable once the batch ends.
TEST_F(store_test, resolutions_inside_a_batch_link_and_merge_as_outside_one) {
  std::string ivan, anna, tg;
  {
    store::batch b(*s_);
    auto first = resolve({{"email", "ivan@example.ru"}}, 1000, "Иван");
    EXPECT_TRUE(first.created);
    ivan = first.customer_id;
    auto both = resolve({{"email", "ivan@example.ru"}, {"phone", "+79123456789"}}, 2000);
    EXPECT_FALSE(both.created);
    EXPECT_EQ(both.customer_id, ivan);
    EXPECT_EQ(resolve({{"phone", "+79123456789"}}, 3000).customer_id, ivan);
    anna = resolve({{"email", "anna@example.com"}}, 4000).customer_id;
    tg = resolve({{"telegram", "777"}}, 5000).customer_id;
    auto merged = resolve({{"telegram", "777"}, {"email", "anna@example.com"}}, 6000);
    EXPECT_EQ(merged.customer_id, anna);
    ASSERT_EQ(merged.merged.size(), 1u);
    EXPECT_EQ(merged.merged[0], tg);
  }
  reopen();
  auto c = s_->customer(ivan);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->display_name, "Иван");
  EXPECT_EQ(c->identities.size(), 2u);
  EXPECT_EQ(s_->find({"telegram", "777"}), anna);
  EXPECT_EQ(s_->customer(tg)->id, anna);
}

TEST_F(store_test, customer_ids_are_derived_from_the_first_identity) {
  auto a = resolve({{"email", "x@y.z"}});
  SetUp();  // a fresh database elsewhere derives the same id
  auto b = resolve({{"email", "x@y.z"}});
  EXPECT_EQ(a.customer_id, b.customer_id);
  EXPECT_FALSE(s_->resolve({}, "", "", 0));
}

TEST_F(store_test, history_answers_and_completions_survive_a_restart) {
  auto cu = resolve({{"email", "ivan@example.ru"}});
  ASSERT_TRUE(s_->record_arrival(contact("c1", cu.customer_id, 1000)));
  ASSERT_TRUE(s_->record_arrival(contact("c1", cu.customer_id, 1000)));  // idempotent
  ASSERT_TRUE(s_->record_answer("c1", "anna", "billing", 1500));
  ASSERT_TRUE(s_->record_completion("c1", "anna", "resolved", 5, 2000));
  ASSERT_TRUE(s_->record_arrival(contact("c2", cu.customer_id, 3000, core::channel::voice)));
  ASSERT_TRUE(s_->record_answer("c2", "boris", "", 3100));
  ASSERT_TRUE(s_->record_arrival(contact("c3", cu.customer_id, 4000)));  // waiting, unanswered
  reopen();
  auto recent = s_->recent(cu.customer_id, 10);
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent[0].contact_id, "c3");  // newest first
  EXPECT_EQ(recent[2].contact_id, "c1");
  EXPECT_EQ(recent[2].agent, "anna");
  EXPECT_EQ(recent[2].queue, "billing");
  EXPECT_EQ(recent[2].disposition, "resolved");
  EXPECT_EQ(recent[2].satisfaction, 5);
  EXPECT_EQ(recent[2].completed_at, 2000);
  EXPECT_EQ(recent[1].chan, core::channel::voice);
  EXPECT_EQ(s_->recent(cu.customer_id, 1).size(), 1u);
  auto last = s_->last_agent(cu.customer_id);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->first, "boris");
  EXPECT_EQ(last->second, 3100);
  EXPECT_EQ(s_->contact("c1")->subject, "Заказ c1");
  EXPECT_FALSE(s_->contact("nope"));
}

// A contact assigned in the step it arrived in: its arrival carries the answer (one statement),
// the same row record_arrival + record_answer would leave; again on a redo, over the first row.
TEST_F(store_test, an_arrival_may_carry_its_answer) {
  auto cu = resolve({{"email", "ivan@example.ru"}});
  auto answered = contact("a1", cu.customer_id, 1000);
  answered.agent = "anna";
  answered.queue = "billing";
  answered.answered_at = 1000;
  ASSERT_TRUE(s_->record_arrival(answered));
  ASSERT_TRUE(s_->record_arrival(contact("a2", cu.customer_id, 2000)));
  ASSERT_TRUE(s_->record_answer("a2", "anna", "billing", 2500));
  EXPECT_EQ(s_->contact("a1")->agent, s_->contact("a2")->agent);
  EXPECT_EQ(s_->contact("a1")->queue, s_->contact("a2")->queue);
  EXPECT_EQ(s_->contact("a1")->answered_at, 1000);
  // Unanswered again (a redelivery): the row keeps its answer.
  ASSERT_TRUE(s_->record_arrival(contact("a1", cu.customer_id, 1000)));
  EXPECT_EQ(s_->contact("a1")->agent, "anna");
  EXPECT_EQ(s_->contact("a1")->answered_at, 1000);
  // A redo that assigns otherwise (no queue said): the newest answer wins, the queue stays.
  answered.agent = "boris";
  answered.queue = "";
  answered.answered_at = 1200;
  ASSERT_TRUE(s_->record_arrival(answered));
  EXPECT_EQ(s_->contact("a1")->agent, "boris");
  EXPECT_EQ(s_->contact("a1")->queue, "billing");
  EXPECT_EQ(s_->contact("a1")->answered_at, 1200);
  EXPECT_EQ(s_->contact("a1")->arrived_at, 1000);
  EXPECT_EQ(s_->last_agent(cu.customer_id)->first, "anna");  // a2 at 2500 is newer
}

TEST_F(store_test, a_batch_is_one_transaction_seen_by_others_only_when_it_ends) {
  auto other = store::open(dir_ / "state" / "history.db");  // a second connection, as a reader
  ASSERT_TRUE(other) << other.err().to_string();
  std::string customer;
  {
    store::batch outer(*s_);
    customer = resolve({{"email", "olga@example.ru"}}).customer_id;
    ASSERT_TRUE(s_->record_arrival(contact("b1", customer, 1000)));
    {
      store::batch inner(*s_);  // nests: still the same transaction
      ASSERT_TRUE(s_->record_answer("b1", "anna", "support", 1100));
    }
    // Inside the batch the writer sees its own writes; the reader does not yet.
    ASSERT_TRUE(s_->contact("b1"));
    EXPECT_EQ(s_->contact("b1")->agent, "anna");
    EXPECT_FALSE((*other)->contact("b1"));
    EXPECT_FALSE((*other)->find({"email", "olga@example.ru"}));
  }
  ASSERT_TRUE((*other)->contact("b1"));
  EXPECT_EQ((*other)->contact("b1")->agent, "anna");
  EXPECT_EQ((*other)->find({"email", "olga@example.ru"}), customer);
  // And it is durable: a restart reads it back.
  other->reset();
  reopen();
  EXPECT_EQ(s_->recent(customer, 5).size(), 1u);
}

TEST_F(store_test, unwritable_state_dir_is_a_clear_error) {
  auto s = store::open("/proc/omniroute-cannot-write-here/history.db");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.err().field, "node.state_dir");
}

}  // namespace
}  // namespace omni::routing::history
