// The planner's stages added for issue 9: scale operations as planned actions (PlanResize),
// the bus-link and epoch gate before slots move, ownership disagreements, re-meeting missing
// links, and the takeover rule for a dead master whose replica has no fresh copy.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/plan/internal.h"
#include "controller/plan/plan.h"
#include "tests/unit/plan/observed_builder.h"

namespace sk::plan {
namespace {

using model::Action;
using ::testing::HasSubstr;
using testing::ObservedBuilder;

template <class T>
std::vector<T> Of(const std::vector<Action>& step) {
  std::vector<T> out;
  for (const Action& a : step) {
    if (auto* x = std::get_if<T>(&a)) out.push_back(*x);
  }
  return out;
}

template <class T>
std::vector<T> First(const model::Plan& plan) {
  return plan.steps.empty() ? std::vector<T>{} : Of<T>(plan.steps[0]);
}

// n0..n2 masters (even split, epochs 1..3), n3..n5 their replicas, all linked, in sync;
// `extra` empty masters joined as well (n6...).
ObservedBuilder Cluster3x1(int extra = 0) {
  auto split = EvenSplit(3);
  ObservedBuilder b;
  for (int i = 0; i < 3; ++i) b.Master("n" + std::to_string(i), "h1", split[i], i + 1);
  for (int i = 3; i < 6 + extra; ++i) b.Fresh("n" + std::to_string(i));
  b.JoinAll();
  for (int i = 0; i < 3; ++i) b.ReplicaOf("n" + std::to_string(i + 3), "n" + std::to_string(i));
  b.StateOk();
  return b;
}

model::ObservedCluster InSync(model::ObservedCluster o) {
  for (auto& n : o.nodes) {
    if (n.repl.role == "slave") n.repl.offset = 1000;
  }
  return o;
}

model::DesiredCluster WithIds(model::DesiredCluster d, const model::ObservedCluster& o) {
  for (const auto& n : o.nodes) d.node_ids[n.name] = n.id;
  d.formed_before = true;
  return d;
}

model::PeerView* View(model::ObservedCluster& o, const std::string& viewer,
                      const std::string& subject) {
  std::string id;
  for (const auto& n : o.nodes) {
    if (n.name == subject) id = n.id;
  }
  for (auto& n : o.nodes) {
    if (n.name != viewer) continue;
    for (auto& p : n.peers) {
      if (p.id == id) return &p;
    }
  }
  return nullptr;
}

model::DesiredCluster Goal(model::DesiredCluster d, int masters,
                           std::vector<std::string> leaving = {}) {
  d.resize = model::ResizeGoal{masters, {}, {}, std::move(leaving)};
  return d;
}

// --- defect 1: a dead master is taken over only by a replica with a fresh copy ---

TEST(TakeoverTest, AReplicaInItsFirstFullSyncDoesNotTakeOverTheMasterIsRestarted) {
  auto o = InSync(Cluster3x1().Build());
  auto d = WithIds(Cluster3x1().Desired(3, 1), o);
  o.nodes[0].process_running = false;
  o.nodes[0].reachable = false;
  o.nodes[3].repl.link_up = false;
  o.nodes[3].repl.sync_in_progress = true;
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  EXPECT_TRUE(First<model::Failover>(plan).empty()) << plan.ToString();
  ASSERT_EQ(First<model::StartNode>(plan).size(), 1u) << plan.ToString();
  EXPECT_EQ(First<model::StartNode>(plan)[0].node, "n0");
}

TEST(TakeoverTest, AReplicaThatNeverSyncedDoesNotTakeOver) {
  auto o = Cluster3x1().Build();  // offsets 0: never synced
  auto d = WithIds(Cluster3x1().Desired(3, 1), o);
  o.nodes[0].process_running = false;
  o.nodes[0].reachable = false;
  o.nodes[3].repl.link_up = false;
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  EXPECT_TRUE(First<model::Failover>(plan).empty());
  EXPECT_EQ(First<model::StartNode>(plan).size(), 1u);
}

TEST(TakeoverTest, AReplicaUnlinkedForLongDoesNotTakeOver) {
  auto o = InSync(Cluster3x1().Build());
  auto d = WithIds(Cluster3x1().Desired(3, 1), o);
  o.nodes[0].process_running = false;
  o.nodes[0].reachable = false;
  o.nodes[3].repl.link_up = false;
  o.nodes[3].repl.link_down_seconds = 120;
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  EXPECT_TRUE(First<model::Failover>(plan).empty());
  EXPECT_EQ(First<model::StartNode>(plan).size(), 1u);
}

TEST(TakeoverTest, AReplicaThatLostItsMasterJustNowTakesOver) {
  auto o = InSync(Cluster3x1().Build());
  auto d = WithIds(Cluster3x1().Desired(3, 1), o);
  o.nodes[0].process_running = false;
  o.nodes[0].reachable = false;
  o.nodes[3].repl.link_up = false;
  o.nodes[3].repl.link_down_seconds = 1;
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  ASSERT_EQ(First<model::Failover>(plan).size(), 1u) << plan.ToString();
  EXPECT_EQ(First<model::Failover>(plan)[0].mode, "TAKEOVER");
  EXPECT_TRUE(First<model::StartNode>(plan).empty());
}

// --- links: a cluster is converged only with every bus link up; missing ones are re-met ---

TEST(LinkTest, AMissingBusLinkKeepsTheClusterFromConvergingAndIsReMetOnlyWhenItLasts) {
  auto o = InSync(Cluster3x1().Build());
  auto d = WithIds(Cluster3x1().Desired(3, 1), o);
  ASSERT_TRUE(MakePlan(d, o).Converged());
  View(o, "n0", "n1")->connected = false;
  // Redis reconnects by itself every 100 ms: at first only a wait (a MEET to a node that
  // knows the sender would drop their links once more).
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  EXPECT_FALSE(plan.Converged());
  EXPECT_TRUE(First<model::Meet>(plan).empty()) << plan.ToString();
  EXPECT_THAT(plan.ToString(), HasSubstr("n0 has no link to n1 yet"));
  // Missing for long: one repair MEET.
  d.memory.long_unlinked.insert({"n0", "n1"});
  plan = MakePlan(d, o, {.simulate = false});
  auto meets = First<model::Meet>(plan);
  ASSERT_EQ(meets.size(), 1u) << plan.ToString();
  EXPECT_EQ(meets[0].node, "n0");
  EXPECT_EQ(meets[0].target, o.nodes[1].ep);
  EXPECT_EQ(meets[0].kind, model::MeetKind::kRepair);
  // A failing view of a live node counts as a missing link too.
  View(o, "n0", "n1")->connected = true;
  View(o, "n0", "n1")->pfail = true;
  EXPECT_EQ(First<model::Meet>(MakePlan(d, o, {.simulate = false})).size(), 1u);
}

TEST(LinkTest, ARepairMeetIsSpacedAndNotRepeatedForever) {
  auto o = InSync(Cluster3x1().Build());
  auto d = WithIds(Cluster3x1().Desired(3, 1), o);
  View(o, "n0", "n1")->connected = false;
  d.memory.long_unlinked.insert({"n0", "n1"});
  d.memory.recent_meets.insert({"n0", "n1"});
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  EXPECT_TRUE(First<model::Meet>(plan).empty());
  EXPECT_THAT(plan.ToString(), HasSubstr("n0 has no link to n1 yet"));
  d.memory.recent_meets.clear();
  d.memory.meets[{"n0", "n1"}] = model::kMaxMeetAttempts;
  plan = MakePlan(d, o, {.simulate = false});
  EXPECT_TRUE(First<model::Meet>(plan).empty());
  EXPECT_THAT(plan.ToString(), HasSubstr("after 5 CLUSTER MEETs, which are not sent again"));
  EXPECT_THAT(plan.ToString(), HasSubstr("bus port " + std::to_string(o.nodes[1].ep.BusPort())));
}

// The cause of issue 9's lost writes: a node whose view of a master's slots lags got a MEET
// from that master on every pass, and each MEET to a node that knows the sender drops the bus
// link between them (Redis 7.0 replaces the receiver's inbound link). Teaching MEETs are for
// a cluster being created, once per pair; a formed cluster waits for gossip.
TEST(LinkTest, ASlotTeachingMeetIsSentOnceAndOnlyWhileTheClusterIsCreated) {
  auto o = InSync(Cluster3x1().Build());
  auto d = WithIds(Cluster3x1().Desired(3, 1), o);
  View(o, "n1", "n0")->slots.clear();  // n1 has not seen n0's slots yet
  d.formed_before = false;
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  auto meets = First<model::Meet>(plan);
  ASSERT_EQ(meets.size(), 1u) << plan.ToString();
  EXPECT_EQ(meets[0].node, "n0");
  EXPECT_EQ(meets[0].kind, model::MeetKind::kTeach);
  d.memory.taught.insert({"n0", "n1"});
  plan = MakePlan(d, o, {.simulate = false});
  EXPECT_TRUE(First<model::Meet>(plan).empty()) << plan.ToString();
  EXPECT_THAT(plan.ToString(), HasSubstr("n1 does not see n0's slots yet"));
  d.memory.taught.clear();
  d.formed_before = true;
  plan = MakePlan(d, o, {.simulate = false});
  EXPECT_TRUE(First<model::Meet>(plan).empty()) << plan.ToString();
}

// --- scale operations: the next step is planned, the moves are gated ---

TEST(PlanResizeTest, NewMasterGetsItsSlotsInOneMoveOnceTheClusterIsCalm) {
  auto b = Cluster3x1(2);
  auto o = InSync(b.Build());
  auto d = Goal(WithIds(b.Desired(3, 1), o), 4);
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  auto moves = First<model::MoveSlots>(plan);
  ASSERT_EQ(moves.size(), 1u) << plan.ToString();
  EXPECT_EQ(moves[0].moves.size(), 4096u);
  for (const auto& m : moves[0].moves) EXPECT_EQ(m.to, moves[0].node);
  EXPECT_FALSE(plan.resize_done);
}

TEST(PlanResizeTest, NoSlotMovesWhileAMasterLacksABusLinkToTheNewOne) {
  auto b = Cluster3x1(2);
  auto o = InSync(b.Build());
  auto d = Goal(WithIds(b.Desired(3, 1), o), 4);
  const std::string target = First<model::MoveSlots>(MakePlan(d, o, {.simulate = false}))[0].node;
  View(o, target, "n1")->connected = false;
  // The stage itself refuses, naming the link (the membership stage re-meets meanwhile).
  internal::StepResult r;
  std::vector<const model::ObservedNode*> live;
  for (const auto& n : o.nodes) live.push_back(&n);
  internal::PlanResize(d, o, live, {}, r);
  EXPECT_TRUE(r.actions.empty());
  ASSERT_EQ(r.waiting.size(), 1u);
  EXPECT_THAT(r.waiting[0], HasSubstr(target + " has no bus link to n1"));
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  EXPECT_TRUE(First<model::MoveSlots>(plan).empty());
}

TEST(PlanResizeTest, NoSlotMovesWhileTwoMastersShareAConfigEpoch) {
  auto b = Cluster3x1(2);
  auto o = InSync(b.Build());
  auto d = Goal(WithIds(b.Desired(3, 1), o), 4);
  for (auto& n : o.nodes) {
    for (auto& p : n.peers) {
      if (p.id == o.nodes[2].id) p.config_epoch = 1;  // n2 collides with n0
    }
  }
  internal::StepResult r;
  std::vector<const model::ObservedNode*> live;
  for (const auto& n : o.nodes) live.push_back(&n);
  internal::PlanResize(d, o, live, {}, r);
  EXPECT_TRUE(r.actions.empty());
  ASSERT_EQ(r.waiting.size(), 1u);
  EXPECT_THAT(r.waiting[0], HasSubstr("share config epoch 1"));
}

TEST(PlanResizeTest, ALeavingMasterHandsItsShardToItsReplicaOnceNotTwice) {
  auto b = Cluster3x1();
  auto o = InSync(b.Build());
  // 3x1 -> 3x0 keeps n0..n2; make n3 the master of shard 0 and n0 its replica, so that n3
  // (leaving) must hand over first.
  auto split = EvenSplit(3);
  ObservedBuilder b2;
  b2.Master("n3", "h1", split[0], 1);
  b2.Master("n1", "h1", split[1], 2);
  b2.Master("n2", "h1", split[2], 3);
  b2.Fresh("n0").Fresh("n4").Fresh("n5");
  b2.JoinAll().ReplicaOf("n0", "n3").ReplicaOf("n4", "n1").ReplicaOf("n5", "n2").StateOk();
  o = InSync(b2.Build());
  auto d = Goal(WithIds(b2.Desired(3, 0), o), 3, {"n3", "n4", "n5"});
  // The leaving replicas (n4, n5) serve nothing: they are forgotten first; then n3's shard
  // goes to n0 by a planned CLUSTER FAILOVER (no key moves).
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  for (int i = 0; i < 3 && First<model::Failover>(plan).empty() && !plan.steps.empty(); ++i) {
    EXPECT_TRUE(First<model::MoveSlots>(plan).empty()) << plan.ToString();
    o = internal::Simulate(o, plan.steps[0]);
    plan = MakePlan(d, o, {.simulate = false});
  }
  auto fo = First<model::Failover>(plan);
  ASSERT_EQ(fo.size(), 1u) << plan.ToString();
  EXPECT_EQ(fo[0].node, "n0");
  EXPECT_EQ(fo[0].mode, "");
  d.memory.failovers_in_flight.insert("n0");
  plan = MakePlan(d, o, {.simulate = false});
  EXPECT_TRUE(First<model::Failover>(plan).empty());
  EXPECT_THAT(plan.ToString(), HasSubstr("n0 is taking over from n3"));
}

TEST(PlanResizeTest, DrainedLeavingNodesAreForgottenEverywhereThenRetiredThenDone) {
  // 3x1 -> 3x0: n3..n5 (replicas) leave; they serve nothing.
  auto b = Cluster3x1();
  auto o = InSync(b.Build());
  auto d = Goal(WithIds(b.Desired(3, 0), o), 3, {"n3", "n4", "n5"});
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  auto forgets = First<model::Forget>(plan);
  // Every staying master forgets the three leaving IDs, except a master cannot... (masters
  // can forget their replicas); the leaving nodes are sent nothing.
  EXPECT_EQ(forgets.size(), 9u) << plan.ToString();
  for (const auto& f : forgets) EXPECT_THAT(f.node, ::testing::AnyOf("n0", "n1", "n2"));
  EXPECT_TRUE(First<model::RetireNode>(plan).empty());
  // Once forgotten, they are retired; once retired, the goal is reached.
  auto after = internal::Simulate(o, plan.steps[0]);
  plan = MakePlan(d, after, {.simulate = false});
  auto retire = First<model::RetireNode>(plan);
  ASSERT_EQ(retire.size(), 3u) << plan.ToString();
  EXPECT_EQ(retire[0].id, o.nodes[3].id);
  auto gone = internal::Simulate(after, plan.steps[0]);
  d.resize->leaving.clear();
  for (auto it = d.nodes.begin(); it != d.nodes.end();) {
    it = it->name >= "n3" ? d.nodes.erase(it) : std::next(it);
  }
  plan = MakePlan(d, gone, {.simulate = false});
  EXPECT_TRUE(plan.resize_done) << plan.ToString();
  ASSERT_EQ(plan.final_layout.size(), 3u);
  EXPECT_EQ(RangesToString(plan.final_layout[0]), "0-5460");
}

TEST(PlanResizeTest, UnreachableLeavingNodeIsNeitherForgottenNorRetired) {
  auto b = Cluster3x1();
  auto o = InSync(b.Build());
  auto d = Goal(WithIds(b.Desired(3, 0), o), 3, {"n3", "n4", "n5"});
  o.nodes[3].reachable = false;
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  for (const auto& step : plan.steps) {
    for (const auto& f : Of<model::Forget>(step)) EXPECT_NE(f.id, o.nodes[3].id);
    for (const auto& r : Of<model::RetireNode>(step)) EXPECT_NE(r.node, "n3");
  }
  EXPECT_FALSE(plan.resize_done);
}

// --- ownership: a disagreement that lasts is settled toward the keys ---

TEST(OwnershipTest, ADisagreementIsSettledOnlyOnceItHasLasted) {
  auto o = InSync(Cluster3x1().Build());
  auto d = WithIds(Cluster3x1().Desired(3, 1), o);
  // n1 names n2 as the owner of slots 0-9 that n0 claims.
  for (auto& n : o.nodes) {
    if (n.name != "n1") continue;
    for (auto& p : n.peers) {
      if (p.id == o.nodes[0].id) p.slots = {{10, 5460}};
      if (p.id == o.nodes[2].id) p.slots = {{0, 9}, {10923, 16383}};
    }
  }
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  EXPECT_EQ(RangesToString(plan.disagreements), "0-9");
  EXPECT_TRUE(First<model::SettleOwner>(plan).empty());
  d.memory.lasting_disagreements = {{0, 9}};
  plan = MakePlan(d, o, {.simulate = false});
  auto settle = First<model::SettleOwner>(plan);
  ASSERT_EQ(settle.size(), 1u) << plan.ToString();
  EXPECT_EQ(settle[0].node, "n0");  // the one master that claims them
  EXPECT_EQ(RangesToString(settle[0].slots), "0-9");
}

TEST(OwnershipTest, ASlotNoMasterClaimsIsADisagreementTowardTheNamedOwner) {
  auto o = InSync(Cluster3x1().Build());
  auto d = WithIds(Cluster3x1().Desired(3, 1), o);
  // n0 lost 0-9 in its own view (a stale claim won), the others still name it.
  for (auto& n : o.nodes) {
    for (auto& p : n.peers) {
      if (p.myself && n.name == "n0") p.slots = {{10, 5460}};
    }
  }
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  EXPECT_EQ(RangesToString(plan.disagreements), "0-9");
  d.memory.lasting_disagreements = {{0, 9}};
  auto settle = First<model::SettleOwner>(MakePlan(d, o, {.simulate = false}));
  ASSERT_EQ(settle.size(), 1u);
  EXPECT_EQ(settle[0].node, "n0");
}

// --- recover-slots: consent covers the ranges the caller saw ---

TEST(RecoverSlotsTest, ConsentCoversOnlyTheRangesItNames) {
  ObservedBuilder b;
  auto split = EvenSplit(3);
  b.Master("n1", "h1", split[1], 2).Master("n2", "h1", split[2], 3).Fresh("n0");
  b.JoinAll().StateOk();
  auto o = b.Build();
  auto d = b.Desired(3, 0);
  d.formed_before = true;
  d.shard_slots = {split[1], split[2], split[0]};
  model::Plan plan = MakePlan(d, o, {.simulate = false});
  ASSERT_FALSE(plan.blockers.empty());
  EXPECT_EQ(RangesToString(plan.lost), "0-5460");
  d.recover_slots = {{0, 99}};  // consent for part of it only
  plan = MakePlan(d, o, {.simulate = false});
  ASSERT_FALSE(plan.blockers.empty());
  EXPECT_THAT(plan.blockers[0].message, HasSubstr("slots 100-5460"));
  d.recover_slots = {{0, 5460}};
  plan = MakePlan(d, o, {.simulate = false});
  EXPECT_TRUE(plan.blockers.empty()) << plan.ToString();
  EXPECT_EQ(First<model::AddSlots>(plan).size(), 1u);
}

}  // namespace
}  // namespace sk::plan
