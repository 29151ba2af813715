// Reconciler: observe -> plan -> act -> record, for one cluster, on one thread.
//
// Each pass reads every node fresh, plans from that alone (level-triggered), runs the first
// step of the plan through the executor, publishes a new status snapshot and goes again. It
// polls fast while something is settling (handshakes, syncs), sleeps when converged, and
// wakes at once on Wake() (a node process exited, the spec changed). A wait that makes no
// progress for the stall bound ends with a diagnostic instead of waiting forever.
//
// Operations (create, replace, scale, failover, recover-slots) are desired state plus an
// ActiveOperation: the planner decides every action, including a scale operation's moves
// (DesiredCluster::resize), the executor runs them, and the passes end the operation
// (operations.h Evaluate), recording it in the shared OperationRegistry. Nothing else acts on
// the cluster, so there is never a second thread to pause.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/types/clock.h"
#include "api/types/provider.h"
#include "api/types/status.h"
#include "controller/act/executor.h"
#include "controller/model/model.h"
#include "controller/observe/observe.h"
#include "controller/reconcile/backoff.h"
#include "controller/reconcile/operations.h"
#include "controller/reconcile/state_store.h"

namespace sk::reconcile {

struct Options {
  std::chrono::milliseconds poll{20};      // between passes while waiting on Redis
  std::chrono::milliseconds resync{1000};  // between passes when converged
  // No change of plan for this long ends Converge with a diagnostic; 0 means
  // 15 s + 150 ms per node (redis-cli warns after 20 s + 150 ms per node and keeps waiting).
  std::chrono::milliseconds stall{0};
  redis::ClientOptions client;
  std::string state_dir;  // the cluster's own directory; "" = nothing persisted
  long long generation = 1;
  int node_timeout_ms = 5000;    // MIGRATE never blocks a source for half of it
  const Clock* clock = nullptr;  // null: the real clock
};

struct Pass {
  model::ObservedCluster observed;
  model::Plan plan;
};

// Counters for /metrics (slotkeeper_reconcile_*, slotkeeper_actions_total).
struct ReconcileCounters {
  long long passes = 0;
  std::map<std::string, long long> results;   // converged | acting | waiting | blocked | stalled
  std::map<std::string, long long> actions;   // by kind: meet, addslots, failover, ...
  std::map<std::string, long long> failures;  // failed actions by kind
  // Pass durations (observe + plan) in the buckets of kDurationBuckets, plus +Inf, and sum.
  std::vector<long long> duration_buckets;
  double duration_sum_seconds = 0;
  long long slots_migrated = 0;
  long long keys_migrated = 0;
};
inline constexpr double kDurationBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

// How an operation ended, for the ClusterManager (called on the reconciler's thread, before
// the operation is reported finished). For a scale operation `layout` is the slot layout the
// cluster has from now on: the goal's on success, the one the nodes serve on failure.
struct OperationEnd {
  ActiveOperation op;
  Status result;
  std::vector<std::vector<SlotRange>> layout;
};

struct ReconcilerHooks {
  std::function<void(const OperationEnd&)> on_operation_end;
  // A leaving node was retired (stopped, its files deleted).
  std::function<void(const std::string& node)> on_retired;
};

class Reconciler {
 public:
  Reconciler(model::DesiredCluster desired, NodeProvider& provider, OperationRegistry& ops,
             Options opts, ReconcilerHooks hooks = {});
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // Observes and plans once, changing nothing. `simulate` plans the later steps too.
  Pass Look(bool simulate = false);
  // Passes until converged (Ok), blocked (kFailedPrecondition listing every blocker),
  // stopped (kAborted) or stalled (kDeadlineExceeded with what was waited for, and why it
  // may not come: unreachable bus ports, handshakes that never complete, ...).
  Status Converge(const std::atomic<bool>& stop);
  // The daemon loop: converge, then keep the cluster converged until `stop`.
  void Run(const std::atomic<bool>& stop);
  // Makes a sleeping Run/Converge start its next pass now.
  void Wake();
  // A new desired state (a changed spec), applied from the next pass on; `generation` is
  // reported as the status's observedGeneration once a pass has used it. An operation that
  // applies it is given with `op` (its record is in the registry already).
  void SetDesired(model::DesiredCluster desired, long long generation,
                  std::optional<ActiveOperation> op = std::nullopt);
  // Follows an operation that needs no new desired state (create).
  void Follow(ActiveOperation op);
  // Runs CLUSTER FAILOVER on the replica `op.node` at the start of the next pass (so that it
  // never races a step of the plan); the passes end the operation.
  void RequestFailover(ActiveOperation op);
  // Lets the passes re-cover, empty, the lost slots `op.consent` (and only those), until the
  // operation ends.
  void RequestRecoverSlots(ActiveOperation op);

