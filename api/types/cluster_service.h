// ClusterService: what the REST API (api/rest) and the CLI may ask of the controller.
//
// Declared here, std-only, so that the REST layer never includes controller or Redis code;
// implemented by controller/reconcile/manager (ClusterManager). Every call returns at once:
// long work (scaling, failover, creation) runs as an Operation followed through
// GetOperation(). Implementations are thread-safe, and reads are served from the snapshot
// each reconcile pass publishes: a slow Redis node never blocks them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/types/result.h"
#include "api/types/spec.h"
#include "api/types/status.h"

namespace sk {

enum class OperationKind { kCreate, kReplace, kScale, kFailover, kDelete, kRecoverSlots };
enum class OperationState { kRunning, kSucceeded, kFailed };

struct Operation {
  std::string id;  // "op-000123"
  std::string cluster;
  OperationKind kind = OperationKind::kCreate;
  OperationState state = OperationState::kRunning;
  double progress = 0;  // 0..1
  int slots_moved = 0;
  int slots_total = 0;
  long long keys_moved = 0;
  std::string started_at;   // RFC 3339
  std::string finished_at;  // "" while running
  std::string error;        // why it failed
};

struct ClusterSummary {
  std::string name;
  Phase phase = Phase::kCreating;
  long long generation = 0;
};

struct ClusterRecord {
  ClusterSpec spec;
  long long generation = 1;  // bumped by every accepted spec change
  ClusterStatus status;
  std::optional<Operation> operation;  // the running one, if any
};

struct ScaleRequest {
  std::optional<int> masters;
  std::optional<int> replicas_per_master;
};

// Error codes and the HTTP status the REST layer gives them (STYLE.md section 3):
// InvalidArgument 422 (400 for malformed bodies, decided by the REST layer), NotFound 404,
// AlreadyExists 409, Aborted 409 (another operation runs), FailedPrecondition 409,
// Unavailable 503, Internal 500.
class ClusterService {
 public:
  virtual ~ClusterService() = default;

  virtual std::vector<ClusterSummary> List() const = 0;
  virtual Result<ClusterRecord> Get(const std::string& name) const = 0;
  // Validates, persists the spec in the state dir (before returning), starts managing it.
  virtual Result<ClusterRecord> Create(const ClusterSpec& spec) = 0;
  // A new spec for an existing cluster; returns the operation that applies it.
  virtual Result<Operation> Replace(const ClusterSpec& spec) = 0;
  // Stops managing; with purge also stops the nodes and deletes their data.
  virtual Status Delete(const std::string& name, bool purge) = 0;
  virtual Result<Operation> Scale(const std::string& name, const ScaleRequest& req) = 0;
  // Promotes the replica named by node ID or host:port (CLUSTER FAILOVER on it).
  virtual Result<Operation> Failover(const std::string& name, const std::string& node) = 0;
  // Re-covers, empty, the slots whose every copy is gone (status Degraded names them). Their
  // keys are lost for good: refused (InvalidArgument) unless `accept_data_loss`.
  virtual Result<Operation> RecoverSlots(const std::string& name, bool accept_data_loss) = 0;
  virtual Result<std::vector<Event>> Events(const std::string& name) const = 0;  // newest first
  virtual Result<Operation> GetOperation(const std::string& id) const = 0;
  // Every managed cluster is Ready (GET /readyz).
  virtual bool Ready() const = 0;
  // The controller's metrics in Prometheus text format (slotkeeper_ prefix), without the
  // API's own request counters, which the REST layer adds.
  virtual std::string MetricsText() const = 0;
};

}  // namespace sk
