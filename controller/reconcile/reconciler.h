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

  ClusterStatus Snapshot() const;
  std::vector<Event> Events() const;  // newest first
  const model::DesiredCluster& desired() const { return desired_; }

 private:
  struct Outcome {
    Pass pass;
    bool acted = false;
    int failures = 0;                   // actions that failed
    std::chrono::milliseconds took{0};  // observing and planning
  };
  Outcome OnePass(bool act, const std::string& stalled);
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
  NodeProvider& provider_;
  Options opts_;
  StateStore store_;
  Identity identity_;
  observe::ClientPool pool_;
  long long pass_no_ = 0;
  std::set<std::string> answered_;  // nodes seen answering at least once

  mutable std::mutex mu_;  // guards status_, events_, woken_
  std::condition_variable cv_;
  bool woken_ = false;
  std::map<std::string, std::chrono::steady_clock::time_point> held_since_;
  ClusterStatus status_;
  std::deque<Event> events_;
};

}  // namespace sk::reconcile
