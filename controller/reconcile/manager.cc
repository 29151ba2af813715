#include "controller/reconcile/manager.h"

#include <dirent.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "api/codec/spec_codec.h"
#include "api/codec/status_codec.h"
#include "api/types/files.h"
#include "controller/plan/plan.h"
#include "controller/reconcile/managed.h"
#include "controller/reconcile/metrics_text.h"
#include "controller/reconcile/status_builder.h"

namespace sk::reconcile {

namespace {

// A topology change (masters, replicas, slot split) needs moving slots between masters.
bool SameTopology(const ClusterSpec& a, const ClusterSpec& b) {
  return a.masters == b.masters && a.replicas_per_master == b.replicas_per_master &&
         a.slots.weights == b.slots.weights && a.slots.ranges == b.slots.ranges;
}

bool SameNodesPlace(const ClusterSpec& a, const ClusterSpec& b) {
  return a.local.bind == b.local.bind && a.local.base_port == b.local.base_port &&
         a.local.data_dir == b.local.data_dir && a.hosts.size() == b.hosts.size();
}

// The spec whose nodes include both specs' nodes, for a provider that must run them all while
// a scale operation goes from one to the other. Local mode names node i "<name>-i" on
// basePort+i, so the spec with more nodes declares every node of the other.
ClusterSpec UnionSpecOf(const ClusterSpec& from, const ClusterSpec& to) {
  ClusterSpec u = to;
  if (from.NodeCount() > to.NodeCount()) {
    u.masters = from.masters;
    u.replicas_per_master = from.replicas_per_master;
    u.slots = from.slots;
  }
  return u;
}

}  // namespace

ClusterManager::ClusterManager(ManagerHooks hooks, ManagerOptions opts)
    : hooks_(std::move(hooks)),
      opts_(std::move(opts)),
      clock_(opts_.clock ? *opts_.clock : RealClock::Get()) {}

ClusterManager::~ClusterManager() { Shutdown(); }

std::string ClusterManager::Now() const {
  return Rfc3339(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.WallNow().time_since_epoch())
          .count());
}

StateStore ClusterManager::StoreOf(const std::string& name) const {
  return StateStore(StateStore::ClusterDir(opts_.state_dir, name));
}

std::shared_ptr<ClusterManager::Managed> ClusterManager::Find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = clusters_.find(name);
  return it == clusters_.end() ? nullptr : it->second;
}

void ClusterManager::StopThreads(Managed& m) {
  m.stop = true;
  m.provider->Cancel();
  if (m.rec) m.rec->Wake();
  if (m.starter.joinable()) m.starter.join();
  if (m.worker.joinable()) m.worker.join();
}

void ClusterManager::Shutdown() {
  std::map<std::string, std::shared_ptr<Managed>> all;
  std::vector<std::thread> reapers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(clusters_);
    reapers.swap(reapers_);
  }
  // Every cluster is told first, then waited for: they stop in parallel.
  for (auto& [name, m] : all) {
    m->stop = true;
    m->provider->Cancel();
    m->rec->Wake();
  }
  for (auto& [name, m] : all) {
    StopThreads(*m);
    ops_.FinishAll(name,
                   Aborted("the daemon stopped; an interrupted scale operation resumes at its "
                           "next start"),
                   Now());
  }
  for (std::thread& t : reapers) t.join();
}

model::DesiredCluster ClusterManager::DesiredFor(const Managed& m, const ClusterSpec& spec) const {
  model::DesiredCluster d = hooks_.desired(spec, m.provider->Nodes());
  std::lock_guard<std::mutex> lock(mu_);
  if (m.layout.size() == d.shard_slots.size()) d.shard_slots = m.layout;
  return d;
}

