// Migrator against real Redis Clusters: slots move with every key (big values, big hashes,
// hash tags), passwords, BUSYKEY, a failed MIGRATE that must leave the slot open, Resolve of
// slots left open by hand, and Resume after a stop and from a hand-written journal.
#include "controller/act/migrate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "api/types/files.h"
#include "api/types/keyslot.h"
#include "controller/act/migrate_journal.h"
#include "controller/redis/redis_client.h"
#include "tests/integration/migrate/migrate_fixture.h"

namespace sk::act {
namespace {

using ::sk::act::testing::KeysInSlot;
using ::sk::act::testing::MakeKeys;
using ::sk::act::testing::TestCluster;
using ::sk::testing::TempDir;
using ::testing::HasSubstr;

std::string Describe(const Status& st) { return st.ok() ? "ok" : st.error().ToString(); }

Status RunJobs(Migrator& m, const std::vector<SlotMoveJob>& jobs) {
  std::atomic<bool> stop{false};
  return m.Run(jobs, nullptr, stop);
}

// Hash `key` with `fields` members, written in pipelines to the node serving it.
void LoadHash(const TestCluster& c, const std::string& key, int fields) {
  auto client = redis::RedisClient::Connect({"127.0.0.1", c.port(c.OwnerOf(KeySlot(key)))},
                                            c.Options().client);
  ASSERT_TRUE(client.ok());
  for (int at = 0; at < fields; at += 1000) {
    std::vector<std::string> cmd = {"HSET", key};
    for (int f = at; f < std::min(fields, at + 1000); ++f) {
      cmd.push_back("f" + std::to_string(f));
      cmd.push_back("v" + std::to_string(f));
    }
    ASSERT_TRUE(client->Call(cmd).ok());
  }
}

long long Count(const TestCluster& c, int node, int slot) {
  return std::atoll(c.Cmd(node, {"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}).c_str());
}

std::vector<JournalEntry> ReadJournal(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return {};
  Result<std::vector<JournalEntry>> entries = JournalFromJson(*text);
  EXPECT_TRUE(entries.ok());
  return entries.ok() ? *entries : std::vector<JournalEntry>{};
}

// Opens `slot` by hand as a crashed mover would: IMPORTING on `to`, MIGRATING on `from`,
// then moves the first `moved` keys of `keys` with a hand-made MIGRATE.
void OpenByHand(const TestCluster& c, int slot, int from, int to,
                const std::map<std::string, std::string>& keys, int moved) {
  std::string s = std::to_string(slot);
  ASSERT_EQ(c.Cmd(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", c.id(from)}), "OK");
  ASSERT_EQ(c.Cmd(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", c.id(to)}), "OK");
  if (moved == 0) return;
  std::vector<std::string> argv = {"MIGRATE", "127.0.0.1", std::to_string(c.port(to)), "", "0",
                                   "5000",    "KEYS"};
  for (const auto& [k, v] : keys) {
    if (static_cast<int>(argv.size()) - 7 == moved) break;
    argv.push_back(k);
  }
  ASSERT_EQ(c.Cmd(from, argv), "OK");
}

TEST(MigratorTest, MovesSlotsWithEveryKeyAndBack) {
  TestCluster c(4, 3);
  ASSERT_EQ(c.size(), 4);
  TempDir dir;
  auto kv = MakeKeys(20000, "k");
  std::string big(1 << 20, 'b');
  for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + i % 26);
  kv["big:1mb"] = big;
  c.Load(kv);
  LoadHash(c, "bighash", 100000);
  const long long total = c.TotalKeys();
  ASSERT_EQ(total, static_cast<long long>(kv.size()) + 1);
  Migrator m(c.Options(dir.Sub("journal.json")));

  // One slot: the big hash's, to the empty fourth master.
  int hash_slot = KeySlot("bighash");
  ASSERT_TRUE(RunJobs(m, {{hash_slot, c.node(c.OwnerOf(hash_slot)), c.node(3)}}).ok());
  EXPECT_EQ(c.OwnerOf(hash_slot), 3);
  EXPECT_EQ(c.Cmd(3, {"HLEN", "bighash"}), "100000");
  EXPECT_EQ(c.Cmd(3, {"HGET", "bighash", "f99999"}), "v99999");

  // A few slots: the 1 MB value's and the hash-tagged ones (many keys each).
  std::vector<SlotMoveJob> few;
  for (const std::string& k : {std::string("big:1mb"), std::string("{k3}:10")}) {
    int s = KeySlot(k);
    few.push_back({s, c.node(c.OwnerOf(s)), c.node(3)});
  }
  ASSERT_TRUE(RunJobs(m, few).ok());
  EXPECT_EQ(c.Cmd(3, {"STRLEN", "big:1mb"}), std::to_string(1 << 20));

  // Rebalance 3 -> 4, with progress reports.
  auto moves = plan::PlanSlotMoves(c.Layout({0, 1, 2, 3}, {}));
  ASSERT_GT(moves.size(), 4000u);
  std::vector<MigrateProgress> seen;
  std::atomic<bool> stop{false};
  Status st = m.Run(
      c.Jobs(moves), [&](const MigrateProgress& p) { seen.push_back(p); }, stop);
  ASSERT_TRUE(st.ok()) << Describe(st);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().slots_done, static_cast<int>(moves.size()));
  EXPECT_EQ(seen.back().slots_total, static_cast<int>(moves.size()));
  EXPECT_GT(seen.back().keys_moved, 3000);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(CountSlots(c.Slots(i)), 4096) << "node " << i;
  EXPECT_EQ(c.OpenOrSplitSlots(), "");
  EXPECT_EQ(c.Verify(kv), "");
  EXPECT_EQ(c.TotalKeys(), total);
  EXPECT_THAT(ReadJournal(dir.Sub("journal.json")), ::testing::IsEmpty());

  // And back to 3: the fourth master is drained.
  moves = plan::PlanSlotMoves(c.Layout({0, 1, 2}, {3}));
  ASSERT_EQ(moves.size(), 4096u);
  st = RunJobs(m, c.Jobs(moves));
  ASSERT_TRUE(st.ok()) << Describe(st);
  EXPECT_THAT(c.Slots(3), ::testing::IsEmpty());
  EXPECT_EQ(c.OpenOrSplitSlots(), "");
  EXPECT_EQ(c.Verify(kv), "");
  EXPECT_EQ(c.TotalKeys(), total);
  EXPECT_EQ(c.Cmd(c.OwnerOf(hash_slot), {"HLEN", "bighash"}), "100000");
}

TEST(MigratorTest, WorksWithAPassword) {
  TestCluster c(4, 3, "s3cret-pw");
  ASSERT_EQ(c.size(), 4);
  TempDir dir;
  auto kv = MakeKeys(5000, "p");
  c.Load(kv);
  Migrator m(c.Options(dir.Sub("journal.json")));
  auto moves = plan::PlanSlotMoves(c.Layout({0, 1, 2, 3}, {}));
  Status st = RunJobs(m, c.Jobs(moves));
  ASSERT_TRUE(st.ok()) << Describe(st);
  EXPECT_EQ(c.OpenOrSplitSlots(), "");
  EXPECT_EQ(c.Verify(kv), "");
  EXPECT_EQ(c.TotalKeys(), static_cast<long long>(kv.size()));
  // A node without the password in MIGRATE would have answered NOAUTH; and the password
  // reaches no file of ours.
  std::ifstream journal(dir.Sub("journal.json"));
  std::string text((std::istreambuf_iterator<char>(journal)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, ::testing::Not(HasSubstr("s3cret-pw")));
}

TEST(MigratorTest, RejectsBadJobs) {
  Migrator m(MigrateOptions{});
  MigrateNode a{"a", std::string(40, 'a'), {"127.0.0.1", 1}};
  MigrateNode b{"b", std::string(40, 'b'), {"127.0.0.1", 2}};
  EXPECT_EQ(RunJobs(m, {{1, a, b}, {1, a, b}}).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(RunJobs(m, {{1, a, a}}).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(RunJobs(m, {{16384, a, b}}).error().code(), Code::kInvalidArgument);
  EXPECT_TRUE(RunJobs(m, {}).ok());
}

TEST(MigratorTest, BusyKeyOnTheTargetIsReplacedByTheSourceCopy) {
  TestCluster c(3, 3);
  ASSERT_EQ(c.size(), 3);
  const int slot = 100;  // node 0's
  auto kv = KeysInSlot(slot, 30);
  c.Load(kv);
  // Stale copies on the target, as an interrupted MIGRATE leaves them.
  ASSERT_EQ(c.Cmd(1, {"CLUSTER", "SETSLOT", "100", "IMPORTING", c.id(0)}), "OK");
  auto target = redis::RedisClient::Connect({"127.0.0.1", c.port(1)}, {});
  ASSERT_TRUE(target.ok());
  int stale = 0;
  for (const auto& [k, v] : kv) {
    if (stale++ == 5) break;
    auto r = target->Pipeline({{"ASKING"}, {"SET", k, "stale"}});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ((*r)[1].str, "OK");
  }
  Migrator m(c.Options());
  Status st = RunJobs(m, {{slot, c.node(0), c.node(1)}});
  ASSERT_TRUE(st.ok()) << Describe(st);
  EXPECT_EQ(c.OwnerOf(slot), 1);
  EXPECT_EQ(c.Verify(kv), "");
  EXPECT_EQ(Count(c, 1, slot), 30);
  EXPECT_EQ(c.OpenOrSplitSlots(), "");
}

TEST(MigratorTest, FailedMigrateLeavesTheSlotOpenAndJournaled) {
  TestCluster c(3, 3);
  ASSERT_EQ(c.size(), 3);
  TempDir dir;
  const int slot = 200;
  auto kv = KeysInSlot(slot, 20);
  c.Load(kv);
  // The target refuses every RESTORE: MIGRATE fails with OOM from the target.
  ASSERT_EQ(c.Cmd(1, {"CONFIG", "SET", "maxmemory", "1"}), "OK");
  MigrateOptions opts = c.Options(dir.Sub("journal.json"));
  Migrator m(opts);
  Status st = RunJobs(m, {{slot, c.node(0), c.node(1)}, {201, c.node(0), c.node(1)}});
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message(), HasSubstr("slot 200"));
  EXPECT_THAT(st.error().message(), HasSubstr("n0 127.0.0.1:" + std::to_string(c.port(0))));
  EXPECT_THAT(st.error().message(), HasSubstr("n1 127.0.0.1:" + std::to_string(c.port(1))));
  EXPECT_THAT(st.error().message(), HasSubstr("OOM"));
  // Never assigned: node 0 still serves it with every key, the slot is still open.
  EXPECT_EQ(c.OwnerOf(slot, 0), 0);
  EXPECT_EQ(c.OwnerOf(slot, 1), 0);
  EXPECT_EQ(Count(c, 0, slot), 20);
  EXPECT_THAT(c.Cmd(0, {"CLUSTER", "NODES"}), HasSubstr("[200->-" + c.id(1) + "]"));
  auto journal = ReadJournal(opts.journal_path);
  ASSERT_EQ(journal.size(), 1u);
  EXPECT_EQ(journal[0].slot, slot);
  EXPECT_EQ(journal[0].phase, "failed");
  EXPECT_EQ(c.OwnerOf(201), 1);  // the empty slot of the same chunk went through

  ASSERT_EQ(c.Cmd(1, {"CONFIG", "SET", "maxmemory", "0"}), "OK");
  st = m.Resume();
  ASSERT_TRUE(st.ok()) << Describe(st);
  EXPECT_EQ(c.OwnerOf(slot), 1);
  EXPECT_EQ(c.Verify(kv), "");
  EXPECT_EQ(c.OpenOrSplitSlots(), "");
  EXPECT_THAT(ReadJournal(opts.journal_path), ::testing::IsEmpty());
}

TEST(MigratorTest, ResolveSettlesSlotsLeftOpenByHand) {
  TestCluster c(3, 3);
  ASSERT_EQ(c.size(), 3);
  // Slots 10..16 are node 0's; each is left in another state on the way to node 1.
  std::map<std::string, std::string> all;
  std::map<int, std::map<std::string, std::string>> keys;
  for (int s = 10; s <= 16; ++s) {
    keys[s] = KeysInSlot(s, 40);
    all.insert(keys[s].begin(), keys[s].end());
  }
  c.Load(all);
  OpenByHand(c, 10, 0, 1, keys[10], 15);  // keys on both sides
  OpenByHand(c, 11, 0, 1, keys[11], 0);   // flags only, all keys on the source
  OpenByHand(c, 12, 0, 1, keys[12], 40);  // all keys moved, not yet assigned
  ASSERT_EQ(c.Cmd(0, {"DEL", keys[13].begin()->first}), "1");
  for (const auto& [k, v] : keys[13]) c.Cmd(0, {"DEL", k});  // an empty slot, flags set
  OpenByHand(c, 13, 0, 1, {}, 0);
  OpenByHand(c, 14, 0, 1, keys[14], 40);  // assigned on the target only
  ASSERT_EQ(c.Cmd(1, {"CLUSTER", "SETSLOT", "14", "NODE", c.id(1)}), "OK");
  ASSERT_EQ(c.Cmd(1, {"CLUSTER", "SETSLOT", "15", "IMPORTING", c.id(0)}), "OK");  // half open
  // Slot 16 is left alone: never started.
  for (const auto& [k, v] : keys[13]) all.erase(k);

  Migrator m(c.Options());
  for (int s = 10; s <= 16; ++s) {
    Status st = m.Resolve(OpenSlot{s, c.node(0), c.node(1)});
    ASSERT_TRUE(st.ok()) << "slot " << s << ": " << Describe(st);
  }
  for (int s : {10, 11, 12, 14, 15}) {
    EXPECT_EQ(c.OwnerOf(s), 1) << "slot " << s;
    EXPECT_EQ(Count(c, 1, s), 40) << "slot " << s;
    EXPECT_EQ(Count(c, 0, s), 0) << "slot " << s;
  }
  EXPECT_EQ(c.OwnerOf(13), 0);  // no key anywhere: rolled back to its owner
  EXPECT_EQ(c.OwnerOf(16), 0);
  EXPECT_EQ(Count(c, 0, 16), 40);
  EXPECT_EQ(c.OpenOrSplitSlots(), "");
  EXPECT_EQ(c.Verify(all), "");
}

TEST(MigratorTest, ResumeAfterStopThenFinish) {
  TestCluster c(4, 3);
  ASSERT_EQ(c.size(), 4);
  TempDir dir;
  auto kv = MakeKeys(20000, "r");
  c.Load(kv);
  MigrateOptions opts = c.Options(dir.Sub("journal.json"));
  opts.max_keys_per_second = 20000;  // slow enough to stop half-way
  Migrator m(opts);
  auto jobs = c.Jobs(plan::PlanSlotMoves(c.Layout({0, 1, 2, 3}, {})));
  std::atomic<bool> stop{false};
  int done = 0;
  Status st = m.Run(
      jobs,
      [&](const MigrateProgress& p) {
        done = p.slots_done;
        if (p.slots_done > 0) stop = true;
      },
      stop);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kAborted) << Describe(st);
  EXPECT_GT(done, 0);
  EXPECT_LT(done, static_cast<int>(jobs.size()));
  // Nothing half-moved: no slot open, the journal empty, every key readable.
  EXPECT_EQ(c.OpenOrSplitSlots(), "");
  EXPECT_THAT(ReadJournal(opts.journal_path), ::testing::IsEmpty());
  EXPECT_EQ(c.Verify(kv), "");
  ASSERT_TRUE(m.Resume().ok());

  // The same jobs again: the slots moved already count as done.
  opts.max_keys_per_second = 0;
  Migrator again(opts);
  st = RunJobs(again, jobs);
  ASSERT_TRUE(st.ok()) << Describe(st);
  EXPECT_EQ(CountSlots(c.Slots(3)), 4096);
  EXPECT_EQ(c.OpenOrSplitSlots(), "");
  EXPECT_EQ(c.Verify(kv), "");
  EXPECT_EQ(c.TotalKeys(), static_cast<long long>(kv.size()));
}

TEST(MigratorTest, ResumeFromAHandWrittenJournal) {
  TestCluster c(3, 3);
  ASSERT_EQ(c.size(), 3);
  TempDir dir;
  std::map<std::string, std::string> all;
  std::map<int, std::map<std::string, std::string>> keys;
  for (int s : {20, 21, 22}) {
    keys[s] = KeysInSlot(s, 25);
    all.insert(keys[s].begin(), keys[s].end());
  }
  c.Load(all);
  OpenByHand(c, 20, 0, 1, keys[20], 10);  // crashed mid-slot
  Migrator mover(c.Options());
  ASSERT_TRUE(RunJobs(mover, {{22, c.node(0), c.node(1)}}).ok());  // finished, still listed
  // Slot 21: listed but never started.
  std::vector<JournalEntry> entries;
  for (int s : {20, 21, 22}) entries.push_back({s, c.node(0), c.node(1), "moving", ""});
  std::string path = dir.Sub("journal.json");
  ASSERT_TRUE(WriteFileAtomic(path, JournalToJson(entries), 0600).ok());

  Migrator m(c.Options(path));
  Status st = m.Resume();
  ASSERT_TRUE(st.ok()) << Describe(st);
  EXPECT_EQ(c.OwnerOf(20), 1);
  EXPECT_EQ(Count(c, 1, 20), 25);
  EXPECT_EQ(c.OwnerOf(21), 0);
  EXPECT_EQ(Count(c, 0, 21), 25);
  EXPECT_EQ(c.OwnerOf(22), 1);
  EXPECT_EQ(c.OpenOrSplitSlots(), "");
  EXPECT_EQ(c.Verify(all), "");
  EXPECT_THAT(ReadJournal(path), ::testing::IsEmpty());
  EXPECT_TRUE(m.Resume().ok());  // nothing left: a no-op
}

}  // namespace
}  // namespace sk::act