  ReconcileCounters Counters() const;
  // Slots lost as of the last pass: served by no node although the cluster served them, or
  // owned by a node ID that no longer exists (what recover-slots may re-create, empty).
  std::vector<SlotRange> LostSlots() const;
  ClusterStatus Snapshot() const;
  std::vector<Event> Events() const;  // newest first
  model::DesiredCluster desired() const;
  // Records an event.
  void Note(std::string type, std::string reason, std::string message) {
    AddEvent(std::move(type), std::move(reason), std::move(message));
  }

 private:
  struct Outcome {
    Pass pass;
    bool acted = false;
    int failures = 0;                   // actions that failed
    bool reobserve = false;             // every failure says the world moved: observe again now
    std::chrono::milliseconds took{0};  // observing and planning
  };
  Outcome OnePass(bool act);
  void TakePending(PassFacts& facts);
  void Record(const Pass& pass, const std::string& stalled);
  void RememberIdentity(const Pass& pass);
  std::vector<act::ActionResult> Execute(const std::vector<model::Action>& step,
                                         const model::ObservedCluster& seen);
  void AfterStep(const std::vector<act::ActionResult>& results, PassFacts& facts);
  void UpdateMemory(const Pass& pass);
  void PushHolds(const model::ObservedCluster& observed);
  void EvaluateOperation(const Pass& pass, PassFacts& facts);
  void EndOperation(const Status& result, const Pass& pass);
  std::string Diagnose(const Pass& pass);
  void AddEvent(std::string type, std::string reason, std::string message);
  void Sleep(std::chrono::milliseconds d, const std::atomic<bool>& stop);
  // Starts nodes held down for longer than the bound (a takeover that never came).
  void ReleaseStaleHolds();
  std::vector<observe::Target> Targets() const;
  std::vector<std::string> ConfigKeys() const;
  std::chrono::milliseconds StallBound() const;
  std::string Now() const;  // RFC 3339 from the clock

  // Only the reconciler's thread touches these (after construction).
  model::DesiredCluster desired_;
  NodeProvider* provider_;
  OperationRegistry& ops_;
  Options opts_;
  ReconcilerHooks hooks_;
  const Clock& clock_;
  StateStore store_;
  Identity identity_;
  observe::ClientPool pool_;
  long long pass_no_ = 0;
  std::set<std::string> answered_;  // nodes seen answering at least once
  std::optional<ActiveOperation> active_;
  std::map<std::pair<std::string, std::string>, SteadyTime> meet_sent_;  // last MEET per pair
  std::map<std::string, SteadyTime> failover_sent_;  // replica -> when CLUSTER FAILOVER went
  std::map<int, SteadyTime> disagree_since_;         // slot -> first pass it was disputed
  std::map<std::string, SteadyTime> held_since_;
  std::map<std::pair<std::string, std::string>, int> meets_;  // repair MEETs while unlinked
  std::set<std::pair<std::string, std::string>> taught_;      // teaching MEETs sent
  std::map<std::pair<std::string, std::string>, SteadyTime> unlinked_since_;
  std::string unmet_;  // why the cluster does not match its spec after a failed operation
  const std::atomic<bool>* stop_ = nullptr;  // Converge's, for the executor

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  bool woken_ = false;
  std::optional<std::pair<model::DesiredCluster, long long>> pending_desired_;
  std::vector<ActiveOperation> pending_ops_;
  ReconcileCounters counters_;
  ClusterStatus status_;
  std::deque<Event> events_;
  model::DesiredCluster desired_copy_;  // desired_ as of the last pass, for desired()
  std::vector<SlotRange> lost_;
};

}  // namespace sk::reconcile
