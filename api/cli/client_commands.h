// The client verbs of the slotkeeper binary (CONTRACT.md section 3): they talk to a running
// controller over its REST API (api_client.h). Each takes the arguments after its verb and
// returns the exit code: 0 success, 1 failure, 2 usage or invalid spec.
#pragma once

#include <string>
#include <vector>

namespace sk::cli {

// apply -f SPEC [--server URL] [--token-file FILE]: creates the cluster, or replaces the spec
// of an existing one. A file saved from `get cluster -o yaml|json` is accepted as is.
int RunApply(const std::vector<std::string>& argv);
// get clusters|cluster NAME|nodes NAME|slots NAME [-o table|json|yaml].
int RunGet(const std::vector<std::string>& argv);
// scale NAME [--masters N] [--replicas R] [--wait].
int RunScale(const std::vector<std::string>& argv);
// failover NAME --node ID|HOST:PORT [--wait].
int RunFailover(const std::vector<std::string>& argv);
int RunRecoverSlots(const std::vector<std::string>& argv);

}  // namespace sk::cli
