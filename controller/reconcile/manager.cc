#include "controller/reconcile/manager.h"

#include <dirent.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/codec/spec_codec.h"
#include "api/types/files.h"
#include "controller/reconcile/managed.h"
#include "controller/reconcile/state_store.h"
#include "controller/reconcile/status_builder.h"

namespace sk::reconcile {

using Clock = std::chrono::steady_clock;

namespace {

// When an operation started, from its RFC 3339 start time.
std::chrono::system_clock::time_point StartedAt(const Operation& op) {
  std::tm tm{};
  int ms = 0;
  std::sscanf(op.started_at.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
              &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(ms);
}

long long NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A topology change (masters, replicas, slot split) needs moving slots between masters.
bool SameTopology(const ClusterSpec& a, const ClusterSpec& b) {
  return a.masters == b.masters && a.replicas_per_master == b.replicas_per_master &&
         a.slots.weights == b.slots.weights && a.slots.ranges == b.slots.ranges &&
         a.local.bind == b.local.bind && a.local.base_port == b.local.base_port &&
         a.local.data_dir == b.local.data_dir;
}

std::string Label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::vector<std::vector<SlotRange>> LayoutFromJson(const nlohmann::json& j) {
  std::vector<std::vector<SlotRange>> layout;
  if (!j.contains("layout")) return layout;
  for (const auto& shard : j.at("layout")) {
    std::vector<SlotRange> ranges;
    for (const auto& r : shard) ranges.push_back({r.at(0).get<int>(), r.at(1).get<int>()});
    layout.push_back(std::move(ranges));
  }
  return layout;
}

}  // namespace

// The nodes of both specs: the indices of a local cluster's nodes are a prefix of a bigger
// one's, so the spec with more nodes declares them all.
ClusterSpec UnionSpecOf(const ClusterSpec& from, const ClusterSpec& to) {
  ClusterSpec u = to;
  if (from.NodeCount() > to.NodeCount()) {
    u.masters = from.masters;
    u.replicas_per_master = from.replicas_per_master;
    u.slots = from.slots;
  }
  return u;
}

Status ClusterManager::StartPersisted(const ClusterSpec& spec, const nlohmann::json& j) {
  long long generation = j.value("generation", 1LL);
  auto layout = LayoutFromJson(j);
  std::string dir = StateStore::ClusterDir(opts_.state_dir, spec.name);
  auto op_text = ReadFile(dir + "/" + kOperationFile);
  if (!op_text.ok()) return Start(spec, generation, false, nullptr, layout);
  // A scale operation was interrupted (the daemon was stopped or killed): carry on.
  nlohmann::json op = nlohmann::json::parse(*op_text);
  auto from = codec::ParseSpec(op.at("from").dump());
  if (!from.ok() || op.value("generation", 0LL) != generation) {
    spdlog::warn("cluster={} ignoring {}: it does not match spec generation {}", spec.name,
                 kOperationFile, generation);
    return Start(spec, generation, false, nullptr, layout);
  }
  ClusterSpec nodes = UnionSpecOf(*from, spec);
  SK_TRY(Start(spec, generation, false, &nodes, layout));
  auto m = Find(spec.name);
  if (!m) return Internal("cluster " + spec.name + " vanished");
  Operation o = NewOperation(spec.name, "scale");
  spdlog::info("cluster={} resuming the interrupted scale operation as {}", spec.name, o.id);
  StartResize(m, *from, generation, o.id);
  return Status::Ok();
}

ClusterManager::ClusterManager(ManagerHooks hooks, ManagerOptions opts)
    : hooks_(std::move(hooks)), opts_(std::move(opts)) {}

ClusterManager::~ClusterManager() { Shutdown(); }

void ClusterManager::Shutdown() {
  std::map<std::string, std::shared_ptr<Managed>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(clusters_);
  }
  // Every cluster is told first, then waited for: they stop in parallel.
  for (auto& [name, m] : all) SignalStop(*m);
  for (auto& [name, m] : all) JoinThreads(*m);
}

void ClusterManager::SignalStop(Managed& m) {
  m.stop = true;
  m.halt = true;
  m.provider->Cancel();
  m.rec->Wake();
}

void ClusterManager::JoinThreads(Managed& m) {
  if (m.op_thread.joinable()) m.op_thread.join();
  if (m.starter.joinable()) m.starter.join();
  std::lock_guard<std::mutex> life(m.life_mu);
  if (m.worker.joinable()) m.worker.join();
}

void ClusterManager::StopThreads(Managed& m) {
  SignalStop(m);
  JoinThreads(m);
}

std::optional<Error> ClusterManager::Busy(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, op] : operations_) {
    if (op.cluster == name && op.state == "running" && op.kind != "create") {
      return Aborted("operation " + id + " (" + op.kind + ") is still running on " + name);
    }
  }
  return std::nullopt;
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
  m->provider->StopStartedThisRun();
  (void)RemoveTree(StateStore::ClusterDir(opts_.state_dir, name) + "/spec.json");
}

