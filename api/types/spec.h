// The declared cluster (CONTRACT.md section 1) as plain values, its defaults and its validation.
//
// Parsing YAML/JSON into these types lives in api/codec; this module is std-only so that every
// other module can use it. Validate() checks values only (types and unknown fields are the
// codec's job) and reports every problem with its field path.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/types/endpoint.h"
#include "api/types/result.h"
#include "api/types/slot_range.h"

namespace sk {

inline constexpr std::string_view kApiVersion = "slotkeeper.io/v1alpha1";
inline constexpr std::string_view kKind = "RedisCluster";

struct SlotsSpec {
  std::vector<double> weights;                 // one per master, > 0
  std::vector<std::vector<SlotRange>> ranges;  // one list per master
};

struct RedisSettings {
  int node_timeout_ms = 5000;  // cluster-node-timeout
  bool appendonly = true;
  bool require_full_coverage = true;  // cluster-require-full-coverage
  int replica_validity_factor = 10;   // cluster-replica-validity-factor
  int migration_barrier = 1;          // cluster-migration-barrier
  std::optional<std::string> maxmemory;
  // Further redis.conf directives, in the order given; values already rendered as strings
  // (true -> "yes", false -> "no", numbers as written).
  std::vector<std::pair<std::string, std::string>> config;
};

struct AuthSpec {
  std::string password_file;  // as written; resolved against the current directory
};

struct LocalSpec {
  std::string bind = "127.0.0.1";
  int base_port = 7000;
  std::string data_dir = "./data";
};

struct HostSpec {
  std::string agent;  // http://host:port of a slotkeeper agent
  std::string zone;
};

struct ClusterSpec {
  std::string api_version = std::string(kApiVersion);
  std::string kind = std::string(kKind);
  std::string name;
  int masters = 3;
  int replicas_per_master = 1;
  SlotsSpec slots;
  RedisSettings redis;
  std::optional<AuthSpec> auth;
  LocalSpec local;  // used when hosts is empty
  bool local_given =
      false;  // spec.local was written (spec.local and spec.hosts exclude each other)
  std::vector<HostSpec> hosts;

  int NodeCount() const { return masters * (1 + replicas_per_master); }
};

// Checks every value rule of CONTRACT.md section 1. Returns InvalidArgument whose fields()
// list every problem as "spec.path: what is wrong"; the message summarises them.
Status Validate(const ClusterSpec& spec);

// One node slot of a local-mode cluster: node i listens on bind:basePort+i.
struct LocalNode {
  int index = 0;
  std::string name;  // "<cluster>-<index>", the node's stable identity
  Endpoint ep;
};
// The spec.masters * (1 + spec.replicasPerMaster) nodes of a local-mode spec, by index.
std::vector<LocalNode> LocalNodes(const ClusterSpec& spec);

// The slots each master should own, in master order: explicit ranges, else weights, else
// the even split. Call only on a spec that passed Validate().
std::vector<std::vector<SlotRange>> DesiredSlots(const ClusterSpec& spec);

// redis.conf directives that slotkeeper renders itself; spec.redis.config may not set them.
// Maps each to the reason (e.g. "use spec.redis.nodeTimeoutMs").
const std::map<std::string, std::string>& OwnedRedisDirectives();

}  // namespace sk
