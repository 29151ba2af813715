#include "controller/reconcile/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <thread>

#include "api/codec/status_codec.h"
#include "controller/act/executor.h"
#include "controller/plan/plan.h"
#include "controller/reconcile/status_builder.h"

namespace sk::reconcile {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr size_t kMaxEvents = 200;

long long NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "AddSlots" from "addslots" etc., for event reasons.
std::string Reason(std::string_view kind) {
  static const std::map<std::string_view, std::string> names = {
      {"start", "StartNode"},
      {"reset", "ResetNode"},
      {"set-config-epoch", "SetConfigEpoch"},
      {"addslots", "AddSlots"},
      {"meet", "Meet"},
      {"replicate", "Replicate"},
      {"failover", "Failover"},
      {"forget", "Forget"},
      {"config-set", "ConfigSet"},
      {"settle-slot", "SettleSlot"},
      {"replace-node", "ReplaceNode"}};
  auto it = names.find(kind);
  return it == names.end() ? std::string(kind) : it->second;
}

}  // namespace

Reconciler::Reconciler(model::DesiredCluster desired, NodeProvider& provider, Options opts)
    : desired_(std::move(desired)),
      provider_(&provider),
      opts_(std::move(opts)),
      store_(opts_.state_dir),
      pool_(opts_.client) {
  provider_->SetRestartGate([this](const std::string& name) { return RestartNow(name); });
  auto id = store_.LoadIdentity();
  if (id.ok()) {
    identity_ = std::move(id).value();
  } else {
    spdlog::warn("cluster={} {}; starting without remembered identities", desired_.name,
                 id.error().message());
  }
}

std::vector<observe::Target> Reconciler::Targets() const {
  std::vector<observe::Target> targets;
  for (const NodeRuntime& n : provider_->Nodes()) {
    // A node started from an empty dir counts as "starting, empty" until it first answers;
    // after that it is only ever what it says it is.
    bool fresh = n.fresh && !answered_.count(n.name);
    // A node queued to start counts as running: it should answer shortly.
    targets.push_back(
        {n.name, n.ep, n.host, n.zone, n.running || n.queued, fresh, n.failing, n.last_exit});
  }
  return targets;
}

std::vector<std::string> Reconciler::ConfigKeys() const {
  std::vector<std::string> keys;
  for (const auto& [k, v] : desired_.runtime_config) keys.push_back(k);
  return keys;
}

milliseconds Reconciler::StallBound() const {
  if (opts_.stall.count() > 0) return opts_.stall;
  return milliseconds(15000 + 150 * static_cast<long long>(desired_.nodes.size()));
}

Pass Reconciler::Look(bool simulate) {
  {
    // A paused reconciler (a scale operation looking) sees the newest desired state too.
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_desired_) {
      desired_ = std::move(pending_desired_->first);
      opts_.generation = pending_desired_->second;
      pending_desired_.reset();
    }
  }
  model::DesiredCluster d = desired_;
  d.formed_before = identity_.formed;
  d.known_ids.assign(identity_.known_ids.begin(), identity_.known_ids.end());
  d.node_ids = identity_.node_ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    d.recover_slots = recover_;
  }
  Pass p;
  auto t0 = Clock::now();
  p.observed = observe::Observe(pool_, Targets(), ConfigKeys());
  for (const model::ObservedNode& n : p.observed.nodes) {
    if (n.reachable && !n.starting) answered_.insert(n.name);
    if (n.process_running) {
      std::lock_guard<std::mutex> lock(mu_);
      held_since_.erase(n.name);
    }
  }
  auto t1 = Clock::now();
  p.plan = plan::MakePlan(d, p.observed, {.simulate = simulate});
  auto t2 = Clock::now();
  spdlog::debug("cluster={} reconcile={} observe {} ms, plan {} ms", desired_.name, pass_no_,
                std::chrono::duration_cast<milliseconds>(t1 - t0).count(),
                std::chrono::duration_cast<milliseconds>(t2 - t1).count());
  return p;
}

// Remembers the IDs of nodes that are ours (never of foreign or data-holding strangers),
// and that the cluster has formed once it converges.
void Reconciler::RememberIdentity(const Pass& pass) {
  if (!pass.plan.blockers.empty()) return;
  Identity next = identity_;
  model::DesiredCluster d = desired_;
  d.known_ids.assign(identity_.known_ids.begin(), identity_.known_ids.end());
  for (const plan::ClassifiedNode& c : plan::Classify(d, pass.observed)) {
    if (c.cls != plan::NodeClass::kFresh && c.cls != plan::NodeClass::kMember) continue;
    const model::ObservedNode* n = pass.observed.ByName(c.name);
    if (!n || n->id.empty()) continue;
    next.node_ids[n->name] = n->id;
    next.known_ids.insert(n->id);
  }
  if (pass.plan.Converged()) {
    next.formed = true;
    std::lock_guard<std::mutex> lock(mu_);
    recover_ = false;  // a recover-slots request ends with the first converged pass
  }
  if (next.formed == identity_.formed && next.node_ids == identity_.node_ids &&
      next.known_ids == identity_.known_ids) {
    return;
  }
  if (next.formed && !identity_.formed) {
    spdlog::info("cluster={} formed: full slot coverage reached", desired_.name);
  }
  identity_ = std::move(next);
  Status st = store_.SaveIdentity(identity_);
  if (!st.ok())
    spdlog::warn("cluster={} cannot persist identity: {}", desired_.name, st.error().message());
}