Status ClusterManager::Persist(const ClusterSpec& spec, long long generation,
                               const std::vector<std::vector<SlotRange>>& layout) const {
  nlohmann::json j = {{"generation", generation},
                      {"spec", nlohmann::json::parse(codec::SpecToJson(spec))}};
  if (!layout.empty()) {
    nlohmann::json shards = nlohmann::json::array();
    for (const auto& ranges : layout) {
      nlohmann::json list = nlohmann::json::array();
      for (const SlotRange& r : ranges) list.push_back({r.start, r.end});
      shards.push_back(list);
    }
    j["layout"] = shards;
  }
  StateStore store(StateStore::ClusterDir(opts_.state_dir, spec.name));
  return store.SaveFile("spec.json", j.dump(2) + "\n");
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
  for (const std::string& name : names) {
    auto text = ReadFile(root + "/" + name + "/spec.json");
    if (!text.ok()) continue;  // a status-only dir (e.g. from `up`): not managed here
    try {
      nlohmann::json j = nlohmann::json::parse(*text);
      auto spec = codec::ParseSpec(j.at("spec").dump());
      if (!spec.ok()) {
        problems.push_back(std::move(spec).error().Wrap("cluster " + name));
        continue;
      }
      Status st = StartPersisted(*spec, j);
      if (!st.ok()) problems.push_back(std::move(st).error().Wrap("cluster " + name));
    } catch (const std::exception& e) {
      problems.push_back(Internal("cluster " + name + ": spec.json is corrupt: " + e.what()));
    }
  }
  return problems;
}

std::shared_ptr<ClusterManager::Managed> ClusterManager::Find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = clusters_.find(name);
  return it == clusters_.end() ? nullptr : it->second;
}

Status ClusterManager::Start(const ClusterSpec& spec, long long generation, bool persist,
                             const ClusterSpec* nodes_spec,
                             std::vector<std::vector<SlotRange>> layout) {
  if (!spec.hosts.empty()) {
    return FailedPrecondition(
        "spec.hosts: multi-host agents are not available in this version "
        "yet; use spec.local");
  }
  auto m = std::make_shared<Managed>();
  m->spec = spec;
  m->generation = generation;
  if (static_cast<int>(layout.size()) == spec.masters) m->layout = std::move(layout);
  SK_ASSIGN_OR_RETURN(m->password, hooks_.password(spec));
  m->provider = hooks_.make_provider(nodes_spec ? *nodes_spec : spec, m->password);
  SK_TRY(m->provider->Prepare());
  if (persist) SK_TRY(Persist(spec, generation, m->layout));
  Options ropts;
  ropts.client = opts_.client;
  if (m->password) {
    ropts.client.password = Redacted<std::string>(*m->password);
    ropts.client.has_password = true;
  }
  ropts.state_dir = StateStore::ClusterDir(opts_.state_dir, spec.name);
  ropts.generation = generation;
  m->rec = std::make_unique<Reconciler>(DesiredFor(*m, spec), *m->provider, ropts);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (clusters_.count(spec.name)) return AlreadyExists("cluster " + spec.name + " exists");
    clusters_[spec.name] = m;
  }
  const std::string name = spec.name;
  const std::chrono::milliseconds ready(10000 + 100 * spec.NodeCount());
  m->starter = std::thread([this, m, name, ready] {
    Status st = m->provider->Start();
    if (st.ok()) st = m->provider->WaitReady(ready);
    if (st.ok()) {
      auto nodes = m->provider->Nodes();
      long adopted =
          std::count_if(nodes.begin(), nodes.end(), [](const NodeRuntime& n) { return n.adopted; });
      spdlog::info("cluster={} {} nodes: {} started, {} adopted", name, nodes.size(),
                   static_cast<long>(nodes.size()) - adopted, adopted);
      return;
    }
    if (m->stop.load()) return;
    spdlog::error("cluster={} {}", name, st.error().message());
    if (hooks_.on_start_failed) hooks_.on_start_failed(name, st);
  });
  Resume(m);
  return Status::Ok();
}

