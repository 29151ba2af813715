// Reconciler: observe -> plan -> act -> record, for one cluster.
//
// Each pass reads every node fresh, plans from that alone (level-triggered), runs the
// first step of the plan, publishes a new status snapshot and goes again. It polls fast
// while something is settling (handshakes, syncs), sleeps when converged, and wakes at once
// on Wake() (a node process exited, the spec changed). A wait that makes no progress for the
// stall bound ends with a diagnostic instead of waiting forever.
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

#include "api/types/provider.h"
#include "api/types/status.h"
#include "controller/act/executor.h"
#include "controller/model/model.h"
#include "controller/observe/observe.h"
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
};
inline constexpr double kDurationBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

class Reconciler {
 public:
  Reconciler(model::DesiredCluster desired, NodeProvider& provider, Options opts);

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
  // reported as the status's observedGeneration once a pass has used it.
  void SetDesired(model::DesiredCluster desired, long long generation);
  // Runs CLUSTER FAILOVER on the replica `node` (a name) at the start of the next pass, so
  // that it never races a step of the plan. `done` gets the command's result.
  void RequestFailover(const std::string& node, std::function<void(const Status&)> done);
  ReconcileCounters Counters() const;
  // Lets the next passes re-cover lost slots empty (DesiredCluster::recover_slots), until a
  // pass converges.
  void RequestRecoverSlots();
  // Only while no thread runs Run/Converge (a paused reconciler): the provider whose nodes
  // are observed from now on (a scale operation grows or shrinks the set of nodes).
  void SetProvider(NodeProvider& provider);
  // Only while paused: nodes that left the cluster for good (scale-in); their names and IDs
  // are dropped from the identity registry.
  void ForgetNodes(const std::vector<std::string>& names);
  // Records an event (operations report their steps through it).
  void Note(std::string type, std::string reason, std::string message) {
    AddEvent(std::move(type), std::move(reason), std::move(message));
  }

  ClusterStatus Snapshot() const;
  std::vector<Event> Events() const;  // newest first
  model::DesiredCluster desired() const;

 private:
  struct Outcome {
    Pass pass;
    bool acted = false;
    int failures = 0;                   // actions that failed
    std::chrono::milliseconds took{0};  // observing and planning
  };
  Outcome OnePass(bool act, const std::string& stalled);
  void TakePending(const model::ObservedCluster* last);
  void Record(const Pass& pass, const std::string& stalled);
  void RememberIdentity(const Pass& pass);
  int Execute(const std::vector<model::Action>& step, const model::ObservedCluster& seen);
  bool IsImmutableSetting(const act::ActionResult& r);
  std::string Diagnose(const Pass& pass);
  void AddEvent(std::string type, std::string reason, std::string message);
  void Sleep(std::chrono::milliseconds d, const std::atomic<bool>& stop);
  // The provider's restart gate: hold a master that has a linked replica (see PlanDead).
  bool RestartNow(const std::string& name);
  // Restarts nodes held down for longer than the bound (a takeover that never came).
  void ReleaseStaleHolds();
  std::vector<observe::Target> Targets() const;
  std::vector<std::string> ConfigKeys() const;
  std::chrono::milliseconds StallBound() const;

  model::DesiredCluster desired_;
  NodeProvider* provider_;
  Options opts_;
  StateStore store_;
  Identity identity_;
  observe::ClientPool pool_;
  long long pass_no_ = 0;
  std::set<std::string> answered_;  // nodes seen answering at least once

  mutable std::mutex mu_;  // guards status_, events_, woken_
  std::condition_variable cv_;
  bool woken_ = false;
  bool recover_ = false;  // guarded by mu_
  std::map<std::string, std::chrono::steady_clock::time_point> held_since_;
  // Guarded by mu_: changes handed over by other threads, taken at the start of a pass.
  std::optional<std::pair<model::DesiredCluster, long long>> pending_desired_;
  std::vector<std::pair<std::string, std::function<void(const Status&)>>> pending_failovers_;
  ReconcileCounters counters_;
  ClusterStatus status_;
  std::deque<Event> events_;
};

}  // namespace sk::reconcile
