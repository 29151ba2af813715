// Issue 4: scale operations on a live cluster kept by `slotkeeper up`, with a cluster-aware
// load client writing and reading through every move. After each operation: every
// acknowledged write reads back with its value, no slot is open, coverage is 16384, and
// `slotkeeper check` is healthy.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <random>
#include <sstream>
#include <thread>

#include "tests/e2e/e2e_util.h"
#include "tests/support/load_client.h"

namespace sk::e2e {
namespace {

using testing::ClusterLoad;
using ::testing::HasSubstr;
using testing::PortLease;
using testing::RedisCmd;
using testing::TempDir;

constexpr int kMaxNodes = 12;

class ScaleTest : public ::testing::Test {
 protected:
  void Form(int masters, int replicas) {
    SpecOptions o;
    o.masters = masters;
    o.replicas = replicas;
    o.base_port = ports_.base();
    o.data_dir = dir_.Sub("data");
    spec_ = WriteSpec(dir_.path(), o);
    up_ = std::make_unique<Up>(spec_, dir_.path(), api_.base());
    ASSERT_TRUE(WaitHealthy(base(), masters * (1 + replicas), std::chrono::seconds(30)))
        << up_->Log();
  }
  void TearDown() override {
    if (load_) load_->Stop();
    up_.reset();
    KillNodes(dir_.Sub("data"), "t", base(), kMaxNodes);
  }
  int base() const { return ports_.base(); }
  std::string Server() const { return "http://127.0.0.1:" + std::to_string(api_.base()); }

  void StartLoad() {
    ClusterLoad::Options lo;
    for (int i = 0; i < 3; ++i) lo.ports.push_back(base() + i);
    lo.writes_per_second = 300;
    load_ = std::make_unique<ClusterLoad>(lo);
    load_->Start();
  }
  // Keys with hash tags, a 1 MB value and a 100,000-member hash.
  void WriteSpecialKeys() {
    for (int i = 0; i < 50; ++i) {
      ASSERT_EQ(ClusterCmd(base(), {"SET", "{user7}:" + std::to_string(i), std::to_string(i)}),
                "OK");
    }
    ASSERT_EQ(ClusterCmd(base(), {"SET", "big", std::string(1 << 20, 'x')}), "OK");
    ClusterCmd(base(),
               {"EVAL", "for i=1,100000 do redis.call('HSET', KEYS[1], 'f'..i, i) end return 1",
                "1", "bighash"});
    ASSERT_EQ(ClusterCmd(base(), {"HLEN", "bighash"}), "100000");
  }
  void ExpectSpecialKeys() {
    for (int i = 0; i < 50; ++i) {
      EXPECT_EQ(ClusterCmd(base(), {"GET", "{user7}:" + std::to_string(i)}), std::to_string(i));
    }
    EXPECT_EQ(ClusterCmd(base(), {"STRLEN", "big"}), std::to_string(1 << 20));
    EXPECT_EQ(ClusterCmd(base(), {"HLEN", "bighash"}), "100000");
    EXPECT_EQ(ClusterCmd(base(), {"HGET", "bighash", "f99999"}), "99999");
  }
  // `slotkeeper scale` through the API, waiting for the operation.
  void Scale(const std::vector<std::string>& how) {
    std::vector<std::string> args = {"scale", "t", "--wait", "--server", Server()};
    args.insert(args.end(), how.begin(), how.end());
    auto r = Slotkeeper(args, "", std::chrono::seconds(180));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err << up_->Log();
    EXPECT_THAT(r.out, HasSubstr("succeeded"));
  }
  // The cluster has the shape, every acknowledged write so far is there, nothing is open.
  void ExpectShape(int masters, int replicas) {
    int n = masters * (1 + replicas);
    ASSERT_TRUE(WaitHealthy(base(), n, std::chrono::seconds(60))) << up_->Log();
    Probe p = ProbeCluster(base(), n);
    EXPECT_EQ(p.masters, masters);
    EXPECT_EQ(p.replicas, masters * replicas);
    // The nodes that left are stopped and their files gone.
    for (int i = n; i < kMaxNodes; ++i) {
      EXPECT_FALSE(Exists(dir_.Sub("data") + "/t/" + std::to_string(base() + i)))
          << "node " << i << " left but its files remain";
    }
    // `check` also wants every bus link up: a node that just joined may need a moment.
    testing::CommandResult check;
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          check = Slotkeeper({"check", "127.0.0.1:" + std::to_string(base())});
          return check.exit_code == 0;
        },
        std::chrono::seconds(15), "check healthy"))
        << check.out << check.err;
    if (load_) {
      std::vector<std::string> lost = load_->Verify();
      EXPECT_TRUE(lost.empty()) << lost.size() << " acknowledged writes lost, first "
                                << lost.front();
      EXPECT_GT(load_->Snapshot().acked, 0);
    }
  }

  TempDir dir_;
  PortLease api_{1};
  PortLease ports_{kMaxNodes};
  std::unique_ptr<Up> up_;
  std::unique_ptr<ClusterLoad> load_;
  std::string spec_;
};

