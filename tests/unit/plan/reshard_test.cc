// PlanSlotMoves / TargetCounts: counts, minimal moves, contiguity, interleaving, determinism.
#include "controller/plan/reshard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace sk::plan {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

using Layout = std::vector<std::pair<std::string, std::vector<SlotRange>>>;

std::string Name(int i) { return std::string(1, static_cast<char>('a' + i)); }

// Masters a, b, c ... with redis-cli's even split.
Layout Even(int n) {
  Layout out;
  auto split = EvenSplit(n);
  for (int i = 0; i < n; ++i) out.push_back({Name(i), split[i]});
  return out;
}

// Owner per slot after applying `moves` to `masters` + `leaving`; also checks that every
// move takes a slot from its current owner and that no slot moves twice.
std::map<std::string, std::vector<int>> Apply(const ReshardInput& in,
                                              const std::vector<SlotMove>& moves) {
  std::vector<std::string> owner(kSlots);
  for (const auto* list : {&in.leaving, &in.masters}) {
    for (const auto& [name, ranges] : *list) {
      for (const SlotRange& r : ranges) {
        for (int s = r.start; s <= r.end; ++s) owner[s] = name;
      }
    }
  }
  std::set<int> seen;
  for (const SlotMove& m : moves) {
    EXPECT_TRUE(seen.insert(m.slot).second) << "slot " << m.slot << " moves twice";
    EXPECT_EQ(owner[m.slot], m.from) << "slot " << m.slot;
    EXPECT_NE(m.from, m.to);
    owner[m.slot] = m.to;
  }
  std::map<std::string, std::vector<int>> out;
  for (int s = 0; s < kSlots; ++s) {
    if (!owner[s].empty()) out[owner[s]].push_back(s);
  }
  return out;
}

std::map<std::string, int> Counts(const std::map<std::string, std::vector<int>>& by_owner) {
  std::map<std::string, int> out;
  for (const auto& [name, slots] : by_owner) out[name] = static_cast<int>(slots.size());
  return out;
}

// The layout as ReshardInput.masters expects it, in the given master order.
Layout ToLayout(const std::map<std::string, std::vector<int>>& by_owner,
                const std::vector<std::string>& order) {
  Layout out;
  for (const std::string& name : order) {
    auto it = by_owner.find(name);
    out.push_back(
        {name, it == by_owner.end() ? std::vector<SlotRange>{} : RangesFromSlots(it->second)});
  }
  return out;
}

std::map<std::string, int> MovedFrom(const std::vector<SlotMove>& moves) {
  std::map<std::string, int> out;
  for (const SlotMove& m : moves) ++out[m.from];
  return out;
}

// Consecutive moves with the same (from, to) pair while other pairs still had moves left.
int SamePairNeighbours(const std::vector<SlotMove>& moves) {
  int same = 0;
  for (std::size_t i = 1; i < moves.size(); ++i) {
    if (moves[i].from == moves[i - 1].from && moves[i].to == moves[i - 1].to) ++same;
  }
  return same;
}

TEST(TargetCountsTest, EvenOverFour) {
  ReshardInput in{.masters = Even(3)};
  in.masters.push_back({"d", {}});
  for (const auto& [name, n] : TargetCounts(in)) EXPECT_EQ(n, 4096) << name;
}

TEST(TargetCountsTest, RemainderStaysWhereItIs) {
  // create's split gives the extra slot to b: rebalancing must not move it to a.
  ReshardInput in{.masters = Even(3)};
  EXPECT_THAT(TargetCounts(in), ElementsAre(std::pair<const std::string, int>("a", 5461),
                                            std::pair<const std::string, int>("b", 5462),
                                            std::pair<const std::string, int>("c", 5461)));
}

TEST(TargetCountsTest, EmptyMastersGetTheRemainderInOrder) {
  ReshardInput in{.masters = {{"a", {}}, {"b", {}}, {"c", {}}}, .leaving = {{"z", {{0, 16383}}}}};
  EXPECT_THAT(TargetCounts(in), ElementsAre(std::pair<const std::string, int>("a", 5462),
                                            std::pair<const std::string, int>("b", 5461),
                                            std::pair<const std::string, int>("c", 5461)));
}

