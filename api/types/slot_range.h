// Hash slots: ranges, sets of ranges, and the slot split of a spec.
#pragma once

#include <compare>
#include <string>
#include <vector>

#include "api/types/result.h"

namespace sk {

inline constexpr int kSlots = 16384;

struct SlotRange {
  int start = 0;
  int end = 0;  // inclusive

  int Count() const { return end - start + 1; }
  // "5" for a single slot, "0-5460" otherwise.
  std::string ToString() const;
  auto operator<=>(const SlotRange&) const = default;
};

// Parses "0-5460" or "42". InvalidArgument on anything else or outside 0..16383.
Result<SlotRange> ParseSlotRange(std::string_view text);

// Merges a sorted-or-not list of slots into sorted, maximal ranges.
std::vector<SlotRange> RangesFromSlots(std::vector<int> slots);
// Sorts and merges overlapping or adjacent ranges.
std::vector<SlotRange> NormalizeRanges(std::vector<SlotRange> ranges);
// Total slot count of (possibly unsorted, non-overlapping) ranges.
int CountSlots(const std::vector<SlotRange>& ranges);
// "0-5460,5462" style list.
std::string RangesToString(const std::vector<SlotRange>& ranges);

// Even split of 16384 slots over `masters`, with redis-cli's exact arithmetic
// (float cursor, lround), so that slotkeeper and `redis-cli --cluster create` agree.
// Empty when masters is outside 1..16384 or when the float arithmetic would overrun slot
// 16383 (some counts above 7500; Validate() allows at most 1000 nodes).
std::vector<std::vector<SlotRange>> EvenSplit(int masters);
// Split proportional to weights (all > 0): master i gets the slots between the rounded
// cumulative weight boundaries. A master may get zero slots if its weight is tiny; the
// caller validates that.
std::vector<std::vector<SlotRange>> WeightedSplit(const std::vector<double>& weights);

}  // namespace sk
