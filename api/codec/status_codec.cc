#include "api/codec/status_codec.h"

#include <nlohmann/json.hpp>

namespace sk::codec {

namespace {

using nlohmann::json;

json NodeJson(const NodeStatus& n) {
  json j = {{"id", n.id},       {"name", n.name},   {"host", n.host},
            {"port", n.port},   {"role", n.role},   {"masterId", nullptr},
            {"slots", n.slots}, {"flags", n.flags}, {"linkState", n.link_state},
            {"zone", n.zone},   {"keys", n.keys}};
  if (!n.master_id.empty()) j["masterId"] = n.master_id;
  if (n.zone.empty()) j["zone"] = nullptr;
  return j;
}

}  // namespace

std::string StatusToJson(const ClusterStatus& s, int indent) {
  json conditions = json::array();
  for (const Condition& c : s.conditions) {
    conditions.push_back({{"type", c.type},
                          {"status", c.status},
                          {"reason", c.reason},
                          {"message", c.message},
                          {"lastTransitionTime", c.last_transition_time},
                          {"observedGeneration", c.observed_generation}});
  }
  json nodes = json::array();
  for (const NodeStatus& n : s.nodes) nodes.push_back(NodeJson(n));
  json j = {{"phase", s.phase},
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
