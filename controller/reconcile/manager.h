// ClusterManager: the controller's ClusterService. Manages several clusters, each with its
// own provider (where its nodes run), reconciler and thread.
//
// Specs accepted over any front end are persisted in the state dir before the call returns
// (<state-dir>/clusters/<name>/spec.json), and Load() picks them up again after a restart,
// so a restart never forgets a cluster. Reads (Get, List, Events, metrics) come from the
// snapshots the reconcilers publish after each pass: a slow Redis node never blocks them.
// Long work (creation, failover, spec changes) runs as an Operation.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/types/cluster_service.h"
#include "api/types/provider.h"
#include "controller/model/model.h"
#include "controller/reconcile/reconciler.h"

namespace sk::reconcile {

// What the composition root (the CLI) supplies: how a spec becomes a provider and the
// controller's view of it. Keeps this module free of agent code.
struct ManagerHooks {
  // A provider for the spec's nodes (not prepared yet). The password is the spec's.
  std::function<std::unique_ptr<NodeProvider>(const ClusterSpec&,
                                              const std::optional<std::string>& password)>
      make_provider;
  // The desired cluster for a spec and its provider's nodes.
  std::function<model::DesiredCluster(const ClusterSpec&, const std::vector<NodeRuntime>&)> desired;
  // Reads spec.auth.passwordFile; InvalidArgument naming the field when it cannot.
  std::function<Result<std::optional<std::string>>(const ClusterSpec&)> password;
  // Called when the first reconcile of a cluster ends: Ok (formed), or the error that
  // stopped it. `up` uses it to print "ready" or to exit.
  std::function<void(const std::string& name, const Status& first)> on_first_converge;
  // Called when a cluster's nodes cannot be started (one exits at start, ports...).
  std::function<void(const std::string& name, const Status& why)> on_start_failed;
};

struct ManagerOptions {
  std::string state_dir = "./.slotkeeper";
  redis::ClientOptions client;  // timeouts; the password comes per cluster
};

// The nodes of both specs: the indices of a local cluster's nodes are a prefix of a bigger
// one's, so the spec with more nodes declares them all (with `to`'s settings).
ClusterSpec UnionSpecOf(const ClusterSpec& from, const ClusterSpec& to);

class ClusterManager : public ClusterService {
 public:
  ClusterManager(ManagerHooks hooks, ManagerOptions opts);
  ~ClusterManager() override;
  ClusterManager(const ClusterManager&) = delete;
  ClusterManager& operator=(const ClusterManager&) = delete;

  // Starts managing every cluster persisted in the state dir; returns the problems of those
  // that could not be started (they are skipped, not forgotten).
  std::vector<Error> Load();
  // Stops every reconciler; the nodes keep running.
  void Shutdown();
  // `up`: creates the cluster, or, when this state dir manages it already (an earlier `up`),
  // takes the persisted spec and turns a changed spec into a Replace (a scale operation
  // when masters, replicas or the split changed). Resumes an interrupted scale operation.
  Result<ClusterRecord> Apply(const ClusterSpec& spec);
  // Gives up a cluster whose creation was refused: stops its reconciler and the nodes this
  // run started (never adopted ones), and forgets its spec.
  void Abandon(const std::string& name);

  // ClusterService.
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

 private:
  struct Managed;
  // `nodes_spec`: the spec whose nodes the provider runs, when it differs from `spec` (a
  // scale operation resumed after a restart runs the union of the old and new nodes).
  Status Start(const ClusterSpec& spec, long long generation, bool persist,
               const ClusterSpec* nodes_spec = nullptr,
               std::vector<std::vector<SlotRange>> layout = {});
  // Start() for a spec.json read back (its layout, and an interrupted operation).
  Status StartPersisted(const ClusterSpec& spec, const nlohmann::json& j);
  Status Persist(const ClusterSpec& spec, long long generation,
                 const std::vector<std::vector<SlotRange>>& layout) const;
  // The desired state for `spec` on the provider's nodes, with the cluster's own slot
  // layout (after a reshard) instead of the spec's arithmetic when it has one.
  model::DesiredCluster DesiredFor(const Managed& m, const ClusterSpec& spec) const;
  // Ends a cluster's threads for good (operation, starter, reconciler); the nodes keep
  // running. SignalStop only tells them; JoinThreads waits.
  void SignalStop(Managed& m);
  void JoinThreads(Managed& m);
  void StopThreads(Managed& m);
  // The error for a call that conflicts with an operation running on `name`, if one runs.
  std::optional<Error> Busy(const std::string& name) const;
  // Stops the reconciler's thread (the nodes keep running and supervised) / starts it again.
  void Pause(Managed& m);
  void Resume(const std::shared_ptr<Managed>& m);
  // Replaces the provider by one for `spec`'s nodes (adopting the running ones).
  Status SwapProvider(Managed& m, const ClusterSpec& spec);
  // Starts the scale operation `op_id` from `from` to the managed spec (generation `gen`).
  void StartResize(const std::shared_ptr<Managed>& m, const ClusterSpec& from, long long gen,
                   const std::string& op_id);
  Status Resize(const std::shared_ptr<Managed>& m, const ClusterSpec& from, const ClusterSpec& to,
                long long gen, const std::string& op_id);
  void Progress(const std::string& op_id, int slots_done, int slots_total, long long keys);
  // Waits until the reconciler has made `passes` more passes and reports Ready (at
  // generation `gen` or later); the status's conditions on timeout.
  Status WaitReady(Managed& m, long long gen, std::chrono::milliseconds bound);
  std::shared_ptr<Managed> Find(const std::string& name) const;
  Operation NewOperation(const std::string& cluster, const std::string& kind);
  void FinishOperation(const std::string& id, const Status& result) const;
  // The spec and generation of a managed cluster, read under the lock.
  std::pair<ClusterSpec, long long> SpecOf(const Managed& m) const;
  void Run(std::shared_ptr<Managed> m);

  ManagerHooks hooks_;
  ManagerOptions opts_;
  mutable std::mutex mu_;  // guards everything below and each Managed's spec/generation
  std::map<std::string, std::shared_ptr<Managed>> clusters_;
  mutable std::map<std::string, Operation> operations_;
  std::map<std::string, std::pair<std::string, std::string>>
      failover_targets_;  // op -> (cluster, node)
  long long next_op_ = 1;
};

}  // namespace sk::reconcile
