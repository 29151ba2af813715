// The planner's stages for a scale operation and for slot ownership (pure).
//
// A scale operation is a goal in the desired state (DesiredCluster::resize), not a second way
// of acting: while it runs, every earlier stage plans against the layout the nodes serve now
// (Held), so that new nodes join, replicas attach and faults heal as usual, and only when all
// of that has converged does PlanResize take the next step towards the goal: hand shards of
// leaving masters to their replicas, move slots, re-point replicas, retire drained nodes.
//
// Slots move only between masters that all have a live bus link to each other, with distinct
// config epochs (SETSLOT NODE reaches the other masters directly, but the new owner's epoch,
// which decides every later conflict, travels only over its own links: a master without a
// link to it keeps a stale epoch for it, and Redis settles a conflicting claim by epoch,
// deleting the keys of the losing side - clusterUpdateSlotsConfigWith's dirty slots).
#include <algorithm>
#include <map>
#include <set>

#include "controller/plan/internal.h"
#include "controller/plan/plan.h"
#include "controller/plan/resize.h"

namespace sk::plan::internal {

using model::DesiredCluster;
using model::ObservedCluster;
using model::ObservedNode;
using model::PeerView;

namespace {

bool Has(const std::vector<SlotRange>& ranges, int slot) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const SlotRange& r) { return r.start <= slot && slot <= r.end; });
}

bool Answering(const ObservedNode* n) { return n->reachable && !n->starting && !n->synthetic; }

// Per slot, the ID of the master that serves it: the one master that claims it in its own
// view, else the owner most masters' views name ("" when none).
std::vector<std::string> SlotOwners(const ObservedCluster& o) {
  std::vector<std::vector<const std::string*>> claims(kSlots);
  std::vector<std::map<std::string, int>> named(kSlots);
  for (const ObservedNode& n : o.nodes) {
    if (!n.reachable || n.starting || !n.IsMaster()) continue;
    for (const PeerView& p : n.peers) {
      if (!p.master || p.handshake) continue;
      for (const SlotRange& r : p.slots) {
        for (int s = std::max(0, r.start); s <= std::min(kSlots - 1, r.end); ++s) {
          if (p.myself) claims[s].push_back(&n.id);
          named[s][p.id]++;
        }
      }
    }
  }
  std::vector<std::string> owner(kSlots);
  for (int s = 0; s < kSlots; ++s) {
    if (claims[s].size() == 1) {
      owner[s] = *claims[s].front();
      continue;
    }
    int best = 0;
    for (const auto& [id, count] : named[s]) {
      if (count > best) {
        best = count;
        owner[s] = id;
      }
    }
  }
  return owner;
}

}  // namespace

bool Linked(const PeerView& p) {
  return p.connected && !p.handshake && !p.noaddr && !p.fail && !p.pfail;
}

std::vector<std::vector<SlotRange>> ViewLayout(const ObservedCluster& o) {
  std::vector<std::string> owner = SlotOwners(o);
  std::map<std::string, std::vector<int>> by_owner;
  for (int s = 0; s < kSlots; ++s) {
    if (!owner[s].empty()) by_owner[owner[s]].push_back(s);
  }
  std::vector<std::vector<SlotRange>> layout;
  for (auto& [id, slots] : by_owner) layout.push_back(RangesFromSlots(std::move(slots)));
  std::sort(layout.begin(), layout.end(),
            [](const auto& a, const auto& b) { return a.front().start < b.front().start; });
  return layout;
}

std::set<std::string> Departing(const DesiredCluster& d,
                                const std::vector<const ObservedNode*>& live) {
  std::set<std::string> out;
  if (!d.resize) return out;
  for (const std::string& name : d.resize->leaving) {
    const ObservedNode* n = nullptr;
    for (const ObservedNode* x : live) {
      if (x->name == name) n = x;
    }
    // Unknown (down, unreachable) nodes stay members: nothing is concluded about them.
    if (!n || !Answering(n) || !n->OwnSlots().empty() || (n->IsMaster() && n->keys > 0)) continue;
    bool serves = false;
    for (const ObservedNode* v : live) {
      const PeerView* p = v->PeerById(n->id);
      if (p && !p->slots.empty()) serves = true;
    }
    if (!serves) out.insert(name);
  }
  return out;
}

DesiredCluster Held(const DesiredCluster& d, const ObservedCluster& o,
                    const std::set<std::string>& departing) {
  DesiredCluster h = d;
  std::vector<std::vector<SlotRange>> layout = ViewLayout(o);
  if (!layout.empty()) {
    h.shard_slots = std::move(layout);
    h.masters = static_cast<int>(h.shard_slots.size());
  }
  h.nodes.erase(
      std::remove_if(h.nodes.begin(), h.nodes.end(),
                     [&](const model::DesiredNode& n) { return departing.count(n.name); }),
      h.nodes.end());
  for (const std::string& name : departing) h.node_ids.erase(name);
  return h;
}

