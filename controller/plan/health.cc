#include "controller/plan/health.h"

#include <algorithm>
#include <set>

#include "controller/plan/internal.h"

namespace sk::plan {

using model::ObservedNode;
using model::PeerView;

bool HealthReport::Healthy() const {
  return std::none_of(items.begin(), items.end(), [](const HealthItem& i) { return i.problem; });
}

namespace {

std::string Ref(const ObservedNode& n) { return n.ep.ToString(); }

// Owner id per slot as one node sees it ("" = unassigned).
std::vector<std::string> SlotOwners(const ObservedNode& n) {
  std::vector<std::string> owner(kSlots);
  for (const PeerView& p : n.peers) {
    for (const SlotRange& r : p.slots) {
      for (int s = r.start; s <= r.end; ++s) owner[s] = p.id;
    }
  }
  return owner;
}

void CheckMembership(const std::vector<const ObservedNode*>& live, HealthReport& r) {
  std::map<std::string, std::vector<const ObservedNode*>> by_id;
  for (const ObservedNode* n : live) by_id[n->id].push_back(n);
  for (const auto& [id, group] : by_id) {
    if (group.size() < 2) continue;
    std::string names;
    for (const ObservedNode* n : group) names += (names.empty() ? "" : ", ") + Ref(*n);
    r.items.push_back({true, "duplicate node ID " + id + " on " + names +
                                 " (a copied nodes.conf): their address flips in every view"});
  }
  for (const ObservedNode* a : live) {
    if (a->known_nodes <= 1 && live.size() > 1) {
      r.items.push_back({true, Ref(*a) + " knows no other node: it is not part of a cluster"});
      continue;
    }
    for (const ObservedNode* b : live) {
      if (a == b || a->id == b->id) continue;
      const PeerView* p = a->PeerById(b->id);
      if (!p) {
        r.items.push_back({true, Ref(*a) + " does not know " + Ref(*b)});
      } else if (p->handshake) {
        r.items.push_back({true, Ref(*a) + " is still handshaking with " + Ref(*b)});
      }
    }
    for (const PeerView& p : a->peers) {
      if (p.myself) continue;
      std::string who = p.noaddr ? p.id.substr(0, 8) + " (no address)" : p.ep.ToString();
      if (p.fail)
        r.items.push_back({true, Ref(*a) + " sees " + who + " as failed"});
      else if (p.pfail)
        r.items.push_back({true, Ref(*a) + " sees " + who + " as possibly failing"});
      else if (!p.connected && !p.handshake)
        r.items.push_back({true, Ref(*a) + " has no link to " + who});
    }
  }
}

void CheckSlots(const std::vector<const ObservedNode*>& live, HealthReport& r) {
  if (live.empty()) return;
  std::vector<std::string> ref = SlotOwners(*live.front());
  std::vector<int> unassigned;
  for (int s = 0; s < kSlots; ++s) {
    if (ref[s].empty()) unassigned.push_back(s);
  }
  r.slots_covered = kSlots - static_cast<int>(unassigned.size());
  if (!unassigned.empty()) {
    r.items.push_back({true, "slots " + RangesToString(RangesFromSlots(unassigned)) +
                                 " are not covered (as " + Ref(*live.front()) + " sees it)"});
  }
  for (size_t i = 1; i < live.size(); ++i) {
    std::vector<std::string> other = SlotOwners(*live[i]);
    std::vector<int> differ;
    for (int s = 0; s < kSlots; ++s) {
      if (other[s] != ref[s]) differ.push_back(s);
    }
    if (!differ.empty()) {
      r.items.push_back({true, Ref(*live[i]) + " and " + Ref(*live.front()) +
                                   " disagree on the owner of slots " +
                                   RangesToString(RangesFromSlots(differ))});
    }
  }
  std::set<std::string> open;
  for (const ObservedNode* n : live) {
    const PeerView* self = n->Self();
    if (!self) continue;
    for (const auto& [slot, to] : self->migrating) {
      open.insert("slot " + std::to_string(slot) + " is MIGRATING on " + Ref(*n) + " to " +
                  to.substr(0, 8));
    }
    for (const auto& [slot, from] : self->importing) {
      open.insert("slot " + std::to_string(slot) + " is IMPORTING on " + Ref(*n) + " from " +
                  from.substr(0, 8));
    }
  }
  for (const std::string& o : open) r.items.push_back({true, o});
}

void CheckRoles(const model::ObservedCluster& o, const std::vector<const ObservedNode*>& live,
                HealthReport& r) {
  std::map<std::string, int> replicas_of;
  for (const ObservedNode* n : live) {
    std::string m = n->MasterId();
    if (m.empty()) continue;
    r.replicas++;
    replicas_of[m]++;
    const ObservedNode* master = o.ById(m);
    std::string of = master ? Ref(*master) : m.substr(0, 8);
    if (!n->repl.link_up)
      r.items.push_back({true, "replica " + Ref(*n) + " has no link to its master " + of});
    else if (n->repl.sync_in_progress)
      r.items.push_back({true, "replica " + Ref(*n) + " is still syncing from " + of});
  }
  for (const ObservedNode* n : live) {
    if (!n->IsMaster() || n->OwnSlots().empty()) continue;
    r.masters++;
    if (!replicas_of.count(n->id))
      r.items.push_back({false, "master " + Ref(*n) + " has no replica"});
  }
  for (const ObservedNode* n : live) {
    if (n->cluster_state != "ok")
      r.items.push_back({true, Ref(*n) + " reports cluster_state:" + n->cluster_state});
  }
}

}  // namespace

HealthReport CheckHealth(const model::ObservedCluster& o,
                         const std::map<std::string, std::string>& bus_probe) {
  HealthReport r;
  std::vector<const ObservedNode*> live;
  for (const ObservedNode& n : o.nodes) {
    if (n.reachable) {
      live.push_back(&n);
    } else {
      r.items.push_back({true, Ref(n) + " does not answer: " + n.error});
    }
  }
  for (const auto& [name, why] : bus_probe) {
    if (!why.empty()) {
      const ObservedNode* n = o.ByName(name);
      std::string where = n ? Ref(*n) : name;
      r.items.push_back({true, "bus port of " + where + " is unreachable from here (" + why + ")"});
    }
  }
  CheckMembership(live, r);
  CheckSlots(live, r);
  CheckRoles(o, live, r);
  return r;
}

}  // namespace sk::plan
