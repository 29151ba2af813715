#include "api/types/keyslot.h"

#include <gtest/gtest.h>

namespace sk {
namespace {

// Check value from Redis's src/crc16.c and slots that CLUSTER KEYSLOT returns.
TEST(Crc16Test, MatchesXmodemCheckValue) {
  EXPECT_EQ(Crc16("123456789"), 0x31C3);
  EXPECT_EQ(Crc16(""), 0);
}

TEST(KeySlotTest, KnownSlots) {
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("bar"), 5061);
  EXPECT_EQ(KeySlot(""), 0);
}

TEST(KeySlotTest, HashTags) {
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("{user1000}.followers"));
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("user1000"));
  // An empty tag does not count: the whole key is hashed.
  EXPECT_EQ(KeySlot("foo{}{bar}"), Crc16("foo{}{bar}") & 0x3FFF);
  // The tag ends at the first '}' after the first '{'.
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), KeySlot("{bar"));
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), Crc16("{bar") & 0x3FFF);
  EXPECT_EQ(KeySlot("foo{bar}{zap}"), KeySlot("bar"));
  // No closing brace: whole key.
  EXPECT_EQ(KeySlot("foo{bar"), Crc16("foo{bar") & 0x3FFF);
}

TEST(KeySlotTest, BinaryKeys) {
  const std::string key("a\0b", 3);
  EXPECT_EQ(KeySlot(key), Crc16(key) & 0x3FFF);
  EXPECT_NE(KeySlot(key), KeySlot("a"));
  const std::string high("\xff\xfe", 2);
  EXPECT_GE(KeySlot(high), 0);
  EXPECT_LT(KeySlot(high), 16384);
}

}  // namespace
}  // namespace sk
