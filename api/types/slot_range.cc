#include "api/types/slot_range.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>

namespace sk {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A slot number: digits only (no sign), parsed without overflow.
bool ParseSlot(std::string_view s, int& out) {
  s = Trim(s);
  if (s.empty() || s.front() < '0' || s.front() > '9') return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

std::string SlotRange::ToString() const {
  if (start == end) return std::to_string(start);
  return std::to_string(start) + "-" + std::to_string(end);
}

Result<SlotRange> ParseSlotRange(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  SlotRange r;
  const size_t dash = text.find('-');
  bool parsed = dash == std::string_view::npos ? ParseSlot(text, r.start)
                                               : ParseSlot(text.substr(0, dash), r.start) &&
                                                     ParseSlot(text.substr(dash + 1), r.end);
  if (!parsed) {
    return InvalidArgument("invalid slot range " + quoted +
                           ": expected START-END or a single slot, e.g. \"0-5460\" or \"42\"");
  }
  if (dash == std::string_view::npos) r.end = r.start;
  if (r.start >= kSlots || r.end >= kSlots) {
    return InvalidArgument("invalid slot range " + quoted + ": slots are 0..16383");
  }
  if (r.start > r.end) {
    return InvalidArgument("invalid slot range " + quoted + ": start is after end");
  }
  return r;
}

std::vector<SlotRange> RangesFromSlots(std::vector<int> slots) {
  std::sort(slots.begin(), slots.end());
  std::vector<SlotRange> out;
  for (int s : slots) {
    if (!out.empty() && s <= out.back().end + 1) {
      out.back().end = std::max(out.back().end, s);  // duplicates leave end unchanged
    } else {
      out.push_back({s, s});
    }
  }
  return out;
}

std::vector<SlotRange> NormalizeRanges(std::vector<SlotRange> ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<SlotRange> out;
  for (const SlotRange& r : ranges) {
    // Adjacent ranges merge too ("0-9" + "10-20" -> "0-20"): CLUSTER SLOTS reports maximal
    // ranges, and comparing against it is the main use.
    if (!out.empty() && r.start <= out.back().end + 1) {
      out.back().end = std::max(out.back().end, r.end);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

int CountSlots(const std::vector<SlotRange>& ranges) {
  int total = 0;
  for (const SlotRange& r : ranges) total += r.Count();
  return total;
}

std::string RangesToString(const std::vector<SlotRange>& ranges) {
  std::string out;
  for (const SlotRange& r : ranges) {
    if (!out.empty()) out += ",";
    out += r.ToString();
  }
  return out;
}

std::vector<std::vector<SlotRange>> EvenSplit(int masters) {
  // Beyond 16384 masters some would get no slot; Validate() caps the node count far below
  // that, so refusing here loses nothing.
  if (masters <= 0 || masters > kSlots) return {};
  std::vector<std::vector<SlotRange>> out(masters);
  // Transcribed from redis-cli's clusterManagerCommandCreate(): the float cursor and lround()
  // decide which master gets the remainder slots, and slotkeeper must agree with
  // `redis-cli --cluster create` to adopt clusters it made. Keep the types as they are.
  float slots_per_node = kSlots / static_cast<float>(masters);
  long first = 0;
  float cursor = 0.0f;
  for (int i = 0; i < masters; ++i) {
    long last = std::lround(cursor + slots_per_node - 1);
    if (last > kSlots || i == masters - 1) last = kSlots - 1;
    if (last < first) last = first;
    // From about 7500 masters on, float error can push a boundary past 16383; redis-cli would
    // then assign slots that do not exist. Refuse instead of returning a broken layout.
    if (last > kSlots - 1) return {};
    out[i].push_back({static_cast<int>(first), static_cast<int>(last)});
    first = last + 1;
    cursor += slots_per_node;
  }
  return out;
}

std::vector<std::vector<SlotRange>> WeightedSplit(const std::vector<double>& weights) {
  std::vector<std::vector<SlotRange>> out(weights.size());
  // Invalid weights (not finite, <= 0) count as zero so that this stays total; Validate()
  // reports them before anyone relies on the result.
  auto usable = [](double w) { return std::isfinite(w) && w > 0 ? w : 0.0; };
  double total = 0;
  for (double w : weights) total += usable(w);
  if (!(total > 0) || !std::isfinite(total)) return out;
  // Boundaries are rounded from the cumulative weight, not per master, so rounding errors do
  // not accumulate and the last boundary is exactly 16384.
  double cumulative = 0;
  long start = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    cumulative += usable(weights[i]);
    long end = i + 1 == weights.size() ? kSlots : std::lround(kSlots * (cumulative / total));
    end = std::clamp(end, start, static_cast<long>(kSlots));
    if (end > start) out[i].push_back({static_cast<int>(start), static_cast<int>(end - 1)});
    start = end;
  }
  return out;
}

}  // namespace sk