model::DesiredCluster ClusterManager::ResizeDesired(const Managed& m, const ClusterSpec& to,
                                                    const std::vector<std::string>& retired) const {
  model::DesiredCluster d = hooks_.desired(to, m.provider->Nodes());
  std::vector<std::string> names = hooks_.node_names(to);
  std::set<std::string> staying(names.begin(), names.end());
  model::ResizeGoal goal{to.masters, to.slots.weights, to.slots.ranges, {}};
  for (const model::DesiredNode& n : d.nodes) {
    if (!staying.count(n.name) &&
        std::find(retired.begin(), retired.end(), n.name) == retired.end()) {
      goal.leaving.push_back(n.name);
    }
  }
  d.resize = std::move(goal);
  return d;
}

Status ClusterManager::Start(const SpecRecord& rec, bool created,
                             const std::optional<OperationRecord>& resume) {
  const std::string name = rec.spec.name;
  {
    // The name is taken before anything is touched: a second create of the same cluster is
    // refused without rewriting the first one's files.
    std::lock_guard<std::mutex> lock(mu_);
    if (clusters_.count(name)) return AlreadyExists("cluster " + name + " already exists");
    if (busy_names_.count(name)) {
      return Aborted("cluster " + name + " is being set up or deleted; try again shortly");
    }
    busy_names_.insert(name);
  }
  auto release = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    busy_names_.erase(name);
  };
  auto m = std::make_shared<Managed>();
  m->name = name;
  m->spec = rec.spec;
  m->generation = rec.generation;
  m->created = created;
  m->scaling = resume;
  if (static_cast<int>(rec.layout.size()) == rec.spec.masters || resume) m->layout = rec.layout;
  Result<std::optional<std::string>> pw = hooks_.password(rec.spec);
  if (!pw.ok()) {
    release();
    return std::move(pw).error();
  }
  m->password = *pw;
  // A resumed scale operation runs the nodes it started from and those of its goal; the ones
  // it retired already stay gone.
  const ClusterSpec nodes_spec = resume ? UnionSpecOf(resume->from, rec.spec) : rec.spec;
  m->provider = hooks_.make_provider(nodes_spec, m->password);
  if (resume) {
    for (const std::string& gone : resume->retired) (void)m->provider->RetireNode(gone);
  }
  Status st = m->provider->Prepare();
  if (st.ok() && created) st = StoreOf(name).SaveSpec(rec);
  if (!st.ok()) {
    release();
    return st;
  }
  Options ropts;
  ropts.client = opts_.client;
  if (m->password) {
    ropts.client.password = Redacted<std::string>(*m->password);
    ropts.client.has_password = true;
  }
  ropts.state_dir = StateStore::ClusterDir(opts_.state_dir, name);
  ropts.generation = rec.generation;
  ropts.node_timeout_ms = rec.spec.redis.node_timeout_ms;
  ropts.clock = &clock_;
  ReconcilerHooks rh;
  Managed* raw = m.get();
  rh.on_operation_end = [this, raw](const OperationEnd& end) { OnOperationEnd(*raw, end); };
  rh.on_retired = [this, raw](const std::string& node) { OnRetired(*raw, node); };
  model::DesiredCluster desired =
      resume ? ResizeDesired(*m, rec.spec, resume->retired) : DesiredFor(*m, rec.spec);
  m->rec = std::make_unique<Reconciler>(std::move(desired), *m->provider, ops_, ropts, rh);
  {
    std::lock_guard<std::mutex> lock(mu_);
    clusters_[name] = m;
    busy_names_.erase(name);
  }
  if (resume) {
    auto op = ops_.Reserve(name, OperationKind::kScale, Now());
    if (op.ok()) {
      spdlog::info("cluster={} resuming the interrupted scale operation from {}x{} as {}", name,
                   resume->from.masters, resume->from.replicas_per_master, op->id);
      m->rec->Follow({op->id, OperationKind::kScale, rec.generation});
    }
  }
  const std::chrono::milliseconds ready(10000 + 100 * nodes_spec.NodeCount());
  m->starter = std::thread([this, m, name, ready] {
    Status started = m->provider->Start();
    if (started.ok()) started = m->provider->WaitReady(ready);
    if (started.ok()) {
      auto nodes = m->provider->Nodes();
      long adopted =
          std::count_if(nodes.begin(), nodes.end(), [](const NodeRuntime& n) { return n.adopted; });
      spdlog::info("cluster={} {} nodes: {} started, {} adopted", name, nodes.size(),
                   static_cast<long>(nodes.size()) - adopted, adopted);
      return;
    }
    if (m->stop.load()) return;
    spdlog::error("cluster={} {}", name, started.error().message());
    if (hooks_.on_start_failed) hooks_.on_start_failed(name, started);
  });
  m->worker = std::thread([m] { m->rec->Run(m->stop); });
  return Status::Ok();
}

