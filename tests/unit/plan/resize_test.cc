// DecideResize: failover before moving keys, which masters drain, which nodes become masters,
// the layout after the moves, and refusals.
#include "controller/plan/resize.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sk::plan {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

ResizeNode Master(const std::string& name, std::vector<SlotRange> slots, bool staying = true) {
  return {name, "id-" + name, true, "", false, std::move(slots), 100, staying};
}
ResizeNode Replica(const std::string& name, const std::string& of, bool staying = true) {
  return {name, "id-" + name, false, "id-" + of, true, {}, 100, staying};
}
ResizeNode Empty(const std::string& name, bool staying = true) {
  return {name, "id-" + name, true, "", false, {}, 0, staying};
}

// The even split of 3 masters: a, b, c with their replicas ar, br, cr.
std::vector<ResizeNode> ThreeByOne() {
  auto split = EvenSplit(3);
  return {Master("a", split[0]), Master("b", split[1]), Master("c", split[2]),
          Replica("ar", "a"),    Replica("br", "b"),    Replica("cr", "c")};
}

int Count(const std::vector<SlotRange>& ranges) {
  int n = 0;
  for (const SlotRange& r : ranges) n += r.end - r.start + 1;
  return n;
}

TEST(DecideResizeTest, ScaleOutTurnsAnEmptyNodeIntoTheFourthMaster) {
  auto nodes = ThreeByOne();
  nodes.push_back(Empty("d"));
  nodes.push_back(Empty("e"));
  auto d = DecideResize(nodes, {4, {}, {}});
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_THAT(d->failovers, IsEmpty());
  EXPECT_THAT(d->new_masters, ElementsAre("d"));
  EXPECT_THAT(d->masters, ElementsAre("a", "b", "c", "d"));
  EXPECT_EQ(d->moves.size(), 4096u);
  for (const SlotMove& m : d->moves) EXPECT_EQ(m.to, "d");
  ASSERT_EQ(d->layout.size(), 4u);
  for (const auto& l : d->layout) EXPECT_EQ(Count(l), 4096);
}

TEST(DecideResizeTest, NewMastersGoToTheHostsWithFewestMasters) {
  auto nodes = ThreeByOne();
  for (auto& n : nodes) n.host = "h1";
  nodes.push_back(Empty("d"));
  nodes.back().host = "h1";
  nodes.push_back(Empty("e"));
  nodes.back().host = "h2";
  auto d = DecideResize(nodes, {4, {}, {}});
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_THAT(d->new_masters, ElementsAre("e"));
}

TEST(DecideResizeTest, LeavingMasterWithAStayingReplicaFailsOverInsteadOfMovingKeys) {
  auto split = EvenSplit(4);
  std::vector<ResizeNode> nodes = {Master("a", split[0]),
                                   Master("b", split[1]),
                                   Master("c", split[2]),
                                   Replica("dr", "d"),
                                   Replica("ar", "a"),
                                   Replica("br", "b"),
                                   Master("d", split[3], /*staying=*/false),
                                   Replica("cr", "c", /*staying=*/false)};
  auto d = DecideResize(nodes, {3, {}, {}});
  ASSERT_TRUE(d.ok()) << d.error().message();
  ASSERT_EQ(d->failovers.size(), 1u);
  EXPECT_EQ(d->failovers[0].first, "dr");
  EXPECT_EQ(d->failovers[0].second, "d");
  EXPECT_THAT(d->moves, IsEmpty());
}

TEST(DecideResizeTest, ScaleInDrainsTheLeavingMasterWhenNoReplicaStays) {
  auto split = EvenSplit(4);
  std::vector<ResizeNode> nodes = {Master("a", split[0]),        Master("b", split[1]),
                                   Master("c", split[2]),        Replica("ar", "a"),
                                   Replica("br", "b"),           Replica("cr", "c"),
                                   Master("d", split[3], false), Replica("dr", "d", false)};
  auto d = DecideResize(nodes, {3, {}, {}});
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_THAT(d->failovers, IsEmpty());
  EXPECT_THAT(d->draining, ElementsAre("d"));
  EXPECT_EQ(d->moves.size(), 4096u);
  for (const SlotMove& m : d->moves) EXPECT_EQ(m.from, "d");
  int total = 0;
  for (const auto& l : d->layout) total += Count(l);
  EXPECT_EQ(total, kSlots);
}

TEST(DecideResizeTest, ExcessStayingMasterWithFewestSlotsDrains) {
  // Four masters stay (the leaving nodes are replicas); the spec wants three.
  std::vector<ResizeNode> nodes = {
      Master("a", {{0, 5999}}),      Master("b", {{6000, 11999}}), Master("c", {{12000, 15999}}),
      Master("d", {{16000, 16383}}), Replica("ar", "a"),           Replica("br", "b"),
      Replica("cr", "c", false),     Replica("dr", "d", false)};
  auto d = DecideResize(nodes, {3, {}, {}});
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_THAT(d->draining, ElementsAre("d"));
  EXPECT_THAT(d->masters, ElementsAre("a", "b", "c"));
  for (const SlotMove& m : d->moves) EXPECT_NE(m.to, "d");
}

TEST(DecideResizeTest, WeightsFollowShardOrder) {
  auto nodes = ThreeByOne();
  auto d = DecideResize(nodes, {3, {2, 1, 1}, {}});
  ASSERT_TRUE(d.ok()) << d.error().message();
  ASSERT_EQ(d->layout.size(), 3u);
  EXPECT_EQ(Count(d->layout[0]), 8192);
  EXPECT_EQ(Count(d->layout[1]) + Count(d->layout[2]), 8192);
}

TEST(DecideResizeTest, RefusesWhenNoEmptyNodeCanBecomeMaster) {
  auto d = DecideResize(ThreeByOne(), {4, {}, {}});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code(), Code::kFailedPrecondition);
  EXPECT_THAT(d.error().message(), HasSubstr("wants 4 masters"));
}

TEST(DecideResizeTest, RefusesWhenSlotsAreUncovered) {
  std::vector<ResizeNode> nodes = {Master("a", {{0, 8000}}), Master("b", {{8001, 16000}}),
                                   Master("c", {}), Empty("d")};
  auto d = DecideResize(nodes, {3, {}, {}});
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.error().message(), HasSubstr("383 slots are served by no node"));
}

TEST(DecideResizeTest, MatchingLayoutMovesNothing) {
  auto d = DecideResize(ThreeByOne(), {3, {}, {}});
  ASSERT_TRUE(d.ok());
  EXPECT_THAT(d->moves, IsEmpty());
  EXPECT_THAT(d->draining, IsEmpty());
}

}  // namespace
}  // namespace sk::plan
