// ClusterManager's scale operation: masters, replicas or the slot split of a live cluster
// change (plan/resize.h decides, act/migrate.h moves the slots).
//
// While slots move, the reconciler is paused: the operation is the one thing acting on the
// cluster ("never two conflicting operations at once"). Every step is recomputed from what
// the nodes report, and the operation's record (operation.json) plus the migration journal
// stay in the state dir until it succeeds, so a daemon killed at any point carries on after
// a restart: slots in flight are finished or rolled back first, then the rest is planned
// again from the live layout.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <thread>

#include "api/types/files.h"
#include "controller/act/migrate.h"
#include "controller/plan/plan.h"
#include "controller/plan/resize.h"
#include "controller/reconcile/managed.h"
#include "controller/reconcile/manager.h"
#include "controller/reconcile/state_store.h"

namespace sk::reconcile {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

constexpr char kJournalFile[] = "migration.json";

// Masters that serve slots (own view), by their lowest slot, with their slots.
std::vector<std::vector<SlotRange>> ServingLayout(const model::ObservedCluster& o) {
  std::vector<std::vector<SlotRange>> layout;
  for (const model::ObservedNode& n : o.nodes) {
    if (n.reachable && !n.starting && n.IsMaster() && !n.OwnSlots().empty()) {
      layout.push_back(n.OwnSlots());
    }
  }
  std::sort(layout.begin(), layout.end(),
            [](const auto& a, const auto& b) { return a.front().start < b.front().start; });
  return layout;
}

act::MigrateNode NodeOf(const model::ObservedNode& n) { return {n.name, n.id, n.ep}; }

Status Call(const model::ObservedNode& n, const redis::ClientOptions& client,
            const std::vector<std::string>& argv) {
  SK_ASSIGN_OR_RETURN(redis::RedisClient c, redis::RedisClient::Connect(n.ep, client));
  auto r = c.Call(argv);
  if (!r.ok()) return std::move(r).error().Wrap(n.name + ": " + argv[0] + " " + argv[1]);
  return Status::Ok();
}

}  // namespace

Status ClusterManager::SwapProvider(Managed& m, const ClusterSpec& spec) {
  auto next = hooks_.make_provider(spec, m.password);
  SK_TRY(next->Prepare());
  if (m.starter.joinable()) m.starter.join();
  // The old provider stops supervising (its nodes keep running); the new one adopts them.
  m.provider.reset();
  Status st = next->Start();
  m.provider = std::move(next);
  m.rec->SetProvider(*m.provider);
  return st;
}

