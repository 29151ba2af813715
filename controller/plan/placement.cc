#include "controller/plan/placement.h"

#include <algorithm>
#include <limits>
#include <map>

namespace sk::plan {

std::vector<int> PickMasters(const std::vector<PlacementNode>& candidates, int count,
                             const std::vector<std::string>& existing_master_hosts) {
  std::map<std::string, int> per_host;
  for (const std::string& h : existing_master_hosts) per_host[h]++;
  std::vector<bool> taken(candidates.size(), false);
  std::vector<int> picked;
  for (int n = 0; n < count; ++n) {
    int best = -1;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (taken[i]) continue;
      if (best < 0 || per_host[candidates[i].host] < per_host[candidates[best].host]) {
        best = static_cast<int>(i);
      }
    }
    if (best < 0) break;
    taken[best] = true;
    per_host[candidates[best].host]++;
    picked.push_back(best);
  }
  return picked;
}

namespace {

// Cost of putting a replica on `host` into `shard`, given the replicas it already has:
// sharing the master's host is the big penalty (redis-cli uses 10000 too), sharing with a
// sibling replica the small one.
int SeatCost(const ShardSeat& shard, const std::vector<std::string>& replica_hosts,
             const std::string& host) {
  int cost = host == shard.master_host ? 10000 : 0;
  cost += static_cast<int>(std::count(replica_hosts.begin(), replica_hosts.end(), host));
  return cost;
}

int TotalCost(const std::vector<PlacementNode>& candidates, const std::vector<ShardSeat>& shards,
              const std::vector<int>& assign) {
  int total = 0;
  std::vector<std::vector<std::string>> hosts(shards.size());
  for (size_t s = 0; s < shards.size(); ++s) hosts[s] = shards[s].replica_hosts;
  for (size_t c = 0; c < candidates.size(); ++c) {
    if (assign[c] < 0) continue;
    total += SeatCost(shards[assign[c]], hosts[assign[c]], candidates[c].host);
    hosts[assign[c]].push_back(candidates[c].host);
  }
  return total;
}

}  // namespace

std::vector<int> AssignReplicas(const std::vector<PlacementNode>& candidates,
                                const std::vector<ShardSeat>& shards) {
  std::vector<int> assign(candidates.size(), -1);
  std::vector<int> free_seats(shards.size());
  std::vector<std::vector<std::string>> hosts(shards.size());
  for (size_t s = 0; s < shards.size(); ++s) {
    free_seats[s] =
        std::max(0, shards[s].wanted - static_cast<int>(shards[s].replica_hosts.size()));
    hosts[s] = shards[s].replica_hosts;
  }
  // Most constrained first: candidates with fewer shards off their own host choose first,
  // so a candidate with many good options does not take the only good seat of another.
  std::vector<size_t> order(candidates.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto good_options = [&](size_t c) {
    int n = 0;
    for (size_t s = 0; s < shards.size(); ++s) {
      if (free_seats[s] > 0 && shards[s].master_host != candidates[c].host) n++;
    }
    return n;
  };
  std::vector<int> options(candidates.size());
  for (size_t c = 0; c < candidates.size(); ++c) options[c] = good_options(c);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return options[a] < options[b]; });

  for (size_t c : order) {
    int best = -1;
    int best_cost = std::numeric_limits<int>::max();
    for (size_t s = 0; s < shards.size(); ++s) {
      if (free_seats[s] <= 0) continue;
      // Fill the emptiest shards first, then the cheapest seat.
      int filled = static_cast<int>(hosts[s].size());
      int cost = SeatCost(shards[s], hosts[s], candidates[c].host) * 1000 + filled;
      if (cost < best_cost) {
        best_cost = cost;
        best = static_cast<int>(s);
      }
    }
    if (best < 0) continue;
    assign[c] = best;
    free_seats[best]--;
    hosts[best].push_back(candidates[c].host);
  }

  // Improve by pairwise swaps while that lowers the total cost (small inputs: O(n^2) rounds).
  bool improved = true;
  int rounds = 0;
  while (improved && rounds++ < 50) {
    improved = false;
    int cost = TotalCost(candidates, shards, assign);
    for (size_t a = 0; a < candidates.size() && !improved; ++a) {
      for (size_t b = a + 1; b < candidates.size() && !improved; ++b) {
        if (assign[a] == assign[b]) continue;
        std::swap(assign[a], assign[b]);
        if (TotalCost(candidates, shards, assign) < cost) {
          improved = true;
        } else {
          std::swap(assign[a], assign[b]);
        }
      }
    }
  }
  return assign;
}

}  // namespace sk::plan
