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

// A scale operation's record in the cluster's state dir, kept until it succeeds.
inline constexpr char kOperationFile[] = "operation.json";

struct ClusterManager::Managed {
  ClusterSpec spec;
  long long generation = 1;
  std::optional<std::string> password;
  std::unique_ptr<NodeProvider> provider;
  std::unique_ptr<Reconciler> rec;
  std::atomic<bool> stop{false};  // for good: shutdown, delete
  std::atomic<bool> halt{false};  // the worker's loop: stop, or pause for an operation
  std::thread starter;            // starts the nodes
  std::thread worker;             // reconciles
  std::thread op_thread;          // a scale operation
  std::mutex life_mu;             // starting and joining `worker`
  bool first_done = false;        // the first Converge has been reported
  std::string create_op;
  // The slot layout after a reshard, per shard in master order ({} = the spec's arithmetic).
  std::vector<std::vector<SlotRange>> layout;
  std::atomic<long long> slots_migrated{0};
  std::atomic<long long> keys_migrated{0};
};

}  // namespace sk::reconcile
