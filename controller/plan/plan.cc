#include "controller/plan/plan.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>

#include "controller/plan/internal.h"
#include "controller/plan/placement.h"

namespace sk::plan {

using model::Action;
using model::Blocker;
using model::DesiredCluster;
using model::ObservedCluster;
using model::ObservedNode;
using model::PeerView;

namespace internal {

std::vector<bool> SlotBits(const std::vector<SlotRange>& ranges) {
  std::vector<bool> bits(kSlots, false);
  for (const SlotRange& r : ranges) {
    for (int s = std::max(0, r.start); s <= std::min(kSlots - 1, r.end); ++s) bits[s] = true;
  }
  return bits;
}

bool IsFresh(const ObservedNode& n) {
  return n.reachable && n.IsMaster() && n.known_nodes <= 1 && n.OwnSlots().empty() && n.keys == 0 &&
         n.current_epoch == 0;
}

bool IsEmptyMaster(const ObservedNode& n) {
  return n.reachable && n.IsMaster() && n.OwnSlots().empty() && n.keys == 0;
}

Ours OurNodes(const DesiredCluster& d, const ObservedCluster& o) {
  Ours ours;
  for (const std::string& id : d.known_ids) ours.ids.insert(id);
  for (const model::DesiredNode& n : d.nodes) ours.eps.insert(n.ep);
  for (const ObservedNode& n : o.nodes) {
    if (n.reachable && !n.id.empty()) ours.ids.insert(n.id);
  }
  return ours;
}

std::vector<const PeerView*> ForeignPeers(const ObservedNode& n, const Ours& ours) {
  std::vector<const PeerView*> out;
  for (const PeerView& p : n.peers) {
    // Handshakes, failed and address-less entries are ghosts or passing states, not
    // evidence of another cluster; the heal loop forgets ghosts.
    if (p.myself || p.handshake || p.noaddr || p.fail || p.pfail) continue;
    if (!ours.Has(p)) out.push_back(&p);
  }
  return out;
}

}  // namespace internal

namespace {

using internal::IsEmptyMaster;
using internal::IsFresh;
using internal::StepResult;

std::string Short(const std::string& id) { return id.substr(0, 8); }

std::string NodeRef(const ObservedNode& n) { return n.name + " (" + n.ep.ToString() + ")"; }

std::vector<const ObservedNode*> LiveNodes(const ObservedCluster& o) {
  std::vector<const ObservedNode*> live;
  for (const ObservedNode& n : o.nodes) {
    if (n.reachable && !n.id.empty()) live.push_back(&n);
  }
  return live;
}

// Nodes sharing one node ID (a copied nodes.conf): the empty ones get a fresh ID; if two
// or more hold slots or keys, a person has to decide.
void PlanDuplicates(const std::vector<const ObservedNode*>& live, StepResult& r) {
  std::map<std::string, std::vector<const ObservedNode*>> by_id;
  for (const ObservedNode* n : live) by_id[n->id].push_back(n);
  for (const auto& [id, group] : by_id) {
    if (group.size() < 2) continue;
    std::vector<const ObservedNode*> holders;
    std::vector<const ObservedNode*> empties;
    for (const ObservedNode* n : group) {
      (n->OwnSlots().empty() && n->keys == 0 ? empties : holders).push_back(n);
    }
    std::string names;
    for (const ObservedNode* n : group) names += (names.empty() ? "" : ", ") + NodeRef(*n);
    if (holders.size() >= 2) {
      r.blockers.push_back(
          Blocker{Code::kFailedPrecondition,
                  "nodes " + names + " report the same node ID " + id +
                      " (a copied nodes-<port>.conf?) and more than one holds slots or keys; "
                      "slotkeeper will not reset a node with data. Stop all but one, save the data "
                      "you need, delete the others' nodes-<port>.conf and start them again"});
      continue;
    }
    const ObservedNode* keep = holders.empty() ? empties.front() : holders.front();
    for (const ObservedNode* n : empties) {
      if (n == keep) continue;
      r.actions.push_back(model::ResetHard{
          n->name, "shares node ID " + Short(id) + " with " + keep->name +
                       " (copied nodes-<port>.conf); it holds no slot and no key"});
    }
  }
}

// Nodes that belong elsewhere: never merged, reset or flushed by us.
void PlanForeign(const DesiredCluster& d, const ObservedCluster& o,
                 const std::vector<const ObservedNode*>& live, StepResult& r) {
  internal::Ours ours = internal::OurNodes(d, o);
  std::set<std::string> known(d.known_ids.begin(), d.known_ids.end());
  for (const ObservedNode* n : live) {
    auto foreign = internal::ForeignPeers(*n, ours);
    if (!foreign.empty()) {
      r.blockers.push_back(
          Blocker{Code::kFailedPrecondition,
                  "node " + NodeRef(*n) + " belongs to another cluster: it knows " +
                      foreign.front()->ep.ToString() + " (id " + Short(foreign.front()->id) +
                      "), which cluster " + d.name +
                      " does not declare. slotkeeper does not merge clusters; free the node first "
                      "(CLUSTER RESET after saving its data) or give this cluster other ports"});
      continue;
    }
    if (n->IsMaster() && n->OwnSlots().empty() && n->keys > 0) {
      r.blockers.push_back(Blocker{
          Code::kFailedPrecondition,
          "node " + NodeRef(*n) + " holds " + std::to_string(n->keys) +
              " keys but serves no slot; slotkeeper will not flush or adopt it. Move the data "
              "away (or FLUSHALL it if it is disposable) and run again"});
      continue;
    }
    // A node with slots or keys that knows none of our nodes and was never ours: its data
    // comes from elsewhere.
    bool knows_ours = false;
    for (const PeerView& p : n->peers) {
      if (!p.myself && !p.handshake && ours.Has(p)) knows_ours = true;
    }
    bool holds = !n->OwnSlots().empty() || n->keys > 0;
    if (holds && !knows_ours && !known.count(n->id) && !d.known_ids.empty()) {
      r.blockers.push_back(
          Blocker{Code::kFailedPrecondition,
                  "node " + NodeRef(*n) + " serves slots " + RangesToString(n->OwnSlots()) +
                      " with " + std::to_string(n->keys) + " keys but was never part of cluster " +
                      d.name + " and knows none of its nodes; slotkeeper will not merge it"});
    }
  }
}

struct ShardMap {
  std::vector<const ObservedNode*> master;  // per shard, nullptr when none
  std::set<std::string> unmatched_masters;  // names of masters with slots and no shard
};

// Matches desired shards to the masters that own most of their slots (own views).
ShardMap MatchShards(const DesiredCluster& d, const std::vector<const ObservedNode*>& live) {
  ShardMap m;
  m.master.assign(d.shard_slots.size(), nullptr);
  std::vector<int> shard_of(kSlots, -1);
  for (size_t k = 0; k < d.shard_slots.size(); ++k) {
    for (const SlotRange& r : d.shard_slots[k]) {
      for (int s = std::max(0, r.start); s <= std::min(kSlots - 1, r.end); ++s) {
        shard_of[s] = static_cast<int>(k);
      }
    }
  }
  struct Pair {
    int count;
    size_t shard;
    size_t node;
  };
  std::vector<Pair> pairs;
  std::vector<int> per_shard(d.shard_slots.size());
  for (size_t i = 0; i < live.size(); ++i) {
    if (!live[i]->IsMaster()) continue;
    std::fill(per_shard.begin(), per_shard.end(), 0);
    for (const SlotRange& r : live[i]->OwnSlots()) {
      for (int s = std::max(0, r.start); s <= std::min(kSlots - 1, r.end); ++s) {
        if (shard_of[s] >= 0) per_shard[shard_of[s]]++;
      }
    }
    for (size_t k = 0; k < per_shard.size(); ++k) {
      if (per_shard[k] > 0) pairs.push_back({per_shard[k], k, i});
    }
  }
  // Most slots first; ties by shard, then node order (stable: deterministic).
  std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
    return a.count != b.count ? a.count > b.count : a.shard < b.shard;
  });
  std::set<size_t> used;
  for (const Pair& p : pairs) {
    if (m.master[p.shard] || used.count(p.node)) continue;
    m.master[p.shard] = live[p.node];
    used.insert(p.node);
  }
  for (size_t i = 0; i < live.size(); ++i) {
    if (live[i]->IsMaster() && !live[i]->OwnSlots().empty() && !used.count(i)) {
      m.unmatched_masters.insert(live[i]->name);
    }
  }
  return m;
}

