#include "controller/plan/reshard.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>

namespace sk::plan {
namespace {

// A run of consecutive slots that one node gives away.
struct Run {
  std::string from;
  SlotRange range;
};

// Who owns each slot now ("" = nobody), from the staying and the leaving masters.
std::vector<std::string> CurrentOwners(const ReshardInput& in) {
  std::vector<std::string> owner(kSlots);
  auto mark = [&](const auto& list) {
    for (const auto& [name, ranges] : list) {
      for (const SlotRange& r : ranges) {
        for (int s = std::max(r.start, 0); s <= std::min(r.end, kSlots - 1); ++s) owner[s] = name;
      }
    }
  };
  mark(in.leaving);
  mark(in.masters);  // a staying master's claim wins over a leaving one's
  return owner;
}

int OwnedCount(const std::vector<std::string>& owner) {
  return static_cast<int>(
      std::count_if(owner.begin(), owner.end(), [](const std::string& o) { return !o.empty(); }));
}

double UsableWeight(const ReshardInput& in, const std::string& name) {
  auto it = in.weights.find(name);
  double w = it == in.weights.end() ? 1.0 : it->second;
  return std::isfinite(w) && w > 0 ? w : 0.0;
}

// Final owner per slot from explicit ranges; slots no range names stay with their owner.
std::vector<std::string> OwnersFromRanges(const ReshardInput& in,
                                          const std::vector<std::string>& now) {
  std::vector<std::string> final_owner = now;
  for (const auto& [name, ranges] : in.ranges) {
    for (const SlotRange& r : ranges) {
      for (int s = std::max(r.start, 0); s <= std::min(r.end, kSlots - 1); ++s) {
        if (!now[s].empty()) final_owner[s] = name;  // unowned slots are not ours to move
      }
    }
  }
  return final_owner;
}

// Slot lists per staying master, in slot order.
std::map<std::string, std::vector<int>> SlotsByMaster(const ReshardInput& in,
                                                      const std::vector<std::string>& owner) {
  std::map<std::string, std::vector<int>> out;
  for (const auto& m : in.masters) out[m.first];
  for (int s = 0; s < kSlots; ++s) {
    if (out.count(owner[s])) out[owner[s]].push_back(s);
  }
  return out;
}

// The slots each over-full master (and every leaving one) gives away, as runs. Taking from
// the end of a master's slot list keeps what it keeps contiguous.
std::vector<Run> DonatedRuns(const ReshardInput& in, const std::vector<std::string>& owner,
                             const std::map<std::string, int>& target) {
  auto mine = SlotsByMaster(in, owner);
  std::vector<Run> runs;
  auto add = [&](const std::string& from, const std::vector<int>& slots) {
    for (SlotRange r : RangesFromSlots(slots)) runs.push_back({from, r});
  };
  for (const auto& [name, ranges] : in.masters) {
    const std::vector<int>& slots = mine[name];
    int keep = target.at(name);
    if (static_cast<int>(slots.size()) > keep) {
      add(name, std::vector<int>(slots.begin() + keep, slots.end()));
    }
  }
  for (const auto& [name, ranges] : in.leaving) {
    std::vector<int> slots;
    for (int s = 0; s < kSlots; ++s) {
      if (owner[s] == name) slots.push_back(s);
    }
    add(name, slots);
  }
  return runs;
}

// Which end of `run` touches one of `owned`'s ranges: +1 its start, -1 its end, 0 neither.
int Adjacency(const Run& run, const std::vector<SlotRange>& owned) {
  for (const SlotRange& o : owned) {
    if (run.range.start == o.end + 1) return 1;
    if (run.range.end + 1 == o.start) return -1;
  }
  return 0;
}

// Takes `n` slots off `run` (from its start, or from its end when `from_end`).
SlotRange Take(Run& run, int n, bool from_end) {
  SlotRange taken;
  if (from_end) {
    taken = {run.range.end - n + 1, run.range.end};
    run.range.end -= n;
  } else {
    taken = {run.range.start, run.range.start + n - 1};
    run.range.start += n;
  }
  return taken;
}

// Index of the run to fill a need of `need` from, with no adjacency: an exact fit, else the
// smallest run that covers the need (it stays whole), else the largest run.
std::optional<std::size_t> BestFit(const std::vector<Run>& runs, int need) {
  std::optional<std::size_t> fit, largest;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    int n = runs[i].range.Count();
    if (n <= 0) continue;
    if (n >= need && (!fit || n < runs[*fit].range.Count())) fit = i;
    if (!largest || n > runs[*largest].range.Count()) largest = i;
  }
  return fit ? fit : largest;
}

// Hands the donated runs to the under-full masters: first any run touching a master's
// ranges (it extends one of them), then whole runs by best fit, so that each receiver gets
// few, contiguous ranges.
std::vector<SlotMove> AssignRuns(const ReshardInput& in, const std::vector<std::string>& owner,
                                 const std::map<std::string, int>& target, std::vector<Run> runs) {
  auto mine = SlotsByMaster(in, owner);
  std::vector<std::pair<std::string, int>> needs;  // in master order
  std::map<std::string, std::vector<SlotRange>> owned;
  for (const auto& [name, ranges] : in.masters) {
    int need = target.at(name) - static_cast<int>(mine[name].size());
    if (need > 0) needs.push_back({name, need});
    owned[name] = RangesFromSlots(mine[name]);
  }
  std::vector<SlotMove> moves;
  auto give = [&](const std::string& to, int& need, Run& run, bool from_end) {
    SlotRange r = Take(run, std::min(need, run.range.Count()), from_end);
    need -= r.Count();
    for (int s = r.start; s <= r.end; ++s) moves.push_back({s, run.from, to});
    owned[to].push_back(r);
    owned[to] = NormalizeRanges(std::move(owned[to]));
  };
  // Adjacency passes until nothing extends; bounded, since each pass scans every (master,
  // run) pair and a badly fragmented layout could otherwise take many passes.
  bool progress = true;
  for (int pass = 0; progress && pass < 8; ++pass) {
    progress = false;
    for (auto& [to, need] : needs) {
      for (Run& run : runs) {
        if (need == 0 || run.range.Count() <= 0) continue;
        int side = Adjacency(run, owned[to]);
        if (side == 0) continue;
        give(to, need, run, side < 0);
        progress = true;
      }
    }
  }
  for (auto& [to, need] : needs) {
    while (need > 0) {
      std::optional<std::size_t> i = BestFit(runs, need);
      if (!i) break;  // nothing left: counts came from the owned slots, so only if unowned
      give(to, need, runs[*i], false);
    }
  }
  return moves;
}

// Orders the moves so that consecutive moves use different (from, to) pairs whenever that
// is possible: each next move comes from the pair with the most moves left other than the
// previous one (ties: pair order), which spreads every pair evenly over the sequence. Each
// pair's moves stay in slot order.
std::vector<SlotMove> Interleave(std::vector<SlotMove> moves) {
  std::map<std::pair<std::string, std::string>, std::vector<SlotMove>> by_pair;
  std::sort(moves.begin(), moves.end());
  for (const SlotMove& m : moves) by_pair[{m.from, m.to}].push_back(m);
  struct Queue {
    const std::vector<SlotMove>* list;
    std::size_t next = 0;
    std::size_t Left() const { return list->size() - next; }
  };
  std::vector<Queue> queues;
  for (const auto& [pair, list] : by_pair) queues.push_back({&list});
  std::vector<SlotMove> out;
  out.reserve(moves.size());
  std::size_t last = queues.size();
  while (out.size() < moves.size()) {
    std::size_t pick = queues.size();
    for (std::size_t i = 0; i < queues.size(); ++i) {
      if (i == last || queues[i].Left() == 0) continue;
      if (pick == queues.size() || queues[i].Left() > queues[pick].Left()) pick = i;
    }
    if (pick == queues.size()) pick = last;  // only the previous pair has moves left
    out.push_back((*queues[pick].list)[queues[pick].next++]);
    last = pick;
  }
  return out;
}

// The first `extra` masters to get one slot above their floor share: those that already own
// more than it come first, so that a layout already split evenly (by create, whose
// arithmetic puts the remainder elsewhere) needs no move; then the masters in order.
std::vector<std::string> RemainderOrder(const ReshardInput& in,
                                        const std::map<std::string, int>& floor_count,
                                        const std::map<std::string, int>& now) {
  std::vector<std::string> first, rest;
  for (const auto& m : in.masters) {
    if (UsableWeight(in, m.first) <= 0) continue;
    auto it = now.find(m.first);
    bool above = it != now.end() && it->second > floor_count.at(m.first);
    (above ? first : rest).push_back(m.first);
  }
  first.insert(first.end(), rest.begin(), rest.end());
  return first;
}

}  // namespace

