#include "controller/reconcile/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <map>
#include <thread>

#include "api/codec/status_codec.h"
#include "controller/act/executor.h"
#include "controller/plan/plan.h"
#include "controller/reconcile/status_builder.h"

namespace sk::reconcile {

using std::chrono::milliseconds;

namespace {

constexpr size_t kMaxEvents = 200;
// A MEET is sent again at most this often per pair (a handshake takes a moment).
constexpr milliseconds kMeetSpacing{2000};
// A bus link missing this long is not a reconnect in progress (Redis retries every 100 ms):
// it gets a repair MEET.
constexpr milliseconds kRepairAfter{5000};
// A disagreement on a slot's owner that outlives this is not a gossip delay: it is settled.
constexpr milliseconds kDisagreementBound{2000};
// Long enough for a takeover (it takes milliseconds); short enough that a master whose
// replica cannot take over is not kept down for long.
constexpr std::chrono::seconds kHoldBound{10};

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
      {"replace-node", "ReplaceNode"},
      {"move-slots", "MoveSlots"},
      {"retire-node", "RetireNode"},
      {"settle-owner", "SettleOwner"}};
  auto it = names.find(kind);
  return it == names.end() ? std::string(kind) : it->second;
}

}  // namespace

Reconciler::Reconciler(model::DesiredCluster desired, NodeProvider& provider,
                       OperationRegistry& ops, Options opts, ReconcilerHooks hooks)
    : desired_(std::move(desired)),
      provider_(&provider),
      ops_(ops),
      opts_(std::move(opts)),
      hooks_(std::move(hooks)),
      clock_(opts_.clock ? *opts_.clock : RealClock::Get()),
      store_(opts_.state_dir),
      pool_(opts_.client),
      desired_copy_(desired_) {
  // A node's exit wakes the next pass at once; whether it restarts or is held down is the
  // desired state pushed after each pass (PushHolds).
  provider_->SetExitListener([this](const std::string&) { Wake(); });
  auto id = store_.LoadIdentity();
  if (id.ok()) {
    identity_ = std::move(id).value();
  } else {
    spdlog::warn("cluster={} {}; starting without remembered identities", desired_.name,
                 id.error().message());
  }
}

Reconciler::~Reconciler() { provider_->SetExitListener(nullptr); }

std::string Reconciler::Now() const {
  return Rfc3339(
      std::chrono::duration_cast<milliseconds>(clock_.WallNow().time_since_epoch()).count());
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
  model::DesiredCluster d = desired_;
  d.formed_before = identity_.formed;
  d.known_ids.assign(identity_.known_ids.begin(), identity_.known_ids.end());
  d.node_ids = identity_.node_ids;
  if (active_ && active_->kind == OperationKind::kRecoverSlots) d.recover_slots = active_->consent;
  // What the planner may know of the past (model::PassMemory).
  const SteadyTime now = clock_.Now();
  for (const auto& [pair, at] : meet_sent_) {
    if (now - at < kMeetSpacing) d.memory.recent_meets.insert(pair);
  }
  for (const auto& [replica, at] : failover_sent_) {
    if (now - at < kFailoverBound) d.memory.failovers_in_flight.insert(replica);
  }
  std::vector<int> lasting;
  for (const auto& [slot, since] : disagree_since_) {
    if (now - since >= kDisagreementBound) lasting.push_back(slot);
  }
  d.memory.lasting_disagreements = RangesFromSlots(std::move(lasting));
  d.memory.meets = meets_;
  d.memory.taught = taught_;
  for (const auto& [pair, since] : unlinked_since_) {
    if (now - since >= kRepairAfter) d.memory.long_unlinked.insert(pair);
  }
  Pass p;
  auto t0 = clock_.Now();
  p.observed = observe::Observe(pool_, Targets(), ConfigKeys());
  for (const model::ObservedNode& n : p.observed.nodes) {
    if (n.reachable && !n.starting) answered_.insert(n.name);
  }
  auto t1 = clock_.Now();
  p.plan = plan::MakePlan(d, p.observed, {.simulate = simulate});
  spdlog::debug("cluster={} reconcile={} observe {} ms, plan {} ms", desired_.name, pass_no_,
                std::chrono::duration_cast<milliseconds>(t1 - t0).count(),
                std::chrono::duration_cast<milliseconds>(clock_.Now() - t1).count());
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
  if (pass.plan.Converged()) next.formed = true;
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
  std::optional<Operation> running;
  if (active_) {
    auto op = ops_.Get(active_->id);
    if (op.ok() && op->state == OperationState::kRunning) running = *op;
  }
  ClusterStatus next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PassInput in{&d,      &pass.observed, &pass.plan, &status_, Now(), opts_.generation,
                 stalled, running,        unmet_};
    next = BuildStatus(in);
    if (next.phase != status_.phase) {
      spdlog::info("cluster={} phase {} -> {}", desired_.name, codec::Name(status_.phase),
                   codec::Name(next.phase));
    }
    status_ = next;
    desired_copy_ = desired_;
    lost_ = pass.plan.lost;
  }
  Status st = store_.SaveFile("status.json", codec::StatusToJson(next, 2) + "\n");
  if (!st.ok())
    spdlog::warn("cluster={} cannot write status: {}", desired_.name, st.error().message());
}