void ClusterManager::OnOperationEnd(Managed& m, const OperationEnd& end) {
  if (end.op.kind == OperationKind::kCreate) {
    if (hooks_.on_first_converge) hooks_.on_first_converge(m.name, end.result, m.created);
    return;
  }
  if (end.op.kind != OperationKind::kScale) return;
  SpecRecord rec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    m.layout = end.layout;
    if (end.result.ok()) m.scaling.reset();
    rec = {m.spec, m.generation, m.layout};
  }
  StateStore store = StoreOf(m.name);
  if (Status st = store.SaveSpec(rec); !st.ok()) {
    spdlog::error("cluster={} cannot persist the new layout: {}", m.name, st.error().message());
  }
  if (!end.result.ok()) return;  // operation.json stays: the next start tries again
  (void)store.RemoveFile("operation.json");
  (void)store.RemoveFile("migration.json");
  // The provider runs exactly the spec's nodes from now on (the leaving ones are retired).
  if (Status st = m.provider->Reconfigure(rec.spec); !st.ok()) {
    spdlog::warn("cluster={} {}", m.name, st.error().message());
  }
}

void ClusterManager::OnRetired(Managed& m, const std::string& node) {
  std::optional<OperationRecord> rec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!m.scaling) return;
    m.scaling->retired.push_back(node);
    rec = m.scaling;
  }
  if (Status st = StoreOf(m.name).SaveOperation(*rec); !st.ok()) {
    spdlog::warn("cluster={} cannot record that {} was retired: {}", m.name, node,
                 st.error().message());
  }
}

std::vector<Error> ClusterManager::Load() {
  std::vector<Error> problems;
  std::string root = AbsolutePath(opts_.state_dir) + "/clusters";
  DIR* dir = ::opendir(root.c_str());
  if (!dir) return problems;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    StateStore store = StoreOf(name);
    auto rec = store.LoadSpec();
    if (!rec.ok()) {
      problems.push_back(std::move(rec).error().Wrap("cluster " + name));
      continue;
    }
    if (!*rec) continue;  // a status-only dir: not managed here
    auto op = store.LoadOperation();
    std::optional<OperationRecord> resume;
    if (op.ok() && *op && (*op)->generation == (*rec)->generation) resume = **op;
    Status st = Start(**rec, false, resume);
    if (!st.ok()) problems.push_back(std::move(st).error().Wrap("cluster " + name));
  }
  return problems;
}

Result<ClusterRecord> ClusterManager::Create(const ClusterSpec& spec) {
  if (Find(spec.name)) return AlreadyExists("cluster " + spec.name + " already exists");
  SK_TRY(Start({spec, 1, {}}, true, std::nullopt));
  auto m = Find(spec.name);
  if (!m) return Internal("cluster " + spec.name + " vanished");
  auto op = ops_.Reserve(spec.name, OperationKind::kCreate, Now());
  if (op.ok()) m->rec->Follow({op->id, OperationKind::kCreate, 1});
  return Get(spec.name);
}