TEST(TargetCountsTest, FollowsWeightsAndCountsOnlyOwnedSlots) {
  ReshardInput in{.masters = {{"a", {{0, 99}}}, {"b", {{100, 199}}}, {"c", {}}},
                  .weights = {{"a", 2}, {"c", 0}}};
  // 200 owned slots, weights 2:1:0 -> 133 and 66, and the remainder to b, which holds
  // more than its share already.
  auto counts = TargetCounts(in);
  EXPECT_EQ(counts["a"], 133);
  EXPECT_EQ(counts["b"], 67);
  EXPECT_EQ(counts["c"], 0);
}

TEST(PlanSlotMovesTest, ThreeToFourMovesAQuarter) {
  ReshardInput in{.masters = Even(3)};
  in.masters.push_back({"d", {}});
  auto moves = PlanSlotMoves(in);
  ASSERT_EQ(moves.size(), 4096u);
  for (const SlotMove& m : moves) EXPECT_EQ(m.to, "d");
  std::vector<int> from;
  for (const auto& [name, n] : MovedFrom(moves)) from.push_back(n);
  EXPECT_THAT(from, UnorderedElementsAre(1365, 1365, 1366));
  for (const auto& [name, n] : Counts(Apply(in, moves))) EXPECT_EQ(n, 4096) << name;
  // Taken from the ends: every old master keeps one range starting where it started.
  auto after = Apply(in, moves);
  EXPECT_EQ(RangesToString(RangesFromSlots(after["a"])), "0-4095");
  EXPECT_EQ(RangesFromSlots(after["b"]).size(), 1u);
  EXPECT_EQ(RangesFromSlots(after["d"]).size(), 3u);
  EXPECT_EQ(SamePairNeighbours(moves), 0);
}

TEST(PlanSlotMovesTest, FourToThreeDrainsTheLeavingMaster) {
  Layout four = Even(4);
  ReshardInput in{.masters = {four[0], four[1], four[2]}, .leaving = {four[3]}};
  auto moves = PlanSlotMoves(in);
  ASSERT_EQ(moves.size(), 4096u);
  for (const SlotMove& m : moves) EXPECT_EQ(m.from, "d");
  auto counts = Counts(Apply(in, moves));
  EXPECT_EQ(counts.count("d"), 0u);
  EXPECT_EQ(counts["a"], 5462);
  EXPECT_EQ(counts["b"], 5461);
  EXPECT_EQ(counts["c"], 5461);
  // c's range touches d's: c extends its own range instead of gaining a second one.
  EXPECT_EQ(RangesFromSlots(Apply(in, moves)["c"]).size(), 1u);
  EXPECT_EQ(SamePairNeighbours(moves), 0);
}

TEST(PlanSlotMovesTest, ThreeToSixAndBack) {
  ReshardInput out{.masters = Even(3)};
  for (const char* n : {"d", "e", "f"}) out.masters.push_back({n, {}});
  auto moves = PlanSlotMoves(out);
  auto six = Apply(out, moves);
  EXPECT_EQ(moves.size(), 2731u + 2730u + 2730u);  // what d, e and f get
  for (const auto& [name, n] : Counts(six)) EXPECT_TRUE(n == 2731 || n == 2730) << name;
  for (const char* n : {"d", "e", "f"}) EXPECT_EQ(RangesFromSlots(six[n]).size(), 1u) << n;

  auto layout = ToLayout(six, {"a", "b", "c", "d", "e", "f"});
  ReshardInput back{.masters = {layout[0], layout[1], layout[2]},
                    .leaving = {layout[3], layout[4], layout[5]}};
  auto back_moves = PlanSlotMoves(back);
  auto three = Apply(back, back_moves);
  // Only the leavers' slots move; every slot is owned again by a, b or c.
  EXPECT_EQ(back_moves.size(),
            static_cast<std::size_t>(six["d"].size() + six["e"].size() + six["f"].size()));
  auto counts = Counts(three);
  EXPECT_THAT(counts, ElementsAre(std::pair<const std::string, int>("a", 5462),
                                  std::pair<const std::string, int>("b", 5461),
                                  std::pair<const std::string, int>("c", 5461)));
}

