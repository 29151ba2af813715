#include "controller/reconcile/state_store.h"

#include <nlohmann/json.hpp>

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

}  // namespace sk::reconcile
