#include "controller/reconcile/status_builder.h"

#include <algorithm>
#include <ctime>
#include <set>

namespace sk::reconcile {

using model::ObservedNode;
using model::PeerView;

std::string Rfc3339(long long unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03lldZ", buf, unix_ms % 1000);
  return out;
}

namespace {

// Keeps lastTransitionTime when the status did not flip (apimachinery semantics).
Condition MakeCondition(const ClusterStatus* prev, std::string type, bool value, std::string reason,
                        std::string message, const PassInput& in) {
  Condition c{std::move(type),
              value ? ConditionStatus::kTrue : ConditionStatus::kFalse,
              std::move(reason),
              std::move(message),
              in.now,
              in.generation};
  if (prev) {
    for (const Condition& p : prev->conditions) {
      if (p.type == c.type && p.status == c.status) c.last_transition_time = p.last_transition_time;
    }
  }
  return c;
}

NodeStatus NodeOf(const ObservedNode& n, const model::ObservedCluster& o) {
  NodeStatus s;
  s.id = n.id;
  s.name = n.name;
  s.host = n.ep.host;
  s.port = n.ep.port;
  s.zone = n.zone;
  s.keys = n.keys;
  if (!n.process_running) s.flags.push_back("not-running");
  if (n.starting) {
    s.id.clear();
    s.role = Role::kUnknown;
    s.link_state = LinkState::kDisconnected;
    s.flags.push_back("starting");
    return s;
  }
  if (!n.reachable) {
    s.role = Role::kUnknown;
    s.link_state = LinkState::kDisconnected;
    if (n.process_running) s.flags.push_back("unreachable");
    return s;
  }
  s.role = n.IsMaster() ? Role::kMaster : Role::kReplica;
  s.master_id = n.MasterId();
  s.used_memory = n.used_memory;
  s.ops_per_sec = n.ops_per_sec;
  if (s.role == Role::kReplica) {
    s.repl_link_up = n.repl.link_up;
    s.repl_syncing = n.repl.sync_in_progress;
    const ObservedNode* m = o.ById(s.master_id);
    if (m && n.repl.link_up && !n.repl.sync_in_progress) {
      s.repl_lag_bytes = std::max(0LL, m->repl.offset - n.repl.offset);
    }
  }
  for (const SlotRange& r : n.OwnSlots()) s.slots.push_back(r.ToString());
  s.link_state = LinkState::kConnected;
  // How the other nodes see it: the worst flag any reachable peer reports.
  std::set<std::string> flags;
  for (const ObservedNode& other : o.nodes) {
    if (!other.reachable || other.name == n.name) continue;
    const PeerView* p = other.PeerById(n.id);
    if (!p) continue;
    if (p->fail) flags.insert("fail");
    if (p->pfail) flags.insert("pfail");
    if (p->handshake) flags.insert("handshake");
    if (!p->connected) s.link_state = LinkState::kDisconnected;
  }
  s.flags.insert(s.flags.end(), flags.begin(), flags.end());
  return s;
}

}  // namespace

ClusterStatus BuildStatus(const PassInput& in) {
  const model::ObservedCluster& o = *in.observed;
  const model::Plan& plan = *in.plan;
  ClusterStatus s;
  s.observed_generation = in.generation;
  s.last_reconcile_at = in.now;
  bool all_ok = true;
  bool any = false;
  std::set<std::string> open;
  for (const ObservedNode& n : o.nodes) {
    s.nodes.push_back(NodeOf(n, o));
    if (!n.reachable) {
      all_ok = false;
      continue;
    }
    if (!any || n.slots_ok < s.slots_ok) {
      s.slots_assigned = n.slots_assigned;
      s.slots_ok = n.slots_ok;
      s.slots_pfail = n.slots_pfail;
      s.slots_fail = n.slots_fail;
    }
    any = true;
    all_ok = all_ok && n.cluster_state == "ok";
    if (n.IsMaster() && !n.OwnSlots().empty()) s.masters++;
    if (!n.MasterId().empty()) s.replicas++;
    for (const PeerView& p : n.peers) {
      for (const auto& [slot, to] : p.migrating) {
        open.insert(std::to_string(slot) + " migrating " + p.id.substr(0, 8) + " -> " +
                    to.substr(0, 8));
      }
      for (const auto& [slot, from] : p.importing) {
        open.insert(std::to_string(slot) + " importing " + p.id.substr(0, 8) + " <- " +
                    from.substr(0, 8));
      }
    }
  }
  s.open_slots.assign(open.begin(), open.end());
  s.cluster_state = any && all_ok ? "ok" : "fail";

  const bool unmet = !in.unmet.empty();
  bool blocked = !plan.blockers.empty() || !in.stalled.empty() || unmet;
  bool converged = plan.Converged() && in.stalled.empty() && !unmet;
  std::string block_msg = !plan.blockers.empty() ? plan.blockers.front().message
                          : !in.stalled.empty()  ? in.stalled
                                                 : in.unmet;
  std::string progress_msg;
  if (!plan.steps.empty()) {
    progress_msg = "next: " + model::Describe(plan.steps.front().front());
  } else if (!plan.waiting.empty()) {
    progress_msg = "waiting: " + plan.waiting.front();
  }
  const ClusterStatus* prev = in.previous;
  s.conditions.push_back(MakeCondition(
      prev, "Ready", converged, converged ? "Converged" : (blocked ? "Blocked" : "Reconciling"),
      converged ? "cluster matches its spec" : (blocked ? block_msg : progress_msg), in));
  s.conditions.push_back(MakeCondition(prev, "Progressing", !converged && !blocked,
                                       converged ? "Converged" : (blocked ? "Blocked" : "Acting"),
                                       progress_msg, in));
  const char* why = !plan.blockers.empty() ? "Blocked"
                    : !in.stalled.empty()  ? "Stalled"
                                           : "OperationFailed";
  s.conditions.push_back(
      MakeCondition(prev, "Degraded", blocked, blocked ? why : "AsExpected", block_msg, in));
  if (in.operation) s.operation = in.operation->id;
  const bool scaling = in.operation && in.operation->kind == OperationKind::kScale;
  if (blocked) {
    s.phase = Phase::kDegraded;
  } else if (scaling) {
    s.phase = Phase::kScaling;
  } else if (converged) {
    s.phase = Phase::kReady;
  } else {
    s.phase = in.desired->formed_before ? Phase::kHealing : Phase::kCreating;
  }
  return s;
}

}  // namespace sk::reconcile
