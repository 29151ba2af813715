// The optimistic effects of a step (dry-run planning) and node classification.
#include <algorithm>
#include <map>
#include <type_traits>

#include "controller/plan/internal.h"
#include "controller/plan/plan.h"

namespace sk::plan {

using internal::SlotBits;
using model::ObservedCluster;
using model::ObservedNode;
using model::PeerView;

namespace {

ObservedNode* FindByName(ObservedCluster& o, const std::string& name) {
  for (ObservedNode& n : o.nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

ObservedNode* FindByEp(ObservedCluster& o, const Endpoint& ep) {
  for (ObservedNode& n : o.nodes) {
    if (n.ep == ep) return &n;
  }
  return nullptr;
}

PeerView* SelfOf(ObservedNode& n) {
  for (PeerView& p : n.peers) {
    if (p.myself) return &p;
  }
  n.peers.push_back(
      PeerView{.id = n.id, .ep = n.ep, .myself = true, .master = true, .connected = true});
  return &n.peers.back();
}

// Makes `viewer` know `subject` as `subject` sees itself.
void Learn(ObservedNode& viewer, ObservedNode& subject) {
  PeerView copy = *SelfOf(subject);
  copy.myself = false;
  for (PeerView& p : viewer.peers) {
    if (!p.myself && (p.id == copy.id || p.ep == copy.ep)) {
      p = copy;
      return;
    }
  }
  viewer.peers.push_back(copy);
  viewer.known_nodes = static_cast<int>(viewer.peers.size());
}

// Pushes a change of `n`'s own entry into every view that has it.
void Broadcast(ObservedCluster& o, ObservedNode& n) {
  for (ObservedNode& other : o.nodes) {
    if (&other == &n) continue;
    for (PeerView& p : other.peers) {
      if (!p.myself && p.id == n.id) {
        p = *SelfOf(n);
        p.myself = false;
      }
    }
  }
}

// Slots change owner (the moves of a scale operation), as every view will see it.
void MoveSlotsIn(ObservedCluster& o, const model::MoveSlots& a) {
  std::map<std::string, std::vector<int>> gone, got;
  for (const model::SlotMoveRef& m : a.moves) {
    gone[m.from].push_back(m.slot);
    got[m.to].push_back(m.slot);
  }
  for (ObservedNode& node : o.nodes) {
    PeerView* self = SelfOf(node);
    std::vector<bool> bits = SlotBits(self->slots);
    for (int s : gone[node.name]) bits[s] = false;
    for (int s : got[node.name]) bits[s] = true;
    std::vector<int> slots;
    for (int s = 0; s < kSlots; ++s) {
      if (bits[s]) slots.push_back(s);
    }
    self->slots = RangesFromSlots(std::move(slots));
    if (gone.count(node.name) && self->slots.empty()) node.keys = 0;
  }
  for (ObservedNode& node : o.nodes) Broadcast(o, node);
}

void Apply(ObservedCluster& o, const model::Action& action) {
  if (const auto* move = std::get_if<model::MoveSlots>(&action)) {
    MoveSlotsIn(o, *move);
    return;
  }
  if (const auto* retire = std::get_if<model::RetireNode>(&action)) {
    std::erase_if(o.nodes, [&](const ObservedNode& x) { return x.name == retire->node; });
    for (ObservedNode& viewer : o.nodes) {
      std::erase_if(viewer.peers, [&](const PeerView& p) { return p.id == retire->id; });
    }
    return;
  }
  ObservedNode* n = FindByName(o, model::ActionNode(action));
  if (!n) return;
  std::visit(
      [&](const auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, model::StartNode>) {
          n->process_running = true;
          n->reachable = n->reachable || n->synthetic;
        } else if constexpr (std::is_same_v<T, model::ResetHard>) {
          n->id = "(new id of " + n->name + ")";
          n->peers.clear();
          SelfOf(*n);
          n->known_nodes = 1;
          n->current_epoch = 0;
        } else if constexpr (std::is_same_v<T, model::SetConfigEpoch>) {
          n->current_epoch = a.epoch;
          SelfOf(*n)->config_epoch = a.epoch;
        } else if constexpr (std::is_same_v<T, model::AddSlots>) {
          PeerView* self = SelfOf(*n);
          std::vector<SlotRange> all = self->slots;
          all.insert(all.end(), a.ranges.begin(), a.ranges.end());
          self->slots = NormalizeRanges(all);
          Broadcast(o, *n);
        } else if constexpr (std::is_same_v<T, model::Meet>) {
          ObservedNode* target = FindByEp(o, a.target);
          if (!target) return;
          Learn(*n, *target);
          Learn(*target, *n);
        } else if constexpr (std::is_same_v<T, model::Replicate>) {
          PeerView* self = SelfOf(*n);
          self->master = false;
          self->replica = true;
          self->master_id = a.master_id;
          n->repl.role = "slave";
          n->repl.link_up = true;
          n->repl.sync_in_progress = false;
          Broadcast(o, *n);
        } else if constexpr (std::is_same_v<T, model::Failover>) {
          // The replica takes its master's slots.
          PeerView* self = SelfOf(*n);
          for (ObservedNode& viewer : o.nodes) {
            for (PeerView& p : viewer.peers) {
              if (!p.myself && p.id == self->master_id) {
                if (self->slots.empty()) self->slots = p.slots;
                p.slots.clear();
              }
            }
          }
          self->master = true;
          self->replica = false;
          self->master_id.clear();
          n->repl.role = "master";
          Broadcast(o, *n);
        } else if constexpr (std::is_same_v<T, model::Forget>) {
          auto& peers = n->peers;
          peers.erase(std::remove_if(peers.begin(), peers.end(),
                                     [&](const PeerView& p) { return !p.myself && p.id == a.id; }),
                      peers.end());
        } else if constexpr (std::is_same_v<T, model::ConfigSet>) {
          n->config[a.key] = a.value;
        } else if constexpr (std::is_same_v<T, model::SettleSlot>) {
          // Settled: no node has it open any more (who owns it is the engine's finding).
          for (ObservedNode& viewer : o.nodes) {
            for (PeerView& p : viewer.peers) {
              p.migrating.erase(a.slot);
              p.importing.erase(a.slot);
            }
          }
        }
      },
      action);
}

}  // namespace

namespace internal {

ObservedCluster Simulate(const ObservedCluster& o, const std::vector<model::Action>& step) {
  ObservedCluster sim = o;
  for (const model::Action& a : step) Apply(sim, a);
  for (ObservedNode& n : sim.nodes) {
    if (n.reachable) n.cluster_state = "ok";
  }
  return sim;
}

}  // namespace internal

std::string_view NodeClassName(NodeClass c) {
  switch (c) {
    case NodeClass::kNotRunning:
      return "not-running";
    case NodeClass::kUnreachable:
      return "unreachable";
    case NodeClass::kFresh:
      return "fresh";
    case NodeClass::kMember:
      return "member";
    case NodeClass::kForeign:
      return "foreign";
    case NodeClass::kHoldsData:
      return "holds-data";
  }
  return "?";
}

std::vector<ClassifiedNode> Classify(const model::DesiredCluster& desired,
                                     const ObservedCluster& observed) {
  internal::Ours ours = internal::OurNodes(desired, observed);
  std::vector<ClassifiedNode> out;
  for (const ObservedNode& n : observed.nodes) {
    ClassifiedNode c{n.name, NodeClass::kMember, ""};
    auto foreign = n.reachable ? internal::ForeignPeers(n, ours) : std::vector<const PeerView*>{};
    if (!n.process_running && !n.synthetic) {
      c.cls = NodeClass::kNotRunning;
    } else if (!n.reachable) {
      c.cls = NodeClass::kUnreachable;
      c.detail = n.error;
    } else if (!foreign.empty()) {
      c.cls = NodeClass::kForeign;
      c.detail = "knows " + foreign.front()->ep.ToString();
    } else if (n.IsMaster() && n.OwnSlots().empty() && n.keys > 0) {
      c.cls = NodeClass::kHoldsData;
      c.detail = std::to_string(n.keys) + " keys, no slot";
    } else if (internal::IsFresh(n)) {
      c.cls = NodeClass::kFresh;
    } else if (n.IsMaster()) {
      c.detail = n.OwnSlots().empty() ? "master without slots"
                                      : "master of " + RangesToString(n.OwnSlots());
    } else {
      const ObservedNode* m = observed.ById(n.MasterId());
      c.detail = "replica of " + (m ? m->name : n.MasterId().substr(0, 8));
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace sk::plan
