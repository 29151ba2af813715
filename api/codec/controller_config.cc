#include "api/codec/controller_config.h"

#include <yaml-cpp/yaml.h>

#include "api/codec/spec_codec.h"
#include "api/types/files.h"

namespace sk::codec {

Result<ControllerConfig> LoadControllerConfig(const std::string& path) {
  SK_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  ControllerConfig cfg;
  std::vector<std::string> problems;
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) return InvalidArgument(path + ": the config must be a map");
    for (const auto& kv : root) {
      std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "api" || key == "stateDir" || key == "tokenFile") {
        if (!v.IsScalar()) {
          problems.push_back(key + ": expected a string");
          continue;
        }
        (key == "api"        ? cfg.api
         : key == "stateDir" ? cfg.state_dir
                             : cfg.token_file) = v.as<std::string>();
      } else if (key == "clusters") {
        if (!v.IsSequence()) {
          problems.push_back("clusters: expected a list of spec files or specs");
          continue;
        }
        for (size_t i = 0; i < v.size(); ++i) {
          const std::string where = "clusters[" + std::to_string(i) + "]";
          Result<ClusterSpec> spec =
              v[i].IsScalar() ? LoadSpecFile(v[i].as<std::string>()) : ParseSpec(YAML::Dump(v[i]));
          if (!spec.ok()) {
            problems.push_back(where + ": " + spec.error().message());
            continue;
          }
          cfg.clusters.push_back(std::move(spec).value());
        }
      } else {
        problems.push_back(key + ": unknown field (api, stateDir, tokenFile, clusters)");
      }
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(path + ": malformed YAML: " + e.what());
  }
  if (!problems.empty()) {
    return InvalidArgument(
        path + ": " + std::to_string(problems.size()) + " problem(s): " + problems.front(),
        problems);
  }
  return cfg;
}

}  // namespace sk::codec
