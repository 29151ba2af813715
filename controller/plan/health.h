// CheckHealth: the verdict of `slotkeeper check` over any set of observed nodes (pure).
//
// Looks for what makes a Redis Cluster unsafe or broken: nodes that do not answer, duplicate
// node IDs, nodes that do not know each other, views that disagree on who owns a slot, gaps
// in coverage, open (migrating/importing) slots, failed or unreachable peers, replicas that
// are not linked, and bus ports that cannot be reached.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "controller/model/model.h"

namespace sk::plan {

struct HealthItem {
  bool problem = true;  // false: information only (e.g. "master demo-0 has no replica")
  std::string what;
};

struct HealthReport {
  std::vector<HealthItem> items;
  int masters = 0;
  int replicas = 0;
  int slots_covered = 0;
  bool Healthy() const;
};

// `bus_probe` maps node names to "" (bus port reachable) or the reason it is not.
HealthReport CheckHealth(const model::ObservedCluster& o,
                         const std::map<std::string, std::string>& bus_probe);

}  // namespace sk::plan