void Reconciler::Record(const Pass& pass, const std::string& stalled) {
  model::DesiredCluster d = desired_;
  d.formed_before = identity_.formed;
  ClusterStatus next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PassInput in{&d,     &pass.observed, &pass.plan, &status_, Rfc3339(NowMs()), opts_.generation,
                 stalled};
    next = BuildStatus(in);
    if (next.phase != status_.phase) {
      spdlog::info("cluster={} phase {} -> {}", desired_.name, status_.phase, next.phase);
    }
    status_ = next;
  }
  Status st = store_.SaveFile("status.json", codec::StatusToJson(next, 2) + "\n");
  if (!st.ok())
    spdlog::warn("cluster={} cannot write status: {}", desired_.name, st.error().message());
}

void Reconciler::AddEvent(std::string type, std::string reason, std::string message) {
  std::vector<Event> copy;
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_front(
        Event{Rfc3339(NowMs()), std::move(type), std::move(reason), std::move(message)});
    while (events_.size() > kMaxEvents) events_.pop_back();
    copy.assign(events_.begin(), events_.end());
  }
  Status st = store_.SaveFile("events.json", codec::EventsToJson(copy, 2) + "\n");
  (void)st;  // best effort: the in-memory list stays authoritative
}

// A setting Redis cannot change at runtime ("can't set immutable config"): it is in
// redis.conf already and takes effect at the node's next restart. Dropped from what the
// planner keeps applying, so that it is not retried every pass.
bool Reconciler::IsImmutableSetting(const act::ActionResult& r) {
  auto* set = std::get_if<model::ConfigSet>(&r.action);
  if (!set || r.status.error().message().find("immutable") == std::string::npos) return false;
  {
    std::lock_guard<std::mutex> lock(mu_);  // desired() may read it from another thread
    auto& rc = desired_.runtime_config;
    rc.erase(
        std::remove_if(rc.begin(), rc.end(), [&](const auto& kv) { return kv.first == set->key; }),
        rc.end());
  }
  spdlog::warn(
      "cluster={} {} cannot change while a node runs; redis.conf has {} {}, which applies "
      "when each node restarts",
      desired_.name, set->key, set->key, set->value);
  AddEvent("Warning", "RestartNeeded",
           set->key + " " + set->value + " applies at the next restart");
  return true;
}

int Reconciler::Execute(const std::vector<model::Action>& step,
                        const model::ObservedCluster& seen) {
  act::Executor exec(pool_, provider_, seen);
  auto started = Clock::now();
  std::vector<act::ActionResult> results = exec.Run(step);
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - started).count();
  // One log line per action; a large step (a 100-node create sends ~5,000 MEETs) is
  // summarised per kind, with every action at debug level.
  bool verbose = results.size() <= 12;
  std::map<std::string, int> per_kind;
  int failures = 0;
  for (const act::ActionResult& r : results) {
    std::string what = model::Describe(r.action);
    std::string kind(model::ActionKind(r.action));
    {
      std::lock_guard<std::mutex> lock(mu_);
      (r.status.ok() ? counters_.actions : counters_.failures)[kind]++;
    }
    if (!r.status.ok() && IsImmutableSetting(r)) continue;
    if (!r.status.ok()) {
      failures++;
      spdlog::warn("cluster={} reconcile={} failed: {}: {}", desired_.name, pass_no_, what,
                   r.status.error().message());
      AddEvent("Warning", Reason(kind) + "Failed", what + ": " + r.status.error().message());
      continue;
    }
    per_kind[kind]++;
    if (verbose) {
      spdlog::info("cluster={} reconcile={} {}", desired_.name, pass_no_, what);
      AddEvent("Normal", Reason(kind), what);
    } else {
      spdlog::debug("cluster={} reconcile={} {}", desired_.name, pass_no_, what);
    }
  }
  if (!verbose) {
    for (const auto& [kind, count] : per_kind) {
      std::string msg =
          std::to_string(count) + " x " + kind + " in " + std::to_string(took) + " ms";
      spdlog::info("cluster={} reconcile={} {}", desired_.name, pass_no_, msg);
      AddEvent("Normal", Reason(kind), msg);
    }
  }
  return failures;
}