TEST_F(ScaleTest, MastersThreeFourSixThreeUnderLoad) {
  Form(3, 1);
  WriteSpecialKeys();
  // The dry run shows the moves a 4-master spec would make, and changes nothing.
  SpecOptions four;
  four.masters = 4;
  four.base_port = base();
  four.data_dir = dir_.Sub("data");
  auto plan = Slotkeeper({"plan", "-f", WriteSpec(dir_.path(), four, "four.yaml")}, dir_.path());
  EXPECT_THAT(plan.out, HasSubstr("4096 slot moves"));
  EXPECT_THAT(plan.out, HasSubstr("t-0 -> t-6: 1365 slots"));
  EXPECT_EQ(ProbeCluster(base(), 6).masters, 3);
  StartLoad();
  Scale({"--masters", "4"});
  ExpectShape(4, 1);
  Scale({"--masters", "6"});
  ExpectShape(6, 1);
  Scale({"--masters", "3"});
  ExpectShape(3, 1);
  ExpectSpecialKeys();
  // A client whose slot map still names a node that left may fail a write (not
  // acknowledged, so not lost); redirections are followed and never fail.
  auto stats = load_->Snapshot();
  EXPECT_LT(stats.failed, stats.attempted / 100 + 5);
  EXPECT_EQ(stats.failed_by_kind.count("MOVED"), 0u);
  EXPECT_EQ(stats.failed_by_kind.count("ASK"), 0u);
}

TEST_F(ScaleTest, ReplicasOneTwoZeroOneThenWeightsAndRanges) {
  Form(3, 1);
  StartLoad();
  Scale({"--replicas", "2"});
  ExpectShape(3, 2);
  Scale({"--replicas", "0"});
  ExpectShape(3, 0);
  Scale({"--replicas", "1"});
  ExpectShape(3, 1);
  // Re-split by weights, then by explicit ranges, through PATCH.
  std::string r =
      HttpRequest(api_.base(), "PATCH", "/api/v1/clusters/t",
                  R"({"spec":{"slots":{"weights":[2,1,1]}}})", "application/merge-patch+json");
  ASSERT_EQ(r.substr(0, 3), "202") << r;
  // Waits for the operation, then expects the biggest master to serve `expected` slots.
  auto wait_slots = [&](int expected) {
    for (int i = 0; i < 600; ++i) {
      std::string got = HttpRequest(api_.base(), "GET", "/api/v1/clusters/t");
      if (got.find("\"phase\":\"Ready\"") != std::string::npos &&
          got.find("\"operation\":null") != std::string::npos) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    int biggest = 0;
    for (int i = 0; i < 6; ++i) {
      std::string role = RedisCmd(base() + i, {"ROLE"});
      if (role.rfind("master", 0) != 0) continue;
      int count = 0;
      std::string slots = RedisCmd(base() + i, {"CLUSTER", "NODES"});
      // Own line: "<id> <addr> myself,master - ... <ranges>".
      std::istringstream in(slots);
      std::string line;
      while (std::getline(in, line)) {
        if (line.find("myself") == std::string::npos) continue;
        std::istringstream f(line);
        std::string field;
        for (int k = 0; k < 8 && f >> field; ++k) {
        }
        while (f >> field) {
          auto dash = field.find('-');
          count += dash == std::string::npos
                       ? 1
                       : std::stoi(field.substr(dash + 1)) - std::stoi(field.substr(0, dash)) + 1;
        }
      }
      biggest = std::max(biggest, count);
    }
    EXPECT_EQ(biggest, expected);
  };
  wait_slots(8192);
  ExpectShape(3, 1);
  r = HttpRequest(
      api_.base(), "PATCH", "/api/v1/clusters/t",
      R"({"spec":{"slots":{"weights":[],"ranges":[["0-999"],["1000-9999"],["10000-16383"]]}}})",
      "application/merge-patch+json");
  ASSERT_EQ(r.substr(0, 3), "202") << r;
  wait_slots(9000);
  ExpectShape(3, 1);
}

TEST_F(ScaleTest, DaemonKilledMidMigrationResumesAndLosesNothing) {
  Form(3, 1);
  // Enough keys that the move takes a while.
  for (int batch = 0; batch < 20; ++batch) {
    ClusterCmd(base(),
               {"EVAL", "for i=1,5000 do redis.call('SET', KEYS[1]..':'..i, i) end return 1", "1",
                "{b" + std::to_string(batch) + "}"});
  }
  WriteSpecialKeys();
  StartLoad();
  std::mt19937 rng(static_cast<unsigned>(::getpid()));
  // Scale out by re-running `up` with the changed spec, as a user would.
  SpecOptions o;
  o.masters = 4;
  o.replicas = 1;
  o.base_port = base();
  o.data_dir = dir_.Sub("data");
  up_->Stop();
  spec_ = WriteSpec(dir_.path(), o);
  for (int attempt = 0; attempt < 3; ++attempt) {
    up_ = std::make_unique<Up>(spec_, dir_.path(), api_.base());
    // Somewhere in the join or the move.
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(600, 2500)(rng)));
    ::kill(up_->Pid(), SIGKILL);
    up_.reset();
  }
  up_ = std::make_unique<Up>(spec_, dir_.path(), api_.base());
  bool done = false;
  for (int i = 0; i < 1200 && !done; ++i) {
    std::string got = HttpRequest(api_.base(), "GET", "/api/v1/clusters/t");
    done = got.find("\"phase\":\"Ready\"") != std::string::npos &&
           got.find("\"operation\":null") != std::string::npos &&
           !Exists(dir_.Sub("state") + "/clusters/t/operation.json");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(done) << up_->Log();
  ExpectShape(4, 1);
  ExpectSpecialKeys();
  for (int batch = 0; batch < 20; ++batch) {
    EXPECT_EQ(ClusterCmd(base(), {"GET", "{b" + std::to_string(batch) + "}:4999"}), "4999");
  }
}

}  // namespace
}  // namespace sk::e2e
