// Writing specs. One JSON tree is built and rendered either as JSON or as YAML, so the two
// outputs cannot drift apart; both read back through ParseSpec() to the same spec.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "api/codec/spec_codec.h"
#include "api/codec/text_util.h"
#include "api/codec/yaml_emit.h"

namespace sk::codec {
namespace {

using ojson = nlohmann::ordered_json;  // keeps the envelope in the documented order

ojson BuildRedis(const RedisSettings& r) {
  ojson redis = {
      {"nodeTimeoutMs", r.node_timeout_ms},
      {"appendonly", r.appendonly},
      {"requireFullCoverage", r.require_full_coverage},
      {"replicaValidityFactor", r.replica_validity_factor},
      {"migrationBarrier", r.migration_barrier},
  };
  if (r.maxmemory) redis["maxmemory"] = *r.maxmemory;
  if (!r.config.empty()) {
    ojson config = ojson::object();
    for (const auto& [key, value] : r.config) config[key] = value;
    redis["config"] = std::move(config);
  }
  return redis;
}

ojson BuildSpec(const ClusterSpec& spec) {
  ojson body = {{"masters", spec.masters}, {"replicasPerMaster", spec.replicas_per_master}};
  if (!spec.slots.weights.empty() || !spec.slots.ranges.empty()) {
    ojson slots = ojson::object();
    if (!spec.slots.weights.empty()) slots["weights"] = spec.slots.weights;
    if (!spec.slots.ranges.empty()) {
      ojson ranges = ojson::array();
      for (const auto& list : spec.slots.ranges) {
        ojson items = ojson::array();
        for (const SlotRange& r : list) items.push_back(r.ToString());
        ranges.push_back(std::move(items));
      }
      slots["ranges"] = std::move(ranges);
    }
    body["slots"] = std::move(slots);
  }
  body["redis"] = BuildRedis(spec.redis);
  if (spec.auth) body["auth"] = {{"passwordFile", spec.auth->password_file}};
  // local is what runs when no hosts are given, so it is written out with its defaults.
  if (spec.hosts.empty() || spec.local_given) {
    body["local"] = {{"bind", spec.local.bind},
                     {"basePort", spec.local.base_port},
                     {"dataDir", spec.local.data_dir}};
  }
  if (!spec.hosts.empty()) {
    ojson hosts = ojson::array();
    for (const HostSpec& h : spec.hosts) {
      ojson host = {{"agent", h.agent}};
      if (!h.zone.empty()) host["zone"] = h.zone;
      hosts.push_back(std::move(host));
    }
    body["hosts"] = std::move(hosts);
  }
  return body;
}

ojson BuildDocument(const ClusterSpec& spec) {
  return {{"apiVersion", spec.api_version},
          {"kind", spec.kind},
          {"metadata", {{"name", spec.name}}},
          {"spec", BuildSpec(spec)}};
}

}  // namespace

// A string that a plain YAML scalar would turn into something else (true, null, 42) is
// double-quoted so it reads back as the same string.
bool NeedsQuotes(const std::string& s) {
  return IsNullText(s) || BoolText(s) || IsIntText(s) || IsFloatText(s);
}

void EmitYaml(YAML::Emitter& out, const ojson& j) {
  if (j.is_object()) {
    if (j.empty()) {
      out << YAML::Flow << YAML::BeginMap << YAML::EndMap;  // "{}"
      return;
    }
    out << YAML::BeginMap;
    for (const auto& [key, value] : j.items()) {
      out << YAML::Key << key << YAML::Value;
      EmitYaml(out, value);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    // Lists of scalars (weights, one master's ranges) read best on one line.
    bool scalars = std::all_of(j.begin(), j.end(), [](const ojson& i) { return i.is_primitive(); });
    if (scalars) out << YAML::Flow;
    out << YAML::BeginSeq;
    for (const ojson& item : j) EmitYaml(out, item);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
    out << s;
  } else if (j.is_number_float()) {
    // Shortest text that reads back as the same double: 2 rather than 2.0000000000000000.
    const double d = j.get<double>();
    if (!std::isfinite(d)) {
      out << (std::isnan(d) ? ".nan" : d > 0 ? ".inf" : "-.inf");  // YAML's spelling
      return;
    }
    char buf[64];
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), d);
    out << std::string(buf, ec == std::errc() ? ptr : buf);
  } else if (j.is_null()) {
    out << YAML::Null;
  } else {
    out << j.dump();  // integers and booleans
  }
}

std::string SpecToJson(const ClusterSpec& spec, int indent) {
  // error_handler replace: a config value that is not UTF-8 must not make dump() throw.
  return BuildDocument(spec).dump(indent, ' ', false, ojson::error_handler_t::replace);
}

std::string SpecToYaml(const ClusterSpec& spec) {
  YAML::Emitter out;
  EmitYaml(out, BuildDocument(spec));
  return std::string(out.c_str()) + "\n";
}

}  // namespace sk::codec