bool Reconciler::RestartNow(const std::string& name) {
  bool hold = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const NodeStatus* dead = nullptr;
    for (const NodeStatus& n : status_.nodes) {
      if (n.name == name) dead = &n;
    }
    if (dead && dead->role == "master" && !dead->slots.empty() && !dead->id.empty()) {
      for (const NodeStatus& n : status_.nodes) {
        if (n.master_id == dead->id && n.link_state == "connected") hold = true;
      }
    }
    if (hold) held_since_[name] = Clock::now();
  }
  if (hold) {
    spdlog::warn("cluster={} master {} exited: promoting its replica before restarting it",
                 desired_.name, name);
    Wake();
  }
  return !hold;
}

void Reconciler::ReleaseStaleHolds() {
  // Long enough for a takeover (it takes milliseconds); short enough that a master whose
  // replica cannot take over is not kept down for long.
  const auto bound = std::chrono::seconds(10);
  std::vector<std::string> release;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = held_since_.begin(); it != held_since_.end();) {
      if (Clock::now() - it->second > bound) {
        release.push_back(it->first);
        it = held_since_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const std::string& name : release) {
    spdlog::warn("cluster={} {} was held down for 10 s without a takeover; restarting it",
                 desired_.name, name);
    Status st = provider_->StartNode(name);
    if (!st.ok()) spdlog::warn("cluster={} {}", desired_.name, st.error().message());
  }
}

void Reconciler::SetDesired(model::DesiredCluster desired, long long generation) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_desired_ = std::make_pair(std::move(desired), generation);
  }
  Wake();
}

void Reconciler::RequestFailover(const std::string& node, std::function<void(const Status&)> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_failovers_.emplace_back(node, std::move(done));
  }
  Wake();
}

model::DesiredCluster Reconciler::desired() const {
  std::lock_guard<std::mutex> lock(mu_);
  return desired_;
}

ReconcileCounters Reconciler::Counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

// Takes what other threads handed over since the last pass: a new desired state, requested
// failovers (run here, between passes, so that they never race a step).
void Reconciler::TakePending(const model::ObservedCluster* last) {
  std::optional<std::pair<model::DesiredCluster, long long>> next;
  std::vector<std::pair<std::string, std::function<void(const Status&)>>> failovers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    next.swap(pending_desired_);
    failovers.swap(pending_failovers_);
    if (next) {
      desired_ = std::move(next->first);
      opts_.generation = next->second;
    }
  }
  if (next) spdlog::info("cluster={} spec generation {} applied", desired_.name, opts_.generation);
  for (auto& [node, done] : failovers) {
    model::ObservedCluster seen = last ? *last : observe::Observe(pool_, Targets(), {});
    act::Executor exec(pool_, provider_, seen);
    auto results = exec.Run({model::Failover{node, "", "requested"}});
    Status st = results.empty() ? Internal("no result") : results.front().status;
    AddEvent(st.ok() ? "Normal" : "Warning", "Failover",
             "CLUSTER FAILOVER on " + node + (st.ok() ? "" : ": " + st.error().message()));
    if (done) done(st);
  }
}

Reconciler::Outcome Reconciler::OnePass(bool act, const std::string& stalled) {
  ++pass_no_;
  TakePending(nullptr);
  ReleaseStaleHolds();
  Outcome out;
  auto started = Clock::now();
  out.pass = Look();
  out.took = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
  {
    std::lock_guard<std::mutex> lock(mu_);
    counters_.passes++;
    double secs = std::chrono::duration<double>(out.took).count();
    counters_.duration_sum_seconds += secs;
    constexpr size_t kBuckets = sizeof kDurationBuckets / sizeof kDurationBuckets[0];
    if (counters_.duration_buckets.empty()) counters_.duration_buckets.assign(kBuckets + 1, 0);
    size_t b = 0;
    while (b < kBuckets && secs > kDurationBuckets[b]) ++b;
    counters_.duration_buckets[b]++;
    const model::Plan& plan = out.pass.plan;
    std::string result = !plan.blockers.empty() ? "blocked"
                         : plan.Converged()     ? "converged"
                         : !plan.steps.empty()  ? "acting"
                                                : "waiting";
    counters_.results[result]++;
  }
  RememberIdentity(out.pass);
  Record(out.pass, stalled);
  if (act && out.pass.plan.blockers.empty() && !out.pass.plan.steps.empty()) {
    out.failures = Execute(out.pass.plan.steps.front(), out.pass.observed);
    out.acted = true;
  }
  return out;
}

