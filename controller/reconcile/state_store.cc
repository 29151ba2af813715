#include "controller/reconcile/state_store.h"

#include <nlohmann/json.hpp>

#include "api/codec/spec_codec.h"
#include "api/types/files.h"

namespace sk::reconcile {

std::string StateStore::ClusterDir(const std::string& state_dir, const std::string& name) {
  return AbsolutePath(state_dir) + "/clusters/" + name;
}

Result<Identity> StateStore::LoadIdentity() const {
  Identity id;
  if (dir_.empty()) return id;
  auto text = ReadFile(dir_ + "/identity.json");
  if (!text.ok()) {
    if (text.error().code() == Code::kNotFound) return id;
    return std::move(text).error();
  }
  try {
    nlohmann::json j = nlohmann::json::parse(*text);
    id.formed = j.value("formed", false);
    if (j.contains("nodes")) id.node_ids = j.at("nodes").get<std::map<std::string, std::string>>();
    if (j.contains("knownIds")) id.known_ids = j.at("knownIds").get<std::set<std::string>>();
  } catch (const std::exception& e) {
    return Internal(dir_ + "/identity.json is corrupt: " + e.what());
  }
  return id;
}

Status StateStore::SaveIdentity(const Identity& id) const {
  nlohmann::json j;
  j["formed"] = id.formed;
  j["nodes"] = id.node_ids;
  j["knownIds"] = id.known_ids;
  return SaveFile("identity.json", j.dump(2) + "\n");
}

Status StateStore::SaveFile(const std::string& name, const std::string& content) const {
  if (dir_.empty()) return Status::Ok();
  SK_TRY(MakeDirs(dir_, 0700));
  return WriteFileAtomic(dir_ + "/" + name, content, 0600);
}

namespace {

nlohmann::json LayoutJson(const std::vector<std::vector<SlotRange>>& layout) {
  nlohmann::json shards = nlohmann::json::array();
  for (const auto& ranges : layout) {
    nlohmann::json list = nlohmann::json::array();
    for (const SlotRange& r : ranges) list.push_back({r.start, r.end});
    shards.push_back(list);
  }
  return shards;
}

std::vector<std::vector<SlotRange>> LayoutOf(const nlohmann::json& j) {
  std::vector<std::vector<SlotRange>> layout;
  for (const auto& shard : j) {
    std::vector<SlotRange> ranges;
    for (const auto& r : shard) ranges.push_back({r.at(0).get<int>(), r.at(1).get<int>()});
    layout.push_back(std::move(ranges));
  }
  return layout;
}

// The file's JSON, nullopt when it does not exist.
Result<std::optional<nlohmann::json>> ReadJson(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) {
    if (text.error().code() == Code::kNotFound) return std::optional<nlohmann::json>();
    return std::move(text).error();
  }
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Internal(path + " is corrupt: not a JSON object");
  return std::optional<nlohmann::json>(std::move(j));
}

}  // namespace

Result<std::optional<SpecRecord>> StateStore::LoadSpec() const {
  if (dir_.empty()) return std::optional<SpecRecord>();
  const std::string path = dir_ + "/spec.json";
  SK_ASSIGN_OR_RETURN(std::optional<nlohmann::json> j, ReadJson(path));
  if (!j) return std::optional<SpecRecord>();
  try {
    SpecRecord r;
    SK_ASSIGN_OR_RETURN(r.spec, codec::ParseSpec(j->at("spec").dump()));
    r.generation = j->value("generation", 1LL);
    if (j->contains("layout")) r.layout = LayoutOf(j->at("layout"));
    return std::optional<SpecRecord>(std::move(r));
  } catch (const std::exception& e) {
    return Internal(path + " is corrupt: " + e.what());
  }
}

Status StateStore::SaveSpec(const SpecRecord& r) const {
  nlohmann::json j = {{"generation", r.generation},
                      {"spec", nlohmann::json::parse(codec::SpecToJson(r.spec))}};
  if (!r.layout.empty()) j["layout"] = LayoutJson(r.layout);
  return SaveFile("spec.json", j.dump(2) + "\n");
}

Result<std::optional<OperationRecord>> StateStore::LoadOperation() const {
  if (dir_.empty()) return std::optional<OperationRecord>();
  const std::string path = dir_ + "/operation.json";
  SK_ASSIGN_OR_RETURN(std::optional<nlohmann::json> j, ReadJson(path));
  if (!j) return std::optional<OperationRecord>();
  try {
    OperationRecord r;
    SK_ASSIGN_OR_RETURN(r.from, codec::ParseSpec(j->at("from").dump()));
    r.generation = j->value("generation", 0LL);
    if (j->contains("retired")) r.retired = j->at("retired").get<std::vector<std::string>>();
    return std::optional<OperationRecord>(std::move(r));
  } catch (const std::exception& e) {
    return Internal(path + " is corrupt: " + e.what());
  }
}

Status StateStore::SaveOperation(const OperationRecord& r) const {
  nlohmann::json j = {{"kind", "scale"},
                      {"generation", r.generation},
                      {"from", nlohmann::json::parse(codec::SpecToJson(r.from))},
                      {"retired", r.retired}};
  return SaveFile("operation.json", j.dump(2) + "\n");
}

Status StateStore::RemoveFile(const std::string& name) const {
  if (dir_.empty()) return Status::Ok();
  return RemoveTree(dir_ + "/" + name);
}

Status StateStore::RemoveAll() const {
  if (dir_.empty()) return Status::Ok();
  return RemoveTree(dir_);
}

}  // namespace sk::reconcile