std::vector<SlotRange> Disagreements(const ObservedCluster& o) {
  std::vector<std::set<std::string>> claims(kSlots);
  std::vector<std::set<std::string>> named(kSlots);
  std::vector<bool> open(kSlots, false);
  for (const ObservedNode& n : o.nodes) {
    if (!n.reachable || n.starting || !n.IsMaster()) continue;
    for (const PeerView& p : n.peers) {
      for (const auto& [slot, id] : p.migrating) open[slot] = true;
      for (const auto& [slot, id] : p.importing) open[slot] = true;
      if (!p.master || p.handshake) continue;
      for (const SlotRange& r : p.slots) {
        for (int s = std::max(0, r.start); s <= std::min(kSlots - 1, r.end); ++s) {
          if (p.myself) claims[s].insert(n.id);
          named[s].insert(p.id);
        }
      }
    }
  }
  std::vector<int> out;
  for (int s = 0; s < kSlots; ++s) {
    if (open[s] || named[s].empty()) continue;  // open: PlanOpenSlots; unnamed: PlanSlots
    if (claims[s].size() != 1 || named[s].size() != 1) out.push_back(s);
  }
  return RangesFromSlots(std::move(out));
}

void PlanOwnership(const DesiredCluster& d, const std::vector<const ObservedNode*>& live,
                   StepResult& r) {
  if (d.memory.lasting_disagreements.empty()) return;
  // Keys are counted on every master right before acting: only with every node answering.
  size_t answering = std::count_if(live.begin(), live.end(), Answering);
  if (answering < d.nodes.size()) return;
  ObservedCluster o;
  for (const ObservedNode* n : live) o.nodes.push_back(*n);
  const std::vector<SlotRange> now = Disagreements(o);
  const std::vector<std::string> owner = SlotOwners(o);
  std::map<std::string, std::vector<int>> by_owner;  // preferred owner name -> slots
  for (const SlotRange& lasting : d.memory.lasting_disagreements) {
    for (int s = std::max(0, lasting.start); s <= std::min(kSlots - 1, lasting.end); ++s) {
      if (!Has(now, s)) continue;
      const ObservedNode* m = o.ById(owner[s]);
      if (m) by_owner[m->name].push_back(s);
    }
  }
  for (auto& [name, slots] : by_owner) {
    std::vector<SlotRange> ranges = RangesFromSlots(std::move(slots));
    r.actions.push_back(model::SettleOwner{name, ranges,
                                           "the masters' views disagree on the owner of slots " +
                                               RangesToString(ranges) +
                                               " and gossip has not settled it"});
  }
}