// Slots that no reachable node's view assigns to anyone.
std::vector<bool> UnassignedEverywhere(const std::vector<const ObservedNode*>& live) {
  std::vector<char> assigned(kSlots, 0);
  for (const ObservedNode* n : live) {
    for (const PeerView& p : n->peers) {
      for (const SlotRange& r : p.slots) {
        for (int s = std::max(0, r.start); s <= std::min(kSlots - 1, r.end); ++s) assigned[s] = 1;
      }
    }
  }
  std::vector<bool> free(kSlots);
  for (int s = 0; s < kSlots; ++s) free[s] = !assigned[s];
  return free;
}

std::vector<SlotRange> Intersect(const std::vector<SlotRange>& ranges,
                                 const std::vector<bool>& bits) {
  std::vector<int> slots;
  for (const SlotRange& r : ranges) {
    for (int s = r.start; s <= r.end; ++s) {
      if (bits[s]) slots.push_back(s);
    }
  }
  return RangesFromSlots(std::move(slots));
}

// Gives unassigned slots to their shard's master, choosing new masters among empty nodes.
void PlanSlots(const DesiredCluster& d, const std::vector<const ObservedNode*>& live,
               StepResult& r) {
  std::vector<bool> free = UnassignedEverywhere(live);
  if (std::none_of(free.begin(), free.end(), [](bool b) { return b; })) return;
  std::vector<SlotRange> free_ranges = Intersect({SlotRange{0, kSlots - 1}}, free);
  // A node that does not answer may well serve them: no verdict before everyone answered.
  if (live.size() < d.nodes.size()) {
    r.waiting.push_back("every node must answer before slots " + RangesToString(free_ranges) +
                        " can be judged unassigned");
    return;
  }
  std::vector<SlotRange> unconsented = free_ranges;
  if (!d.recover_slots.empty()) {
    std::vector<bool> outside = free;
    for (const SlotRange& c : d.recover_slots) {
      for (int s = std::max(0, c.start); s <= std::min(kSlots - 1, c.end); ++s) outside[s] = false;
    }
    unconsented = Intersect({SlotRange{0, kSlots - 1}}, outside);
  }
  if (d.formed_before && !unconsented.empty()) {
    free_ranges = unconsented;
    r.lost.insert(r.lost.end(), free_ranges.begin(), free_ranges.end());
    r.blockers.push_back(Blocker{
        Code::kFailedPrecondition,
        "slots " + RangesToString(free_ranges) +
            " are served by no node, and this cluster served them before: their keys are "
            "lost unless a node that held them comes back. slotkeeper will not re-create them "
            "empty on its own (slotkeeper recover-slots " +
            d.name + " --accept-data-loss does, on purpose)"});
    return;
  }
  ShardMap shards = MatchShards(d, live);
  bool creating = std::all_of(live.begin(), live.end(), [](auto* n) { return IsFresh(*n); });
  long long max_epoch = 0;
  for (const ObservedNode* n : live) max_epoch = std::max(max_epoch, n->current_epoch);

  std::vector<size_t> need_master;
  for (size_t k = 0; k < d.shard_slots.size(); ++k) {
    if (!shards.master[k] && !Intersect(d.shard_slots[k], free).empty()) need_master.push_back(k);
  }
  std::vector<PlacementNode> candidates;
  std::vector<const ObservedNode*> candidate_nodes;
  for (const ObservedNode* n : live) {
    if (IsEmptyMaster(*n)) {
      candidates.push_back({n->name, n->host});
      candidate_nodes.push_back(n);
    }
  }
  std::vector<std::string> master_hosts;
  for (const ObservedNode* m : shards.master) {
    if (m) master_hosts.push_back(m->host);
  }
  std::vector<int> picked =
      PickMasters(candidates, static_cast<int>(need_master.size()), master_hosts);
  for (size_t i = 0; i < need_master.size() && i < picked.size(); ++i) {
    shards.master[need_master[i]] = candidate_nodes[picked[i]];
  }
  // All epochs first, then all slots: two waves for the executor instead of two per node.
  std::vector<Action> epochs;
  std::vector<Action> adds;
  for (size_t k = 0; k < d.shard_slots.size(); ++k) {
    std::vector<SlotRange> want = Intersect(d.shard_slots[k], free);
    if (want.empty()) continue;
    const ObservedNode* m = shards.master[k];
    if (!m) {
      r.notes.push_back("no empty node left to serve slots " + RangesToString(want));
      continue;
    }
    if (m->starting) continue;  // its slots come in the pass after it first answers
    // Distinct config epochs before the first MEET, as redis-cli does; SET-CONFIG-EPOCH only
    // works on a node that knows no peer and has epoch 0.
    if (creating || (IsFresh(*m) && m->current_epoch == 0)) {
      r.actions.push_back(
          model::SetConfigEpoch{m->name, max_epoch + 1 + static_cast<long long>(k)});
    }
    adds.push_back(model::AddSlots{m->name, want});
  }
  for (Action& a : epochs) r.actions.push_back(std::move(a));
  for (Action& a : adds) r.actions.push_back(std::move(a));
}