Result<ClusterRecord> ClusterManager::Apply(const ClusterSpec& spec) {
  if (Find(spec.name)) {
    SK_TRY(Replace(spec));
    return Get(spec.name);
  }
  StateStore store = StoreOf(spec.name);
  auto persisted = store.LoadSpec();
  if (!persisted.ok()) {
    spdlog::warn("cluster={} {}; starting from the given spec", spec.name,
                 persisted.error().message());
  }
  if (!persisted.ok() || !*persisted) return Create(spec);
  SpecRecord rec = **persisted;
  auto op_rec = store.LoadOperation();
  const bool pending = op_rec.ok() && *op_rec && (*op_rec)->generation == rec.generation;
  if (SameTopology(rec.spec, spec) && !pending) {
    // Same shape: started from the given spec (its nodes may have new addresses). The layout
    // the cluster has (after earlier reshards) stays; the spec's settings apply.
    if (codec::SpecToJson(rec.spec) != codec::SpecToJson(spec)) ++rec.generation;
    rec.spec = spec;
    SK_TRY(Start(rec, false, std::nullopt));
    SK_TRY(store.SaveSpec(rec));
    auto m = Find(spec.name);
    auto op = ops_.Reserve(spec.name, OperationKind::kCreate, Now());
    if (m && op.ok()) m->rec->Follow({op->id, OperationKind::kCreate, rec.generation});
    return Get(spec.name);
  }
  // Managed before with another shape (or an operation was interrupted): take the cluster
  // as it was, then change it.
  spdlog::info(
      "cluster={} state dir holds generation {} with {}x{}; the given spec becomes a "
      "scale operation",
      spec.name, rec.generation, rec.spec.masters, rec.spec.replicas_per_master);
  std::optional<OperationRecord> resume;
  if (pending) resume = **op_rec;
  SK_TRY(Start(rec, false, resume));
  if (codec::SpecToJson(rec.spec) != codec::SpecToJson(spec)) {
    if (resume) {
      return FailedPrecondition(
          "cluster " + spec.name + " is resuming an interrupted scale operation towards " +
          std::to_string(rec.spec.masters) + "x" + std::to_string(rec.spec.replicas_per_master) +
          "; run up again with this spec once it is done");
    }
    SK_TRY(Replace(spec));
  }
  return Get(spec.name);
}

void ClusterManager::Abandon(const std::string& name) {
  std::shared_ptr<Managed> m;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = clusters_.find(name);
    if (it == clusters_.end()) return;
    m = it->second;
    clusters_.erase(it);
  }
  StopThreads(*m);
  ops_.FinishAll(name, Aborted("cluster " + name + " was given up"), Now());
  m->provider->StopStartedThisRun();
  // Only state this run created goes; a cluster managed before keeps its record.
  if (m->created) (void)StoreOf(name).RemoveAll();
}

