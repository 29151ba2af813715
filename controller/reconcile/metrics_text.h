// The controller's metrics in Prometheus text format (slotkeeper_ prefix), from the snapshots
// the reconcilers publish. Pure: no locks, no I/O; the caller gathers the inputs.
#pragma once

#include <string>
#include <vector>

#include "api/types/cluster_service.h"
#include "api/types/status.h"
#include "controller/reconcile/reconciler.h"

namespace sk::reconcile {

struct ClusterMetrics {
  std::string name;
  ClusterStatus status;
  ReconcileCounters counters;
};

std::string MetricsText(const std::vector<ClusterMetrics>& clusters,
                        const std::vector<Operation>& running);

}  // namespace sk::reconcile