void Reconciler::AddEvent(std::string type, std::string reason, std::string message) {
  std::vector<Event> copy;
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_front(Event{Now(), std::move(type), std::move(reason), std::move(message)});
    while (events_.size() > kMaxEvents) events_.pop_back();
    copy.assign(events_.begin(), events_.end());
  }
  Status st = store_.SaveFile("events.json", codec::EventsToJson(copy, 2) + "\n");
  (void)st;  // best effort: the in-memory list stays authoritative
}

std::vector<act::ActionResult> Reconciler::Execute(const std::vector<model::Action>& step,
                                                   const model::ObservedCluster& seen) {
  act::ExecutorOptions eo;
  eo.journal_path = opts_.state_dir.empty() ? "" : opts_.state_dir + "/migration.json";
  // A source blocked in MIGRATE answers no cluster ping: never half a node timeout.
  eo.max_migrate_timeout_ms = std::max(200, opts_.node_timeout_ms / 2);
  eo.gate_timeout_ms = std::max(2000, opts_.node_timeout_ms);
  eo.stop = stop_;
  const std::string op_id = active_ ? active_->id : "";
  act::MigrateProgress moved;
  eo.on_progress = [this, op_id, &moved](const act::MigrateProgress& p) {
    moved = p;
    if (!op_id.empty()) ops_.Progress(op_id, p.slots_done, p.slots_total, p.keys_moved);
  };
  act::Executor exec(pool_, provider_, seen, eo);
  auto started = clock_.Now();
  std::vector<act::ActionResult> results = exec.Run(step);
  {
    std::lock_guard<std::mutex> lock(mu_);
    counters_.slots_migrated += moved.slots_done;
    counters_.keys_migrated += moved.keys_moved;
  }
  auto took = std::chrono::duration_cast<milliseconds>(clock_.Now() - started).count();
  // One log line per action; a large step (a 100-node create sends ~5,000 MEETs) is
  // summarised per kind, with every action at debug level.
  bool verbose = results.size() <= 12;
  std::map<std::string, int> per_kind;
  for (const act::ActionResult& r : results) {
    std::string what = model::Describe(r.action);
    std::string kind(model::ActionKind(r.action));
    {
      std::lock_guard<std::mutex> lock(mu_);
      (r.status.ok() ? counters_.actions : counters_.failures)[kind]++;
    }
    if (!r.status.ok()) {
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
  return results;
}

// What a step's results mean for the desired state and the planner's memory.
void Reconciler::AfterStep(const std::vector<act::ActionResult>& results, PassFacts& facts) {
  const SteadyTime now = clock_.Now();
  for (const act::ActionResult& r : results) {
    const std::string kind(model::ActionKind(r.action));
    if (!r.status.ok()) {
      facts.failed.emplace_back(kind, r.status.error());
      // A setting Redis cannot change at runtime is in redis.conf already and applies at the
      // node's next restart: dropped from what the planner keeps applying.
      auto* set = std::get_if<model::ConfigSet>(&r.action);
      if (set && r.status.error().cause() == Cause::kImmutableConfig) {
        std::erase_if(desired_.runtime_config,
                      [&](const auto& kv) { return kv.first == set->key; });
        spdlog::warn(
            "cluster={} {} cannot change while a node runs; redis.conf has {} {}, "
            "which applies when each node restarts",
            desired_.name, set->key, set->key, set->value);
        AddEvent("Warning", "RestartNeeded",
                 set->key + " " + set->value + " applies at the next restart");
      }
      continue;
    }
    facts.succeeded.push_back(kind);
    if (const auto* meet = std::get_if<model::Meet>(&r.action)) {
      for (const model::DesiredNode& n : desired_.nodes) {
        if (n.ep != meet->target) continue;
        const auto pair = std::make_pair(meet->node, n.name);
        meet_sent_[pair] = now;
        // Repairs are counted while the pair has no link (UpdateMemory clears them); a
        // teaching MEET is sent once per pair.
        if (meet->kind == model::MeetKind::kRepair) meets_[pair]++;
        if (meet->kind == model::MeetKind::kTeach) taught_.insert(pair);
      }
    } else if (const auto* f = std::get_if<model::Failover>(&r.action)) {
      failover_sent_[f->node] = now;
    } else if (const auto* retired = std::get_if<model::RetireNode>(&r.action)) {
      std::erase_if(desired_.nodes,
                    [&](const model::DesiredNode& n) { return n.name == retired->node; });
      if (desired_.resize) std::erase(desired_.resize->leaving, retired->node);
      identity_.node_ids.erase(retired->node);
      answered_.erase(retired->node);
      (void)store_.SaveIdentity(identity_);
      if (hooks_.on_retired) hooks_.on_retired(retired->node);
    }
  }
}

// The planner's memory follows what the last observation shows: a pair with a link needs no
// more MEETs; a slot whose owner the views agree on is no longer disputed.
void Reconciler::UpdateMemory(const Pass& pass) {
  const model::ObservedCluster& o = pass.observed;
  auto linked = [&](const std::pair<std::string, std::string>& pair) {
    const model::ObservedNode* a = o.ByName(pair.first);
    const model::ObservedNode* b = o.ByName(pair.second);
    const model::PeerView* p = a && b && a->reachable ? a->PeerById(b->id) : nullptr;
    return !b || !b->reachable || (p && p->connected && !p->pfail && !p->fail && !p->handshake);
  };
  std::erase_if(meets_, [&](const auto& kv) { return linked(kv.first); });
  // Links missing now between answering nodes that know each other, and since when.
  std::set<std::pair<std::string, std::string>> missing;
  for (const model::ObservedNode& a : o.nodes) {
    if (!a.reachable || a.starting) continue;
    for (const model::ObservedNode& b : o.nodes) {
      if (&a == &b || !b.reachable || b.starting) continue;
      const model::PeerView* p = a.PeerById(b.id);
      if (p && !p->handshake && !linked({a.name, b.name})) missing.insert({a.name, b.name});
    }
  }
  std::vector<bool> disputed(kSlots, false);
  for (const SlotRange& r : pass.plan.disagreements) {
    for (int s = r.start; s <= r.end; ++s) disputed[s] = true;
  }
  const SteadyTime now = clock_.Now();
  for (auto it = disagree_since_.begin(); it != disagree_since_.end();) {
    it = disputed[it->first] ? std::next(it) : disagree_since_.erase(it);
  }
  for (int s = 0; s < kSlots; ++s) {
    if (disputed[s]) disagree_since_.emplace(s, now);
  }
  std::erase_if(unlinked_since_, [&](const auto& kv) { return !missing.count(kv.first); });
  for (const auto& pair : missing) unlinked_since_.emplace(pair, now);
  std::erase_if(failover_sent_, [&](const auto& kv) { return now - kv.second > kFailoverBound; });
  std::erase_if(meet_sent_, [&](const auto& kv) { return now - kv.second > kMeetSpacing; });
}

// Desired state for the provider: masters that a replica with a fresh copy can take over
// from are held down if their process exits, so that the takeover comes first (PlanDead);
// every other node is restarted at once. Decided from this pass's observation, before the
// exit: by then the replica's link is already down.
void Reconciler::PushHolds(const model::ObservedCluster& o) {
  std::set<std::string> hold;
  for (const model::ObservedNode& m : o.nodes) {
    if (!m.reachable || m.starting || !m.IsMaster() || m.OwnSlots().empty()) continue;
    for (const model::ObservedNode& r : o.nodes) {
      if (r.reachable && r.MasterId() == m.id && r.repl.link_up && !r.repl.sync_in_progress &&
          r.repl.offset > 0) {
        hold.insert(m.name);
      }
    }
  }
  provider_->SetHoldOnExit(std::move(hold));
}

void Reconciler::ReleaseStaleHolds() {
  const SteadyTime now = clock_.Now();
  std::set<std::string> held;
  for (const NodeRuntime& n : provider_->Nodes()) {
    if (n.held) held.insert(n.name);
  }
  std::erase_if(held_since_, [&](const auto& kv) { return !held.count(kv.first); });
  for (const std::string& name : held) held_since_.emplace(name, now);
  for (auto it = held_since_.begin(); it != held_since_.end();) {
    if (now - it->second <= kHoldBound) {
      ++it;
      continue;
    }
    spdlog::warn("cluster={} {} was held down for 10 s without a takeover; restarting it",
                 desired_.name, it->first);
    Status st = provider_->StartNode(it->first);
    if (!st.ok()) spdlog::warn("cluster={} {}", desired_.name, st.error().message());
    it = held_since_.erase(it);
  }
}

void Reconciler::SetDesired(model::DesiredCluster desired, long long generation,
                            std::optional<ActiveOperation> op) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_desired_ = std::make_pair(std::move(desired), generation);
    if (op) pending_ops_.push_back(std::move(*op));
  }
  Wake();
}

