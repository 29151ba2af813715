// How a running operation ends (Evaluate), the registry's one-at-a-time rule and the jittered
// backoff: pure, with a fake clock.
#include "controller/reconcile/operations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "controller/reconcile/backoff.h"
#include "tests/support/fake_clock.h"

namespace sk::reconcile {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

model::Plan Converged() { return {}; }
model::Plan Waiting() {
  model::Plan p;
  p.waiting.push_back("a replica is syncing");
  return p;
}
model::Plan Blocked(std::string why) {
  model::Plan p;
  p.blockers.push_back({Code::kFailedPrecondition, std::move(why)});
  return p;
}

struct Facts {
  model::ObservedCluster observed;
  model::Plan plan;
  PassFacts f;
  PassFacts& operator()() {
    f.observed = &observed;
    f.plan = &plan;
    return f;
  }
};

TEST(OperationRegistryTest, OneOperationAtATimePerClusterEvenUnderConcurrentReservations) {
  OperationRegistry reg;
  std::atomic<int> ok{0}, busy{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      auto r = reg.Reserve("a", OperationKind::kScale, "t");
      (r.ok() ? ok : busy)++;
      if (!r.ok()) {
        EXPECT_EQ(r.error().code(), Code::kAborted);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(busy.load(), 15);
  // Another cluster is not held up; a create does not count as "an operation runs".
  EXPECT_TRUE(reg.Reserve("b", OperationKind::kScale, "t").ok());
  EXPECT_TRUE(reg.Reserve("c", OperationKind::kCreate, "t").ok());
  EXPECT_TRUE(reg.Reserve("c", OperationKind::kFailover, "t").ok());
  // Finished, the next may start; a finished operation is never changed again.
  auto running = reg.Running("a");
  ASSERT_TRUE(running);
  reg.Finish(running->id, Aborted("stopped"), "t2");
  EXPECT_TRUE(reg.Reserve("a", OperationKind::kFailover, "t").ok());
  reg.Finish(running->id, Status::Ok(), "t3");
  EXPECT_EQ(reg.Get(running->id)->state, OperationState::kFailed);
  EXPECT_EQ(reg.Get(running->id)->error, "stopped");
}

TEST(EvaluateTest, ReplaceEndsWhenConvergedAtItsGeneration) {
  testing::FakeClock clock;
  ActiveOperation op{"op-1", OperationKind::kReplace, 3};
  Facts f;
  f.plan = Converged();
  f.f.generation = 2;
  EXPECT_FALSE(Evaluate(op, f(), clock.Now()).done) << "an older generation is not its effect";
  f.f.generation = 3;
  f.plan = Waiting();
  EXPECT_FALSE(Evaluate(op, f(), clock.Now()).done);
  f.plan = Converged();
  Verdict v = Evaluate(op, f(), clock.Now());
  EXPECT_TRUE(v.done);
  EXPECT_TRUE(v.result.ok());
}

TEST(EvaluateTest, BlockersAndStallsEndAnOperationWithTheirMessage) {
  testing::FakeClock clock;
  for (OperationKind kind :
       {OperationKind::kReplace, OperationKind::kScale, OperationKind::kCreate}) {
    ActiveOperation op{"op-1", kind, 1};
    Facts f;
    f.plan = Blocked("slots 0-99 are served by no node");
    Verdict v = Evaluate(op, f(), clock.Now());
    ASSERT_TRUE(v.done);
    EXPECT_EQ(v.result.error().code(), Code::kFailedPrecondition);
    EXPECT_THAT(v.result.error().message(), HasSubstr("0-99"));
    Facts g;
    g.plan = Waiting();
    g.f.stalled = "no progress for 16 s: t-6 has no bus link to t-1";
    v = Evaluate(op, g(), clock.Now());
    ASSERT_TRUE(v.done);
    EXPECT_EQ(v.result.error().code(), Code::kDeadlineExceeded);
    EXPECT_THAT(v.result.error().message(), HasSubstr("t-6 has no bus link to t-1"));
  }
}

TEST(EvaluateTest, ScaleStopsOnAMoveThatNeedsAPersonAndRetriesTransientOnesABoundedNumber) {
  testing::FakeClock clock;
  ActiveOperation op{"op-1", OperationKind::kScale, 2};
  Facts f;
  f.plan = Waiting();
  f.f.failed.emplace_back("move-slots",
                          Unavailable("slots stay on their source: a has no bus link to b"));
  for (int i = 1; i < kMaxFailedMoves; ++i) {
    EXPECT_FALSE(Evaluate(op, f(), clock.Now()).done) << i;
  }
  Verdict v = Evaluate(op, f(), clock.Now());
  ASSERT_TRUE(v.done);
  EXPECT_THAT(v.result.error().message(), HasSubstr("no bus link"));
  // A success in between resets the count.
  ActiveOperation again{"op-2", OperationKind::kScale, 2};
  EXPECT_FALSE(Evaluate(again, f(), clock.Now()).done);
  Facts ok;
  ok.plan = Waiting();
  ok.f.succeeded.push_back("move-slots");
  EXPECT_FALSE(Evaluate(again, ok(), clock.Now()).done);
  EXPECT_EQ(again.failed_moves, 0);
  // One that needs a person stops at once.
  Facts stop;
  stop.plan = Waiting();
  stop.f.failed.emplace_back("move-slots", FailedPrecondition("two masters hold keys of slot 7"));
  ActiveOperation third{"op-3", OperationKind::kScale, 2};
  EXPECT_TRUE(Evaluate(third, stop(), clock.Now()).done);
  // The goal reached: succeeded.
  Facts done;
  done.plan = Converged();
  done.plan.resize_done = true;
  ActiveOperation fourth{"op-4", OperationKind::kScale, 2};
  Verdict end = Evaluate(fourth, done(), clock.Now());
  EXPECT_TRUE(end.done && end.result.ok());
}

TEST(EvaluateTest, AFailoverEndsWhenTheReplicaServesOrAfterItsBound) {
  testing::FakeClock clock;
  ActiveOperation op{"op-1", OperationKind::kFailover, 0, "t-3"};
  op.started = clock.Now();
  Facts f;
  f.plan = Waiting();
  model::ObservedNode n;
  n.name = "t-3";
  n.reachable = true;
  n.repl.role = "slave";
  n.peers.push_back({.id = "x", .myself = true, .replica = true, .master_id = "m"});
  f.observed.nodes.push_back(n);
  EXPECT_FALSE(Evaluate(op, f(), clock.Now()).done);
  clock.Advance(kFailoverBound + milliseconds(1));
  Verdict late = Evaluate(op, f(), clock.Now());
  ASSERT_TRUE(late.done);
  EXPECT_EQ(late.result.error().code(), Code::kDeadlineExceeded);
  // Promoted in time: succeeded.
  ActiveOperation quick{"op-2", OperationKind::kFailover, 0, "t-3"};
  quick.started = clock.Now();
  f.observed.nodes[0].peers[0] = {.id = "x", .myself = true, .master = true, .slots = {{0, 10}}};
  EXPECT_TRUE(Evaluate(quick, f(), clock.Now()).result.ok());
  // The command itself failed: failed at once (it is never sent again later).
  ActiveOperation refused{"op-3", OperationKind::kFailover, 0, "t-3"};
  Facts g;
  g.plan = Waiting();
  g.f.failed.emplace_back("failover",
                          FailedPrecondition("ERR You should send CLUSTER FAILOVER to a replica"));
  EXPECT_FALSE(Evaluate(refused, g(), clock.Now()).result.ok());
}

TEST(EvaluateTest, RecoverSlotsEndsWhenItsConsentedRangesAreServedOrAfterItsBound) {
  testing::FakeClock clock;
  ActiveOperation op{"op-1", OperationKind::kRecoverSlots, 0, "", {{0, 99}}};
  op.started = clock.Now();
  Facts f;
  f.plan = Waiting();
  f.f.lost = {{50, 60}};
  EXPECT_FALSE(Evaluate(op, f(), clock.Now()).done);
  // Another loss outside the consent is not this operation's.
  f.f.lost = {{200, 300}};
  EXPECT_TRUE(Evaluate(op, f(), clock.Now()).result.ok());
  ActiveOperation slow{"op-2", OperationKind::kRecoverSlots, 0, "", {{0, 99}}};
  slow.started = clock.Now();
  f.f.lost = {{0, 99}};
  clock.Advance(kRecoverBound + milliseconds(1));
  Verdict v = Evaluate(slow, f(), clock.Now());
  ASSERT_TRUE(v.done);
  EXPECT_THAT(v.result.error().message(), HasSubstr("0-99"));
}

TEST(BackoffTest, DoublesWithJitterUpToItsBoundAndResets) {
  Backoff b(milliseconds(100), milliseconds(2000), 42);
  std::vector<long long> seen;
  for (int i = 0; i < 8; ++i) seen.push_back(b.Next().count());
  EXPECT_GE(seen[0], 80);
  EXPECT_LE(seen[0], 120);
  EXPECT_GE(seen[1], 160);
  EXPECT_LE(seen[1], 240);
  for (long long d : seen) EXPECT_LE(d, 2400);
  EXPECT_GE(seen.back(), 1600);
  b.Reset();
  EXPECT_LE(b.Next().count(), 120);
  // Two clusters do not retry in lockstep.
  Backoff x(milliseconds(1000), milliseconds(30000), 1),
      y(milliseconds(1000), milliseconds(30000), 2);
  bool differ = false;
  for (int i = 0; i < 5; ++i) differ |= x.Next() != y.Next();
  EXPECT_TRUE(differ);
}

}  // namespace
}  // namespace sk::reconcile
