#include "api/types/slot_range.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sk {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<SlotRange> Flatten(const std::vector<std::vector<SlotRange>>& split) {
  std::vector<SlotRange> all;
  for (const auto& list : split) all.insert(all.end(), list.begin(), list.end());
  return all;
}

// Every slot exactly once, in master order, each master a non-empty contiguous block.
void ExpectContiguousCover(const std::vector<std::vector<SlotRange>>& split, size_t masters) {
  ASSERT_EQ(split.size(), masters);
  int next = 0;
  for (size_t i = 0; i < split.size(); ++i) {
    ASSERT_EQ(split[i].size(), 1u) << "master " << i;
    EXPECT_EQ(split[i][0].start, next) << "master " << i;
    EXPECT_LE(split[i][0].start, split[i][0].end) << "master " << i;
    next = split[i][0].end + 1;
  }
  EXPECT_EQ(next, kSlots);
}

TEST(SlotRangeTest, ToString) {
  EXPECT_EQ((SlotRange{5, 5}).ToString(), "5");
  EXPECT_EQ((SlotRange{0, 5460}).ToString(), "0-5460");
  EXPECT_EQ((SlotRange{0, 5460}).Count(), 5461);
}

TEST(ParseSlotRangeTest, Accepts) {
  const std::pair<std::string_view, SlotRange> cases[] = {
      {"0-5460", {0, 5460}},   {"42", {42, 42}},    {"16383", {16383, 16383}},
      {"0-16383", {0, 16383}}, {" 7 - 9 ", {7, 9}}, {"100-100", {100, 100}},
  };
  for (const auto& [text, want] : cases) {
    Result<SlotRange> r = ParseSlotRange(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.error().message();
    EXPECT_EQ(*r, want) << text;
  }
}

TEST(ParseSlotRangeTest, Refuses) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"", "expected START-END"},      {"abc", "expected START-END"},
      {"1-", "expected START-END"},    {"-1", "expected START-END"},
      {"1-2-3", "expected START-END"}, {"+5", "expected START-END"},
      {"16384", "0..16383"},           {"0-16384", "0..16383"},
      {"10-5", "start is after end"},  {"99999999999999999", "expected START-END"},
  };
  for (const auto& [text, want] : cases) {
    Result<SlotRange> r = ParseSlotRange(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
    EXPECT_THAT(r.error().message(), HasSubstr(want)) << text;
  }
}

TEST(RangesTest, FromSlotsMergesAndDeduplicates) {
  EXPECT_THAT(
      RangesFromSlots({5, 1, 2, 3, 3, 10, 11, 16383}),
      ElementsAre(SlotRange{1, 3}, SlotRange{5, 5}, SlotRange{10, 11}, SlotRange{16383, 16383}));
  EXPECT_TRUE(RangesFromSlots({}).empty());
}

TEST(RangesTest, NormalizeSortsAndMergesOverlappingAndAdjacent) {
  EXPECT_THAT(NormalizeRanges({{100, 200}, {0, 9}, {10, 20}, {150, 300}, {302, 302}}),
              ElementsAre(SlotRange{0, 20}, SlotRange{100, 300}, SlotRange{302, 302}));
  EXPECT_THAT(NormalizeRanges({{0, 100}, {5, 6}}), ElementsAre(SlotRange{0, 100}));
}

TEST(RangesTest, CountAndToString) {
  std::vector<SlotRange> ranges = {{0, 5460}, {5462, 5462}};
  EXPECT_EQ(CountSlots(ranges), 5462);
  EXPECT_EQ(RangesToString(ranges), "0-5460,5462");
  EXPECT_EQ(RangesToString({}), "");
}

// `redis-cli --cluster create` prints these for 3 and 5 masters.
TEST(EvenSplitTest, MatchesRedisCliForThreeMasters) {
  EXPECT_THAT(Flatten(EvenSplit(3)),
              ElementsAre(SlotRange{0, 5460}, SlotRange{5461, 10922}, SlotRange{10923, 16383}));
}

TEST(EvenSplitTest, MatchesRedisCliForFiveMasters) {
  EXPECT_THAT(Flatten(EvenSplit(5)),
              ElementsAre(SlotRange{0, 3276}, SlotRange{3277, 6553}, SlotRange{6554, 9829},
                          SlotRange{9830, 13106}, SlotRange{13107, 16383}));
}

TEST(EvenSplitTest, CoversAllSlotsContiguously) {
  for (int masters : {1, 2, 3, 4, 5, 6, 7, 10, 100, 333, 1000, 4096, 16384}) {
    SCOPED_TRACE(masters);
    std::vector<std::vector<SlotRange>> split = EvenSplit(masters);
    ExpectContiguousCover(split, masters);
    // An even split: no two masters differ by more than a couple of slots.
    int min = kSlots;
    int max = 0;
    for (const auto& list : split) {
      min = std::min(min, list[0].Count());
      max = std::max(max, list[0].Count());
    }
    EXPECT_LE(max - min, 2);
  }
  EXPECT_THAT(Flatten(EvenSplit(4)), ElementsAre(SlotRange{0, 4095}, SlotRange{4096, 8191},
                                                 SlotRange{8192, 12287}, SlotRange{12288, 16383}));
  EXPECT_EQ(EvenSplit(16384)[16383][0], (SlotRange{16383, 16383}));
}

TEST(EvenSplitTest, OutOfDomainIsEmpty) {
  EXPECT_TRUE(EvenSplit(0).empty());
  EXPECT_TRUE(EvenSplit(-1).empty());
  EXPECT_TRUE(EvenSplit(16385).empty());
  EXPECT_TRUE(EvenSplit(7542).empty());  // redis-cli's float cursor overruns slot 16383 here
}

TEST(WeightedSplitTest, BoundariesAtRoundedCumulativeWeights) {
  EXPECT_THAT(Flatten(WeightedSplit({2, 1, 1})),
              ElementsAre(SlotRange{0, 8191}, SlotRange{8192, 12287}, SlotRange{12288, 16383}));
  // round(16384/3) = 5461, round(2*16384/3) = 10923.
  EXPECT_THAT(Flatten(WeightedSplit({1, 1, 1})),
              ElementsAre(SlotRange{0, 5460}, SlotRange{5461, 10922}, SlotRange{10923, 16383}));
  ExpectContiguousCover(WeightedSplit({0.5, 0.25, 3, 7, 1e-3}), 5);
}

TEST(WeightedSplitTest, TinyWeightGetsNoSlots) {
  std::vector<std::vector<SlotRange>> split = WeightedSplit({1, 1, 1e-9});
  ASSERT_EQ(split.size(), 3u);
  EXPECT_TRUE(split[2].empty());
  EXPECT_EQ(CountSlots(Flatten(split)), kSlots);
}

TEST(WeightedSplitTest, InvalidWeightsDoNotCrash) {
  EXPECT_EQ(WeightedSplit({}).size(), 0u);
  std::vector<std::vector<SlotRange>> split = WeightedSplit({0, -1});
  ASSERT_EQ(split.size(), 2u);
  EXPECT_TRUE(split[0].empty());
  EXPECT_TRUE(split[1].empty());
}

}  // namespace
}  // namespace sk