Result<Operation> ClusterManager::Replace(const ClusterSpec& spec) {
  auto m = Find(spec.name);
  if (!m) return NotFound("cluster " + spec.name + " is not managed here");
  std::lock_guard<std::mutex> change(m->change_mu);
  if (m->stop.load()) return NotFound("cluster " + spec.name + " is not managed here");
  ClusterSpec current;
  long long generation = 0;
  std::optional<OperationRecord> unfinished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    current = m->spec;
    generation = m->generation;
    unfinished = m->scaling;
  }
  if (!SameNodesPlace(current, spec)) {
    return FailedPrecondition(
        "spec.local (bind, basePort, dataDir) cannot change on a running cluster: its nodes "
        "would move. Create a new cluster instead");
  }
  if (current.auth.has_value() != spec.auth.has_value() ||
      (current.auth && current.auth->password_file != spec.auth->password_file)) {
    return FailedPrecondition("spec.auth.passwordFile cannot change on a running cluster");
  }
  // A scale operation also when the shape is the same but an earlier one did not finish.
  const bool resize = !SameTopology(current, spec) || unfinished.has_value();
  const OperationKind kind = resize ? OperationKind::kScale : OperationKind::kReplace;
  SK_ASSIGN_OR_RETURN(Operation op, ops_.Reserve(spec.name, kind, Now()));
  auto fail = [&](Error e) -> Error {
    ops_.Finish(op.id, e, Now());
    return e;
  };
  // Re-renders the nodes' files and checks the settings first: a refused setting changes
  // nothing; new nodes are started (not yet part of the cluster).
  const ClusterSpec nodes_spec =
      resize ? UnionSpecOf(unfinished ? UnionSpecOf(unfinished->from, current) : current, spec)
             : spec;
  if (Status st = m->provider->Reconfigure(nodes_spec); !st.ok()) {
    return fail(std::move(st).error());
  }
  ++generation;
  StateStore store = StoreOf(spec.name);
  std::optional<OperationRecord> scaling;
  if (resize) {
    // Recorded before the spec, so that a restart in between finds the operation to resume.
    scaling = OperationRecord{nodes_spec, generation, {}};
    if (Status st = store.SaveOperation(*scaling); !st.ok()) return fail(std::move(st).error());
  }
  std::vector<std::vector<SlotRange>> layout;
  {
    std::lock_guard<std::mutex> lock(mu_);
    layout = m->layout;
  }
  if (Status st = store.SaveSpec({spec, generation, layout}); !st.ok()) {
    return fail(std::move(st).error());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    m->spec = spec;
    m->generation = generation;
    if (resize) m->scaling = scaling;
  }
  model::DesiredCluster desired = resize ? ResizeDesired(*m, spec, {}) : DesiredFor(*m, spec);
  if (resize) {
    spdlog::info("cluster={} {}: scale from {}x{} to {}x{}", spec.name, op.id, current.masters,
                 current.replicas_per_master, spec.masters, spec.replicas_per_master);
    m->rec->Note("Normal", "ScaleStarted",
                 op.id + ": " + std::to_string(current.masters) + "x" +
                     std::to_string(current.replicas_per_master) + " -> " +
                     std::to_string(spec.masters) + "x" + std::to_string(spec.replicas_per_master));
  }
  m->rec->SetDesired(std::move(desired), generation, ActiveOperation{op.id, kind, generation});
  return op;
}

Status ClusterManager::Delete(const std::string& name, bool purge) {
  auto m = Find(name);
  if (!m) return NotFound("cluster " + name + " is not managed here");
  std::lock_guard<std::mutex> change(m->change_mu);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!clusters_.count(name)) return NotFound("cluster " + name + " is not managed here");
    clusters_.erase(name);
    busy_names_.insert(name);
  }
  ops_.FinishAll(name, Aborted("cluster " + name + " was deleted"), Now());
  m->stop = true;
  m->provider->Cancel();
  m->rec->Wake();
  auto finish = [this, m, name, purge]() -> Status {
    StopThreads(*m);
    Status st = purge ? m->provider->Destroy(true) : Status::Ok();
    // Not managed any more: a restart must not pick it up again, and a new cluster of the same
    // name must not inherit its identities ("formed", node IDs).
    Status removed = StoreOf(name).RemoveAll();
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_names_.erase(name);
    }
    SK_TRY(st);
    return removed;
  };
  if (purge) return finish();  // the caller waits: the data is gone when it returns
  // The cluster's threads end within a pass (a move finishes its wave); nobody waits on an
  // API thread for that.
  std::lock_guard<std::mutex> lock(mu_);
  reapers_.emplace_back([finish] { (void)finish(); });
  return Status::Ok();
}

Result<Operation> ClusterManager::Scale(const std::string& name, const ScaleRequest& req) {
  auto m = Find(name);
  if (!m) return NotFound("cluster " + name + " is not managed here");
  ClusterSpec next;
  bool unfinished = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    next = m->spec;
    unfinished = m->scaling.has_value();
  }
  const ClusterSpec current = next;
  if (req.masters && *req.masters != next.masters) {
    next.masters = *req.masters;
    // Weights or ranges were given per master: a new count falls back to the even split.
    next.slots.weights.clear();
    next.slots.ranges.clear();
  }
  if (req.replicas_per_master) next.replicas_per_master = *req.replicas_per_master;
  SK_TRY(Validate(next));
  if (SameTopology(current, next) && !unfinished) {
    return ops_.Record(name, OperationKind::kScale, Status::Ok(), Now());
  }
  return Replace(next);
}