model::DesiredCluster ClusterManager::DesiredFor(const Managed& m, const ClusterSpec& spec) const {
  model::DesiredCluster d = hooks_.desired(spec, m.provider->Nodes());
  if (m.layout.size() == d.shard_slots.size()) d.shard_slots = m.layout;
  return d;
}

void ClusterManager::Pause(Managed& m) {
  std::lock_guard<std::mutex> life(m.life_mu);
  m.halt = true;
  m.rec->Wake();
  if (m.worker.joinable()) m.worker.join();
}

void ClusterManager::Resume(const std::shared_ptr<Managed>& m) {
  std::lock_guard<std::mutex> life(m->life_mu);
  if (m->stop.load() || m->worker.joinable()) return;
  m->halt = false;
  m->worker = std::thread([this, m] { Run(m); });
}

void ClusterManager::Run(std::shared_ptr<Managed> m) {
  const std::string name = m->spec.name;  // names never change
  if (!m->first_done) {
    Status first = m->rec->Converge(m->halt);
    if (m->halt.load()) return;  // paused before the first result: the next Run reports it
    m->first_done = true;
    if (!m->create_op.empty()) FinishOperation(m->create_op, first);
    if (hooks_.on_first_converge) hooks_.on_first_converge(name, first);
    if (!first.ok()) spdlog::error("cluster={} {}", name, first.error().message());
  }
  // A daemon keeps at it: a blocker may be lifted by a person, a stall may pass.
  m->rec->Run(m->halt);
}

std::pair<ClusterSpec, long long> ClusterManager::SpecOf(const Managed& m) const {
  std::lock_guard<std::mutex> lock(mu_);
  return {m.spec, m.generation};
}

Operation ClusterManager::NewOperation(const std::string& cluster, const std::string& kind) {
  std::lock_guard<std::mutex> lock(mu_);
  char id[32];
  std::snprintf(id, sizeof id, "op-%06lld", next_op_++);
  Operation op{id, cluster, kind, "running", 0, 0, 0, 0, Rfc3339(NowMs()), "", ""};
  operations_[op.id] = op;
  return op;
}

void ClusterManager::FinishOperation(const std::string& id, const Status& result) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = operations_.find(id);
  if (it == operations_.end() || it->second.state != "running") return;
  it->second.state = result.ok() ? "succeeded" : "failed";
  it->second.progress = result.ok() ? 1 : it->second.progress;
  it->second.finished_at = Rfc3339(NowMs());
  if (!result.ok()) it->second.error = result.error().message();
}

std::vector<ClusterSummary> ClusterManager::List() const {
  std::vector<std::shared_ptr<Managed>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [n, m] : clusters_) all.push_back(m);
  }
  std::vector<ClusterSummary> out;
  for (const auto& m : all) {
    auto [spec, generation] = SpecOf(*m);
    out.push_back({spec.name, m->rec->Snapshot().phase, generation});
  }
  return out;
}