// One MEET introduces both sides of a pair that knows nothing. The sender learns the other's
// slots at once (the receiver PINGs it right after the handshake, as a known sender), the
// receiver only from a later PING: so the side with fewer slots sends it (a replica to its
// future master), and between equals the higher index.
bool SendsTheMeet(const ObservedNode& a, const ObservedNode& b, size_t i, size_t j) {
  int sa = CountSlots(a.OwnSlots());
  int sb = CountSlots(b.OwnSlots());
  return sa != sb ? sa < sb : i > j;
}

// Every node must know every other; the node that lacks the knowledge sends the MEET. Once
// joined, a node learns a master's slots only from that master's next PING (a handshake
// carries none), which can take up to node-timeout/2: a MEET from the master to the node
// delivers them at once (the receiver updates the slots of a known sender).
void PlanMembership(const DesiredCluster& d, const std::vector<const ObservedNode*>& all,
                    StepResult& r) {
  // Nodes still starting are met once they answer.
  std::vector<const ObservedNode*> live;
  for (const ObservedNode* n : all) {
    if (!n->starting) live.push_back(n);
  }
  // Per viewer, who owns each slot: built once per viewer, and only for viewers whose view
  // differs from some master's claim (a converged 100-node cluster builds none).
  std::vector<std::vector<const PeerView*>> owners(live.size());
  auto owner_map = [&](size_t i) -> const std::vector<const PeerView*>& {
    if (owners[i].empty()) {
      owners[i].assign(kSlots, nullptr);
      for (const PeerView& p : live[i]->peers) {
        for (const SlotRange& sr : p.slots) {
          for (int s = std::max(0, sr.start); s <= std::min(kSlots - 1, sr.end); ++s) {
            owners[i][s] = &p;
          }
        }
      }
    }
    return owners[i];
  };
  // Per viewer, its peers by ID and the addresses it is handshaking with.
  std::vector<std::unordered_map<std::string_view, const PeerView*>> by_id(live.size());
  std::vector<std::set<Endpoint>> shaking(live.size());
  for (size_t i = 0; i < live.size(); ++i) {
    for (const PeerView& p : live[i]->peers) {
      if (p.handshake) {
        shaking[i].insert(p.ep);
      } else {
        by_id[i][p.id] = &p;
      }
    }
  }
  auto known = [&](size_t viewer, const std::string& id) -> const PeerView* {
    auto it = by_id[viewer].find(id);
    return it == by_id[viewer].end() ? nullptr : it->second;
  };
  for (size_t i = 0; i < live.size(); ++i) {
    for (size_t j = 0; j < live.size(); ++j) {
      if (i == j) continue;
      const ObservedNode& a = *live[i];
      const ObservedNode& b = *live[j];
      if (a.id == b.id) continue;
      const PeerView* a_b = known(i, b.id);
      bool a_knows = a_b != nullptr;
      bool b_knows = known(j, a.id) != nullptr;
      bool a_shaking = shaking[i].count(b.ep) > 0;
      bool b_shaking = shaking[j].count(a.ep) > 0;
      if (!a_knows) {
        if (a_shaking || (!b_knows && b_shaking)) {
          r.waiting.push_back(a.name + " is handshaking with " + b.name);
        } else if (b_knows || SendsTheMeet(a, b, i, j)) {
          r.actions.push_back(model::Meet{a.name, b.ep, "join " + b.name});
        }
        continue;
      }
      // a knows b, but at an old address (b came back elsewhere): a MEET to the new one makes
      // a's handshake find b's known ID and update the address.
      if (!a_b->noaddr && !a_b->ep.host.empty() && a_b->ep != b.ep) {
        if (!a_shaking) {
          r.actions.push_back(model::Meet{a.name, b.ep,
                                          b.name + " moved from " + a_b->ep.ToString(),
                                          model::MeetKind::kReaddress});
        }
        continue;
      }
      // a knows b where it is: is the link up? A node without a live link to a peer gets no
      // gossip from it (its slots, its config epoch). Redis reconnects every 100 ms by itself;
      // only a link missing for long gets a MEET (a few, spaced), then it is reported.
      if (!internal::Linked(*a_b)) {
        const auto key = std::make_pair(a.name, b.name);
        auto sent_it = d.memory.meets.find(key);
        const int sent = sent_it == d.memory.meets.end() ? 0 : sent_it->second;
        if (sent >= model::kMaxMeetAttempts) {
          r.waiting.push_back(
              a.name + " has no bus link to " + b.name + " after " + std::to_string(sent) +
              " CLUSTER MEETs, which are not sent again: " + "check that " + b.name +
              "'s bus port " + std::to_string(b.ep.BusPort()) + " is reachable from " + a.name);
        } else if (d.memory.long_unlinked.count(key) && !d.memory.recent_meets.count(key) &&
                   !a_shaking) {
          r.actions.push_back(model::Meet{a.name, b.ep,
                                          a.name + " has had no link to " + b.name + " for seconds",
                                          model::MeetKind::kRepair});
          r.waiting.push_back(a.name + " has no link to " + b.name + " yet");
        } else {
          r.waiting.push_back(a.name + " has no link to " + b.name + " yet");
        }
        continue;
      }
      // Teaching MEETs (b tells a its role or slots at once instead of at its next PING) are
      // for a cluster being created only, and once per pair: every MEET to a node that knows
      // the sender drops the link between them for a moment (model.h MeetKind).
      const bool may_teach = !d.formed_before && !d.memory.taught.count({b.name, a.name});
      // a knows b: does a see b's role? A replica's new master is learnt, like slots, only
      // from its next PING; until then its master ignores a manual failover from it.
      if (!b.IsMaster()) {
        if (a_b->replica && a_b->master_id == b.MasterId()) continue;
        if (!b_shaking && may_teach) {
          r.actions.push_back(model::Meet{b.name, a.ep, a.name + " has not seen its role yet",
                                          model::MeetKind::kTeach});
        } else {
          r.waiting.push_back(a.name + " does not see " + b.name + "'s role yet");
        }
        continue;
      }
      std::vector<SlotRange> claim = b.OwnSlots();
      if (NormalizeRanges(a_b->slots) == NormalizeRanges(claim)) continue;
      // Only slots that a sees unassigned can be taught by a MEET; a different owner in a's
      // view is settled by epochs (UPDATE messages), or by PlanOwnership when that lasts.
      const std::vector<const PeerView*>& a_owner = owner_map(i);
      bool teachable = true;
      for (const SlotRange& sr : claim) {
        for (int s = sr.start; s <= sr.end && teachable; ++s) {
          teachable = a_owner[s] == nullptr || a_owner[s]->id == b.id;
        }
      }
      if (teachable && !b_shaking && may_teach) {
        r.actions.push_back(model::Meet{b.name, a.ep, a.name + " has not seen its slots yet",
                                        model::MeetKind::kTeach});
      } else {
        r.waiting.push_back(a.name + " does not see " + b.name + "'s slots yet");
      }
    }
  }
}