void Reconciler::Follow(ActiveOperation op) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ops_.push_back(std::move(op));
  }
  Wake();
}

void Reconciler::RequestFailover(ActiveOperation op) { Follow(std::move(op)); }

void Reconciler::RequestRecoverSlots(ActiveOperation op) {
  spdlog::warn(
      "cluster={} recover-slots: lost slots {} will be re-created EMPTY (data loss "
      "accepted by the caller)",
      desired_.name, RangesToString(op.consent));
  AddEvent("Warning", "RecoverSlots",
           "lost slots " + RangesToString(op.consent) +
               " are re-created empty on request; their keys are gone");
  Follow(std::move(op));
}

model::DesiredCluster Reconciler::desired() const {
  std::lock_guard<std::mutex> lock(mu_);
  return desired_copy_;
}

std::vector<SlotRange> Reconciler::LostSlots() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lost_;
}

ReconcileCounters Reconciler::Counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

// Takes what other threads handed over since the last pass: a new desired state, operations
// to follow. A requested failover runs here, between passes, so that it never races a step;
// it runs at once or never (its operation cannot outlive it).
void Reconciler::TakePending(PassFacts& facts) {
  std::optional<std::pair<model::DesiredCluster, long long>> next;
  std::vector<ActiveOperation> ops;
  {
    std::lock_guard<std::mutex> lock(mu_);
    next.swap(pending_desired_);
    ops.swap(pending_ops_);
  }
  if (next) {
    desired_ = std::move(next->first);
    opts_.generation = next->second;
    unmet_.clear();  // a new spec: whatever was unmet is asked afresh
    spdlog::info("cluster={} spec generation {} applied", desired_.name, opts_.generation);
  }
  for (ActiveOperation& op : ops) {
    if (active_) {
      // The registry reserves one operation at a time; a create is superseded.
      ops_.Finish(active_->id, Aborted("superseded by " + op.id), Now());
    }
    op.started = clock_.Now();
    active_ = std::move(op);
    if (active_->kind != OperationKind::kFailover) continue;
    model::ObservedCluster seen = observe::Observe(pool_, Targets(), {});
    std::vector<act::ActionResult> results =
        Execute({model::Failover{active_->node, "", "requested"}}, seen);
    AfterStep(results, facts);
  }
}