Result<ClusterRecord> ClusterManager::Get(const std::string& name) const {
  auto m = Find(name);
  if (!m) return NotFound("cluster " + name + " is not managed here");
  auto [spec, generation] = SpecOf(*m);
  ClusterRecord r{spec, generation, m->rec->Snapshot(), std::nullopt};
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, op] : operations_) {
    if (op.cluster == name && op.state == "running") r.operation = op;
  }
  if (r.operation) {
    r.status.operation = r.operation->id;
    if (r.operation->kind == "scale") r.status.phase = "Scaling";
  }
  return r;
}

Result<ClusterRecord> ClusterManager::Create(const ClusterSpec& spec) {
  if (Find(spec.name)) return AlreadyExists("cluster " + spec.name + " already exists");
  Operation op = NewOperation(spec.name, "create");
  Status st = Start(spec, 1, true);
  if (!st.ok()) {
    FinishOperation(op.id, st);
    return std::move(st).error();
  }
  if (auto m = Find(spec.name)) m->create_op = op.id;
  return Get(spec.name);
}

Result<ClusterRecord> ClusterManager::Apply(const ClusterSpec& spec) {
  if (Find(spec.name)) {
    SK_TRY(Replace(spec));
    return Get(spec.name);
  }
  std::string dir = StateStore::ClusterDir(opts_.state_dir, spec.name);
  auto text = ReadFile(dir + "/spec.json");
  if (!text.ok()) return Create(spec);
  nlohmann::json j;
  Result<ClusterSpec> persisted = InvalidArgument("no spec");
  try {
    j = nlohmann::json::parse(*text);
    persisted = codec::ParseSpec(j.at("spec").dump());
  } catch (const std::exception& e) {
    spdlog::warn("cluster={} {}/spec.json is corrupt ({}); starting from the given spec", spec.name,
                 dir, e.what());
  }
  if (!persisted.ok()) return Create(spec);
  const bool pending_op = ReadFile(dir + "/" + kOperationFile).ok();
  const bool same_shape = persisted->masters == spec.masters &&
                          persisted->replicas_per_master == spec.replicas_per_master &&
                          persisted->slots.weights == spec.slots.weights &&
                          persisted->slots.ranges == spec.slots.ranges;
  if (same_shape && !pending_op) {
    // Same shape: started from the given spec (its nodes may have new addresses).
    // The layout the cluster has (after earlier reshards) stays; the spec's settings apply.
    Operation op = NewOperation(spec.name, "create");
    long long generation = j.value("generation", 1LL);
    if (codec::SpecToJson(*persisted) != codec::SpecToJson(spec)) ++generation;
    Status st = Start(spec, generation, true, nullptr, LayoutFromJson(j));
    if (!st.ok()) {
      FinishOperation(op.id, st);
      return std::move(st).error();
    }
    if (auto m = Find(spec.name)) m->create_op = op.id;
    return Get(spec.name);
  }
  // Managed before with another shape (or an operation was interrupted): take the cluster
  // as it was, then change it.
  spdlog::info(
      "cluster={} state dir holds generation {} with {}x{}; the given spec becomes a "
      "scale operation",
      spec.name, j.value("generation", 1LL), persisted->masters, persisted->replicas_per_master);
  SK_TRY(StartPersisted(*persisted, j));
  if (codec::SpecToJson(*persisted) != codec::SpecToJson(spec)) SK_TRY(Replace(spec));
  return Get(spec.name);
}

