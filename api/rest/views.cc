// The JSON shapes of CONTRACT.md section 4, built from the codec's spec and status JSON so
// that a cluster reads the same here, in `slotkeeper plan` and in the state dir.
#include <algorithm>
#include <map>

#include "api/codec/spec_codec.h"
#include "api/codec/status_codec.h"
#include "api/rest/handlers.h"
#include "api/types/slot_range.h"

namespace sk::rest::internal {

namespace {

using ojson = nlohmann::ordered_json;

ojson ParseOwn(const std::string& text) {
  // Our own codec's output: valid JSON by construction, and the codecs replace bad UTF-8.
  return ojson::parse(text, nullptr, /*allow_exceptions=*/false);
}

}  // namespace

Response JsonResponse(int status, const ojson& body) {
  return Response{
      status, "application/json", body.dump(-1, ' ', false, ojson::error_handler_t::replace), {}};
}

ojson ClusterJson(const ClusterRecord& record) {
  ojson doc = ParseOwn(codec::SpecToJson(record.spec, -1));
  doc["metadata"]["generation"] = record.generation;
  ojson status = ParseOwn(codec::StatusToJson(record.status));
  if (record.operation && status["operation"].is_null()) status["operation"] = record.operation->id;
  doc["status"] = std::move(status);
  return doc;
}

ojson OperationJson(const Operation& op) {
  ojson j = {{"id", op.id},
             {"cluster", op.cluster},
             {"kind", codec::Name(op.kind)},
             {"state", codec::Name(op.state)},
             {"progress", std::clamp(op.progress, 0.0, 1.0)},
             {"slotsMoved", op.slots_moved},
             {"slotsTotal", op.slots_total},
             {"keysMoved", op.keys_moved},
             {"startedAt", op.started_at},
             {"finishedAt", nullptr},
             {"error", nullptr}};
  if (!op.finished_at.empty()) j["finishedAt"] = op.finished_at;
  if (!op.error.empty()) j["error"] = op.error;
  return j;
}

ojson NodesJson(const ClusterStatus& status) {
  ojson nodes = ParseOwn(codec::StatusToJson(status))["nodes"];
  return nodes.is_array() ? nodes : ojson::array();
}

ojson SlotsJson(const ClusterStatus& status) {
  const ojson nodes = NodesJson(status);
  struct Entry {
    SlotRange range;
    size_t master;  // index into status.nodes
  };
  std::vector<Entry> entries;
  std::multimap<std::string, size_t> replicas_of;  // master id -> replica indexes
  for (size_t i = 0; i < status.nodes.size(); ++i) {
    const NodeStatus& n = status.nodes[i];
    if (!n.master_id.empty()) replicas_of.emplace(n.master_id, i);
    if (n.role != Role::kMaster) continue;
    for (const std::string& text : n.slots) {
      // Entries that are not plain ranges (a migrating "[42->-id]") are not ownership.
      if (auto range = ParseSlotRange(text); range.ok()) entries.push_back({*range, i});
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.range.start < b.range.start; });
  ojson out = ojson::array();
  for (const Entry& e : entries) {
    ojson replicas = ojson::array();
    const std::string& id = status.nodes[e.master].id;
    if (!id.empty()) {
      auto [lo, hi] = replicas_of.equal_range(id);
      for (auto it = lo; it != hi; ++it) replicas.push_back(nodes[it->second]);
    }
    out.push_back({{"start", e.range.start},
                   {"end", e.range.end},
                   {"master", nodes[e.master]},
                   {"replicas", std::move(replicas)}});
  }
  return out;
}

}  // namespace sk::rest::internal