void Reconciler::EndOperation(const Status& result, const Pass& pass) {
  ActiveOperation op = *active_;
  active_.reset();
  OperationEnd end{op, result, {}};
  if (op.kind == OperationKind::kScale) {
    // The goal's layout on success; on failure the one the nodes serve, which the cluster
    // keeps (nothing is moved back) until the spec or a scale request changes.
    end.layout = result.ok() ? pass.plan.final_layout : plan::ServedLayout(pass.observed);
    desired_.resize.reset();
    if (!end.layout.empty()) {
      desired_.shard_slots = end.layout;
      desired_.masters = static_cast<int>(end.layout.size());
    }
    if (!result.ok()) {
      unmet_ = op.id + " failed: " + result.error().message() +
               "; the cluster keeps the layout it serves now; apply the spec again (or scale) "
               "to retry";
    }
    AddEvent(result.ok() ? "Normal" : "Warning", result.ok() ? "ScaleSucceeded" : "ScaleFailed",
             op.id + (result.ok() ? " succeeded" : ": " + result.error().message()));
  }
  if (result.ok()) {
    spdlog::info("cluster={} {} ({}) succeeded", desired_.name, op.id, codec::Name(op.kind));
  } else {
    spdlog::error("cluster={} {} ({}) failed: {}", desired_.name, op.id, codec::Name(op.kind),
                  result.error().message());
  }
  if (hooks_.on_operation_end) hooks_.on_operation_end(end);
  ops_.Finish(op.id, result, Now());
}

