// ClusterManager's record of one managed cluster (private to controller/reconcile).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/types/provider.h"
#include "api/types/slot_range.h"
#include "api/types/spec.h"
#include "controller/reconcile/manager.h"
#include "controller/reconcile/reconciler.h"

namespace sk::reconcile {

struct ClusterManager::Managed {
  // Set once by Start, read-only afterwards (the provider is never replaced).
  std::string name;
  std::optional<std::string> password;
  std::unique_ptr<NodeProvider> provider;
  std::unique_ptr<Reconciler> rec;
  bool created = false;  // this run created the cluster's state (a new cluster)
  // Guarded by the manager's mu_.
  ClusterSpec spec;
  long long generation = 1;
  // The slot layout after a reshard, per shard in master order ({} = the spec's arithmetic).
  std::vector<std::vector<SlotRange>> layout;
  std::optional<OperationRecord> scaling;  // the scale operation in progress (operation.json)
  // One change (Replace, Scale, Failover, RecoverSlots, Delete) at a time is being handed
  // over; the operation itself is reserved in the registry.
  std::mutex change_mu;
  std::atomic<bool> stop{false};
  std::thread starter;  // starts the nodes
  std::thread worker;   // reconciles
};

}  // namespace sk::reconcile
