// Request and response documents as JSON values, from and to JSON or YAML text. Shared by the
// router (spec bodies, merge patches, action bodies) and the CLI client (-o yaml, and specs
// saved from `get cluster`). yaml-cpp and nlohmann throw; nothing thrown leaves this module.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/types/result.h"

namespace sk::rest {

enum class BodyFormat { kJson, kYaml };

// From the media type (application/json, application/merge-patch+json and any +json are JSON;
// application/yaml, application/x-yaml, text/yaml and text/x-yaml are YAML); otherwise
// sniffed: a body whose first non-blank character is '{' or '[' is JSON, anything else YAML.
BodyFormat FormatOf(std::string_view content_type, std::string_view body);

// Parses one document. YAML scalars are typed as the spec codec types them (plain 3 is a
// number, "3" a string, yes/true booleans, ~ null). InvalidArgument (the REST layer's 400)
// for malformed text with its line and column, an empty body, several YAML documents, or
// nesting deeper than 64 levels / more than 200k values (YAML aliases included).
Result<nlohmann::json> ParseDocument(std::string_view text, BodyFormat format);

// Removes what a GET of a cluster adds to its spec document: `status`, and every metadata
// field but name, labels and annotations (generation, ...). True when it removed something.
bool StripReadOnly(nlohmann::json& doc);

// YAML text of a value, block style; strings that YAML would read as another type are
// quoted, so ParseDocument(ToYaml(x)) == x (key order kept).
std::string ToYaml(const nlohmann::ordered_json& doc);

}  // namespace sk::rest
