// YAML/JSON <-> ClusterSpec. yaml-cpp and nlohmann throw; those exceptions stop here.
#pragma once

#include <string>
#include <string_view>

#include "api/types/result.h"
#include "api/types/spec.h"

namespace sk::codec {

// Parses a spec document (JSON when the first non-blank character is '{', else YAML) with
// the Kubernetes-style envelope, applies defaults and runs Validate(). On failure returns
// InvalidArgument whose fields() list every problem as "path: what is wrong": malformed
// text (with line/column), wrong types, unknown fields (with a suggestion), values.
Result<ClusterSpec> ParseSpec(std::string_view text);
// Reads and parses a file; NotFound/Unavailable name the path.
Result<ClusterSpec> LoadSpecFile(const std::string& path);

// The spec as a JSON document with the envelope (defaults filled in), and as YAML.
std::string SpecToJson(const ClusterSpec& spec, int indent = 2);
std::string SpecToYaml(const ClusterSpec& spec);

}  // namespace sk::codec