// Replicas: each shard master should have replicas_per_master replicas. Empty masters (and
// replicas of masters that serve nothing) are the candidates; anti-affinity decides who
// goes where. Attaching lowers the master's repl-diskless-sync-delay to 0 for the first
// full sync of an empty replica (the default 5 s delay only batches replicas that arrive
// together); the drift rule restores it once every replica of that master is in sync.
void PlanReplicas(const DesiredCluster& d, const std::vector<const ObservedNode*>& live,
                  StepResult& r) {
  ShardMap shards = MatchShards(d, live);
  std::map<std::string, size_t> shard_of_master;  // master id -> shard
  for (size_t k = 0; k < shards.master.size(); ++k) {
    if (shards.master[k]) shard_of_master[shards.master[k]->id] = k;
  }
  std::vector<ShardSeat> seats(shards.master.size());
  std::vector<std::vector<const ObservedNode*>> members(shards.master.size());
  std::vector<PlacementNode> candidates;
  std::vector<const ObservedNode*> candidate_nodes;
  for (size_t k = 0; k < shards.master.size(); ++k) {
    seats[k].wanted = shards.master[k] ? d.replicas_per_master : 0;
    if (shards.master[k]) seats[k].master_host = shards.master[k]->host;
  }
  for (const ObservedNode* n : live) {
    if (n->starting) continue;  // attached once it answers
    std::string master = n->MasterId();
    if (!master.empty()) {
      auto it = shard_of_master.find(master);
      if (it != shard_of_master.end()) {
        seats[it->second].replica_hosts.push_back(n->host);
        members[it->second].push_back(n);
        continue;
      }
      // A replica of a master that no view gives a slot: reusable. A replica of a master that
      // serves slots but does not answer now keeps its place (it is that shard's copy).
      bool master_serves = std::any_of(live.begin(), live.end(), [&](const ObservedNode* v) {
        const PeerView* p = v->PeerById(master);
        return p && p->master && !p->slots.empty();
      });
      if (master_serves) continue;
      candidates.push_back({n->name, n->host});
      candidate_nodes.push_back(n);
    } else if (IsEmptyMaster(*n)) {
      candidates.push_back({n->name, n->host});
      candidate_nodes.push_back(n);
    }
  }
  // A shard over its count lends a replica to a shard under it (replica migration can leave
  // one shard with two and another with none).
  int missing = 0;
  for (const ShardSeat& s : seats) {
    missing += std::max(0, s.wanted - static_cast<int>(s.replica_hosts.size()));
  }
  for (size_t k = 0; k < seats.size() && static_cast<int>(candidates.size()) < missing; ++k) {
    while (static_cast<int>(members[k].size()) > seats[k].wanted &&
           static_cast<int>(candidates.size()) < missing) {
      const ObservedNode* spare = members[k].back();
      members[k].pop_back();
      seats[k].replica_hosts.pop_back();
      candidates.push_back({spare->name, spare->host});
      candidate_nodes.push_back(spare);
    }
  }
  std::vector<int> assign = AssignReplicas(candidates, seats);
  std::vector<Action> config;
  std::vector<Action> attach;
  std::set<std::string> lowered;
  for (size_t c = 0; c < assign.size(); ++c) {
    if (assign[c] < 0) continue;
    const ObservedNode* n = candidate_nodes[c];
    const ObservedNode* m = shards.master[assign[c]];
    const PeerView* known = n->PeerById(m->id);
    if (!known || known->handshake) {
      r.waiting.push_back(n->name + " does not know " + m->name + " yet, to replicate it");
      continue;
    }
    if (lowered.insert(m->name).second) {
      auto it = m->config.find("repl-diskless-sync-delay");
      if (it == m->config.end() || it->second != "0") {
        config.push_back(model::ConfigSet{m->name, "repl-diskless-sync-delay", "0",
                                          "first sync of a new replica starts at once"});
      }
    }
    attach.push_back(model::Replicate{n->name, m->id, m->name});
  }
  for (Action& a : config) r.actions.push_back(std::move(a));
  for (Action& a : attach) r.actions.push_back(std::move(a));
}