std::string Reconciler::Diagnose(const Pass& pass) {
  std::vector<std::string> lines = pass.plan.waiting;
  if (!pass.plan.steps.empty()) {
    lines.push_back("the next step keeps being needed: " + model::Describe(pass.plan.steps[0][0]));
  }
  for (const model::ObservedNode& n : pass.observed.nodes) {
    if (!n.reachable) continue;
    Endpoint bus{n.ep.host, n.ep.BusPort()};
    std::string probe = observe::ProbeTcp(bus, 300);
    if (!probe.empty()) {
      lines.push_back("bus port " + std::to_string(bus.port) + " of " + n.name +
                      " does not accept connections from here (" + probe +
                      "): nodes cannot gossip; check firewalls and that nothing else holds it");
    }
    for (const model::PeerView& p : n.peers) {
      if (p.handshake) {
        lines.push_back(n.name + " never completed its handshake with " + p.ep.ToString() +
                        " (bus port " + std::to_string(p.ep.BusPort()) + ")");
      } else if (!p.myself && !p.connected && !p.fail) {
        lines.push_back(n.name + " has no link to " + p.ep.ToString());
      }
    }
  }
  std::sort(lines.begin(), lines.end());
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
  std::string out;
  for (size_t i = 0; i < lines.size() && i < 20; ++i) out += (i ? "; " : "") + lines[i];
  if (lines.size() > 20) out += "; and " + std::to_string(lines.size() - 20) + " more";
  return out;
}

void Reconciler::Sleep(milliseconds d, const std::atomic<bool>& stop) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [&] { return woken_ || stop.load(); });
  woken_ = false;
}

void Reconciler::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

Status Reconciler::Converge(const std::atomic<bool>& stop) {
  std::string last_plan;
  auto last_change = Clock::now();
  milliseconds backoff{0};
  while (!stop.load()) {
    Outcome o = OnePass(true, "");
    const model::Plan& plan = o.pass.plan;
    if (!plan.blockers.empty()) {
      std::string msg;
      for (const model::Blocker& b : plan.blockers) msg += (msg.empty() ? "" : "; ") + b.message;
      AddEvent("Warning", "Blocked", msg);
      return FailedPrecondition(msg);
    }
    if (plan.Converged()) return Status::Ok();
    std::string text = plan.ToString();
    if (text != last_plan || o.acted) {
      if (text != last_plan) last_change = Clock::now();
      last_plan = text;
    }
    if (Clock::now() - last_change > StallBound()) {
      std::string diag = Diagnose(o.pass);
      Record(o.pass, diag);
      AddEvent("Warning", "Stalled", diag);
      return DeadlineExceeded("no progress for " + std::to_string(StallBound().count() / 1000) +
                              " s: " + diag);
    }
    // Failing actions back off (100 ms doubling to 2 s). Waiting on Redis polls fast, but
    // never more than half the time: on a busy machine (100 nodes starting on 2 cores) our
    // own reads would otherwise take the CPU the nodes need to get where we wait for them.
    backoff = o.failures ? std::min(milliseconds(2000), std::max(milliseconds(100), backoff * 2))
                         : milliseconds(0);
    if (!o.acted || o.failures) Sleep(std::max({opts_.poll, backoff, o.took}), stop);
  }
  return Aborted("stopped");
}

void Reconciler::Run(const std::atomic<bool>& stop) {
  std::string last_error;
  milliseconds backoff{500};
  while (!stop.load()) {
    Status st = Converge(stop);
    if (stop.load()) break;
    if (st.ok()) {
      if (!last_error.empty()) spdlog::info("cluster={} converged again", desired_.name);
      last_error.clear();
      backoff = milliseconds(500);
      Sleep(opts_.resync, stop);
      continue;
    }
    if (st.error().message() != last_error) {
      spdlog::error("cluster={} {}", desired_.name, st.error().message());
      last_error = st.error().message();
    }
    Sleep(backoff, stop);
    backoff = std::min(milliseconds(30000), backoff * 2);
  }
}

void Reconciler::RequestRecoverSlots() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    recover_ = true;
  }
  spdlog::warn(
      "cluster={} recover-slots: lost slots will be re-created EMPTY (data loss "
      "accepted by the caller)",
      desired_.name);
  AddEvent("Warning", "RecoverSlots",
           "lost slots are re-created empty on request; their keys are gone");
  Wake();
}

void Reconciler::SetProvider(NodeProvider& provider) {
  provider_ = &provider;
  provider_->SetRestartGate([this](const std::string& name) { return RestartNow(name); });
}

void Reconciler::ForgetNodes(const std::vector<std::string>& names) {
  Identity next = identity_;
  for (const std::string& n : names) {
    next.node_ids.erase(n);
    answered_.erase(n);
  }
  identity_ = std::move(next);
  Status st = store_.SaveIdentity(identity_);
  if (!st.ok())
    spdlog::warn("cluster={} cannot persist identity: {}", desired_.name, st.error().message());
}

ClusterStatus Reconciler::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

std::vector<Event> Reconciler::Events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {events_.begin(), events_.end()};
}

}  // namespace sk::reconcile