namespace {

// Why slots may not move now, or "": every master (new ones included) must have a live bus
// link to every other, every node must see every master alive, cluster_state must be ok and
// the masters' config epochs distinct.
std::string MoveGate(const std::vector<const ObservedNode*>& live,
                     const std::set<std::string>& targets) {
  std::vector<const ObservedNode*> masters;
  for (const ObservedNode* n : live) {
    if (n->IsMaster() && (!n->OwnSlots().empty() || targets.count(n->name))) masters.push_back(n);
  }
  std::vector<std::string> missing;
  for (const ObservedNode* a : masters) {
    for (const ObservedNode* b : masters) {
      if (a == b) continue;
      const PeerView* p = a->PeerById(b->id);
      if (!p || !Linked(*p)) missing.push_back(a->name + " has no bus link to " + b->name);
    }
  }
  for (const ObservedNode* v : live) {
    if (v->cluster_state != "ok") missing.push_back("cluster_state is fail on " + v->name);
    for (const ObservedNode* m : masters) {
      const PeerView* p = v->PeerById(m->id);
      if (v != m && (!p || p->pfail || p->fail)) {
        missing.push_back(v->name + " does not see " + m->name + " alive");
      }
    }
  }
  std::map<long long, std::string> epochs;
  for (const ObservedNode* m : masters) {
    const PeerView* self = m->Self();
    long long e = self ? self->config_epoch : 0;
    auto [it, fresh] = epochs.emplace(e, m->name);
    if (!fresh && e != 0) {
      missing.push_back(m->name + " and " + it->second + " share config epoch " +
                        std::to_string(e) + " (Redis settles the collision first)");
    }
  }
  std::string out;
  for (size_t i = 0; i < missing.size() && i < 12; ++i) out += (i ? "; " : "") + missing[i];
  if (missing.size() > 12) out += "; and " + std::to_string(missing.size() - 12) + " more";
  return out;
}

// Staying replicas of masters that leave go to the final masters with the fewest staying
// replicas, so that no shard is left without its copies when the leaving ones are stopped.
void RepointReplicas(const ResizeDecision& dec, const ObservedCluster& o,
                     const std::vector<const ObservedNode*>& live,
                     const std::set<std::string>& departing, StepResult& r) {
  std::map<std::string, const ObservedNode*> by_id;
  for (const ObservedNode& n : o.nodes) {
    if (n.reachable && !n.id.empty()) by_id[n.id] = &n;
  }
  std::map<std::string, int> replicas;  // final master name -> staying replicas
  for (const std::string& m : dec.masters) replicas[m] = 0;
  for (const ObservedNode* n : live) {
    auto m = by_id.find(n->MasterId());
    if (!departing.count(n->name) && m != by_id.end() && replicas.count(m->second->name)) {
      replicas[m->second->name]++;
    }
  }
  for (const ObservedNode* n : live) {
    auto m = by_id.find(n->MasterId());
    if (departing.count(n->name) || m == by_id.end() || !departing.count(m->second->name)) {
      continue;
    }
    auto best = std::min_element(replicas.begin(), replicas.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    if (best == replicas.end()) return;
    const ObservedNode* to = nullptr;
    for (const ObservedNode* x : live) {
      if (x->name == best->first) to = x;
    }
    if (!to) continue;
    r.actions.push_back(model::Replicate{n->name, to->id, to->name});
    best->second++;
  }
}

}  // namespace

void PlanResize(const DesiredCluster& d, const ObservedCluster& o,
                const std::vector<const ObservedNode*>& live,
                const std::set<std::string>& departing, StepResult& r) {
  if (!d.resize) return;
  for (const ObservedNode& n : o.nodes) {
    if (!n.reachable || n.starting) {
      r.waiting.push_back("the scale operation continues once " + n.name + " answers");
      return;
    }
  }
  std::set<std::string> leaving(d.resize->leaving.begin(), d.resize->leaving.end());
  std::vector<ResizeNode> nodes;
  for (const ObservedNode& n : o.nodes) nodes.push_back(ResizeNodeOf(n, !leaving.count(n.name)));
  Result<ResizeDecision> dec =
      DecideResize(nodes, {d.resize->masters, d.resize->weights, d.resize->ranges});
  if (!dec.ok()) {
    r.blockers.push_back({dec.error().code(), dec.error().message()});
    return;
  }
  // 1. Leaving masters hand their shard to a staying replica: no key moves.
  if (!dec->failovers.empty()) {
    for (const auto& [replica, master] : dec->failovers) {
      if (d.memory.failovers_in_flight.count(replica)) {
        r.waiting.push_back(replica + " is taking over from " + master + " (CLUSTER FAILOVER)");
      } else {
        r.actions.push_back(model::Failover{
            replica, "", master + " leaves; its replica " + replica + " takes over"});
      }
    }
    return;
  }
  // 2. Slot moves, all of one decision in one step (the migrator runs disjoint pairs at once).
  if (!dec->moves.empty()) {
    std::set<std::string> targets;
    for (const SlotMove& m : dec->moves) targets.insert(m.to);
    if (std::string why = MoveGate(live, targets); !why.empty()) {
      r.waiting.push_back("slots move once every master has a live link to every other: " + why);
      return;
    }
    model::MoveSlots move{dec->moves.front().to, {}, ""};
    for (const SlotMove& m : dec->moves) move.moves.push_back({m.slot, m.from, m.to});
    move.reason = "reaching " + std::to_string(dec->masters.size()) + " masters";
    r.actions.push_back(std::move(move));
    return;
  }
  // 3. Nodes that leave: replicas re-pointed (their FORGET comes from PlanGhosts, which sees
  // a departing node's ID as a ghost), then retired once no staying node knows them.
  RepointReplicas(*dec, o, live, departing, r);
  if (!r.actions.empty()) return;
  for (const std::string& name : leaving) {
    const ObservedNode* n = o.ByName(name);
    if (!n) continue;  // retired already
    if (!departing.count(name)) {
      r.waiting.push_back(name + " leaves once it serves nothing");
      continue;
    }
    bool known = false;
    for (const ObservedNode* v : live) {
      const PeerView* p = v->PeerById(n->id);
      if (p && !p->handshake) known = true;
    }
    if (known) {
      r.waiting.push_back(name + " is forgotten by every staying node before it is retired");
      continue;
    }
    r.actions.push_back(
        model::RetireNode{name, n->id, "it left the cluster: drained and forgotten everywhere"});
  }
  if (!r.actions.empty() || !r.waiting.empty()) return;
  r.resize_done = true;
  r.final_layout = dec->layout;
}

}  // namespace sk::plan::internal