// True while some replica of `master` is still linking or syncing.
bool ReplicasSettling(const ObservedNode& master, const std::vector<const ObservedNode*>& live) {
  for (const ObservedNode* n : live) {
    if (n->MasterId() == master.id && (!n->repl.link_up || n->repl.sync_in_progress)) {
      return true;
    }
  }
  return false;
}

// Keeps the spec's settings applied to running nodes (CONFIG SET where Redis allows it).
// One exception: while a replica of a master links or syncs (a restarted replica, a new
// one), that master's repl-diskless-sync-delay is 0, so that the full sync starts now
// instead of after the default 5 s wait for more replicas; it is restored once all are in
// sync.
void PlanConfig(const DesiredCluster& d, const std::vector<const ObservedNode*>& live,
                StepResult& r) {
  for (const ObservedNode* n : live) {
    if (n->starting) continue;
    for (const auto& [key, spec_value] : d.runtime_config) {
      auto it = n->config.find(key);
      if (it == n->config.end()) continue;
      std::string value = spec_value;
      std::string reason = "spec says " + value + ", node has " + it->second;
      if (key == "repl-diskless-sync-delay" && ReplicasSettling(*n, live)) {
        value = "0";
        reason = "a replica is syncing: its full sync starts at once";
      }
      if (it->second == value) continue;
      r.actions.push_back(model::ConfigSet{n->name, key, value, reason});
    }
  }
}

// The ID a node that does not answer is known by: the last one remembered for its name.
std::string KnownId(const DesiredCluster& d, const ObservedNode& n) {
  auto it = d.node_ids.find(n.name);
  return it == d.node_ids.end() ? std::string() : it->second;
}

// A replica that holds a current copy of its master's data: it completed its sync (not in a
// first full sync, which Redis reports as a link that never went up) and its link went down
// only just now, when the master's process exited. Only such a replica may take over: an
// empty or stale one would become master and the old master would then sync from it, which
// drops the shard's data.
bool HasFreshCopy(const DesiredCluster& d, const ObservedNode& c) {
  if (c.repl.sync_in_progress || c.repl.offset <= 0) return false;
  if (c.repl.link_up) return true;
  return c.repl.link_down_seconds >= 0 && c.repl.link_down_seconds <= d.takeover_max_link_down_s;
}

