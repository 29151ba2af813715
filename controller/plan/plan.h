// MakePlan: what to do to turn the observed cluster into the desired one.
//
// PURE: no I/O, no clock, no randomness; the same inputs give the same plan, whether or not
// the caller saw how the cluster got into its state (level-triggered). The first step is
// computed from the real observation; later steps come from simulating the earlier ones, so
// `slotkeeper plan` shows the whole sequence while the executor runs only the first step and
// then observes again.
//
// Safety rules enforced here (tested in tests/unit/plan):
// - a node that holds keys or slots is never reset; duplicates that both hold data block;
// - a node that knows nodes of another cluster, or holds keys without serving slots, blocks;
// - a slot is assigned only when no view assigns it, and never again once the cluster was
//   formed (formed_before): lost slots are reported, not re-created empty;
// - "slot already busy" cannot happen for slots a master already owns (only missing ones are
//   added).
#pragma once

#include <string>
#include <vector>

#include "controller/model/model.h"

namespace sk::plan {

struct PlanOptions {
  // Also plan the steps after the first by simulating it (for `slotkeeper plan`); the
  // reconciler runs only the first step, so it leaves this off.
  bool simulate = true;
};

model::Plan MakePlan(const model::DesiredCluster& desired, const model::ObservedCluster& observed,
                     const PlanOptions& opts = {});

enum class NodeClass {
  kNotRunning,
  kUnreachable,
  kFresh,      // knows no peer, no slot, no key
  kMember,     // part of this cluster
  kForeign,    // knows nodes of another cluster
  kHoldsData,  // keys without slots, or slots outside this cluster
};
std::string_view NodeClassName(NodeClass c);

struct ClassifiedNode {
  std::string name;
  NodeClass cls;
  std::string detail;
};
// Slots that some answering master has MIGRATING or IMPORTING, each once, as the action that
// settles it (source -> target). A slot whose other side does not answer is not listed; it
// is described in `stuck` instead, when given.
std::vector<model::SettleSlot> FindOpenSlots(const model::ObservedCluster& observed,
                                             std::vector<std::string>* stuck = nullptr);

// The shards the nodes serve now, by the masters' views (a failed scale operation keeps it).
std::vector<std::vector<SlotRange>> ServedLayout(const model::ObservedCluster& observed);

// Slots that no answering node's view assigns to anyone (none when no node answers).
std::vector<SlotRange> UnservedSlots(const model::ObservedCluster& observed);

// Slots that no answering master claims in its own view (served by nobody now).
std::vector<SlotRange> UnclaimedSlots(const model::ObservedCluster& observed);

// How each observed node looks from this cluster's point of view.
std::vector<ClassifiedNode> Classify(const model::DesiredCluster& desired,
                                     const model::ObservedCluster& observed);

}  // namespace sk::plan
