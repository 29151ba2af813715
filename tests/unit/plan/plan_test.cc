#include "controller/plan/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/plan/health.h"
#include "controller/plan/internal.h"
#include "controller/plan/placement.h"
#include "tests/unit/plan/observed_builder.h"

namespace sk::plan {
namespace {

using model::Action;
using testing::ObservedBuilder;

template <class T>
std::vector<T> Of(const std::vector<Action>& step) {
  std::vector<T> out;
  for (const Action& a : step) {
    if (auto* x = std::get_if<T>(&a)) out.push_back(*x);
  }
  return out;
}

ObservedBuilder SixFresh() {
  ObservedBuilder b;
  for (int i = 0; i < 6; ++i) b.Fresh("n" + std::to_string(i));
  return b;
}

// A healthy 3x1 cluster: n0..n2 masters (even split), n3..n5 their replicas.
ObservedBuilder Healthy3x1() {
  auto split = EvenSplit(3);
  ObservedBuilder b;
  for (int i = 0; i < 3; ++i) b.Master("n" + std::to_string(i), "h1", split[i], i + 1);
  for (int i = 3; i < 6; ++i) b.Fresh("n" + std::to_string(i));
  b.JoinAll();
  for (int i = 0; i < 3; ++i) b.ReplicaOf("n" + std::to_string(i + 3), "n" + std::to_string(i));
  b.StateOk();
  return b;
}

TEST(MakePlanTest, CreatesFromFreshNodesInOrder) {
  auto b = SixFresh();
  model::Plan plan = MakePlan(b.Desired(3, 1), b.Build());
  ASSERT_TRUE(plan.blockers.empty());
  ASSERT_GE(plan.steps.size(), 3u);
  // Step 1: distinct epochs, then slots, on the three masters only.
  auto epochs = Of<model::SetConfigEpoch>(plan.steps[0]);
  auto slots = Of<model::AddSlots>(plan.steps[0]);
  ASSERT_EQ(epochs.size(), 3u);
  EXPECT_EQ(epochs[0].node, "n0");
  EXPECT_EQ(epochs[0].epoch, 1);
  EXPECT_EQ(epochs[2].epoch, 3);
  ASSERT_EQ(slots.size(), 3u);
  EXPECT_EQ(RangesToString(slots[0].ranges), "0-5460");
  EXPECT_EQ(RangesToString(slots[1].ranges), "5461-10922");
  EXPECT_EQ(RangesToString(slots[2].ranges), "10923-16383");
  // Step 2: one MEET per pair, sent by the lower index.
  auto meets = Of<model::Meet>(plan.steps[1]);
  EXPECT_EQ(meets.size(), 15u);
  EXPECT_EQ(plan.steps[1].size(), 15u);
  // Step 3: the sync delay drops on each master, then each replica attaches.
  auto config = Of<model::ConfigSet>(plan.steps[2]);
  auto repl = Of<model::Replicate>(plan.steps[2]);
  EXPECT_EQ(config.size(), 3u);
  ASSERT_EQ(repl.size(), 3u);
  std::set<std::string> masters;
  for (const auto& r : repl) masters.insert(r.master_name);
  EXPECT_EQ(masters, (std::set<std::string>{"n0", "n1", "n2"}));
  EXPECT_FALSE(plan.Converged());
}

TEST(MakePlanTest, HealthyClusterNeedsNothing) {
  auto b = Healthy3x1();
  model::Plan plan = MakePlan(b.Desired(3, 1), b.Build());
  EXPECT_TRUE(plan.Converged()) << plan.ToString();
}

TEST(MakePlanTest, SamePlanTwice) {
  auto b = SixFresh();
  EXPECT_EQ(MakePlan(b.Desired(3, 1), b.Build()).ToString(),
            MakePlan(b.Desired(3, 1), b.Build()).ToString());
}

TEST(MakePlanTest, ResetsTheEmptyCopyOfADuplicateId) {
  auto b = SixFresh();
  b.Id("n4", b.Build().nodes[1].id);
  model::Plan plan = MakePlan(b.Desired(3, 1), b.Build());
  ASSERT_EQ(plan.steps.size() >= 1, true);
  auto resets = Of<model::ResetHard>(plan.steps[0]);
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].node, "n4");
  EXPECT_EQ(plan.steps[0].size(), 1u);
}