// Nodes whose process the provider saw exit. A master with a replica is not restarted
// before that replica took over: restarted first, it would serve again with an AOF up to a
// second behind its replica, which would then resync from it and lose those writes. The
// provider's word that the process is gone makes CLUSTER FAILOVER TAKEOVER safe (no vote:
// the old master cannot answer anyway), which also skips node-timeout and the election.
// The replica with the largest replication offset has the most of the master's writes; a
// master whose replicas have no fresh copy (HasFreshCopy) is restarted instead.
void PlanDead(const DesiredCluster& d, const ObservedCluster& o,
              const std::vector<const ObservedNode*>& live, StepResult& r) {
  for (const ObservedNode& n : o.nodes) {
    if (n.process_running || n.starting || n.synthetic) continue;
    std::string id = KnownId(d, n);
    // Is it a master with slots for a majority of the live masters?
    int masters = 0;
    int say_master = 0;
    for (const ObservedNode* m : live) {
      if (m->starting || !m->IsMaster() || m->OwnSlots().empty()) continue;
      masters++;
      const PeerView* p = id.empty() ? nullptr : m->PeerById(id);
      if (p && p->master && !p->slots.empty()) say_master++;
    }
    const ObservedNode* best = nullptr;
    if (!id.empty() && say_master * 2 > masters) {
      for (const ObservedNode* c : live) {
        if (c->starting || c->MasterId() != id || !HasFreshCopy(d, *c)) continue;
        if (!best || c->repl.offset > best->repl.offset) best = c;
      }
    }
    if (!best && n.failing) {
      // It cannot come back. Replaced only when no live view gives its ID a slot: then
      // everything it held has another copy (it was a replica, or its replica took over).
      std::vector<SlotRange> serves;
      for (const ObservedNode* m : live) {
        const PeerView* p = id.empty() ? nullptr : m->PeerById(id);
        if (p && !p->slots.empty()) serves = p->slots;
      }
      if (serves.empty()) {
        r.actions.push_back(model::ReplaceNode{n.name, "it cannot stay up: " + n.error});
      } else {
        r.waiting.push_back(n.name + " cannot stay up and serves slots " +
                            RangesToString(NormalizeRanges(serves)) +
                            " that no other node has; it is not replaced (that would lose them)");
      }
      continue;
    }
    if (!best) {
      // A replica, a node without slots, or a master with no replica (its own data is the
      // only copy): back up at once.
      r.actions.push_back(model::StartNode{n.name});
      continue;
    }
    r.actions.push_back(model::Failover{best->name, "TAKEOVER",
                                        "master " + n.name + "'s process exited; " + best->name +
                                            " has the most of its data (offset " +
                                            std::to_string(best->repl.offset) + ")"});
    r.waiting.push_back(n.name + " stays down until " + best->name + " has taken over");
  }
}

// IDs in the views that no node answers to any more: a node that came back with a new ID
// (lost data dir) or was replaced. They are forgotten on every node in one step: FORGET bans
// an ID for 60 s only, and a node that still knows it would gossip it back. An ID that still
// owns slots is never forgotten: its slots would be lost; that is reported instead.
void PlanGhosts(const DesiredCluster& d, const std::vector<const ObservedNode*>& live,
                StepResult& r) {
  // "No node answers to this ID" is only known once every node has answered.
  size_t answering = std::count_if(live.begin(), live.end(), [](const ObservedNode* n) {
    return !n->starting && !n->synthetic;
  });
  if (answering < d.nodes.size()) return;
  std::set<std::string> current;
  for (const ObservedNode* n : live) current.insert(n->id);
  for (const auto& [name, id] : d.node_ids) {
    bool answered = std::any_of(live.begin(), live.end(), [&](const ObservedNode* n) {
      return n->name == name && !n->starting && !n->synthetic;
    });
    if (!answered) current.insert(id);  // down or starting: still itself
  }
  std::map<std::string, std::vector<SlotRange>> ghost_slots;
  std::set<std::string> ghosts;
  for (const ObservedNode* v : live) {
    for (const PeerView& p : v->peers) {
      if (p.myself || p.handshake || current.count(p.id)) continue;
      ghosts.insert(p.id);
      for (const SlotRange& s : p.slots) ghost_slots[p.id].push_back(s);
    }
  }
  for (const std::string& g : ghosts) {
    bool consented = !d.recover_slots.empty() && ghost_slots.count(g);
    if (consented) {
      std::vector<bool> ok = internal::SlotBits(d.recover_slots);
      for (const SlotRange& sr : ghost_slots[g]) {
        for (int s = std::max(0, sr.start); s <= std::min(kSlots - 1, sr.end); ++s) {
          consented = consented && ok[s];
        }
      }
    }
    if (ghost_slots.count(g) && !consented) {
      r.lost.insert(r.lost.end(), ghost_slots[g].begin(), ghost_slots[g].end());
      r.blockers.push_back(Blocker{
          Code::kFailedPrecondition,
          "slots " + RangesToString(NormalizeRanges(ghost_slots[g])) + " belong to node " +
              Short(g) +
              ", which no longer exists (its node came back empty or was replaced) and had no "
              "replica to take over: their keys are lost. Re-cover them empty only on purpose "
              "(slotkeeper recover-slots " +
              d.name + " --accept-data-loss)"});
      continue;
    }
    for (const ObservedNode* v : live) {
      // A replica cannot forget its own master; it is re-pointed first (PlanReplicas).
      if (v->starting || !v->PeerById(g) || v->MasterId() == g) continue;
      r.actions.push_back(model::Forget{v->name, g, "no node answers to this ID any more"});
    }
  }
}

