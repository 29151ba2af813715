#include "api/codec/status_codec.h"

#include <nlohmann/json.hpp>

namespace sk::codec {

std::string_view Name(Phase p) {
  switch (p) {
    case Phase::kCreating:
      return "Creating";
    case Phase::kReady:
      return "Ready";
    case Phase::kScaling:
      return "Scaling";
    case Phase::kHealing:
      return "Healing";
    case Phase::kDegraded:
      return "Degraded";
    case Phase::kFailed:
      return "Failed";
  }
  return "Failed";
}

std::string_view Name(Role r) {
  switch (r) {
    case Role::kMaster:
      return "master";
    case Role::kReplica:
      return "replica";
    case Role::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::string_view Name(LinkState l) {
  return l == LinkState::kConnected ? "connected" : "disconnected";
}

std::string_view Name(ConditionStatus s) {
  switch (s) {
    case ConditionStatus::kTrue:
      return "True";
    case ConditionStatus::kFalse:
      return "False";
    case ConditionStatus::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

std::string_view Name(OperationKind k) {
  switch (k) {
    case OperationKind::kCreate:
      return "create";
    case OperationKind::kReplace:
      return "replace";
    case OperationKind::kScale:
      return "scale";
    case OperationKind::kFailover:
      return "failover";
    case OperationKind::kDelete:
      return "delete";
    case OperationKind::kRecoverSlots:
      return "recover-slots";
  }
  return "create";
}

std::string_view Name(OperationState s) {
  switch (s) {
    case OperationState::kRunning:
      return "running";
    case OperationState::kSucceeded:
      return "succeeded";
    case OperationState::kFailed:
      return "failed";
  }
  return "failed";
}

std::optional<Phase> ParsePhase(std::string_view text) {
  for (Phase p : {Phase::kCreating, Phase::kReady, Phase::kScaling, Phase::kHealing,
                  Phase::kDegraded, Phase::kFailed}) {
    if (Name(p) == text) return p;
  }
  return std::nullopt;
}

std::optional<OperationState> ParseOperationState(std::string_view text) {
  for (OperationState s :
       {OperationState::kRunning, OperationState::kSucceeded, OperationState::kFailed}) {
    if (Name(s) == text) return s;
  }
  return std::nullopt;
}

namespace {

using nlohmann::json;

json NodeJson(const NodeStatus& n) {
  json j = {{"id", n.id},
            {"name", n.name},
            {"host", n.host},
            {"port", n.port},
            {"role", Name(n.role)},
            {"masterId", nullptr},
            {"slots", n.slots},
            {"flags", n.flags},
            {"linkState", Name(n.link_state)},
            {"zone", n.zone},
            {"keys", n.keys},
            {"usedMemory", n.used_memory},
            {"opsPerSec", n.ops_per_sec}};
  if (!n.master_id.empty()) j["masterId"] = n.master_id;
  if (n.role == Role::kReplica) {
    j["replication"] = {
        {"linkUp", n.repl_link_up},
        {"syncing", n.repl_syncing},
        {"lagBytes", n.repl_lag_bytes < 0 ? json(nullptr) : json(n.repl_lag_bytes)}};
  }
  if (n.zone.empty()) j["zone"] = nullptr;
  return j;
}

}  // namespace

std::string StatusToJson(const ClusterStatus& s, int indent) {
  json conditions = json::array();
  for (const Condition& c : s.conditions) {
    conditions.push_back({{"type", c.type},
                          {"status", Name(c.status)},
                          {"reason", c.reason},
                          {"message", c.message},
                          {"lastTransitionTime", c.last_transition_time},
                          {"observedGeneration", c.observed_generation}});
  }
  json nodes = json::array();
  for (const NodeStatus& n : s.nodes) nodes.push_back(NodeJson(n));
  json j = {{"phase", Name(s.phase)},
            {"clusterState", s.cluster_state},
            {"slotsAssigned", s.slots_assigned},
            {"slotsOk", s.slots_ok},
            {"slotsPfail", s.slots_pfail},
            {"slotsFail", s.slots_fail},
            {"openSlots", s.open_slots},
            {"masters", s.masters},
            {"replicas", s.replicas},
            {"conditions", conditions},
            {"nodes", nodes},
            {"operation", nullptr},
            {"observedGeneration", s.observed_generation},
            {"lastReconcileAt", s.last_reconcile_at}};
  if (s.operation) j["operation"] = *s.operation;
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string EventsToJson(const std::vector<Event>& events, int indent) {
  json arr = json::array();
  for (const Event& e : events) {
    arr.push_back(
        {{"time", e.time}, {"type", e.type}, {"reason", e.reason}, {"message", e.message}});
  }
  return arr.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace sk::codec
