// A JSON document written as block-style YAML (spec files, `get -o yaml`, REST YAML bodies).
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>

namespace sk::codec {

// True when a string would read back as another type in YAML (null, a bool, a number), so
// it must be quoted.
bool NeedsQuotes(const std::string& s);

// Emits `j` in key order: lists of scalars on one line, strings quoted only where YAML would
// read them as another type, floats in their shortest exact form (.nan/.inf spelled as YAML
// does), integers and booleans as JSON writes them.
void EmitYaml(YAML::Emitter& out, const nlohmann::ordered_json& j);

}  // namespace sk::codec
