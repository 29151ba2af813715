// Shared pieces of the planner's translation units (not part of the module's interface).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "controller/model/model.h"

namespace sk::plan::internal {

// One pass's worth of decisions: the next step, and what it found on the way.
struct StepResult {
  std::vector<model::Action> actions;
  std::vector<std::string> waiting;
  std::vector<model::Blocker> blockers;
  std::vector<std::string> notes;
};

StepResult NextStep(const model::DesiredCluster& d, const model::ObservedCluster& o);

// Applies a step's expected effects to a copy of the observation (optimistically: joins
// complete, slots are learnt, replicas sync), so the following step can be planned.
model::ObservedCluster Simulate(const model::ObservedCluster& o,
                                const std::vector<model::Action>& step);

// Slots of `ranges` as a bitmap of kSlots entries.
std::vector<bool> SlotBits(const std::vector<SlotRange>& ranges);

// A node that knows no peer, serves no slot, holds no key and has never had an epoch.
bool IsFresh(const model::ObservedNode& n);
// A master with no slot and no key: it may become a replica or a new master.
bool IsEmptyMaster(const model::ObservedNode& n);

// IDs and addresses that belong to this cluster.
struct Ours {
  std::set<std::string> ids;
  std::set<Endpoint> eps;
  bool Has(const model::PeerView& p) const { return ids.count(p.id) || eps.count(p.ep); }
};
Ours OurNodes(const model::DesiredCluster& d, const model::ObservedCluster& o);

// Peers a node knows that belong to no cluster of ours (healthy, addressed, unknown id).
std::vector<const model::PeerView*> ForeignPeers(const model::ObservedNode& n, const Ours& ours);

}  // namespace sk::plan::internal