TEST(MakePlanTest, KeepsTheDuplicateThatHoldsKeys) {
  auto b = SixFresh();
  b.Id("n4", b.Build().nodes[1].id).Keys("n1", 0).Keys("n4", 0);
  b.Keys("n1", 0);
  auto o = b.Build();
  o.nodes[1].keys = 0;
  o.nodes[4].peers[0].slots = {{0, 10}};  // n4 serves slots: it is the one to keep
  auto plan = MakePlan(b.Desired(3, 1), o);
  auto resets = Of<model::ResetHard>(plan.steps.at(0));
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].node, "n1");
}

TEST(MakePlanTest, BlocksWhenBothDuplicatesHoldData) {
  auto b = SixFresh();
  b.Id("n4", b.Build().nodes[1].id).Keys("n1", 5).Keys("n4", 7);
  model::Plan plan = MakePlan(b.Desired(3, 1), b.Build());
  EXPECT_TRUE(plan.steps.empty());
  ASSERT_EQ(plan.blockers.size(), 1u);
  EXPECT_THAT(plan.blockers[0].message, ::testing::HasSubstr("same node ID"));
  EXPECT_THAT(plan.blockers[0].message, ::testing::HasSubstr("127.0.0.1:7004"));
}

TEST(MakePlanTest, RefusesANodeOfAnotherCluster) {
  auto b = SixFresh();
  b.ForeignPeer("n2", std::string(40, 'f'), Endpoint{"10.9.9.9", 7000});
  model::Plan plan = MakePlan(b.Desired(3, 1), b.Build());
  EXPECT_TRUE(plan.steps.empty());
  ASSERT_EQ(plan.blockers.size(), 1u);
  EXPECT_THAT(plan.blockers[0].message, ::testing::HasSubstr("belongs to another cluster"));
  EXPECT_THAT(plan.blockers[0].message, ::testing::HasSubstr("10.9.9.9:7000"));
}

TEST(MakePlanTest, RefusesAMasterWithKeysButNoSlots) {
  auto b = SixFresh();
  b.Keys("n3", 42);
  model::Plan plan = MakePlan(b.Desired(3, 1), b.Build());
  EXPECT_TRUE(plan.steps.empty());
  ASSERT_EQ(plan.blockers.size(), 1u);
  EXPECT_THAT(plan.blockers[0].message, ::testing::HasSubstr("holds 42 keys"));
}

TEST(MakePlanTest, NeverRecreatesLostSlotsOfAFormedCluster) {
  auto split = EvenSplit(3);
  ObservedBuilder b;
  b.Master("n0", "h1", split[0]).Master("n1", "h1", split[1]).Fresh("n2").JoinAll().StateOk();
  auto d = b.Desired(3, 0);
  d.formed_before = true;
  model::Plan plan = MakePlan(d, b.Build());
  EXPECT_TRUE(plan.steps.empty());
  ASSERT_EQ(plan.blockers.size(), 1u);
  EXPECT_THAT(plan.blockers[0].message, ::testing::HasSubstr("10923-16383"));
}

TEST(MakePlanTest, NeverJudgesSlotsLostWhileNodesDoNotAnswer) {
  // A formed cluster restarting: nobody answers yet, so nobody is seen serving anything.
  auto b = SixFresh();
  for (int i = 0; i < 6; ++i) b.Unreachable("n" + std::to_string(i));
  auto d = b.Desired(3, 1);
  d.formed_before = true;
  model::Plan plan = MakePlan(d, b.Build());
  EXPECT_TRUE(plan.blockers.empty()) << plan.ToString();
  EXPECT_TRUE(plan.steps.empty());
  EXPECT_FALSE(plan.waiting.empty());
}

TEST(MakePlanTest, ForgetsAGhostEverywhereOnceEveryNodeAnswers) {
  auto b = Healthy3x1();
  auto o = b.Build();
  // n4 came back with a new ID; the others still know its old one.
  const std::string old_id = o.nodes[4].id;
  o.nodes[4].id = std::string(40, 'a');
  o.nodes[4].peers = {{.id = o.nodes[4].id,
                       .ep = o.nodes[4].ep,
                       .myself = true,
                       .master = true,
                       .connected = true}};
  o.nodes[4].known_nodes = 1;
  o.nodes[4].repl = {};
  o.nodes[4].repl.role = "master";
  auto d = b.Desired(3, 1);
  d.formed_before = true;
  d.node_ids["n4"] = o.nodes[4].id;
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  ASSERT_EQ(plan.steps.size(), 1u) << plan.ToString();
  auto forgets = Of<model::Forget>(plan.steps[0]);
  EXPECT_EQ(forgets.size(), 5u) << "every node that knows the old ID, in one step";
  for (const auto& f : forgets) EXPECT_EQ(f.id, old_id);
  EXPECT_EQ(Of<model::Meet>(plan.steps[0]).size(), 5u);
  // While a node is unreachable nothing is forgotten.
  o.nodes[2].reachable = false;
  plan = MakePlan(d, o, {.simulate = false});
  for (const auto& step : plan.steps) EXPECT_TRUE(Of<model::Forget>(step).empty());
}