void Reconciler::EvaluateOperation(const Pass& pass, PassFacts& facts) {
  if (!active_) return;
  facts.observed = &pass.observed;
  facts.plan = &pass.plan;
  facts.generation = opts_.generation;
  // Not served: no answering master claims them (lost, or not re-covered yet).
  std::vector<SlotRange> lost = plan::UnclaimedSlots(pass.observed);
  lost.insert(lost.end(), pass.plan.lost.begin(), pass.plan.lost.end());
  facts.lost = NormalizeRanges(lost);
  Verdict v = Evaluate(*active_, facts, clock_.Now());
  if (v.done) EndOperation(v.result, pass);
}

Reconciler::Outcome Reconciler::OnePass(bool act) {
  ++pass_no_;
  PassFacts facts;
  TakePending(facts);
  ReleaseStaleHolds();
  Outcome out;
  auto started = clock_.Now();
  out.pass = Look();
  out.took = std::chrono::duration_cast<milliseconds>(clock_.Now() - started);
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
  UpdateMemory(out.pass);
  PushHolds(out.pass.observed);
  Record(out.pass, "");
  if (act && out.pass.plan.blockers.empty() && !out.pass.plan.steps.empty()) {
    std::vector<act::ActionResult> results =
        Execute(out.pass.plan.steps.front(), out.pass.observed);
    AfterStep(results, facts);
    out.acted = true;
    out.reobserve = true;
    for (const act::ActionResult& r : results) {
      if (r.status.ok()) continue;
      out.failures++;
      if (DispositionOf(r.status.error().code()) != Disposition::kReobserve) {
        out.reobserve = false;
      }
    }
  }
  EvaluateOperation(out.pass, facts);
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
  auto last_change = clock_.Now();
  Backoff backoff(milliseconds(100), milliseconds(2000),
                  static_cast<std::uint32_t>(std::hash<std::string>{}(desired_.name)));
  stop_ = &stop;
  while (!stop.load()) {
    Outcome o = OnePass(true);
    const model::Plan& plan = o.pass.plan;
    if (!plan.blockers.empty()) {
      std::string msg;
      for (const model::Blocker& b : plan.blockers) msg += (msg.empty() ? "" : "; ") + b.message;
      AddEvent("Warning", "Blocked", msg);
      return FailedPrecondition(msg);
    }
    if (plan.Converged()) return Status::Ok();
    std::string text = plan.ToString();
    if (text != last_plan) {
      last_change = clock_.Now();
      last_plan = text;
    }
    if (clock_.Now() - last_change > StallBound()) {
      std::string diag = Diagnose(o.pass);
      Record(o.pass, diag);
      AddEvent("Warning", "Stalled", diag);
      PassFacts facts;
      facts.stalled =
          "no progress for " + std::to_string(StallBound().count() / 1000) + " s: " + diag;
      EvaluateOperation(o.pass, facts);
      return DeadlineExceeded(facts.stalled);
    }
    // Failing actions back off (jittered, 100 ms doubling to 2 s), except when they only say
    // the world moved (observe again now). Waiting on Redis polls fast, but never more than
    // half the time: on a busy machine (100 nodes starting on 2 cores) our own reads would
    // otherwise take the CPU the nodes need to get where we wait for them.
    milliseconds pause{0};
    if (o.failures && !o.reobserve) {
      pause = backoff.Next();
    } else {
      backoff.Reset();
    }
    if (!o.acted || pause.count() > 0) Sleep(std::max({opts_.poll, pause, o.took}), stop);
  }
  return Aborted("stopped");
}

void Reconciler::Run(const std::atomic<bool>& stop) {
  std::string last_error;
  Backoff backoff(milliseconds(500), milliseconds(30000),
                  static_cast<std::uint32_t>(std::hash<std::string>{}(desired_.name) + 1));
  while (!stop.load()) {
    Status st = Converge(stop);
    if (stop.load()) break;
    if (st.ok()) {
      if (!last_error.empty()) spdlog::info("cluster={} converged again", desired_.name);
      last_error.clear();
      backoff.Reset();
      Sleep(opts_.resync, stop);
      continue;
    }
    if (st.error().message() != last_error) {
      spdlog::error("cluster={} {}", desired_.name, st.error().message());
      last_error = st.error().message();
    }
    // A daemon keeps at it: a blocker may be lifted by a person, a stall may pass.
    Sleep(backoff.Next(), stop);
  }
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
