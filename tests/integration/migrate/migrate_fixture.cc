#include "tests/integration/migrate/migrate_fixture.h"

#include <gtest/gtest.h>

#include <chrono>

#include "api/types/keyslot.h"
#include "controller/redis/cluster_nodes.h"
#include "controller/redis/redis_client.h"

namespace sk::act::testing {
namespace {

using namespace std::chrono_literals;
using sk::testing::RedisCmd;
using sk::testing::WaitFor;

redis::NodeTable Nodes(const TestCluster& c, int i) {
  auto t = redis::ParseClusterNodes(c.Cmd(i, {"CLUSTER", "NODES"}));
  return t.ok() ? *t : redis::NodeTable{};
}

}  // namespace

TestCluster::TestCluster(int nodes, int masters, const std::string& password)
    : lease_(nodes), password_(password) {
  for (int i = 0; i < nodes; ++i) {
    // A short node timeout keeps failure detection out of the way; appendonly stays off.
    std::vector<std::string> extra = {"--cluster-node-timeout", "5000"};
    if (!password.empty()) {
      extra.insert(extra.end(), {"--requirepass", password, "--masterauth", password});
    }
    procs_.push_back(std::make_unique<sk::testing::RedisProcess>(
        port(i), dir_.Sub(std::to_string(port(i))), true, extra));
    if (procs_.back()->pid() <= 0) return;
    ids_.push_back(Cmd(i, {"CLUSTER", "MYID"}));
    // Distinct epochs before meeting, so that no collision has to be resolved by gossip.
    Cmd(i, {"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(i + 1)});
  }
  auto split = EvenSplit(masters);
  for (int i = 0; i < masters; ++i) {
    Cmd(i, {"CLUSTER", "ADDSLOTSRANGE", std::to_string(split[i][0].start),
            std::to_string(split[i][0].end)});
  }
  for (int i = 1; i < nodes; ++i) Cmd(0, {"CLUSTER", "MEET", "127.0.0.1", std::to_string(port(i))});
  WaitFor(
      [&] {
        for (int i = 0; i < nodes; ++i) {
          if (Cmd(i, {"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos) {
            return false;
          }
          redis::NodeTable t = Nodes(*this, i);
          if (static_cast<int>(t.nodes.size()) != nodes) return false;
          for (const auto& n : t.nodes) {
            if (n.InHandshake() || n.id.empty()) return false;
          }
          for (int s : {0, kSlots - 1}) {
            if (OwnerOf(s, i) < 0) return false;  // slots learnt by gossip
          }
        }
        return true;
      },
      30s, "cluster of " + std::to_string(nodes) + " nodes to form",
      [&] {
        return Cmd(nodes - 1, {"CLUSTER", "NODES"});
      });
}

TestCluster::~TestCluster() = default;

MigrateNode TestCluster::node(int i) const {
  return MigrateNode{"n" + std::to_string(i), ids_[i], Endpoint{"127.0.0.1", port(i)}};
}

std::vector<MigrateNode> TestCluster::all() const {
  std::vector<MigrateNode> out;
  for (int i = 0; i < size(); ++i) out.push_back(node(i));
  return out;
}

MigrateOptions TestCluster::Options(const std::string& journal) const {
  MigrateOptions o;
  o.client.password = Redacted<std::string>(password_);
  o.client.has_password = !password_.empty();
  o.journal_path = journal;
  o.masters = all();
  return o;
}

std::string TestCluster::Cmd(int i, const std::vector<std::string>& argv) const {
  return RedisCmd(port(i), argv, password_);
}

std::vector<int> TestCluster::OwnerMap(int view) const {
  std::vector<int> owner(kSlots, -1);
  for (const redis::NodeEntry& n : Nodes(*this, view).nodes) {
    int index = -1;
    for (int i = 0; i < size(); ++i) {
      if (ids_[i] == n.id) index = i;
    }
    for (const SlotRange& r : n.slots) {
      for (int s = r.start; s <= r.end; ++s) owner[s] = index;
    }
  }
  return owner;
}

int TestCluster::OwnerOf(int slot, int view) const { return OwnerMap(view)[slot]; }

std::vector<SlotRange> TestCluster::Slots(int i) const {
  redis::NodeTable t = Nodes(*this, i);
  const redis::NodeEntry* self = t.Myself();
  return self ? NormalizeRanges(self->slots) : std::vector<SlotRange>{};
}

plan::ReshardInput TestCluster::Layout(const std::vector<int>& stay,
                                       const std::vector<int>& leave) const {
  std::vector<int> owner = OwnerMap(0);
  auto ranges = [&](int i) {
    std::vector<int> slots;
    for (int s = 0; s < kSlots; ++s) {
      if (owner[s] == i) slots.push_back(s);
    }
    return std::make_pair(node(i).name, RangesFromSlots(slots));
  };
  plan::ReshardInput in;
  for (int i : stay) in.masters.push_back(ranges(i));
  for (int i : leave) in.leaving.push_back(ranges(i));
  return in;
}

std::vector<SlotMoveJob> TestCluster::Jobs(const std::vector<plan::SlotMove>& moves) const {
  auto by_name = [&](const std::string& name) { return node(std::stoi(name.substr(1))); };
  std::vector<SlotMoveJob> jobs;
  for (const plan::SlotMove& m : moves) jobs.push_back({m.slot, by_name(m.from), by_name(m.to)});
  return jobs;
}

std::string TestCluster::OpenOrSplitSlots() const {
  std::vector<int> reference = OwnerMap(0);
  for (int i = 0; i < size(); ++i) {
    std::string text = Cmd(i, {"CLUSTER", "NODES"});
    auto open = text.find('[');
    if (open != std::string::npos) {
      return "node " + std::to_string(i) + " shows an open slot: " + text.substr(open, 60);
    }
    std::vector<int> mine = OwnerMap(i);
    for (int s = 0; s < kSlots; ++s) {
      if (mine[s] != reference[s]) {
        return "node " + std::to_string(i) + " sees slot " + std::to_string(s) + " on " +
               std::to_string(mine[s]) + ", node 0 on " + std::to_string(reference[s]);
      }
    }
  }
  return "";
}

namespace {

// Runs `cmds` on each node (index -> commands) in pipelines of 1000; returns the replies in
// the same order.
std::map<int, std::vector<redis::Reply>> RunOnOwners(
    const TestCluster& c, const std::map<int, std::vector<std::vector<std::string>>>& cmds) {
  std::map<int, std::vector<redis::Reply>> out;
  for (const auto& [i, list] : cmds) {
    auto client = redis::RedisClient::Connect({"127.0.0.1", c.port(i)}, c.Options().client);
    if (!client.ok()) {
      ADD_FAILURE() << client.error().message();
      continue;
    }
    for (std::size_t at = 0; at < list.size(); at += 1000) {
      std::vector<std::vector<std::string>> part(
          list.begin() + static_cast<long>(at),
          list.begin() + static_cast<long>(std::min(list.size(), at + 1000)));
      auto r = client->Pipeline(part);
      if (!r.ok()) {
        ADD_FAILURE() << r.error().message();
        break;
      }
      for (auto& x : *r) out[i].push_back(std::move(x));
    }
  }
  return out;
}

}  // namespace

void TestCluster::Load(const std::map<std::string, std::string>& kv) const {
  std::vector<int> owner = OwnerMap(0);
  std::map<int, std::vector<std::vector<std::string>>> cmds;
  for (const auto& [k, v] : kv) cmds[owner[KeySlot(k)]].push_back({"SET", k, v});
  for (const auto& [i, replies] : RunOnOwners(*this, cmds)) {
    for (const auto& r : replies) EXPECT_FALSE(r.IsError()) << r.str;
  }
}

std::string TestCluster::Verify(const std::map<std::string, std::string>& kv) const {
  std::vector<int> owner = OwnerMap(0);
  std::map<int, std::vector<std::vector<std::string>>> cmds;
  std::map<int, std::vector<const std::pair<const std::string, std::string>*>> keys;
  for (const auto& entry : kv) {
    int i = owner[KeySlot(entry.first)];
    cmds[i].push_back({"GET", entry.first});
    keys[i].push_back(&entry);
  }
  std::string bad;
  int wrong = 0;
  for (const auto& [i, replies] : RunOnOwners(*this, cmds)) {
    for (std::size_t k = 0; k < replies.size(); ++k) {
      const auto& [key, value] = *keys[i][k];
      if (replies[k].type == redis::Reply::Type::kString && replies[k].str == value) continue;
      if (++wrong <= 5) {
        bad += key + " on node " + std::to_string(i) + ": " +
               (replies[k].IsError() ? replies[k].str : "wrong or missing value") + "\n";
      }
    }
  }
  if (wrong > 0) bad += std::to_string(wrong) + " keys wrong";
  return bad;
}

long long TestCluster::TotalKeys() const {
  long long total = 0;
  for (int i = 0; i < size(); ++i) {
    // A master that gave away its last slot may have turned into a replica: its copies of
    // another master's keys are not keys of their own.
    if (Cmd(i, {"ROLE"}).rfind("master", 0) != 0) continue;
    total += std::atoll(Cmd(i, {"DBSIZE"}).c_str());
  }
  return total;
}

std::map<std::string, std::string> MakeKeys(int n, const std::string& prefix) {
  std::map<std::string, std::string> out;
  for (int i = 0; i < n; ++i) {
    // Every tenth key shares one of a few hash tags: slots with many keys, several batches.
    std::string key = i % 10 == 0 ? "{" + prefix + std::to_string(i % 7) + "}:" + std::to_string(i)
                                  : prefix + ":" + std::to_string(i);
    out[key] = "value-" + std::to_string(i * 7919) + std::string(static_cast<size_t>(i % 50), 'x');
  }
  return out;
}

std::map<std::string, std::string> KeysInSlot(int slot, int n) {
  std::string tag;
  for (int i = 0;; ++i) {
    tag = "t" + std::to_string(i);
    if (KeySlot(tag) == slot) break;
  }
  std::map<std::string, std::string> out;
  for (int i = 0; i < n; ++i) {
    out["{" + tag + "}:" + std::to_string(i)] =
        "slot" + std::to_string(slot) + "-" + std::to_string(i);
  }
  return out;
}

}  // namespace sk::act::testing