TEST(MakePlanTest, PromotesTheBestReplicaOfADeadMasterBeforeRestartingIt) {
  auto b = Healthy3x1();
  auto o = b.Build();
  auto d = b.Desired(3, 1);
  for (const auto& n : o.nodes) d.node_ids[n.name] = n.id;
  o.nodes[0].process_running = false;
  o.nodes[0].reachable = false;
  o.nodes[3].repl.offset = 1000;
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  ASSERT_EQ(plan.steps.size(), 1u);
  auto fo = Of<model::Failover>(plan.steps[0]);
  ASSERT_EQ(fo.size(), 1u);
  EXPECT_EQ(fo[0].node, "n3");
  EXPECT_EQ(fo[0].mode, "TAKEOVER");
  EXPECT_TRUE(Of<model::StartNode>(plan.steps[0]).empty()) << "not restarted before the takeover";
  // Once the replica serves the slots, the old master is started again.
  auto after = internal::Simulate(o, plan.steps[0]);
  plan = MakePlan(d, after, {.simulate = false});
  ASSERT_FALSE(plan.steps.empty());
  EXPECT_EQ(Of<model::StartNode>(plan.steps[0]).size(), 1u);
}

TEST(MakePlanTest, CompletesAHalfFormedCluster) {
  auto split = EvenSplit(3);
  ObservedBuilder b;
  b.Master("n0", "h1", {{0, 100}}).Fresh("n1").Fresh("n2");
  model::Plan plan = MakePlan(b.Desired(3, 0), b.Build());
  ASSERT_FALSE(plan.steps.empty());
  auto slots = Of<model::AddSlots>(plan.steps[0]);
  ASSERT_EQ(slots.size(), 3u);
  // Only the missing part of n0's range: an owned slot is never added again ("busy").
  EXPECT_EQ(slots[0].node, "n0");
  EXPECT_EQ(RangesToString(slots[0].ranges), "101-5460");
  EXPECT_TRUE(Of<model::SetConfigEpoch>(plan.steps[0]).size() == 2u);
}

TEST(MakePlanTest, WaitsForEveryNodeBeforeAssigningSlots) {
  auto b = SixFresh();
  b.Unreachable("n5");
  model::Plan plan = MakePlan(b.Desired(3, 1), b.Build());
  EXPECT_TRUE(
      Of<model::AddSlots>(plan.steps.empty() ? std::vector<Action>{} : plan.steps[0]).empty());
  EXPECT_THAT(plan.ToString(), ::testing::HasSubstr("does not answer"));
}

TEST(MakePlanTest, WaitsOnAHandshakeInsteadOfMeetingAgain) {
  auto split = EvenSplit(3);
  ObservedBuilder b;
  b.Master("n0", "h1", split[0]).Master("n1", "h1", split[1]).Master("n2", "h1", split[2]);
  b.Knows("n0", "n1").Knows("n1", "n0").Knows("n0", "n2", /*handshake=*/true);
  model::Plan plan = MakePlan(b.Desired(3, 0), b.Build());
  for (const auto& step : plan.steps) {
    for (const auto& m : Of<model::Meet>(step)) {
      EXPECT_FALSE(m.node == "n0" && m.target.port == 7002) << model::Describe(m);
    }
  }
  EXPECT_THAT(plan.ToString(), ::testing::HasSubstr("n0 is handshaking with n2"));
}

