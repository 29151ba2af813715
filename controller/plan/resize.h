// DecideResize: how a live cluster gets from its current masters to the spec's count (pure).
//
// A scale operation repeats: observe, decide, act, until nothing is left to decide:
//  1. a master on a node that leaves, with a linked replica that stays, hands its shard to
//     that replica (CLUSTER FAILOVER): no key moves;
//  2. otherwise slots move (PlanSlotMoves): from masters that leave, and from the staying
//     masters in excess (fewest slots first), to the staying masters and to new masters
//     picked among the staying nodes that are empty masters, on the hosts that run the
//     fewest masters;
//  3. nodes that leave and serve nothing are retired (re-point their staying replicas,
//     FORGET everywhere, stop, delete). That step is the caller's, after the moves.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/types/result.h"
#include "api/types/slot_range.h"
#include "controller/model/model.h"
#include "controller/plan/reshard.h"

namespace sk::plan {

struct ResizeNode {
  std::string name;
  std::string id;
  bool master = false;
  std::string master_id;         // for a replica
  bool link_up = false;          // for a replica: linked to its master and in sync
  std::vector<SlotRange> slots;  // its own view
  long long keys = 0;
  bool staying = true;  // part of the target spec
  std::string host;     // machine, for anti-affinity of new masters
};

// A node as DecideResize sees it, from its own view.
ResizeNode ResizeNodeOf(const model::ObservedNode& n, bool staying);

struct ResizeTarget {
  int masters = 3;
  std::vector<double> weights;                 // per shard, or empty
  std::vector<std::vector<SlotRange>> ranges;  // per shard, or empty
};

struct ResizeDecision {
  // Step 1: (replica to promote, its leaving master), all names.
  std::vector<std::pair<std::string, std::string>> failovers;
  // Step 2: the final masters in shard order (staying masters by their lowest slot, then the
  // new ones), the masters that give all their slots away, and the moves.
  std::vector<std::string> masters;
  std::vector<std::string> draining;
  std::vector<std::string> new_masters;
  std::vector<SlotMove> moves;
  // Per final master (shard order), the slots it serves once the moves are done.
  std::vector<std::vector<SlotRange>> layout;
};

// kFailedPrecondition naming the problem when the target cannot be reached safely: not
// enough staying nodes to serve as masters, a slot served by no node.
Result<ResizeDecision> DecideResize(const std::vector<ResizeNode>& nodes, const ResizeTarget& to);

}  // namespace sk::plan
