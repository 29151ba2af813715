// Builds the published ClusterStatus from one pass (pure: the time is passed in).
#pragma once

#include <optional>
#include <string>

#include "api/types/cluster_service.h"
#include "api/types/status.h"
#include "controller/model/model.h"

namespace sk::reconcile {

struct PassInput {
  const model::DesiredCluster* desired = nullptr;
  const model::ObservedCluster* observed = nullptr;
  const model::Plan* plan = nullptr;
  const ClusterStatus* previous = nullptr;  // for lastTransitionTime; may be null
  std::string now;                          // RFC 3339
  long long generation = 0;
  std::string stalled;  // non-empty: the diagnostic of a wait that ran out
  // The running operation (a scale one makes the phase Scaling), if any.
  std::optional<Operation> operation;
  // Non-empty: the cluster does not match its spec because an operation failed (it stays
  // Degraded, with this message, until the spec or a scale request changes).
  std::string unmet;
};

ClusterStatus BuildStatus(const PassInput& in);

// RFC 3339 UTC with milliseconds, e.g. "2026-11-29T22:31:13.229Z".
std::string Rfc3339(long long unix_ms);

}  // namespace sk::reconcile
