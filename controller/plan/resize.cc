#include "controller/plan/resize.h"

#include <algorithm>
#include <set>

#include "controller/plan/placement.h"

namespace sk::plan {
namespace {

int Count(const std::vector<SlotRange>& ranges) {
  int n = 0;
  for (const SlotRange& r : ranges) n += r.end - r.start + 1;
  return n;
}

}  // namespace

ResizeNode ResizeNodeOf(const model::ObservedNode& n, bool staying) {
  return {
      n.name,       n.id,   n.IsMaster(), n.MasterId(), n.repl.link_up && !n.repl.sync_in_progress,
      n.OwnSlots(), n.keys, staying,      n.host};
}

Result<ResizeDecision> DecideResize(const std::vector<ResizeNode>& nodes, const ResizeTarget& to) {
  ResizeDecision d;
  std::map<std::string, const ResizeNode*> by_id;
  for (const ResizeNode& n : nodes) by_id[n.id] = &n;
  // Step 1: a leaving master whose shard a staying replica can take over.
  for (const ResizeNode& m : nodes) {
    if (m.staying || !m.master || m.slots.empty()) continue;
    for (const ResizeNode& r : nodes) {
      if (r.staying && !r.master && r.master_id == m.id && r.link_up) {
        d.failovers.emplace_back(r.name, m.name);
        break;
      }
    }
  }
  if (!d.failovers.empty()) return d;

  std::vector<const ResizeNode*> serving;  // staying masters with slots
  std::vector<const ResizeNode*> leaving;  // leaving masters with slots
  std::vector<const ResizeNode*> empty;    // staying empty masters
  std::vector<bool> covered(kSlots, false);
  for (const ResizeNode& n : nodes) {
    for (const SlotRange& r : n.slots) {
      for (int s = std::max(0, r.start); s <= std::min(kSlots - 1, r.end); ++s) covered[s] = true;
    }
    if (!n.master) continue;
    if (!n.slots.empty()) {
      (n.staying ? serving : leaving).push_back(&n);
    } else if (n.staying && n.keys == 0) {
      empty.push_back(&n);
    }
  }
  int uncovered = static_cast<int>(std::count(covered.begin(), covered.end(), false));
  if (uncovered > 0) {
    return FailedPrecondition(std::to_string(uncovered) +
                              " slots are served by no node; a scale operation starts only from "
                              "a fully covered cluster (see the cluster's status)");
  }
  auto lowest = [](const ResizeNode* a, const ResizeNode* b) {
    return a->slots.front().start < b->slots.front().start;
  };
  std::sort(serving.begin(), serving.end(), lowest);
  // Too many staying masters: the ones with the fewest slots give theirs away (least data
  // moves), the last such in node order first.
  std::vector<const ResizeNode*> keep = serving;
  std::vector<const ResizeNode*> drain = leaving;
  while (static_cast<int>(keep.size()) > to.masters) {
    auto it = std::min_element(keep.rbegin(), keep.rend(), [](const auto* a, const auto* b) {
      return Count(a->slots) < Count(b->slots);
    });
    drain.push_back(*it);
    keep.erase(std::next(it).base());
  }
  int missing = to.masters - static_cast<int>(keep.size());
  if (missing > static_cast<int>(empty.size())) {
    return FailedPrecondition(
        "the spec wants " + std::to_string(to.masters) + " masters but only " +
        std::to_string(keep.size() + empty.size()) +
        " staying nodes can serve as masters (the others are replicas that must stay with "
        "their shard); add nodes or lower replicasPerMaster first");
  }
  // New masters on the hosts that run the fewest masters (their replicas then go elsewhere).
  std::vector<PlacementNode> candidates;
  for (const ResizeNode* n : empty) candidates.push_back({n->name, n->host});
  std::vector<std::string> master_hosts;
  for (const ResizeNode* n : keep) master_hosts.push_back(n->host);
  for (int i : PickMasters(candidates, missing, master_hosts)) {
    keep.push_back(empty[static_cast<std::size_t>(i)]);
    d.new_masters.push_back(empty[static_cast<std::size_t>(i)]->name);
  }
  ReshardInput in;
  for (std::size_t k = 0; k < keep.size(); ++k) {
    in.masters.emplace_back(keep[k]->name, keep[k]->slots);
    d.masters.push_back(keep[k]->name);
    if (k < to.weights.size()) in.weights[keep[k]->name] = to.weights[k];
    if (k < to.ranges.size()) in.ranges[keep[k]->name] = to.ranges[k];
  }
  for (const ResizeNode* n : drain) {
    in.leaving.emplace_back(n->name, n->slots);
    d.draining.push_back(n->name);
  }
  d.moves = PlanSlotMoves(in);
  // The layout once the moves are done.
  std::map<std::string, std::vector<int>> owned;
  std::vector<std::string> owner(kSlots);
  for (const auto& list : {in.leaving, in.masters}) {
    for (const auto& [name, ranges] : list) {
      for (const SlotRange& r : ranges) {
        for (int s = std::max(0, r.start); s <= std::min(kSlots - 1, r.end); ++s) owner[s] = name;
      }
    }
  }
  for (const SlotMove& mv : d.moves) owner[mv.slot] = mv.to;
  for (int s = 0; s < kSlots; ++s) owned[owner[s]].push_back(s);
  for (const std::string& name : d.masters) d.layout.push_back(RangesFromSlots(owned[name]));
  for (const std::string& name : d.draining) {
    if (!owned[name].empty()) {
      return Internal("planning error: " + name + " would keep slots " +
                      RangesToString(RangesFromSlots(owned[name])) + " after draining");
    }
  }
  return d;
}

}  // namespace sk::plan