TEST(MakePlanTest, TeachesSlotsWithAMeetFromTheOwner) {
  auto split = EvenSplit(3);
  ObservedBuilder b;
  b.Master("n0", "h1", split[0])
      .Master("n1", "h1", split[1])
      .Master("n2", "h1", split[2])
      .JoinAll();
  auto o = b.Build();
  // n0 knows n1 but has not learnt its slots yet (a handshake carries none).
  for (auto& p : o.nodes[0].peers) {
    if (p.id == o.nodes[1].id) p.slots.clear();
  }
  model::Plan plan = MakePlan(b.Desired(3, 0), o);
  ASSERT_FALSE(plan.steps.empty());
  auto meets = Of<model::Meet>(plan.steps[0]);
  ASSERT_EQ(meets.size(), 1u);
  EXPECT_EQ(meets[0].node, "n1");
  EXPECT_EQ(meets[0].target.port, 7000);
}

TEST(MakePlanTest, ReplicasAvoidTheirMastersHost) {
  auto split = EvenSplit(3);
  ObservedBuilder b;
  b.Master("m0", "h1", split[0]).Master("m1", "h2", split[1]).Master("m2", "h3", split[2]);
  b.Fresh("r0", "h1").Fresh("r1", "h2").Fresh("r2", "h3").JoinAll();
  model::Plan plan = MakePlan(b.Desired(3, 1), b.Build());
  ASSERT_FALSE(plan.steps.empty());
  auto repl = Of<model::Replicate>(plan.steps[0]);
  ASSERT_EQ(repl.size(), 3u);
  std::map<std::string, std::string> host = {{"m0", "h1"}, {"m1", "h2"}, {"m2", "h3"},
                                             {"r0", "h1"}, {"r1", "h2"}, {"r2", "h3"}};
  for (const auto& r : repl) EXPECT_NE(host[r.node], host[r.master_name]) << model::Describe(r);
}

TEST(MakePlanTest, MovesASpareReplicaToAShardWithoutOne) {
  auto b = Healthy3x1();
  b.ReplicaOf("n4", "n0");  // n0 has two replicas now, n1 none
  model::Plan plan = MakePlan(b.Desired(3, 1), b.Build());
  ASSERT_FALSE(plan.steps.empty());
  auto repl = Of<model::Replicate>(plan.steps[0]);
  ASSERT_EQ(repl.size(), 1u);
  EXPECT_EQ(repl[0].master_name, "n1");
}

TEST(MakePlanTest, AppliesChangedSettingsButKeepsTheSyncDelayWhileSyncing) {
  auto b = Healthy3x1();
  b.Config("maxmemory", "0").Config("repl-diskless-sync-delay", "0");
  b.ReplicaOf("n3", "n0", /*link_up=*/false);
  auto d = b.Desired(3, 1);
  d.runtime_config.push_back({"maxmemory", "268435456"});
  model::Plan plan = MakePlan(d, b.Build());
  ASSERT_FALSE(plan.steps.empty());
  auto sets = Of<model::ConfigSet>(plan.steps[0]);
  int maxmemory = 0;
  std::set<std::string> delay_restored;
  for (const auto& s : sets) {
    if (s.key == "maxmemory") maxmemory++;
    if (s.key == "repl-diskless-sync-delay") delay_restored.insert(s.node);
  }
  EXPECT_EQ(maxmemory, 6);
  EXPECT_FALSE(delay_restored.count("n0"));  // its replica is still linking
  EXPECT_TRUE(delay_restored.count("n1"));
}

TEST(ClassifyTest, NamesEachKind) {
  auto b = SixFresh();
  b.Keys("n3", 1).Unreachable("n5");
  b.ForeignPeer("n2", std::string(40, 'e'), Endpoint{"10.0.0.1", 7000});
  auto c = Classify(b.Desired(3, 1), b.Build());
  EXPECT_EQ(c[0].cls, NodeClass::kFresh);
  EXPECT_EQ(c[2].cls, NodeClass::kForeign);
  EXPECT_EQ(c[3].cls, NodeClass::kHoldsData);
  EXPECT_EQ(c[5].cls, NodeClass::kUnreachable);
}

TEST(PlacementTest, SpreadsMastersOverHosts) {
  std::vector<PlacementNode> nodes = {{"a", "h1"}, {"b", "h1"}, {"c", "h2"}, {"d", "h3"}};
  EXPECT_THAT(PickMasters(nodes, 3, {}), ::testing::ElementsAre(0, 2, 3));
}

TEST(PlacementTest, MostConstrainedReplicaChoosesFirst) {
  // c0 could go anywhere, c1 only to m0: greedy in order would put c1 beside m1.
  std::vector<PlacementNode> cands = {{"c0", "h3"}, {"c1", "h2"}};
  std::vector<ShardSeat> shards = {{"h1", {}, 1}, {"h2", {}, 1}};
  EXPECT_THAT(AssignReplicas(cands, shards), ::testing::ElementsAre(1, 0));
}

