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
  bool resize_done = false;
  std::vector<std::vector<SlotRange>> final_layout;
  std::vector<SlotRange> lost;
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

// A bus link that carries gossip now: connected, and the peer neither failing nor unknown.
bool Linked(const model::PeerView& p);

// The shards the nodes serve now, by the masters' views (one claimer, else the owner most
// views name), sorted by their lowest slot. Shards of masters that do not answer stay in.
std::vector<std::vector<SlotRange>> ViewLayout(const model::ObservedCluster& o);

// Leaving nodes (resize goal) that answer and that no view gives a slot: they only wait to be
// forgotten and retired, and every other stage leaves them out.
std::set<std::string> Departing(const model::DesiredCluster& d,
                                const std::vector<const model::ObservedNode*>& live);

// What every stage but PlanResize plans against while a resize runs: the layout served now,
// without the departing nodes.
model::DesiredCluster Held(const model::DesiredCluster& d, const model::ObservedCluster& o,
                           const std::set<std::string>& departing);

// Slots (not open) whose owner the masters disagree on: claimed by none or by several in
// their own views, or named differently by their views.
std::vector<SlotRange> Disagreements(const model::ObservedCluster& o);

// SettleOwner for the disagreements that have lasted (DesiredCluster::memory).
void PlanOwnership(const model::DesiredCluster& d,
                   const std::vector<const model::ObservedNode*>& live, StepResult& r);

// The next step of a scale operation, run only when every other stage has converged.
void PlanResize(const model::DesiredCluster& d, const model::ObservedCluster& o,
                const std::vector<const model::ObservedNode*>& live,
                const std::set<std::string>& departing, StepResult& r);

}  // namespace sk::plan::internal
