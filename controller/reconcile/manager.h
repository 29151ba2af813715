// ClusterManager: the controller's ClusterService and the registry of the clusters it manages,
// each with its own provider (where its nodes run), reconciler and thread.
//
// Specs accepted over any front end are persisted in the state dir before the call returns
// (StateStore: spec.json), and Load() picks them up again after a restart, so a restart never
// forgets a cluster. Reads (Get, List, Events, metrics) come from the snapshots the reconcilers
// publish after each pass: a slow Redis node never blocks them. A change is reserved as an
// operation first (OperationRegistry, atomically: one at a time per cluster), then handed to
// the cluster's reconciler as desired state; its passes act and end the operation.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/types/cluster_service.h"
#include "api/types/provider.h"
#include "controller/model/model.h"
#include "controller/reconcile/operations.h"
#include "controller/reconcile/reconciler.h"
#include "controller/reconcile/state_store.h"

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
  // The names of the nodes a spec declares: a scale operation retires the provider's nodes
  // that the new spec does not name.
  std::function<std::vector<std::string>(const ClusterSpec&)> node_names;
  // Reads spec.auth.passwordFile; InvalidArgument naming the field when it cannot.
  std::function<Result<std::optional<std::string>>(const ClusterSpec&)> password;
  // Called when the first reconcile of a cluster ends: Ok (formed), or the error that
  // stopped it, and whether this run created the cluster's state (a new cluster) or took it
  // from the state dir. `up` uses it to print "ready", or to give up a new cluster it cannot
  // form (a cluster managed before keeps being served, so that a person can act on it).
  std::function<void(const std::string& name, const Status& first, bool created)> on_first_converge;
  // Called when a cluster's nodes cannot be started (one exits at start, ports...).
  std::function<void(const std::string& name, const Status& why)> on_start_failed;
};

struct ManagerOptions {
  std::string state_dir = "./.slotkeeper";
  redis::ClientOptions client;  // timeouts; the password comes per cluster
  const Clock* clock = nullptr;
};

class ClusterManager : public ClusterService {
 public:
  ClusterManager(ManagerHooks hooks, ManagerOptions opts);
  ~ClusterManager() override;
  ClusterManager(const ClusterManager&) = delete;
  ClusterManager& operator=(const ClusterManager&) = delete;

  // Starts managing every cluster persisted in the state dir; returns the problems of those
  // that could not be started (they are skipped, not forgotten). A scale operation that was
  // interrupted (operation.json) carries on.
  std::vector<Error> Load();
  // Stops every reconciler; the nodes keep running. Running operations are reported failed
  // ("the daemon stopped"); a scale operation resumes at the next start.
  void Shutdown();
  // `up`: creates the cluster, or, when this state dir manages it already (an earlier `up`),
  // takes the persisted spec and turns a changed spec into a Replace (a scale operation
  // when masters, replicas or the split changed). Resumes an interrupted scale operation.
  Result<ClusterRecord> Apply(const ClusterSpec& spec);
  // Gives up a cluster whose creation was refused: stops its reconciler and the nodes this
  // run started (never adopted ones), and forgets the state this run created for it.
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
  // Starts managing `rec` (a new cluster when `created`). `resume` is an interrupted scale
  // operation to carry on.
  Status Start(const SpecRecord& rec, bool created, const std::optional<OperationRecord>& resume);
  // The desired state for `spec` on the provider's nodes, with the cluster's own slot
  // layout (after a reshard) instead of the spec's arithmetic when it has one.
  model::DesiredCluster DesiredFor(const Managed& m, const ClusterSpec& spec) const;
  // A scale operation's goal from the cluster as it is to `to`.
  model::DesiredCluster ResizeDesired(const Managed& m, const ClusterSpec& to,
                                      const std::vector<std::string>& retired) const;
  // Ends a cluster's threads for good (starter, reconciler); the nodes keep running.
  void StopThreads(Managed& m);
  void OnOperationEnd(Managed& m, const OperationEnd& end);
  void OnRetired(Managed& m, const std::string& node);
  std::shared_ptr<Managed> Find(const std::string& name) const;
  std::string Now() const;
  StateStore StoreOf(const std::string& name) const;

  ManagerHooks hooks_;
  ManagerOptions opts_;
  const Clock& clock_;
  OperationRegistry ops_;
  mutable std::mutex mu_;  // guards clusters_, names_ and each Managed's spec/generation/layout
  std::map<std::string, std::shared_ptr<Managed>> clusters_;
  // Names being set up or torn down: a second Create of the name waits for neither.
  std::set<std::string> busy_names_;
  std::vector<std::thread> reapers_;  // joins the threads of deleted clusters
};

}  // namespace sk::reconcile
