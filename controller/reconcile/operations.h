// Operations: the record every front end follows (GET /api/v1/operations/{id}), and the rules
// by which a running operation ends.
//
// OperationRegistry is the one place operations are reserved, updated and read; it is shared
// (thread-safe) between the ClusterManager, which reserves an operation before it changes
// anything, and each cluster's Reconciler, whose passes are the only thing that finish one:
// never a getter, never a second thread polling a status string.
//
// Evaluate() is the pure rule, unit-tested with no I/O: given what a pass saw and did, and the
// time, is the operation done, and how?
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/types/cluster_service.h"
#include "api/types/result.h"
#include "api/types/slot_range.h"
#include "controller/model/model.h"

namespace sk::reconcile {

using SteadyTime = std::chrono::steady_clock::time_point;

class OperationRegistry {
 public:
  // Reserves an operation of `kind` on `cluster`, atomically: at most one operation other than
  // a create runs per cluster (kAborted naming the running one otherwise). `now` is the
  // RFC 3339 start time.
  Result<Operation> Reserve(const std::string& cluster, OperationKind kind, const std::string& now);
  // An operation that is finished at once (a scale to the current shape).
  Operation Record(const std::string& cluster, OperationKind kind, const Status& result,
                   const std::string& now);
  void Progress(const std::string& id, int slots_done, int slots_total, long long keys);
  // Ends a running operation (a finished one stays as it is). `now` is RFC 3339.
  void Finish(const std::string& id, const Status& result, const std::string& now);
  // Ends every running operation of `cluster` (it is deleted or the daemon stops it).
  void FinishAll(const std::string& cluster, const Status& result, const std::string& now);
  Result<Operation> Get(const std::string& id) const;
  // The running operation of `cluster` other than a create, if any.
  std::optional<Operation> Running(const std::string& cluster) const;
  std::vector<Operation> AllRunning() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Operation> ops_;
  long long next_ = 1;
};

// The reconciler's side of a running operation.
struct ActiveOperation {
  std::string id;
  OperationKind kind = OperationKind::kCreate;
  long long generation = 0;        // replace, scale: the spec generation it applies
  std::string node;                // failover: the replica's name
  std::vector<SlotRange> consent;  // recover-slots: the lost ranges the caller agreed to lose
  SteadyTime started{};
  int failed_moves = 0;  // scale: MoveSlots that failed in a row with a retryable error
};

// Redis gives a manual failover 5 s; a few passes more for the views to follow.
inline constexpr std::chrono::seconds kFailoverBound{15};
inline constexpr std::chrono::seconds kRecoverBound{60};
// A scale operation stops after this many MoveSlots in a row fail with a retryable error.
inline constexpr int kMaxFailedMoves = 3;

// What one pass saw and did, as Evaluate needs it.
struct PassFacts {
  const model::ObservedCluster* observed = nullptr;
  const model::Plan* plan = nullptr;
  long long generation = 0;  // the generation the pass planned with
  std::string stalled;       // a wait ran out: its diagnostic
  // Actions of this pass that failed, by kind, with their error (success: no entry).
  std::vector<std::pair<std::string, Error>> failed;
  std::vector<std::string> succeeded;  // kinds of actions that succeeded
  // Slots no answering master serves this pass (lost, or not re-covered yet).
  std::vector<SlotRange> lost;
};

struct Verdict {
  bool done = false;
  Status result;  // when done
};

// Whether `op` has ended after a pass (pure). Updates op.failed_moves.
Verdict Evaluate(ActiveOperation& op, const PassFacts& facts, SteadyTime now);

}  // namespace sk::reconcile
