#include "controller/reconcile/operations.h"

#include <algorithm>
#include <cstdio>

#include "api/codec/status_codec.h"

namespace sk::reconcile {

Result<Operation> OperationRegistry::Reserve(const std::string& cluster, OperationKind kind,
                                             const std::string& now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (kind != OperationKind::kCreate) {
    for (const auto& [id, op] : ops_) {
      if (op.cluster == cluster && op.state == OperationState::kRunning &&
          op.kind != OperationKind::kCreate) {
        return Aborted("operation " + id + " (" + std::string(codec::Name(op.kind)) +
                       ") is still running on " + cluster + "; wait for it to end");
      }
    }
  }
  char id[32];
  std::snprintf(id, sizeof id, "op-%06lld", next_++);
  Operation op;
  op.id = id;
  op.cluster = cluster;
  op.kind = kind;
  op.state = OperationState::kRunning;
  op.started_at = now;
  ops_[op.id] = op;
  return op;
}

Operation OperationRegistry::Record(const std::string& cluster, OperationKind kind,
                                    const Status& result, const std::string& now) {
  std::lock_guard<std::mutex> lock(mu_);
  char id[32];
  std::snprintf(id, sizeof id, "op-%06lld", next_++);
  Operation op;
  op.id = id;
  op.cluster = cluster;
  op.kind = kind;
  op.state = result.ok() ? OperationState::kSucceeded : OperationState::kFailed;
  op.progress = result.ok() ? 1 : 0;
  op.started_at = now;
  op.finished_at = now;
  if (!result.ok()) op.error = result.error().message();
  ops_[op.id] = op;
  return op;
}

void OperationRegistry::Progress(const std::string& id, int slots_done, int slots_total,
                                 long long keys) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ops_.find(id);
  if (it == ops_.end() || it->second.state != OperationState::kRunning) return;
  it->second.slots_moved = slots_done;
  it->second.slots_total = slots_total;
  it->second.keys_moved = keys;
  // Slots are most of the work; joining and retiring nodes the rest.
  it->second.progress = slots_total > 0 ? 0.05 + 0.9 * slots_done / slots_total : 0.5;
}

void OperationRegistry::Finish(const std::string& id, const Status& result,
                               const std::string& now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ops_.find(id);
  if (it == ops_.end() || it->second.state != OperationState::kRunning) return;
  it->second.state = result.ok() ? OperationState::kSucceeded : OperationState::kFailed;
  if (result.ok()) it->second.progress = 1;
  it->second.finished_at = now;
  if (!result.ok()) it->second.error = result.error().message();
}

void OperationRegistry::FinishAll(const std::string& cluster, const Status& result,
                                  const std::string& now) {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, op] : ops_) {
      if (op.cluster == cluster && op.state == OperationState::kRunning) ids.push_back(id);
    }
  }
  for (const std::string& id : ids) Finish(id, result, now);
}

Result<Operation> OperationRegistry::Get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ops_.find(id);
  if (it == ops_.end()) return NotFound("operation " + id + " does not exist");
  return it->second;
}

std::optional<Operation> OperationRegistry::Running(const std::string& cluster) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, op] : ops_) {
    if (op.cluster == cluster && op.state == OperationState::kRunning &&
        op.kind != OperationKind::kCreate) {
      return op;
    }
  }
  return std::nullopt;
}

std::vector<Operation> OperationRegistry::AllRunning() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Operation> out;
  for (const auto& [id, op] : ops_) {
    if (op.state == OperationState::kRunning) out.push_back(op);
  }
  return out;
}

namespace {

bool Overlaps(const std::vector<SlotRange>& a, const std::vector<SlotRange>& b) {
  for (const SlotRange& x : a) {
    for (const SlotRange& y : b) {
      if (x.start <= y.end && y.start <= x.end) return true;
    }
  }
  return false;
}

const Error* FailedOf(const PassFacts& f, std::string_view kind) {
  for (const auto& [k, e] : f.failed) {
    if (k == kind) return &e;
  }
  return nullptr;
}

Verdict Done(Status st) { return Verdict{true, std::move(st)}; }

}  // namespace

Verdict Evaluate(ActiveOperation& op, const PassFacts& f, SteadyTime now) {
  const model::Plan& plan = *f.plan;
  const bool blocked = !plan.blockers.empty();
  const std::string block = blocked ? plan.blockers.front().message : "";
  switch (op.kind) {
    case OperationKind::kCreate:
      if (blocked) return Done(Error(plan.blockers.front().code, block));
      if (!f.stalled.empty()) return Done(DeadlineExceeded(f.stalled));
      if (plan.Converged()) return Done(Status::Ok());
      return {};
    case OperationKind::kReplace:
      if (blocked) return Done(Error(plan.blockers.front().code, block));
      if (!f.stalled.empty()) return Done(DeadlineExceeded(f.stalled));
      if (plan.Converged() && f.generation >= op.generation) return Done(Status::Ok());
      return {};
    case OperationKind::kScale: {
      if (blocked) return Done(Error(plan.blockers.front().code, block));
      if (!f.stalled.empty()) return Done(DeadlineExceeded(f.stalled));
      if (const Error* e = FailedOf(f, "move-slots")) {
        // The one retry rule (DispositionOf): a move that needs a person stops the operation;
        // a transient one is tried again, a bounded number of times.
        if (DispositionOf(e->code()) == Disposition::kStop ||
            ++op.failed_moves >= kMaxFailedMoves) {
          return Done(Error(e->code(), e->message()));
        }
      } else if (std::find(f.succeeded.begin(), f.succeeded.end(), "move-slots") !=
                 f.succeeded.end()) {
        op.failed_moves = 0;
      }
      if (plan.resize_done) return Done(Status::Ok());
      return {};
    }
    case OperationKind::kFailover: {
      if (const Error* e = FailedOf(f, "failover")) return Done(*e);
      for (const model::ObservedNode& n : f.observed->nodes) {
        if (n.name == op.node && n.reachable && n.IsMaster() && !n.OwnSlots().empty()) {
          return Done(Status::Ok());
        }
      }
      if (now - op.started > kFailoverBound) {
        return Done(DeadlineExceeded("CLUSTER FAILOVER on " + op.node +
                                     " did not make it master "
                                     "within 15 s (its master must answer; see the node's log)"));
      }
      return {};
    }
    case OperationKind::kRecoverSlots:
      // Done once none of the ranges consented to is lost any more; a loss outside them is
      // not this operation's (it needs its own consent).
      if (!Overlaps(f.lost, op.consent)) {
        return Done(Status::Ok());
      }
      if (now - op.started > kRecoverBound) {
        return Done(DeadlineExceeded("the lost slots " + RangesToString(op.consent) +
                                     " were not re-covered within 60 s" +
                                     (block.empty() ? "" : ": " + block)));
      }
      return {};
    case OperationKind::kDelete:
      return {};
  }
  return {};
}

}  // namespace sk::reconcile
