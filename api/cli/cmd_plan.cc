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
#include "controller/plan/resize.h"
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

// The scale operation a changed shape would run: failovers, then slot moves per
// (source, target), the same DecideResize the controller uses.
void PrintReshard(const ClusterSpec& spec, const model::ObservedCluster& observed,
                  const std::vector<std::string>& leaving) {
  bool formed = std::any_of(observed.nodes.begin(), observed.nodes.end(), [](const auto& n) {
    return n.reachable && !n.synthetic && !n.OwnSlots().empty();
  });
  if (!formed) return;
  std::vector<plan::ResizeNode> nodes;
  for (const model::ObservedNode& n : observed.nodes) {
    if (!n.reachable) continue;
    bool stays = std::find(leaving.begin(), leaving.end(), n.name) == leaving.end();
    nodes.push_back(plan::ResizeNodeOf(n, stays));
  }
  auto d = plan::DecideResize(nodes, {spec.masters, spec.slots.weights, spec.slots.ranges});
  if (!d.ok()) {
    std::printf("reshard: refused: %s\n", d.error().message().c_str());
    return;
  }
  if (d->failovers.empty() && d->moves.empty() && leaving.empty()) return;
  std::printf("reshard (a scale operation when this spec is applied):\n");
  for (const auto& [replica, master] : d->failovers) {
    std::printf("  failover: %s takes over from %s, which leaves\n", replica.c_str(),
                master.c_str());
  }
  if (d->failovers.empty()) {
    std::map<std::pair<std::string, std::string>, int> pairs;
    for (const plan::SlotMove& m : d->moves) pairs[{m.from, m.to}]++;
    std::printf("  %zu slot moves%s\n", d->moves.size(),
                d->new_masters.empty() ? "" : " (new masters from empty nodes)");
    for (const auto& [p, n] : pairs) {
      std::printf("    %s -> %s: %d slots\n", p.first.c_str(), p.second.c_str(), n);
    }
    for (size_t k = 0; k < d->masters.size(); ++k) {
      std::printf("  shard %zu: %s serves %s\n", k, d->masters[k].c_str(),
                  RangesToString(d->layout[k]).c_str());
    }
  } else {
    std::printf("  (slot moves are planned after the failovers)\n");
  }
  for (const std::string& l : leaving) {
    std::printf("  retire: %s (re-point its replicas, FORGET everywhere, stop, delete)\n",
                l.c_str());
  }
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
  std::vector<LocalNode> nodes = agent::PlacedNodes(spec);
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
  // Nodes beyond the spec's count that still run (a scale-in): observed for the preview.
  ClusterSpec wider = spec;
  wider.masters = spec.masters + 64;
  std::vector<std::string> leaving;
  model::ObservedCluster all = observed;
  {
    std::vector<LocalNode> more = agent::PlacedNodes(wider);
    std::set<std::string> more_running;
    for (const agent::RunningNode& r : agent::FindRunningNodes(wider)) more_running.insert(r.name);
    for (size_t i = nodes.size(); i < more.size(); ++i) {
      if (!more_running.count(more[i].name)) continue;
      leaving.push_back(more[i].name);
      all.nodes.push_back(
          observe::ObserveNode(pool, {more[i].name, more[i].ep, more[i].ep.host, "", true}, keys));
    }
  }

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
  PrintReshard(spec, all, leaving);
  return plan.blockers.empty() ? 0 : 1;
}

}  // namespace sk::cli
