// An in-memory ClusterService for the REST and CLI-client tests: clusters are records in a
// map, operations advance a step each time they are read, and errors can be injected. It
// checks nothing a real controller would (no Redis); the router's own checks are what the
// tests exercise.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/types/cluster_service.h"

namespace sk::testing {

class FakeClusterService : public ClusterService {
 public:
  std::vector<ClusterSummary> List() const override;
  Result<ClusterRecord> Get(const std::string& name) const override;
  Result<ClusterRecord> Create(const ClusterSpec& spec) override;
  Result<Operation> Replace(const ClusterSpec& spec) override;
  Status Delete(const std::string& name, bool purge) override;
  Result<Operation> Scale(const std::string& name, const ScaleRequest& req) override;
  Result<Operation> Failover(const std::string& name, const std::string& node) override;
  Result<Operation> RecoverSlots(const std::string& name, bool accept_data_loss) override;
  Result<std::vector<Event>> Events(const std::string& name) const override;
  Result<Operation> GetOperation(const std::string& id) const override;
  bool Ready() const override;
  std::string MetricsText() const override;

  // A Ready cluster of `masters` masters with `replicas` replicas each on 127.0.0.1:7000..,
  // slots split evenly, and `events` events.
  void AddCluster(const std::string& name, int masters = 3, int replicas = 1, int events = 3);
  // The next call of any mutating method fails with this error.
  void FailNext(Error e);
  // Each GetOperation() adds this much progress (1 finishes at the first read).
  void SetStep(double step);
  void SetReady(bool ready);
  // What the fake was last asked (for checks that the router passed the right thing).
  std::optional<ScaleRequest> last_scale() const;
  std::optional<bool> last_purge() const;
  std::optional<ClusterSpec> last_spec() const;

 private:
  Operation StartOperation(const std::string& cluster, OperationKind kind, int slots_total);
  std::optional<Error> TakeFailure();

  mutable std::mutex mu_;
  std::map<std::string, ClusterRecord> clusters_;
  mutable std::map<std::string, Operation> operations_;  // advanced when read
  std::map<std::string, std::vector<Event>> events_;
  std::optional<Error> fail_next_;
  double step_ = 0.25;
  bool ready_ = true;
  int next_op_ = 1;
  std::optional<ScaleRequest> last_scale_;
  std::optional<bool> last_purge_;
  std::optional<ClusterSpec> last_spec_;
};

}  // namespace sk::testing
