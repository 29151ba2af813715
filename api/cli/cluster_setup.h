// What the cluster subcommands (up, down, plan, render) share: loading a spec with its
// password, and turning it into the controller's DesiredCluster.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/types/provider.h"
#include "api/types/spec.h"
#include "controller/model/model.h"
#include "controller/redis/redis_client.h"

namespace sk::cli {

struct LoadedSpec {
  ClusterSpec spec;
  std::optional<std::string> password;  // from spec.auth.passwordFile
};

// Parses and validates the file and reads the password file. InvalidArgument (exit 2) for
// every spec problem, including a password file that is missing, empty or not one line.
Result<LoadedSpec> LoadSpec(const std::string& path);

// Reads spec.auth.passwordFile (relative to the current directory); none when the spec has
// no auth. InvalidArgument naming the field when it is missing, empty or not one line.
Result<std::optional<std::string>> ReadSpecPassword(const ClusterSpec& spec);

// The exit code an error maps to: 2 for usage and invalid specs, 1 for everything else.
int ExitCodeFor(const Error& e);
// Prints "slotkeeper: <message>" and each field problem to stderr; returns ExitCodeFor(e).
int Fail(const Error& e);

// $SLOTKEEPER_REDIS_SERVER or "redis-server".
std::string RedisServerName();

// Nodes, shards and settings the controller should keep true for `spec`.
model::DesiredCluster DesiredFromSpec(const ClusterSpec& spec,
                                      const std::vector<NodeRuntime>& nodes);

redis::ClientOptions ClientOptionsFor(const std::optional<std::string>& password);

// <dataDir>/<name>, absolute.
std::string ClusterDataDir(const ClusterSpec& spec);

}  // namespace sk::cli
