// Role placement with host anti-affinity (pure).
//
// Masters are spread over hosts first; each replica goes to a shard whose master runs on
// another host when the hosts allow it, and replicas of one shard avoid sharing a host. Like
// redis-cli's anti-affinity scoring, but deterministic.
#pragma once

#include <string>
#include <vector>

namespace sk::plan {

struct PlacementNode {
  std::string name;
  std::string host;
};

// Picks `count` of `candidates` as new masters, preferring hosts that run the fewest of
// `existing_master_hosts`; ties go to the earlier candidate. Returns indexes into candidates.
std::vector<int> PickMasters(const std::vector<PlacementNode>& candidates, int count,
                             const std::vector<std::string>& existing_master_hosts);

struct ShardSeat {
  std::string master_host;
  std::vector<std::string> replica_hosts;  // replicas it has now
  int wanted = 0;                          // replicas it should have
};

// Assigns candidates to shards that lack replicas. Returns, per candidate, the shard index
// or -1 when no shard needs it. Minimises replicas on their master's host, then replicas of
// one shard sharing a host, then keeps candidate order.
std::vector<int> AssignReplicas(const std::vector<PlacementNode>& candidates,
                                const std::vector<ShardSeat>& shards);

}  // namespace sk::plan
