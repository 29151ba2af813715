// The file of `slotkeeper controller --config FILE`:
//
//   api: 127.0.0.1:7070          # optional; --api overrides
//   stateDir: ./.slotkeeper      # optional
//   tokenFile: ./api.token       # optional; --token-file overrides
//   clusters:                    # specs to manage: paths to spec files, or specs inline
//     - ./manifests/examples/local.yaml
//     - {apiVersion: slotkeeper.io/v1alpha1, kind: RedisCluster, metadata: {name: b}, ...}
#pragma once

#include <string>
#include <vector>

#include "api/types/result.h"
#include "api/types/spec.h"

namespace sk::codec {

struct ControllerConfig {
  std::string api = "127.0.0.1:7070";
  std::string state_dir = "./.slotkeeper";
  std::string token_file;
  std::vector<ClusterSpec> clusters;
};

// InvalidArgument listing every problem (unknown keys, bad types, each cluster's spec
// problems prefixed with its position), NotFound when the file is missing.
Result<ControllerConfig> LoadControllerConfig(const std::string& path);

}  // namespace sk::codec
