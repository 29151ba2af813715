#include "controller/model/model.h"

#include <cstdlib>
#include <map>
#include <sstream>
#include <type_traits>

namespace sk::model {

const PeerView* ObservedNode::Self() const {
  for (const PeerView& p : peers) {
    if (p.myself) return &p;
  }
  return nullptr;
}

const PeerView* ObservedNode::PeerById(const std::string& peer_id) const {
  for (const PeerView& p : peers) {
    if (p.id == peer_id) return &p;
  }
  return nullptr;
}

bool ObservedNode::HandshakingWith(const Endpoint& at) const {
  for (const PeerView& p : peers) {
    if (p.handshake && p.ep == at) return true;
  }
  return false;
}

std::vector<SlotRange> ObservedNode::OwnSlots() const {
  const PeerView* self = Self();
  return self ? self->slots : std::vector<SlotRange>{};
}

bool ObservedNode::IsMaster() const {
  const PeerView* self = Self();
  return self ? self->master : repl.role != "slave";
}

std::string ObservedNode::MasterId() const {
  const PeerView* self = Self();
  return self && self->replica ? self->master_id : std::string();
}

bool ObservedNode::HasAddSlotsRange() const {
  // "7.0.15" -> major 7. An unknown version is treated as old: ADDSLOTS always works.
  return !version.empty() && std::atoi(version.c_str()) >= 7;
}

const ObservedNode* ObservedCluster::ByName(const std::string& name) const {
  for (const ObservedNode& n : nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

const ObservedNode* ObservedCluster::ById(const std::string& id) const {
  if (id.empty()) return nullptr;
  for (const ObservedNode& n : nodes) {
    if (n.reachable && n.id == id) return &n;
  }
  return nullptr;
}

const std::string& ActionNode(const Action& a) {
  return std::visit([](const auto& x) -> const std::string& { return x.node; }, a);
}

std::string_view ActionKind(const Action& a) {
  return std::visit(
      [](const auto& x) -> std::string_view {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, StartNode>) return "start";
        if constexpr (std::is_same_v<T, ResetHard>) return "reset";
        if constexpr (std::is_same_v<T, SetConfigEpoch>) return "set-config-epoch";
        if constexpr (std::is_same_v<T, AddSlots>) return "addslots";
        if constexpr (std::is_same_v<T, Meet>) return "meet";
        if constexpr (std::is_same_v<T, Replicate>) return "replicate";
        if constexpr (std::is_same_v<T, Failover>) return "failover";
        if constexpr (std::is_same_v<T, Forget>) return "forget";
        if constexpr (std::is_same_v<T, ConfigSet>) return "config-set";
        if constexpr (std::is_same_v<T, SettleSlot>) return "settle-slot";
        if constexpr (std::is_same_v<T, ReplaceNode>) return "replace-node";
        if constexpr (std::is_same_v<T, MoveSlots>) return "move-slots";
        if constexpr (std::is_same_v<T, RetireNode>) return "retire-node";
        if constexpr (std::is_same_v<T, SettleOwner>) return "settle-owner";
      },
      a);
}

std::string Describe(const Action& a) {
  std::ostringstream os;
  std::visit(
      [&os](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, StartNode>) {
          os << "START " << x.node;
        } else if constexpr (std::is_same_v<T, ResetHard>) {
          os << "CLUSTER RESET HARD on " << x.node << " (" << x.reason << ")";
        } else if constexpr (std::is_same_v<T, SetConfigEpoch>) {
          os << "CLUSTER SET-CONFIG-EPOCH " << x.epoch << " on " << x.node;
        } else if constexpr (std::is_same_v<T, AddSlots>) {
          os << "CLUSTER ADDSLOTS " << RangesToString(x.ranges) << " on " << x.node << " ("
             << CountSlots(x.ranges) << " slots)";
        } else if constexpr (std::is_same_v<T, Meet>) {
          os << "CLUSTER MEET " << x.target.ToString() << " on " << x.node;
          if (!x.reason.empty()) os << " (" << x.reason << ")";
        } else if constexpr (std::is_same_v<T, Replicate>) {
          os << "CLUSTER REPLICATE " << x.master_name << " (" << x.master_id.substr(0, 8) << ") on "
             << x.node;
        } else if constexpr (std::is_same_v<T, Failover>) {
          os << "CLUSTER FAILOVER" << (x.mode.empty() ? "" : " " + x.mode) << " on " << x.node;
          if (!x.reason.empty()) os << " (" << x.reason << ")";
        } else if constexpr (std::is_same_v<T, Forget>) {
          os << "CLUSTER FORGET " << x.id.substr(0, 8) << " on " << x.node;
          if (!x.reason.empty()) os << " (" << x.reason << ")";
        } else if constexpr (std::is_same_v<T, ConfigSet>) {
          os << "CONFIG SET " << x.key << " " << x.value << " on " << x.node;
          if (!x.reason.empty()) os << " (" << x.reason << ")";
        } else if constexpr (std::is_same_v<T, SettleSlot>) {
          os << "SETTLE slot " << x.slot << " left open from " << x.node << " to " << x.target
             << " (finish the move or roll it back, losing no key)";
        } else if constexpr (std::is_same_v<T, ReplaceNode>) {
          os << "REPLACE " << x.node << " by a new empty node on a free port (" << x.reason << ")";
        } else if constexpr (std::is_same_v<T, MoveSlots>) {
          std::map<std::pair<std::string, std::string>, int> pairs;
          for (const SlotMoveRef& m : x.moves) pairs[{m.from, m.to}]++;
          os << "MOVE " << x.moves.size() << " slots with their keys (";
          bool first = true;
          for (const auto& [p, n] : pairs) {
            os << (first ? "" : ", ") << p.first << " -> " << p.second << ": " << n;
            first = false;
          }
          os << ")";
          if (!x.reason.empty()) os << " (" << x.reason << ")";
        } else if constexpr (std::is_same_v<T, RetireNode>) {
          os << "RETIRE " << x.node << " (" << x.id.substr(0, 8)
             << "): stop it and delete its files (" << x.reason << ")";
        } else if constexpr (std::is_same_v<T, SettleOwner>) {
          os << "SETTLE the owner of slots " << RangesToString(x.slots)
             << " toward the master that holds their keys (else " << x.node << ")";
          if (!x.reason.empty()) os << " (" << x.reason << ")";
        }
      },
      a);
  return os.str();
}

std::string Plan::ToString() const {
  std::ostringstream os;
  for (size_t i = 0; i < steps.size(); ++i) {
    os << "step " << (i + 1) << ":\n";
    for (const Action& a : steps[i]) os << "  " << Describe(a) << "\n";
  }
  for (const std::string& w : waiting) os << "waiting: " << w << "\n";
  for (const Blocker& b : blockers) os << "blocked: " << b.message << "\n";
  return os.str();
}

}  // namespace sk::model
