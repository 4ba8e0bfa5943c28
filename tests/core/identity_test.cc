// Identity values in canonical form: phones through libphonenumber with a default region,
// e-mail lower-cased, other kinds trimmed (international_e164 is pinned in viber_test).
#include <gtest/gtest.h>

#include "core/identity/normalize.h"

namespace omni::core {
namespace {

TEST(identity_normalizer, phones_become_e164) {
  identity_normalizer n("RU");
  EXPECT_EQ(n.phone_e164("8 (912) 345-67-89"), "+79123456789");  // Russian trunk prefix
  EXPECT_EQ(n.phone_e164("+7 912 345 67 89"), "+79123456789");
  EXPECT_EQ(n.phone_e164("79123456789"), "+79123456789");  // messengers send digits only
  EXPECT_EQ(n.phone_e164("0079123456789"), "+79123456789");
  EXPECT_EQ(n.phone_e164("+1 (650) 253-0000"), "+16502530000");
  EXPECT_EQ(n.phone_e164("anonymous"), std::nullopt);
  EXPECT_EQ(n.phone_e164("<unknown>"), std::nullopt);
  EXPECT_EQ(n.phone_e164(""), std::nullopt);
  EXPECT_EQ(n.phone_e164("not a number"), std::nullopt);
  identity_normalizer us("US");
  EXPECT_EQ(us.phone_e164("(650) 253-0000"), "+16502530000");
}

TEST(identity_normalizer, kinds) {
  identity_normalizer n;
  EXPECT_EQ(n.normalize({"email", "  Ivan.Petrov@Example.RU "}),
            (identity{"email", "ivan.petrov@example.ru"}));
  EXPECT_EQ(n.normalize({"Phone", "8 912 345-67-89"}), (identity{"phone", "+79123456789"}));
  EXPECT_EQ(n.normalize({"telegram", " 42 "}), (identity{"telegram", "42"}));
  EXPECT_EQ(n.normalize({"email", "   "}), std::nullopt);
  EXPECT_EQ(n.normalize({"", "x"}), std::nullopt);
}

}  // namespace
}  // namespace omni::core