std::map<std::string, int> TargetCounts(const ReshardInput& in) {
  std::map<std::string, int> out;
  if (!in.ranges.empty()) {
    for (const auto& m : in.masters) {
      auto it = in.ranges.find(m.first);
      out[m.first] = it == in.ranges.end() ? 0 : CountSlots(NormalizeRanges(it->second));
    }
    return out;
  }
  const int total = OwnedCount(CurrentOwners(in));
  double weight_sum = 0;
  for (const auto& m : in.masters) weight_sum += UsableWeight(in, m.first);
  int given = 0;
  for (const auto& m : in.masters) {
    double w = UsableWeight(in, m.first);
    // Floor first, then the remainder one by one to the first masters: redis-cli's
    // rebalance arithmetic (16384 over 3 -> 5462, 5461, 5461).
    int n = weight_sum > 0 ? static_cast<int>(std::floor(total * (w / weight_sum))) : 0;
    out[m.first] = n;
    given += n;
  }
  std::map<std::string, int> now;
  for (const auto& [name, ranges] : in.masters) now[name] = CountSlots(NormalizeRanges(ranges));
  const std::vector<std::string> order = RemainderOrder(in, out, now);
  for (std::size_t i = 0; given < total && !order.empty(); ++i, ++given) {
    ++out[order[i % order.size()]];
  }
  return out;
}

std::vector<SlotMove> PlanSlotMoves(const ReshardInput& in) {
  const std::vector<std::string> owner = CurrentOwners(in);
  std::vector<SlotMove> moves;
  if (!in.ranges.empty()) {
    const std::vector<std::string> final_owner = OwnersFromRanges(in, owner);
    for (int s = 0; s < kSlots; ++s) {
      if (final_owner[s] != owner[s]) moves.push_back({s, owner[s], final_owner[s]});
    }
    return Interleave(std::move(moves));
  }
  const std::map<std::string, int> target = TargetCounts(in);
  int placed = 0;
  for (const auto& [name, n] : target) placed += n;
  if (placed == 0) return {};  // every weight is zero: nowhere to put the slots
  moves = AssignRuns(in, owner, target, DonatedRuns(in, owner, target));
  return Interleave(std::move(moves));
}

}  // namespace sk::plan
