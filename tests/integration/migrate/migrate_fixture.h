// A real Redis Cluster built by hand for the migration tests: redis-server processes on
// leased ports, slots added with ADDSLOTSRANGE, nodes met with MEET, and helpers to load keys
// and to check that every key is where it belongs after a move.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "controller/act/migrate.h"
#include "controller/plan/reshard.h"
#include "tests/support/support.h"

namespace sk::act::testing {

class TestCluster {
 public:
  // `nodes` servers; the first `masters` get redis-cli's even split, the others no slot.
  // With a password every node gets requirepass and masterauth.
  TestCluster(int nodes, int masters, const std::string& password = "");
  ~TestCluster();

  int size() const { return static_cast<int>(ids_.size()); }
  int port(int i) const { return lease_.base() + i; }
  const std::string& id(int i) const { return ids_[i]; }
  MigrateNode node(int i) const;
  std::vector<MigrateNode> all() const;
  MigrateOptions Options(const std::string& journal = "") const;
  const std::string& dir() const { return dir_.path(); }

  // One command on node i (with the password), flattened as RedisCmd documents.
  std::string Cmd(int i, const std::vector<std::string>& argv) const;
  // The node that serves `slot` as node `view` sees it, or -1.
  int OwnerOf(int slot, int view = 0) const;
  // Slots node i serves, from its own CLUSTER NODES line.
  std::vector<SlotRange> Slots(int i) const;
  // The reshard input for masters `stay` (in this order) and `leave`, from node 0's view.
  plan::ReshardInput Layout(const std::vector<int>& stay, const std::vector<int>& leave) const;
  std::vector<SlotMoveJob> Jobs(const std::vector<plan::SlotMove>& moves) const;

  // Empty when no node shows an open slot and every node agrees with node 0 on each owner;
  // else what is wrong.
  std::string OpenOrSplitSlots() const;
  // SETs every key on the node serving its slot, pipelined.
  void Load(const std::map<std::string, std::string>& kv) const;
  // GETs every key from the node serving its slot; empty when every value matches.
  std::string Verify(const std::map<std::string, std::string>& kv) const;
  long long TotalKeys() const;  // sum of DBSIZE over the masters

 private:
  std::vector<int> OwnerMap(int view) const;  // node index per slot, -1 when unassigned

  sk::testing::PortLease lease_;
  sk::testing::TempDir dir_;
  std::string password_;
  std::vector<std::unique_ptr<sk::testing::RedisProcess>> procs_;
  std::vector<std::string> ids_;
};

// n keys "<prefix>:<i>" with distinct values; every tenth is hash-tagged into a few slots.
std::map<std::string, std::string> MakeKeys(int n, const std::string& prefix);
// `n` keys that all hash to `slot` ("{tag}:<i>"), with distinct values.
std::map<std::string, std::string> KeysInSlot(int slot, int n);

}  // namespace sk::act::testing
