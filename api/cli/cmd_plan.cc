// `slotkeeper plan -f SPEC`: the actions a reconcile would take now. Changes nothing: running
// nodes are read, nodes that do not run are predicted from their nodes-<port>.conf (or as
// fresh nodes when they have none), and no file is written.
#include <cstdio>

#include "agent/render/render.h"
#include "agent/supervise/local_provider.h"
#include "api/cli/args.h"
#include "api/cli/cluster_setup.h"
#include "api/cli/commands.h"
#include "api/types/files.h"
#include "controller/observe/observe.h"
#include "controller/plan/plan.h"
#include "controller/reconcile/state_store.h"
#include "controller/redis/cluster_nodes.h"

namespace sk::cli {

namespace {

// What a stopped node will look like once started: its nodes-<port>.conf, else a fresh node.
model::ObservedNode Predict(const ClusterSpec& spec, const LocalNode& node) {
  model::ObservedNode n = observe::PredictFresh({node.name, node.ep, node.ep.host, "", false});
  agent::NodeLayout layout =
      agent::LayoutFor(AbsolutePath(spec.local.data_dir), spec.name, node.ep.port);
  auto text = ReadFile(layout.dir + "/" + layout.nodes_conf_name);
  auto table =
      text.ok() ? redis::ParseClusterNodes(*text) : Result<redis::NodeTable>(redis::NodeTable{});
  const redis::NodeEntry* self = table.ok() ? table->Myself() : nullptr;
  if (!self) return n;
  n.peers.clear();
  n.id = self->id;
  n.current_epoch = std::max(0LL, table->current_epoch);
  for (const redis::NodeEntry& e : table->nodes) {
    model::PeerView p{.id = e.id,
                      .ep = {e.host, e.port},
                      .myself = e.IsMyself(),
                      .master = e.IsMaster(),
                      .replica = e.IsReplica(),
                      .fail = e.IsFail(),
                      .handshake = e.InHandshake(),
                      .noaddr = e.NoAddr(),
                      .connected = true,
                      .master_id = e.master_id,
                      .config_epoch = e.config_epoch,
                      .slots = e.slots};
    n.peers.push_back(p);
  }
  n.known_nodes = static_cast<int>(n.peers.size());
  if (self->IsReplica()) {
    n.repl.role = "slave";
    n.repl.link_up = true;
  }
  return n;
}

}  // namespace

int RunPlan(const std::vector<std::string>& argv) {
  auto args = ParseArgs("plan", argv, {{"-f", "--file", "--state-dir"}, {}});
  if (!args.ok()) return Fail(args.error());
  std::string path = args->Get("-f", args->Get("--file"));
  if (path.empty()) return Fail(InvalidArgument("plan needs -f SPEC"));
  auto loaded = LoadSpec(path);
  if (!loaded.ok()) return Fail(loaded.error());
  const ClusterSpec& spec = loaded->spec;
  if (!spec.hosts.empty()) {
    return Fail(FailedPrecondition("spec.hosts: multi-host agents are not available yet"));
  }
  std::vector<LocalNode> nodes = LocalNodes(spec);
  std::vector<NodeRuntime> runtimes;
  for (const LocalNode& n : nodes) runtimes.push_back({n.name, n.ep, n.ep.host, "", 0, false});
  std::set<std::string> running;
  for (const agent::RunningNode& r : agent::FindRunningNodes(spec)) running.insert(r.name);

  model::DesiredCluster desired = DesiredFromSpec(spec, runtimes);
  reconcile::StateStore store(
      reconcile::StateStore::ClusterDir(args->Get("--state-dir", "./.slotkeeper"), spec.name));
  if (auto id = store.LoadIdentity(); id.ok()) {
    desired.formed_before = id->formed;
    desired.known_ids.assign(id->known_ids.begin(), id->known_ids.end());
  }
  observe::ClientPool pool(ClientOptionsFor(loaded->password));
  std::vector<std::string> keys;
  for (const auto& [k, v] : desired.runtime_config) keys.push_back(k);
  model::ObservedCluster observed;
  for (const LocalNode& n : nodes) {
    if (running.count(n.name)) {
      observed.nodes.push_back(
          observe::ObserveNode(pool, {n.name, n.ep, n.ep.host, "", true}, keys));
    } else {
      observed.nodes.push_back(Predict(spec, n));
    }
  }
  model::Plan plan = plan::MakePlan(desired, observed);

  std::printf("cluster %s: %d masters x %d replicas, %zu nodes\n", spec.name.c_str(), spec.masters,
              spec.replicas_per_master, nodes.size());
  for (const plan::ClassifiedNode& c : plan::Classify(desired, observed)) {
    const model::ObservedNode* n = observed.ByName(c.name);
    std::string state = running.count(c.name) ? "running" : "stopped";
    std::printf("  %-16s %-21s %-8s %-12s %s\n", c.name.c_str(), n->ep.ToString().c_str(),
                state.c_str(), std::string(plan::NodeClassName(c.cls)).c_str(), c.detail.c_str());
  }
  if (plan.Converged() && plan.steps.empty())
    std::printf("nothing to do: the cluster matches its spec\n");
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    std::printf("step %zu (%zu actions):\n", i + 1, plan.steps[i].size());
    for (const model::Action& a : plan.steps[i]) std::printf("  %s\n", model::Describe(a).c_str());
  }
  for (const std::string& w : plan.waiting) std::printf("waiting: %s\n", w.c_str());
  for (const std::string& note : plan.notes) std::printf("note: %s\n", note.c_str());
  for (const model::Blocker& b : plan.blockers) std::printf("blocked: %s\n", b.message.c_str());
  return plan.blockers.empty() ? 0 : 1;
}

}  // namespace sk::cli