TEST(PlanSlotMovesTest, WeightsTwoOneOne) {
  ReshardInput in{.masters = Even(3), .weights = {{"a", 2}, {"b", 1}, {"c", 1}}};
  auto moves = PlanSlotMoves(in);
  auto counts = Counts(Apply(in, moves));
  EXPECT_EQ(counts["a"], 8192);
  EXPECT_EQ(counts["b"], 4096);
  EXPECT_EQ(counts["c"], 4096);
  EXPECT_EQ(moves.size(), 8192u - 5461u);  // only what a gains moves
  for (const SlotMove& m : moves) EXPECT_EQ(m.to, "a");
  // One run from the end of each of b and c.
  EXPECT_EQ(RangesFromSlots(Apply(in, moves)["a"]).size(), 3u);
}

TEST(PlanSlotMovesTest, ZeroWeightDrainsAStayingMaster) {
  ReshardInput in{.masters = Even(4), .weights = {{"b", 0}}};
  auto moves = PlanSlotMoves(in);
  auto counts = Counts(Apply(in, moves));
  EXPECT_EQ(counts.count("b"), 0u);
  EXPECT_EQ(moves.size(), 4096u);
  EXPECT_EQ(counts["a"] + counts["c"] + counts["d"], kSlots);
}

TEST(PlanSlotMovesTest, ExplicitRangesGiveExactOwners) {
  ReshardInput in{.masters = Even(2)};  // a 0-8191, b 8192-16383
  in.ranges = {{"a", {{0, 99}, {8192, 8291}}}, {"b", {{100, 8191}, {8292, 16383}}}};
  auto moves = PlanSlotMoves(in);
  EXPECT_EQ(moves.size(), 8092u + 100u);
  auto after = Apply(in, moves);
  EXPECT_EQ(RangesToString(RangesFromSlots(after["a"])), "0-99,8192-8291");
  EXPECT_EQ(RangesToString(RangesFromSlots(after["b"])), "100-8191,8292-16383");
  EXPECT_EQ(TargetCounts(in)["a"], 200);
}

TEST(PlanSlotMovesTest, ExplicitRangesDrainALeaver) {
  Layout three = Even(3);
  ReshardInput in{.masters = {three[0], three[1]}, .leaving = {three[2]}};
  in.ranges = {{"a", {{0, 8191}}}, {"b", {{8192, 16383}}}};
  auto after = Apply(in, PlanSlotMoves(in));
  EXPECT_EQ(after.count("c"), 0u);
  EXPECT_EQ(after["a"].size(), 8192u);
}

TEST(PlanSlotMovesTest, BalancedNeedsNoMove) {
  EXPECT_THAT(PlanSlotMoves(ReshardInput{.masters = Even(3)}), IsEmpty());
  EXPECT_THAT(PlanSlotMoves(ReshardInput{.masters = Even(7)}), IsEmpty());
  ReshardInput ranges{.masters = Even(2)};
  ranges.ranges = {{"a", {{0, 8191}}}, {"b", {{8192, 16383}}}};
  EXPECT_THAT(PlanSlotMoves(ranges), IsEmpty());
}

TEST(PlanSlotMovesTest, UnownedSlotsAreNotMoved) {
  ReshardInput in{.masters = {{"a", {{0, 999}}}, {"b", {}}}};
  auto moves = PlanSlotMoves(in);
  EXPECT_EQ(moves.size(), 500u);
  for (const SlotMove& m : moves) EXPECT_LT(m.slot, 1000);
}

TEST(PlanSlotMovesTest, AllWeightsZeroPlansNothing) {
  ReshardInput in{.masters = Even(2), .weights = {{"a", 0}, {"b", 0}}};
  EXPECT_THAT(PlanSlotMoves(in), IsEmpty());
}

TEST(PlanSlotMovesTest, Deterministic) {
  ReshardInput in{.masters = Even(5)};
  in.masters.push_back({"x", {}});
  in.masters.push_back({"y", {}});
  auto first = PlanSlotMoves(in);
  // The same layout given with ranges split and out of order plans the same moves.
  ReshardInput shuffled = in;
  auto& a = shuffled.masters[0].second;
  a = {{a[0].start + 10, a[0].end}, {a[0].start, a[0].start + 9}};
  EXPECT_EQ(PlanSlotMoves(shuffled), first);
  EXPECT_EQ(PlanSlotMoves(in), first);
  EXPECT_EQ(SamePairNeighbours(first), 0);
}

}  // namespace
}  // namespace sk::plan