// Slots left MIGRATING/IMPORTING (a move interrupted by a crash, or by a person): settled by
// the migration engine, which finishes the move when keys already went over or the source
// still holds some, and rolls it back otherwise. Only once every node answers: the keys of a
// slot are counted on both sides before anything is decided.
void PlanOpenSlots(const DesiredCluster& d, const ObservedCluster& o,
                   const std::vector<const ObservedNode*>& live, StepResult& r) {
  std::vector<std::string> stuck;
  std::vector<model::SettleSlot> open = FindOpenSlots(o, &stuck);
  if (open.empty() && stuck.empty()) return;
  if (live.size() < d.nodes.size() ||
      std::any_of(live.begin(), live.end(), [](const ObservedNode* n) { return n->starting; })) {
    r.waiting.push_back(std::to_string(open.size() + stuck.size()) +
                        " open slots are settled once every node answers");
    return;
  }
  for (std::string& s : stuck) r.waiting.push_back(std::move(s));
  for (model::SettleSlot& a : open) r.actions.push_back(std::move(a));
}

// What still has to become true by itself for the cluster to be converged.
void CollectWaits(const DesiredCluster& d, const ObservedCluster& o,
                  const std::vector<const ObservedNode*>& live, StepResult& r) {
  for (const ObservedNode& n : o.nodes) {
    if (!n.process_running) {
      r.waiting.push_back(n.name + " is not running");
    } else if (n.starting) {
      r.waiting.push_back(n.name + " is starting");
    } else if (!n.reachable) {
      r.waiting.push_back(NodeRef(n) + " does not answer: " + n.error);
    }
  }
  for (const ObservedNode* n : live) {
    if (n->starting) continue;
    if (n->cluster_state != "ok")
      r.waiting.push_back("cluster_state is " + n->cluster_state + " on " + n->name);
    if (!n->MasterId().empty()) {
      const ObservedNode* m = o.ById(n->MasterId());
      std::string of = m ? m->name : Short(n->MasterId());
      if (!n->repl.link_up)
        r.waiting.push_back(n->name + " is connecting to its master " + of);
      else if (n->repl.sync_in_progress)
        r.waiting.push_back(n->name + " is syncing from " + of);
    }
  }
  ShardMap shards = MatchShards(d, live);
  for (size_t k = 0; k < shards.master.size(); ++k) {
    if (!shards.master[k]) {
      r.notes.push_back("shard " + std::to_string(k) + " (slots " +
                        RangesToString(d.shard_slots[k]) + ") has no master of its own");
    }
  }
  for (const std::string& name : shards.unmatched_masters) {
    r.notes.push_back(
        name + " serves slots outside the spec's layout (resharding is not implemented yet)");
  }
}

// A master that gets a replica in this step keeps its lowered sync delay, even if the
// settings rule would restore it (its earlier replicas are in sync, the new one is not).
std::vector<Action> KeepSyncDelayLow(std::vector<Action> actions) {
  std::set<std::string> attaching;
  for (const Action& a : actions) {
    if (auto* r = std::get_if<model::Replicate>(&a)) attaching.insert(r->master_name);
  }
  std::vector<Action> out;
  for (Action& a : actions) {
    auto* c = std::get_if<model::ConfigSet>(&a);
    if (c && c->key == "repl-diskless-sync-delay" && c->value != "0" && attaching.count(c->node)) {
      continue;
    }
    out.push_back(std::move(a));
  }
  return out;
}

template <class T>
void Append(std::vector<T>& to, std::vector<T>&& from) {
  for (T& x : from) to.push_back(std::move(x));
}

}  // namespace

namespace internal {

StepResult NextStep(const DesiredCluster& full, const ObservedCluster& o) {
  StepResult r;
  std::vector<const ObservedNode*> all_live = LiveNodes(o);
  // While a scale operation runs, every stage but PlanResize plans against the layout served
  // now and leaves out the leaving nodes that are drained already (internal.h).
  const std::set<std::string> departing = Departing(full, all_live);
  const DesiredCluster d = full.resize ? Held(full, o, departing) : full;
  std::vector<const ObservedNode*> live;
  for (const ObservedNode* n : all_live) {
    if (!departing.count(n->name)) live.push_back(n);
  }
  CollectWaits(d, o, live, r);
  // Dead processes first: promote, restart. Then look again.
  PlanDead(d, o, live, r);
  if (!r.actions.empty()) return r;
  // A dry run's predicted nodes: started first, then planned as what they will be.
  for (const ObservedNode& n : o.nodes) {
    if (!n.process_running && n.synthetic && !n.starting) {
      r.actions.push_back(model::StartNode{n.name});
    }
  }

  // Each later stage runs only when the earlier ones have nothing to do.
  StepResult dup;
  PlanDuplicates(all_live, dup);
  if (!dup.actions.empty() || !dup.blockers.empty()) {
    Append(r.actions, std::move(dup.actions));
    Append(r.blockers, std::move(dup.blockers));
    return r;
  }
  PlanForeign(full, o, all_live, r);
  if (!r.blockers.empty()) {
    r.actions.clear();
    return r;
  }
  // Slots come alone (SET-CONFIG-EPOCH must precede every MEET); joining, replicas and
  // settings are independent of each other and share a step, and so is settling the owner of
  // slots the views have disagreed on for long (by direct commands, not gossip).
  using Stage =
      void (*)(const DesiredCluster&, const std::vector<const ObservedNode*>&, StepResult&);
  const std::vector<std::vector<Stage>> groups = {
      {PlanSlots}, {PlanMembership, PlanGhosts, PlanReplicas, PlanConfig, PlanOwnership}};
  // Open slots first, alone: a slot is settled before anything else builds on its owner.
  StepResult open;
  PlanOpenSlots(d, o, live, open);
  Append(r.waiting, std::move(open.waiting));
  if (!open.actions.empty()) {
    Append(r.actions, std::move(open.actions));
    return r;
  }
  for (const std::vector<Stage>& group : groups) {
    std::vector<Action> actions;
    for (Stage stage : group) {
      StepResult part;
      stage(d, live, part);
      Append(r.waiting, std::move(part.waiting));
      Append(r.notes, std::move(part.notes));
      Append(r.blockers, std::move(part.blockers));
      Append(r.lost, std::move(part.lost));
      Append(actions, std::move(part.actions));
    }
    if (!r.blockers.empty()) {
      r.actions.clear();
      return r;
    }
    if (!actions.empty()) {
      Append(r.actions, KeepSyncDelayLow(std::move(actions)));
      return r;
    }
  }
  // A scale operation takes its next step only from a calm cluster.
  if (full.resize && r.waiting.empty()) {
    StepResult step;
    PlanResize(full, o, live, departing, step);
    Append(r.waiting, std::move(step.waiting));
    Append(r.blockers, std::move(step.blockers));
    Append(r.actions, std::move(step.actions));
    r.resize_done = step.resize_done;
    r.final_layout = std::move(step.final_layout);
    if (!r.blockers.empty()) r.actions.clear();
  }
  return r;
}

}  // namespace internal