Status ClusterManager::WaitReady(Managed& m, long long gen, milliseconds bound) {
  const long long passes = m.rec->Counters().passes;
  const auto deadline = Clock::now() + bound;
  while (!m.stop.load()) {
    ClusterStatus s = m.rec->Snapshot();
    if (m.rec->Counters().passes >= passes + 2 && s.phase == "Ready" &&
        s.observed_generation >= gen) {
      return Status::Ok();
    }
    if (Clock::now() > deadline) {
      std::string why;
      for (const Condition& c : s.conditions) {
        if (c.status != "True" || c.type != "Ready") why += (why.empty() ? "" : "; ") + c.message;
      }
      return DeadlineExceeded("the cluster did not become Ready within " +
                              std::to_string(bound.count() / 1000) + " s (" + why + ")");
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  return Aborted("the controller is stopping");
}

void ClusterManager::Progress(const std::string& op_id, int slots_done, int slots_total,
                              long long keys) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = operations_.find(op_id);
  if (it == operations_.end()) return;
  it->second.slots_moved = slots_done;
  it->second.slots_total = slots_total;
  it->second.keys_moved = keys;
  // Slots are most of the work; joining and retiring nodes the rest.
  it->second.progress = slots_total > 0 ? 0.05 + 0.9 * slots_done / slots_total : 0.5;
}

void ClusterManager::StartResize(const std::shared_ptr<Managed>& m, const ClusterSpec& from,
                                 long long gen, const std::string& op_id) {
  if (m->op_thread.joinable()) m->op_thread.join();  // the previous one has finished
  m->op_thread = std::thread([this, m, from, gen, op_id] {
    ClusterSpec to = SpecOf(*m).first;
    spdlog::info("cluster={} {}: scale from {}x{} to {}x{}", to.name, op_id, from.masters,
                 from.replicas_per_master, to.masters, to.replicas_per_master);
    m->rec->Note("Normal", "ScaleStarted",
                 op_id + ": " + std::to_string(from.masters) + "x" +
                     std::to_string(from.replicas_per_master) + " -> " +
                     std::to_string(to.masters) + "x" + std::to_string(to.replicas_per_master));
    Status st = Resize(m, from, to, gen, op_id);
    if (m->stop.load()) return;  // the record stays: a restart resumes it
    if (st.ok()) {
      (void)RemoveTree(StateStore::ClusterDir(opts_.state_dir, to.name) + "/" + kOperationFile);
      spdlog::info("cluster={} {} succeeded", to.name, op_id);
      m->rec->Note("Normal", "ScaleSucceeded", op_id + " succeeded");
    } else {
      spdlog::error("cluster={} {} failed: {}", to.name, op_id, st.error().message());
      m->rec->Note("Warning", "ScaleFailed", op_id + ": " + st.error().message());
    }
    FinishOperation(op_id, st);
    Resume(m);
  });
}

Status ClusterManager::Resize(const std::shared_ptr<Managed>& m, const ClusterSpec& from,
                              const ClusterSpec& to, long long gen, const std::string& op_id) {
  const std::string& name = to.name;
  const long long before = gen - 1;
  Pause(*m);
  redis::ClientOptions client = opts_.client;
  if (m->password) {
    client.password = Redacted<std::string>(*m->password);
    client.has_password = true;
  }
  const ClusterSpec all = UnionSpecOf(from, to);
  const milliseconds ready(15000 + 200 * static_cast<long long>(all.NodeCount()));
  if (static_cast<int>(m->provider->Nodes().size()) != all.NodeCount()) {
    SK_TRY(SwapProvider(*m, all));
  }
  SK_TRY(m->provider->WaitReady(ready));

  // 1. New nodes join and the existing shards get their replicas; the layout stays.
  auto hold = [&](const model::ObservedCluster& o) {
    model::DesiredCluster d = hooks_.desired(to, m->provider->Nodes());
    auto layout = ServingLayout(o);
    if (!layout.empty()) {
      d.shard_slots = layout;
      d.masters = static_cast<int>(layout.size());
    }
    return d;
  };
  m->rec->SetDesired(hold(m->rec->Look().observed), before);
  Resume(m);
  Status joined = WaitReady(*m, before, ready);
  Pause(*m);
  if (!joined.ok()) return std::move(joined).error().Wrap("joining the new nodes");
  if (m->stop.load()) return Aborted("the controller is stopping");

  // Nodes beyond the target's count leave (their indices are the highest).
  std::vector<NodeRuntime> runtimes = m->provider->Nodes();
  std::set<std::string> leaving;
  for (std::size_t i = static_cast<std::size_t>(to.NodeCount()); i < runtimes.size(); ++i) {
    leaving.insert(runtimes[i].name);
  }
  plan::ResizeTarget target{to.masters, to.slots.weights, to.slots.ranges};

  // 2. Failovers and slot moves, observed afresh each round.
  act::MigrateOptions mo;
  mo.client = client;
  mo.journal_path = StateStore::ClusterDir(opts_.state_dir, name) + "/" + kJournalFile;
  int done = 0;
  long long keys = 0;
  plan::ResizeDecision final;
  for (int round = 0;; ++round) {
    if (m->stop.load()) return Aborted("the controller is stopping");
    if (round == 12) return Internal("the layout did not settle after 12 rounds of moves");
    model::ObservedCluster o = m->rec->Look().observed;
    for (const model::ObservedNode& n : o.nodes) {
      if (!n.reachable || n.starting) {
        return Unavailable(n.name + " (" + n.ep.ToString() + ") does not answer (" + n.error +
                           "); slots move only while every node answers");
      }
    }
    act::Migrator resolver(mo);
    SK_TRY(resolver.Resume());
    if (auto open = plan::FindOpenSlots(o); !open.empty()) {
      spdlog::info("cluster={} {} slots are open; finishing or rolling them back", name,
                   open.size());
      for (const model::SettleSlot& s : open) {
        SK_TRY(resolver.Resolve({s.slot, NodeOf(*o.ByName(s.node)), NodeOf(*o.ByName(s.target))}));
      }
      continue;
    }
    std::vector<plan::ResizeNode> nodes;
    for (const model::ObservedNode& n : o.nodes) {
      nodes.push_back(plan::ResizeNodeOf(n, !leaving.count(n.name)));
    }
    SK_ASSIGN_OR_RETURN(plan::ResizeDecision d, plan::DecideResize(nodes, target));
    if (!d.failovers.empty()) {
      for (const auto& [replica, master] : d.failovers) {
        spdlog::info("cluster={} {} leaves: its replica {} takes over (CLUSTER FAILOVER)", name,
                     master, replica);
        m->rec->Note("Normal", "Failover",
                     replica + " takes over from " + master + ", which leaves");
        SK_TRY(Call(*o.ByName(replica), client, {"CLUSTER", "FAILOVER"}));
      }
      // Redis gives a manual failover 5 s; a few more for the views to follow.
      const auto deadline = Clock::now() + std::chrono::seconds(15);
      while (true) {
        model::ObservedCluster now = m->rec->Look().observed;
        bool promoted = std::all_of(d.failovers.begin(), d.failovers.end(), [&](const auto& f) {
          const model::ObservedNode* n = now.ByName(f.first);
          return n && n->IsMaster() && !n->OwnSlots().empty();
        });
        if (promoted) break;
        if (Clock::now() > deadline) {
          return DeadlineExceeded("CLUSTER FAILOVER did not promote " + d.failovers[0].first +
                                  " within 15 s");
        }
        std::this_thread::sleep_for(milliseconds(100));
      }
      continue;
    }
    if (d.moves.empty()) {
      final = std::move(d);
      break;
    }
    std::vector<act::SlotMoveJob> jobs;
    mo.masters.clear();
    for (const model::ObservedNode& n : o.nodes) {
      if (n.IsMaster()) mo.masters.push_back(NodeOf(n));
    }
    for (const plan::SlotMove& mv : d.moves) {
      jobs.push_back({mv.slot, NodeOf(*o.ByName(mv.from)), NodeOf(*o.ByName(mv.to))});
    }
    const int total = done + static_cast<int>(jobs.size());
    spdlog::info("cluster={} moving {} slots ({} masters: {} drain, {} new)", name, jobs.size(),
                 d.masters.size(), d.draining.size(), d.new_masters.size());
    m->rec->Note("Normal", "MoveSlots",
                 "moving " + std::to_string(jobs.size()) + " slots to reach " +
                     std::to_string(d.masters.size()) + " masters");
    Progress(op_id, done, total, keys);
    act::Migrator mig(mo);
    int run_done = 0;
    long long run_keys = 0;
    Status st = mig.Run(
        jobs,
        [&](const act::MigrateProgress& p) {
          run_done = p.slots_done;
          run_keys = p.keys_moved;
          Progress(op_id, done + run_done, total, keys + run_keys);
        },
        m->stop);
    done += run_done;
    keys += run_keys;
    m->slots_migrated += run_done;
    m->keys_migrated += run_keys;
    SK_TRY(st);
  }
  Progress(op_id, done, done, keys);

  // 3. Nodes that leave: their staying replicas re-pointed, forgotten everywhere (FORGET
  // bans an ID for 60 s: all of it now), stopped, and only then their files deleted.
  if (!leaving.empty()) {
    model::ObservedCluster o = m->rec->Look().observed;
    std::set<std::string> ids;
    for (const std::string& l : leaving) {
      const model::ObservedNode* n = o.ByName(l);
      if (!n) continue;
      if (!n->OwnSlots().empty() || (n->IsMaster() && n->keys > 0)) {
        return FailedPrecondition(l + " still serves slots or holds " + std::to_string(n->keys) +
                                  " keys; it is not retired");
      }
      ids.insert(n->id);
    }
    std::map<std::string, int> replicas;  // final master name -> staying replicas
    for (const std::string& mname : final.masters) replicas[mname] = 0;
    for (const model::ObservedNode& n : o.nodes) {
      const model::ObservedNode* mm = o.ById(n.MasterId());
      if (!leaving.count(n.name) && mm && replicas.count(mm->name)) replicas[mm->name]++;
    }
    for (const model::ObservedNode& n : o.nodes) {
      if (leaving.count(n.name) || !ids.count(n.MasterId())) continue;
      auto best =
          std::min_element(replicas.begin(), replicas.end(),
                           [](const auto& a, const auto& b) { return a.second < b.second; });
      const model::ObservedNode* to_master = o.ByName(best->first);
      SK_TRY(Call(n, client, {"CLUSTER", "REPLICATE", to_master->id}));
      best->second++;
    }
    for (const model::ObservedNode& n : o.nodes) {
      if (leaving.count(n.name)) continue;
      for (const std::string& id : ids) {
        if (!n.PeerById(id)) continue;
        Status st = Call(n, client, {"CLUSTER", "FORGET", id});
        if (!st.ok() && st.error().message().find("Unknown node") == std::string::npos) return st;
      }
    }
    for (const std::string& l : leaving) {
      spdlog::info("cluster={} {} left the cluster: stopping it and deleting its files", name, l);
      m->rec->Note("Normal", "RetireNode", l + " left the cluster; stopped, files deleted");
      SK_TRY(m->provider->RetireNode(l));
    }
    m->rec->ForgetNodes({leaving.begin(), leaving.end()});
    SK_TRY(SwapProvider(*m, to));
  }

  // 4. The new layout is the cluster's from now on.
  {
    std::lock_guard<std::mutex> lock(mu_);
    m->layout = final.layout;
  }
  SK_TRY(Persist(to, gen, final.layout));
  m->rec->SetDesired(DesiredFor(*m, to), gen);
  Resume(m);
  return WaitReady(*m, gen, ready);
}

}  // namespace sk::reconcile
