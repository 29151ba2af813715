// PlanSlotMoves: which slots move where when the masters or their split change (pure).
//
// Fewest moves: a slot moves only when its owner must change, at most once, directly from
// its current owner to its final owner. With explicit ranges the final owner of each slot is
// fixed; with weights (or the default even split) each staying master gets a slot count
// proportional to its weight (remainder to the first masters, as redis-cli) and the slots that
// move are taken from the ends of the over-full masters' ranges, so ranges stay few and
// contiguous. Moves are ordered so that consecutive moves use different (source, target)
// pairs: an executor can run several at once on disjoint pairs and spread the load.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "api/types/slot_range.h"

namespace sk::plan {

struct SlotMove {
  int slot = 0;
  std::string from;  // node name
  std::string to;
  auto operator<=>(const SlotMove&) const = default;
};

struct ReshardInput {
  // Masters that stay or join, in the spec's master order, with the slots each owns now
  // (a joining master owns none).
  std::vector<std::pair<std::string, std::vector<SlotRange>>> masters;
  // Masters that leave (scale-in): every slot they own moves to the staying masters.
  std::vector<std::pair<std::string, std::vector<SlotRange>>> leaving;
  // Either explicit final ranges per staying master ...
  std::map<std::string, std::vector<SlotRange>> ranges;
  // ... or weights per staying master (missing = 1). Ignored when `ranges` is set.
  std::map<std::string, double> weights;
};

// The moves, or an empty list when the layout already matches. Slots owned by nobody are
// not moved (they are not this function's business).
std::vector<SlotMove> PlanSlotMoves(const ReshardInput& in);

// Slot counts per staying master for weights (exposed for tests and for the status).
std::map<std::string, int> TargetCounts(const ReshardInput& in);

}  // namespace sk::plan