std::vector<model::SettleSlot> FindOpenSlots(const ObservedCluster& o,
                                             std::vector<std::string>* stuck) {
  std::map<int, model::SettleSlot> open;
  auto by_id = [&](const std::string& id) -> const ObservedNode* {
    for (const ObservedNode& n : o.nodes) {
      if (n.reachable && !n.starting && n.id == id) return &n;
    }
    return nullptr;
  };
  auto report = [&](std::string what) {
    if (stuck) stuck->push_back(std::move(what));
  };
  for (const ObservedNode& n : o.nodes) {
    const PeerView* self = n.reachable && !n.starting ? n.Self() : nullptr;
    if (!self || !n.IsMaster()) continue;
    for (const auto& [slot, target_id] : self->migrating) {
      const ObservedNode* t = by_id(target_id);
      if (!t) {
        report("slot " + std::to_string(slot) + " is MIGRATING on " + n.name + " to " +
               Short(target_id) + ", which does not answer");
        continue;
      }
      open[slot] = model::SettleSlot{n.name, slot, n.id, t->name, t->id};
    }
    for (const auto& [slot, source_id] : self->importing) {
      if (open.count(slot)) continue;
      const ObservedNode* src = by_id(source_id);
      if (!src) {
        report("slot " + std::to_string(slot) + " is IMPORTING on " + n.name + " from " +
               Short(source_id) + ", which does not answer");
        continue;
      }
      open[slot] = model::SettleSlot{src->name, slot, src->id, n.name, n.id};
    }
  }
  std::vector<model::SettleSlot> out;
  for (auto& [slot, a] : open) out.push_back(std::move(a));
  return out;
}

std::vector<std::vector<SlotRange>> ServedLayout(const ObservedCluster& observed) {
  return internal::ViewLayout(observed);
}

std::vector<SlotRange> UnclaimedSlots(const ObservedCluster& observed) {
  std::vector<bool> free(kSlots, true);
  for (const ObservedNode& n : observed.nodes) {
    if (!n.reachable || n.starting || n.synthetic || !n.IsMaster()) continue;
    for (const SlotRange& r : n.OwnSlots()) {
      for (int s = std::max(0, r.start); s <= std::min(kSlots - 1, r.end); ++s) free[s] = false;
    }
  }
  return Intersect({SlotRange{0, kSlots - 1}}, free);
}

std::vector<SlotRange> UnservedSlots(const ObservedCluster& observed) {
  std::vector<const ObservedNode*> live = LiveNodes(observed);
  if (live.empty()) return {};
  return Intersect({SlotRange{0, kSlots - 1}}, UnassignedEverywhere(live));
}

model::Plan MakePlan(const DesiredCluster& desired, const ObservedCluster& observed,
                     const PlanOptions& opts) {
  model::Plan plan;
  StepResult first = internal::NextStep(desired, observed);
  plan.waiting = std::move(first.waiting);
  plan.blockers = std::move(first.blockers);
  plan.notes = std::move(first.notes);
  plan.disagreements = internal::Disagreements(observed);
  plan.resize_done = first.resize_done;
  plan.lost = NormalizeRanges(first.lost);
  plan.final_layout = std::move(first.final_layout);
  std::sort(plan.waiting.begin(), plan.waiting.end());
  plan.waiting.erase(std::unique(plan.waiting.begin(), plan.waiting.end()), plan.waiting.end());
  if (first.actions.empty() || !plan.blockers.empty()) return plan;
  plan.steps.push_back(std::move(first.actions));
  if (!opts.simulate) return plan;
  // Later steps from a simulation of the earlier ones (dry run output only).
  ObservedCluster sim = observed;
  for (int i = 0; i < 8; ++i) {
    sim = internal::Simulate(sim, plan.steps.back());
    StepResult next = internal::NextStep(desired, sim);
    if (next.actions.empty() || !next.blockers.empty()) break;
    plan.steps.push_back(std::move(next.actions));
  }
  return plan;
}

}  // namespace sk::plan