Result<Operation> ClusterManager::Replace(const ClusterSpec& spec) {
  auto m = Find(spec.name);
  if (!m) return NotFound("cluster " + spec.name + " is not managed here");
  if (auto busy = Busy(spec.name)) return *busy;
  auto [current, current_generation] = SpecOf(*m);
  if (current.local.bind != spec.local.bind || current.local.base_port != spec.local.base_port ||
      current.local.data_dir != spec.local.data_dir) {
    return FailedPrecondition(
        "spec.local (bind, basePort, dataDir) cannot change on a running cluster: its nodes "
        "would move. Create a new cluster instead");
  }
  if (current.auth.has_value() != spec.auth.has_value() ||
      (current.auth && current.auth->password_file != spec.auth->password_file)) {
    return FailedPrecondition("spec.auth.passwordFile cannot change on a running cluster");
  }
  const bool resize = !SameTopology(current, spec);
  SK_ASSIGN_OR_RETURN(auto password, hooks_.password(spec));
  auto provider = hooks_.make_provider(spec, password);
  // Re-render the files (redis.conf) and re-check the settings with redis-server first:
  // a refused setting changes nothing.
  SK_TRY(provider->Prepare());
  long long generation = current_generation + 1;
  if (resize) {
    // Recorded before the spec, so that a restart in between finds the operation to resume.
    nlohmann::json rec = {{"kind", "scale"},
                          {"generation", generation},
                          {"from", nlohmann::json::parse(codec::SpecToJson(current))}};
    StateStore store(StateStore::ClusterDir(opts_.state_dir, spec.name));
    SK_TRY(store.SaveFile(kOperationFile, rec.dump(2) + "\n"));
  }
  SK_TRY(Persist(spec, generation, resize ? std::vector<std::vector<SlotRange>>{} : m->layout));
  Operation op = NewOperation(spec.name, resize ? "scale" : "replace");
  {
    std::lock_guard<std::mutex> lock(mu_);
    m->spec = spec;
    m->generation = generation;
  }
  if (resize) {
    StartResize(m, current, generation, op.id);
  } else {
    m->rec->SetDesired(DesiredFor(*m, spec), generation);
  }
  return op;
}

Status ClusterManager::Delete(const std::string& name, bool purge) {
  std::shared_ptr<Managed> m;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = clusters_.find(name);
    if (it == clusters_.end()) return NotFound("cluster " + name + " is not managed here");
    m = it->second;
    clusters_.erase(it);
  }
  StopThreads(*m);
  std::string dir = StateStore::ClusterDir(opts_.state_dir, name);
  Status st = purge ? m->provider->Destroy(true) : Status::Ok();
  // Not managed any more: a restart must not pick it up again.
  Status removed = purge ? RemoveTree(dir) : RemoveTree(dir + "/spec.json");
  SK_TRY(st);
  return removed;
}