Result<Operation> ClusterManager::Failover(const std::string& name, const std::string& node) {
  auto m = Find(name);
  if (!m) return NotFound("cluster " + name + " is not managed here");
  ClusterStatus s = m->rec->Snapshot();
  const NodeStatus* target = nullptr;
  for (const NodeStatus& n : s.nodes) {
    if (n.id == node || n.host + ":" + std::to_string(n.port) == node || n.name == node)
      target = &n;
  }
  if (!target) return NotFound("cluster " + name + " has no node " + node);
  if (target->role != Role::kReplica) {
    return FailedPrecondition("node " + node + " is a " + std::string(codec::Name(target->role)) +
                              "; CLUSTER FAILOVER promotes a replica: name one of its replicas");
  }
  SK_ASSIGN_OR_RETURN(Operation op, ops_.Reserve(name, OperationKind::kFailover, Now()));
  m->rec->RequestFailover({op.id, OperationKind::kFailover, 0, target->name});
  return op;
}

Result<Operation> ClusterManager::RecoverSlots(const std::string& name, bool accept_data_loss) {
  auto m = Find(name);
  if (!m) return NotFound("cluster " + name + " is not managed here");
  if (!accept_data_loss) {
    return InvalidArgument(
        "acceptDataLoss: recovering re-creates the lost slots EMPTY, their keys are gone for "
        "good; say acceptDataLoss true to do it");
  }
  // The consent covers the slots lost now, as the caller was shown them; a later, unrelated
  // loss needs its own.
  std::vector<SlotRange> lost = m->rec->LostSlots();
  if (lost.empty()) {
    return FailedPrecondition("cluster " + name +
                              " has no lost slots: every slot is served, or held by a node that "
                              "answers; there is nothing to recover");
  }
  SK_ASSIGN_OR_RETURN(Operation op, ops_.Reserve(name, OperationKind::kRecoverSlots, Now()));
  spdlog::warn("cluster={} {}: recover-slots with data loss accepted for slots {}", name, op.id,
               RangesToString(lost));
  m->rec->RequestRecoverSlots({op.id, OperationKind::kRecoverSlots, 0, "", lost});
  return op;
}

std::vector<ClusterSummary> ClusterManager::List() const {
  std::vector<std::shared_ptr<Managed>> all;
  std::vector<ClusterSummary> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [n, m] : clusters_) {
    out.push_back({n, m->rec->Snapshot().phase, m->generation});
  }
  return out;
}

Result<ClusterRecord> ClusterManager::Get(const std::string& name) const {
  auto m = Find(name);
  if (!m) return NotFound("cluster " + name + " is not managed here");
  ClusterRecord r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    r.spec = m->spec;
    r.generation = m->generation;
  }
  r.status = m->rec->Snapshot();
  r.operation = ops_.Running(name);
  // The snapshot is as of the last pass; an operation reserved since is shown already.
  if (r.operation && !r.status.operation) {
    r.status.operation = r.operation->id;
    if (r.operation->kind == OperationKind::kScale && r.status.phase != Phase::kDegraded) {
      r.status.phase = Phase::kScaling;
    }
  }
  return r;
}

Result<std::vector<Event>> ClusterManager::Events(const std::string& name) const {
  auto m = Find(name);
  if (!m) return NotFound("cluster " + name + " is not managed here");
  return m->rec->Events();
}

Result<Operation> ClusterManager::GetOperation(const std::string& id) const { return ops_.Get(id); }

bool ClusterManager::Ready() const {
  for (const ClusterSummary& s : List()) {
    if (s.phase != Phase::kReady) return false;
  }
  return true;
}

std::string ClusterManager::MetricsText() const {
  std::vector<ClusterMetrics> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [n, m] : clusters_) {
      all.push_back({n, m->rec->Snapshot(), m->rec->Counters()});
    }
  }
  return reconcile::MetricsText(all, ops_.AllRunning());
}

}  // namespace sk::reconcile
