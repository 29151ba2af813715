#include "tests/integration/rest/fake_cluster_service.h"

#include <algorithm>
#include <cstdio>

#include "api/codec/status_codec.h"
#include "api/types/slot_range.h"

namespace sk::testing {

namespace {

std::string NodeId(int i) {
  char buf[41];
  std::snprintf(buf, sizeof(buf), "%040x", 0xabc000 + i);
  return buf;
}

ClusterStatus ReadyStatus(int masters, int replicas) {
  ClusterStatus s;
  s.phase = Phase::kReady;
  s.cluster_state = "ok";
  s.slots_assigned = s.slots_ok = kSlots;
  s.masters = masters;
  s.replicas = masters * replicas;
  s.conditions.push_back({"Ready", ConditionStatus::kTrue, "ClusterHealthy", "all slots served",
                          "2026-01-01T00:00:00Z", 1});
  s.observed_generation = 1;
  s.last_reconcile_at = "2026-01-01T00:00:05Z";
  auto split = EvenSplit(masters);
  for (int i = 0; i < masters * (1 + replicas); ++i) {
    NodeStatus n;
    n.id = NodeId(i);
    n.name = "node-" + std::to_string(i);
    n.host = "127.0.0.1";
    n.port = 7000 + i;
    n.link_state = LinkState::kConnected;
    n.keys = 10 * i;
    if (i < masters) {
      n.role = Role::kMaster;
      for (const SlotRange& r : split[i]) n.slots.push_back(r.ToString());
    } else {
      n.role = Role::kReplica;
      n.master_id = NodeId((i - masters) % masters);
    }
    s.nodes.push_back(n);
  }
  return s;
}

bool Running(const std::map<std::string, Operation>& ops, const std::string& cluster,
             std::string* id) {
  for (const auto& [op_id, op] : ops) {
    if (op.cluster == cluster && op.state == OperationState::kRunning) {
      *id = op_id;
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<ClusterSummary> FakeClusterService::List() const {
  std::lock_guard lock(mu_);
  std::vector<ClusterSummary> out;
  for (const auto& [name, rec] : clusters_) out.push_back({name, rec.status.phase, rec.generation});
  return out;
}

Result<ClusterRecord> FakeClusterService::Get(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = clusters_.find(name);
  if (it == clusters_.end()) return NotFound("cluster " + name + " is not managed here");
  ClusterRecord rec = it->second;
  std::string id;
  if (Running(operations_, name, &id)) {
    rec.operation = operations_.at(id);
    rec.status.operation = id;
  }
  return rec;
}

Result<ClusterRecord> FakeClusterService::Create(const ClusterSpec& spec) {
  std::lock_guard lock(mu_);
  if (auto e = TakeFailure()) return *e;
  last_spec_ = spec;
  if (clusters_.count(spec.name)) return AlreadyExists("cluster " + spec.name + " already exists");
  ClusterRecord rec;
  rec.spec = spec;
  rec.status.phase = Phase::kCreating;
  clusters_[spec.name] = rec;
  return rec;
}

Result<Operation> FakeClusterService::Replace(const ClusterSpec& spec) {
  std::lock_guard lock(mu_);
  if (auto e = TakeFailure()) return *e;
  last_spec_ = spec;
  auto it = clusters_.find(spec.name);
  if (it == clusters_.end()) return NotFound("cluster " + spec.name + " is not managed here");
  std::string id;
  if (Running(operations_, spec.name, &id)) {
    return Aborted("operation " + id + " is running on " + spec.name);
  }
  it->second.spec = spec;
  ++it->second.generation;
  return StartOperation(spec.name, OperationKind::kReplace, 0);
}

Status FakeClusterService::Delete(const std::string& name, bool purge) {
  std::lock_guard lock(mu_);
  if (auto e = TakeFailure()) return *e;
  last_purge_ = purge;
  if (!clusters_.erase(name)) return NotFound("cluster " + name + " is not managed here");
  return Status::Ok();
}

Result<Operation> FakeClusterService::Scale(const std::string& name, const ScaleRequest& req) {
  std::lock_guard lock(mu_);
  if (auto e = TakeFailure()) return *e;
  last_scale_ = req;
  auto it = clusters_.find(name);
  if (it == clusters_.end()) return NotFound("cluster " + name + " is not managed here");
  std::string id;
  if (Running(operations_, name, &id)) return Aborted("operation " + id + " is running on " + name);
  if (req.masters && *req.masters < 3) {
    std::string p = "spec.masters: must be at least 3, got " + std::to_string(*req.masters);
    return InvalidArgument(p, {p});
  }
  if (req.masters) it->second.spec.masters = *req.masters;
  if (req.replicas_per_master) it->second.spec.replicas_per_master = *req.replicas_per_master;
  ++it->second.generation;
  return StartOperation(name, OperationKind::kScale, 4096);
}

Result<Operation> FakeClusterService::Failover(const std::string& name, const std::string& node) {
  std::lock_guard lock(mu_);
  if (auto e = TakeFailure()) return *e;
  auto it = clusters_.find(name);
  if (it == clusters_.end()) return NotFound("cluster " + name + " is not managed here");
  for (const NodeStatus& n : it->second.status.nodes) {
    if (n.id != node && n.host + ":" + std::to_string(n.port) != node) continue;
    if (n.role == Role::kMaster) return FailedPrecondition(node + " is already a master");
    return StartOperation(name, OperationKind::kFailover, 0);
  }
  return NotFound("no node " + node + " in cluster " + name);
}

Result<Operation> FakeClusterService::RecoverSlots(const std::string& name, bool accept_data_loss) {
  std::lock_guard lock(mu_);
  if (auto e = TakeFailure()) return *e;
  if (!clusters_.count(name)) return NotFound("cluster " + name + " is not managed here");
  if (!accept_data_loss) return InvalidArgument("acceptDataLoss: must be true");
  return StartOperation(name, OperationKind::kRecoverSlots, 0);
}

Result<std::vector<Event>> FakeClusterService::Events(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = events_.find(name);
  if (it == events_.end()) return NotFound("cluster " + name + " is not managed here");
  return it->second;
}

Result<Operation> FakeClusterService::GetOperation(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = operations_.find(id);
  if (it == operations_.end()) return NotFound("no operation " + id);
  Operation& op = it->second;
  if (op.state == OperationState::kRunning) {
    op.progress = std::min(1.0, op.progress + step_);
    op.slots_moved = static_cast<int>(op.progress * op.slots_total);
    op.keys_moved += 100;
    if (op.progress >= 1.0) {
      op.state = OperationState::kSucceeded;
      op.finished_at = "2026-01-01T00:01:00Z";
    }
  }
  return op;
}

bool FakeClusterService::Ready() const {
  std::lock_guard lock(mu_);
  return ready_;
}

std::string FakeClusterService::MetricsText() const {
  std::lock_guard lock(mu_);
  std::string out = "# TYPE slotkeeper_cluster_phase gauge\n";
  for (const auto& [name, rec] : clusters_) {
    out += "slotkeeper_cluster_phase{cluster=\"" + name + "\",phase=\"" +
           std::string(codec::Name(rec.status.phase)) + "\"} 1\n";
  }
  return out;
}

void FakeClusterService::AddCluster(const std::string& name, int masters, int replicas,
                                    int events) {
  std::lock_guard lock(mu_);
  ClusterRecord rec;
  rec.spec.name = name;
  rec.spec.masters = masters;
  rec.spec.replicas_per_master = replicas;
  rec.status = ReadyStatus(masters, replicas);
  clusters_[name] = rec;
  std::vector<Event>& ev = events_[name];
  for (int i = events; i > 0; --i) {  // newest first
    ev.push_back({"2026-01-01T00:00:0" + std::to_string(i % 10) + "Z", "Normal", "Step",
                  "event " + std::to_string(i)});
  }
}

void FakeClusterService::FailNext(Error e) {
  std::lock_guard lock(mu_);
  fail_next_ = std::move(e);
}

void FakeClusterService::SetStep(double step) {
  std::lock_guard lock(mu_);
  step_ = step;
}

void FakeClusterService::SetReady(bool ready) {
  std::lock_guard lock(mu_);
  ready_ = ready;
}

std::optional<ScaleRequest> FakeClusterService::last_scale() const {
  std::lock_guard lock(mu_);
  return last_scale_;
}

std::optional<bool> FakeClusterService::last_purge() const {
  std::lock_guard lock(mu_);
  return last_purge_;
}

std::optional<ClusterSpec> FakeClusterService::last_spec() const {
  std::lock_guard lock(mu_);
  return last_spec_;
}

Operation FakeClusterService::StartOperation(const std::string& cluster, OperationKind kind,
                                             int slots_total) {
  char id[32];
  std::snprintf(id, sizeof(id), "op-%06d", next_op_++);
  Operation op;
  op.id = id;
  op.cluster = cluster;
  op.kind = kind;
  op.state = OperationState::kRunning;
  op.slots_total = slots_total;
  op.started_at = "2026-01-01T00:00:30Z";
  operations_[op.id] = op;
  return op;
}

std::optional<Error> FakeClusterService::TakeFailure() {
  std::optional<Error> e = std::move(fail_next_);
  fail_next_.reset();
  return e;
}

}  // namespace sk::testing