Result<Operation> ClusterManager::Scale(const std::string& name, const ScaleRequest& req) {
  auto m = Find(name);
  if (!m) return NotFound("cluster " + name + " is not managed here");
  ClusterSpec next = SpecOf(*m).first;
  if (req.masters && *req.masters != next.masters) {
    next.masters = *req.masters;
    // Weights or ranges were given per master: a new count falls back to the even split.
    next.slots.weights.clear();
    next.slots.ranges.clear();
  }
  if (req.replicas_per_master) next.replicas_per_master = *req.replicas_per_master;
  SK_TRY(Validate(next));
  if (SameTopology(SpecOf(*m).first, next)) {
    Operation op = NewOperation(name, "scale");
    FinishOperation(op.id, Status::Ok());
    return GetOperation(op.id);
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
  if (target->role != "replica") {
    return FailedPrecondition("node " + node + " is a " + target->role +
                              "; CLUSTER FAILOVER promotes a replica: name one of its replicas");
  }
  Operation op = NewOperation(name, "failover");
  std::string id = op.id;
  m->rec->RequestFailover(target->name, [this, id](const Status& st) {
    if (!st.ok()) FinishOperation(id, st);
  });
  // Succeeds once the node reports itself master (checked when the operation is read).
  {
    std::lock_guard<std::mutex> lock(mu_);
    failover_targets_[id] = {name, target->name};
  }
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
  if (auto busy = Busy(name)) return *busy;
  ClusterStatus s = m->rec->Snapshot();
  if (s.slots_assigned == kSlots && s.phase != "Degraded") {
    return FailedPrecondition("cluster " + name +
                              " serves all 16384 slots: there is nothing to recover");
  }
  Operation op = NewOperation(name, "recover-slots");
  spdlog::warn("cluster={} {}: recover-slots with data loss accepted", name, op.id);
  m->rec->RequestRecoverSlots();
  return op;
}

Result<std::vector<Event>> ClusterManager::Events(const std::string& name) const {
  auto m = Find(name);
  if (!m) return NotFound("cluster " + name + " is not managed here");
  return m->rec->Events();
}

Result<Operation> ClusterManager::GetOperation(const std::string& id) const {
  Operation op;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = operations_.find(id);
    if (it == operations_.end()) return NotFound("operation " + id + " does not exist");
    op = it->second;
  }
  if (op.state != "running") return op;
  auto m = Find(op.cluster);
  if (!m) return op;
  ClusterStatus s = m->rec->Snapshot();
  // Running operations finish when the snapshot shows their effect.
  if (op.kind == "replace") {
    if (s.phase == "Ready" && s.observed_generation >= SpecOf(*m).second) {
      FinishOperation(id, Status::Ok());
    }
  } else if (op.kind == "recover-slots") {
    if (s.phase == "Ready" && s.slots_assigned == kSlots) {
      FinishOperation(id, Status::Ok());
    } else if (std::chrono::system_clock::now() - StartedAt(op) > std::chrono::seconds(60)) {
      FinishOperation(id, DeadlineExceeded("the lost slots were not re-covered within 60 s: " +
                                           (s.conditions.empty() ? std::string("see the status")
                                                                 : s.conditions[0].message)));
    }
  } else if (op.kind == "failover") {
    std::string node;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto t = failover_targets_.find(id);
      if (t != failover_targets_.end()) node = t->second.second;
    }
    for (const NodeStatus& n : s.nodes) {
      if (!node.empty() && n.name == node && n.role == "master") FinishOperation(id, Status::Ok());
    }
    // Redis gives a manual failover 5 s; a few passes more, then it failed.
    if (std::chrono::system_clock::now() - StartedAt(op) > std::chrono::seconds(15)) {
      FinishOperation(id, DeadlineExceeded("CLUSTER FAILOVER on " + node +
                                           " did not make it master within 15 s (its master "
                                           "must answer; see the node's log)"));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  return operations_.at(id);
}

bool ClusterManager::Ready() const {
  for (const ClusterSummary& s : List()) {
    if (s.phase != "Ready") return false;
  }
  return true;
}

std::string ClusterManager::MetricsText() const {
  std::vector<std::shared_ptr<Managed>> all;
  std::vector<Operation> ops;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [n, m] : clusters_) all.push_back(m);
    for (const auto& [id, op] : operations_) {
      if (op.state == "running") ops.push_back(op);
    }
  }
  std::ostringstream o;
  auto head = [&o](const char* name, const char* type, const char* help) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  };
  head("slotkeeper_cluster_state", "gauge",
       "1 when every node of the cluster reports cluster_state:ok.");
  for (const auto& m : all) {
    o << "slotkeeper_cluster_state{cluster=\"" << SpecOf(*m).first.name << "\"} "
      << (m->rec->Snapshot().cluster_state == "ok" ? 1 : 0) << "\n";
  }
  head("slotkeeper_cluster_phase", "gauge", "1 for the cluster's current phase.");
  for (const auto& m : all) {
    std::string phase = m->rec->Snapshot().phase;
    for (const char* p : {"Creating", "Ready", "Scaling", "Healing", "Degraded", "Failed"}) {
      o << "slotkeeper_cluster_phase{cluster=\"" << SpecOf(*m).first.name << "\",phase=\"" << p
        << "\"} " << (phase == p ? 1 : 0) << "\n";
    }
  }
  head("slotkeeper_cluster_slots", "gauge", "Slots by state, as the worst node sees them.");
  head("slotkeeper_cluster_nodes", "gauge", "Nodes by role and link state.");
  head("slotkeeper_cluster_open_slots", "gauge", "Slots left MIGRATING or IMPORTING.");
  for (const auto& m : all) {
    ClusterStatus s = m->rec->Snapshot();
    const std::string c = "cluster=\"" + SpecOf(*m).first.name + "\"";
    o << "slotkeeper_cluster_slots{" << c << ",state=\"assigned\"} " << s.slots_assigned << "\n"
      << "slotkeeper_cluster_slots{" << c << ",state=\"ok\"} " << s.slots_ok << "\n"
      << "slotkeeper_cluster_slots{" << c << ",state=\"pfail\"} " << s.slots_pfail << "\n"
      << "slotkeeper_cluster_slots{" << c << ",state=\"fail\"} " << s.slots_fail << "\n";
    std::map<std::pair<std::string, std::string>, int> nodes;
    for (const NodeStatus& n : s.nodes) nodes[{n.role, n.link_state}]++;
    for (const auto& [k, v] : nodes) {
      o << "slotkeeper_cluster_nodes{" << c << ",role=\"" << Label(k.first) << "\",link=\""
        << Label(k.second) << "\"} " << v << "\n";
    }
    o << "slotkeeper_cluster_open_slots{" << c << "} " << s.open_slots.size() << "\n";
  }
  head("slotkeeper_reconcile_duration_seconds", "histogram", "Observe and plan time of a pass.");
  head("slotkeeper_reconcile_total", "counter", "Reconcile passes by result.");
  head("slotkeeper_actions_total", "counter", "Actions taken by kind.");
  head("slotkeeper_action_failures_total", "counter", "Actions that failed by kind.");
  for (const auto& m : all) {
    ReconcileCounters k = m->rec->Counters();
    const std::string c = "cluster=\"" + SpecOf(*m).first.name + "\"";
    long long cumulative = 0;
    constexpr size_t kBuckets = sizeof kDurationBuckets / sizeof kDurationBuckets[0];
    for (size_t b = 0; b <= kBuckets; ++b) {
      cumulative += b < k.duration_buckets.size() ? k.duration_buckets[b] : 0;
      o << "slotkeeper_reconcile_duration_seconds_bucket{" << c << ",le=\"";
      if (b < kBuckets) {
        o << kDurationBuckets[b];
      } else {
        o << "+Inf";
      }
      o << "\"} " << cumulative << "\n";
    }
    o << "slotkeeper_reconcile_duration_seconds_sum{" << c << "} " << k.duration_sum_seconds << "\n"
      << "slotkeeper_reconcile_duration_seconds_count{" << c << "} " << k.passes << "\n";
    for (const auto& [r, v] : k.results) {
      o << "slotkeeper_reconcile_total{" << c << ",result=\"" << r << "\"} " << v << "\n";
    }
    for (const auto& [kind, v] : k.actions) {
      o << "slotkeeper_actions_total{" << c << ",kind=\"" << kind << "\"} " << v << "\n";
    }
    for (const auto& [kind, v] : k.failures) {
      o << "slotkeeper_action_failures_total{" << c << ",kind=\"" << kind << "\"} " << v << "\n";
    }
  }
  head("slotkeeper_slots_migrated_total", "counter", "Slots moved between masters.");
  head("slotkeeper_keys_migrated_total", "counter", "Keys moved between masters.");
  for (const auto& m : all) {
    o << "slotkeeper_slots_migrated_total{cluster=\"" << SpecOf(*m).first.name << "\"} "
      << m->slots_migrated.load() << "\n"
      << "slotkeeper_keys_migrated_total{cluster=\"" << SpecOf(*m).first.name << "\"} "
      << m->keys_migrated.load() << "\n";
  }
  head("slotkeeper_operation_progress", "gauge", "Progress (0..1) of running operations.");
  for (const Operation& op : ops) {
    o << "slotkeeper_operation_progress{cluster=\"" << op.cluster << "\",operation=\"" << op.id
      << "\",kind=\"" << op.kind << "\"} " << op.progress << "\n";
  }
  return o.str();
}

}  // namespace sk::reconcile