TEST(PlacementTest, SingleHostStillFillsEverySeat) {
  std::vector<PlacementNode> cands = {{"c0", "h"}, {"c1", "h"}, {"c2", "h"}, {"c3", "h"}};
  std::vector<ShardSeat> shards = {{"h", {}, 2}, {"h", {}, 2}};
  auto a = AssignReplicas(cands, shards);
  EXPECT_EQ(std::count(a.begin(), a.end(), 0), 2);
  EXPECT_EQ(std::count(a.begin(), a.end(), 1), 2);
}

TEST(HealthTest, HealthyClusterIsHealthy) {
  auto b = Healthy3x1();
  HealthReport r = CheckHealth(b.Build(), {});
  EXPECT_TRUE(r.Healthy()) << (r.items.empty() ? "" : r.items[0].what);
  EXPECT_EQ(r.masters, 3);
  EXPECT_EQ(r.replicas, 3);
  EXPECT_EQ(r.slots_covered, 16384);
}

TEST(HealthTest, FindsDuplicatesGapsOpenSlotsAndBusPorts) {
  auto b = Healthy3x1();
  auto o = b.Build();
  o.nodes[4].id = o.nodes[3].id;
  o.nodes[0].peers[0].migrating[42] = o.nodes[1].id;
  o.nodes[2].peers[0].slots = {{10923, 16000}};
  HealthReport r = CheckHealth(o, {{"n1", "Connection refused"}});
  EXPECT_FALSE(r.Healthy());
  std::string all;
  for (const auto& i : r.items) all += i.what + "\n";
  EXPECT_THAT(all, ::testing::HasSubstr("duplicate node ID"));
  EXPECT_THAT(all, ::testing::HasSubstr("slot 42 is MIGRATING"));
  EXPECT_THAT(all, ::testing::HasSubstr("bus port of 127.0.0.1:7001 is unreachable"));
  EXPECT_THAT(all, ::testing::HasSubstr("disagree"));
}

TEST(HealthTest, LonelyFreshNodesAreNotACluster) {
  auto b = SixFresh();
  HealthReport r = CheckHealth(b.Build(), {});
  EXPECT_FALSE(r.Healthy());
  EXPECT_THAT(r.items[0].what, ::testing::HasSubstr("knows no other node"));
}

}  // namespace
}  // namespace sk::plan

namespace sk::plan {
namespace {

// Healthy3x1 with slot 100 left MIGRATING on n0 and IMPORTING on n1 (a crashed move).
model::ObservedCluster WithOpenSlot(model::ObservedCluster o) {
  model::ObservedNode* n0 = nullptr;
  model::ObservedNode* n1 = nullptr;
  for (auto& n : o.nodes) {
    if (n.name == "n0") n0 = &n;
    if (n.name == "n1") n1 = &n;
  }
  for (auto& p : n0->peers) {
    if (p.myself) p.migrating[100] = n1->id;
  }
  for (auto& p : n1->peers) {
    if (p.myself) p.importing[100] = n0->id;
  }
  return o;
}

TEST(OpenSlotsTest, ASlotLeftOpenIsSettledByTheEngine) {
  auto b = Healthy3x1();
  model::Plan plan = MakePlan(b.Desired(3, 1), WithOpenSlot(b.Build()));
  ASSERT_EQ(plan.steps.size(), 1u) << plan.ToString();
  auto settle = Of<model::SettleSlot>(plan.steps[0]);
  ASSERT_EQ(settle.size(), 1u);
  EXPECT_EQ(settle[0].slot, 100);
  EXPECT_EQ(settle[0].node, "n0");
  EXPECT_EQ(settle[0].target, "n1");
  EXPECT_EQ(plan.steps[0].size(), 1u);  // settled alone, before anything else
}

TEST(OpenSlotsTest, NothingIsDecidedWhileANodeDoesNotAnswer) {
  auto b = Healthy3x1();
  b.Unreachable("n4");
  model::Plan plan = MakePlan(b.Desired(3, 1), WithOpenSlot(b.Build()));
  for (const auto& step : plan.steps) EXPECT_TRUE(Of<model::SettleSlot>(step).empty());
  EXPECT_THAT(plan.ToString(), ::testing::HasSubstr("open slots are settled once every node"));
}

}  // namespace
}  // namespace sk::plan
