// Issue 9: the defects a code review found, each driven through the binary (CLI and REST)
// against real redis-server processes: concurrent changes, two daemons on one cluster,
// SIGTERM during a scale, state of a deleted cluster, a rejected duplicate create, a node
// whose whole directory is gone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/e2e/e2e_util.h"
#include "tests/support/load_client.h"

namespace sk::e2e {
namespace {

using ::testing::HasSubstr;
using testing::PortLease;
using testing::RedisCmd;
using testing::TempDir;

constexpr int kMaxNodes = 8;

struct Reply {
  int code = 0;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

class SafetyTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (load_) load_->Stop();
    up_.reset();
    ctl_.reset();
    KillNodes(data(), "t", base(), kMaxNodes);
  }
  int base() const { return nodes_.base(); }
  std::string data() const { return dir_.Sub("data"); }
  std::string NodeDir(int i) const { return data() + "/t/" + std::to_string(base() + i); }
  SpecOptions Spec(int masters, int replicas) const {
    SpecOptions o;
    o.masters = masters;
    o.replicas = replicas;
    o.base_port = base();
    o.data_dir = data();
    return o;
  }
  std::string SpecYaml(int masters, int replicas, const std::string& extra = "") const {
    return "apiVersion: slotkeeper.io/v1alpha1\nkind: RedisCluster\nmetadata:\n  name: t\nspec:\n"
           "  masters: " +
           std::to_string(masters) + "\n  replicasPerMaster: " + std::to_string(replicas) + "\n" +
           extra + "  local:\n    bind: 127.0.0.1\n    basePort: " + std::to_string(base()) +
           "\n    dataDir: " + data() + "\n";
  }
  void StartController(const std::string& state = "ctl-state") {
    std::vector<std::string> argv = {
        testing::BinaryPath("slotkeeper"),          "controller", "--api",
        "127.0.0.1:" + std::to_string(api_.base()), "--config",   WriteConfig(state)};
    ctl_ = std::make_unique<testing::Background>(
        argv, dir_.Sub("controller-" + std::to_string(++runs_) + ".log"), dir_.path());
    ASSERT_TRUE(testing::WaitFor([&] { return Call("GET", "/api/v1/clusters").code == 200; },
                                 std::chrono::seconds(10), "controller serving",
                                 [&] { return ctl_->Log(); }));
  }
  std::string WriteConfig(const std::string& state) {
    std::string path = dir_.Sub("controller-" + state + ".yaml");
    std::ofstream(path) << "stateDir: " << dir_.Sub(state) << "\n";
    return path;
  }
  Reply Call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::string& type = "application/json") {
    std::string r = HttpRequest(api_.base(), method, path, body, body.empty() ? "" : type);
    if (r.size() < 3) return {};
    return {std::atoi(r.substr(0, 3).c_str()), r.size() > 4 ? r.substr(4) : ""};
  }
  bool WaitPhase(const std::string& phase, std::chrono::seconds bound = std::chrono::seconds(40)) {
    std::string last;
    return testing::WaitFor(
        [&] {
          Reply r = Call("GET", "/api/v1/clusters/t");
          last = r.body;
          auto j = r.json();
          return r.code == 200 && j.is_object() && j["status"]["phase"] == phase &&
                 j["status"]["operation"].is_null();
        },
        bound, "phase " + phase, [&] { return last; });
  }
  std::string WaitOperation(const std::string& id) {
    std::string state, last;
    testing::WaitFor(
        [&] {
          Reply r = Call("GET", "/api/v1/operations/" + id);
          last = r.body;
          auto j = r.json();
          state = j.is_object() ? j.value("state", "") : "";
          return state == "succeeded" || state == "failed";
        },
        std::chrono::seconds(120), "operation " + id, [&] { return last; });
    return state;
  }
  void StartLoad() {
    testing::ClusterLoad::Options lo;
    for (int i = 0; i < 3; ++i) lo.ports.push_back(base() + i);
    lo.writes_per_second = 300;
    load_ = std::make_unique<testing::ClusterLoad>(lo);
    load_->Start();
  }
  void ExpectNothingLost() {
    ASSERT_TRUE(load_);
    load_->Stop();
    std::vector<std::string> lost = load_->Verify();
    EXPECT_TRUE(lost.empty()) << lost.size() << " acknowledged writes lost, first " << lost.front();
    EXPECT_GT(load_->Snapshot().acked, 0);
  }

  TempDir dir_;
  PortLease api_{1};
  PortLease nodes_{kMaxNodes};
  std::unique_ptr<testing::Background> ctl_;
  std::unique_ptr<Up> up_;
  std::unique_ptr<testing::ClusterLoad> load_;
  int runs_ = 0;
};

// Defect 6: "one operation at a time" was checked before the change was prepared and recorded
// after it, so concurrent requests all passed (and a second thread object ended the process).
TEST_F(SafetyTest, ConcurrentChangesReserveExactlyOneOperation) {
  StartController();
  ASSERT_EQ(Call("POST", "/api/v1/clusters", SpecYaml(3, 1), "application/yaml").code, 201);
  ASSERT_TRUE(WaitPhase("Ready"));
  ASSERT_TRUE(WaitHealthy(base(), 6, std::chrono::seconds(20)));
  StartLoad();
  std::vector<Reply> replies(6);
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      if (i % 3 == 0) {
        replies[i] = Call("PATCH", "/api/v1/clusters/t", R"({"spec":{"masters":4}})",
                          "application/merge-patch+json");
      } else if (i % 3 == 1) {
        replies[i] = Call("POST", "/api/v1/clusters/t/scale", R"({"masters":4})");
      } else {
        replies[i] = Call("PUT", "/api/v1/clusters/t", SpecYaml(4, 1), "application/yaml");
      }
    });
  }
  for (std::thread& t : threads) t.join();
  int accepted = 0, conflicts = 0;
  std::string op;
  for (const Reply& r : replies) {
    if (r.code == 202) {
      accepted++;
      op = r.json()["id"];
    } else if (r.code == 409) {
      conflicts++;
      EXPECT_THAT(r.body, HasSubstr("still running"));
    }
  }
  EXPECT_EQ(accepted, 1);
  EXPECT_EQ(conflicts, 5);
  ASSERT_FALSE(op.empty());
  EXPECT_EQ(WaitOperation(op), "succeeded") << ctl_->Log();
  EXPECT_TRUE(ctl_->Alive());
  ASSERT_TRUE(WaitHealthy(base(), 8, std::chrono::seconds(30)));
  EXPECT_EQ(ProbeCluster(base(), 8).masters, 4);
  ExpectNothingLost();
  // DELETE while a scale runs: the operation ends as failed, the daemon keeps serving, the
  // nodes keep running (no purge).
  Reply back = Call("POST", "/api/v1/clusters/t/scale", R"({"masters":3})");
  ASSERT_EQ(back.code, 202) << back.body;
  EXPECT_LT(Call("DELETE", "/api/v1/clusters/t").code, 300);
  EXPECT_EQ(Call("GET", "/api/v1/clusters/t").code, 404);
  EXPECT_EQ(WaitOperation(back.json()["id"]), "failed");
  EXPECT_TRUE(ctl_->Alive());
  EXPECT_EQ(RedisCmd(base(), {"PING"}), "PONG");
}

// Defect 4: nothing stopped two controllers on one cluster.
TEST_F(SafetyTest, TwoDaemonsNeverManageOneCluster) {
  StartController();
  ASSERT_EQ(Call("POST", "/api/v1/clusters", SpecYaml(3, 0), "application/yaml").code, 201);
  ASSERT_TRUE(WaitPhase("Ready"));
  const std::string conf = NodeDir(0) + "/redis.conf";
  const std::string before = ReadAll(conf);
  // `up` of the same cluster with another state dir: refused before it changes anything.
  std::string spec = WriteSpec(dir_.path(), Spec(3, 0));
  auto r = Slotkeeper({"up", "-f", spec, "--api", "127.0.0.1:1", "--state-dir", dir_.Sub("other")},
                      dir_.path(), std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("already managed by a running slotkeeper"));
  EXPECT_THAT(r.err, HasSubstr(std::to_string(ctl_->pid())));
  EXPECT_EQ(ReadAll(conf), before);
  // `down` does not stop a controller's cluster behind its back.
  auto down = Slotkeeper({"down", "-f", spec}, dir_.path());
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_THAT(down.err, HasSubstr("controller"));
  EXPECT_EQ(RedisCmd(base(), {"PING"}), "PONG");
  EXPECT_TRUE(ctl_->Alive());
  // A second controller on the same state dir stops at once.
  std::vector<std::string> argv = {testing::BinaryPath("slotkeeper"),
                                   "controller",
                                   "--api",
                                   "127.0.0.1:" + std::to_string(api_.base() + 0),
                                   "--config",
                                   WriteConfig("ctl-state")};
  auto second = testing::RunCommand(argv, std::chrono::seconds(20), dir_.path());
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_THAT(second.err, HasSubstr("in use by another slotkeeper"));
  EXPECT_TRUE(Exists(dir_.Sub("ctl-state") + "/clusters/t/spec.json"));
  EXPECT_TRUE(ctl_->Alive());
}

// Two `up`s started at once on one new cluster: one manages it, the other stops without
// touching the winner's record (the loser used to delete spec.json).
TEST_F(SafetyTest, TwoUpsRacingOnOneClusterLeaveTheWinnerAlone) {
  std::string spec = WriteSpec(dir_.path(), Spec(3, 0));
  PortLease api2(1);
  Up a(spec, dir_.path(), api_.base());
  auto b = Slotkeeper({"up", "-f", spec, "--api", "127.0.0.1:" + std::to_string(api2.base()),
                       "--state-dir", dir_.path() + "/state"},
                      dir_.path(), std::chrono::seconds(30));
  EXPECT_EQ(b.exit_code, 1) << b.out << b.err;
  EXPECT_THAT(b.err, ::testing::AnyOf(HasSubstr("in use by another slotkeeper"),
                                      HasSubstr("already managed by a running slotkeeper")));
  ASSERT_TRUE(WaitHealthy(base(), 3, std::chrono::seconds(30))) << a.Log();
  EXPECT_TRUE(Exists(dir_.path() + "/state/clusters/t/spec.json"));
  EXPECT_TRUE(a.Alive());
  EXPECT_EQ(a.Stop(), 0);
}

// Defect 5 and SIGTERM during a scale: the daemon stops within a wave, nothing is lost, and
// the next start finishes the operation.
TEST_F(SafetyTest, SigtermDuringAScaleStopsCleanlyAndTheNextStartFinishesIt) {
  std::string spec = WriteSpec(dir_.path(), Spec(3, 1));
  up_ = std::make_unique<Up>(spec, dir_.path(), api_.base());
  ASSERT_TRUE(WaitHealthy(base(), 6, std::chrono::seconds(30))) << up_->Log();
  for (int batch = 0; batch < 20; ++batch) {
    ClusterCmd(base(),
               {"EVAL", "for i=1,5000 do redis.call('SET', KEYS[1]..':'..i, i) end return 1", "1",
                "{b" + std::to_string(batch) + "}"});
  }
  StartLoad();
  Reply op = Call("POST", "/api/v1/clusters/t/scale", R"({"masters":4})");
  ASSERT_EQ(op.code, 202) << op.body;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto j = Call("GET", "/api/v1/operations/" + op.json()["id"].get<std::string>()).json();
        return j.is_object() && j.value("slotsMoved", 0) > 0;
      },
      std::chrono::seconds(60), "slots moving", [&] { return up_->Log(); }));
  EXPECT_EQ(up_->Stop(), 0) << up_->Log();
  EXPECT_TRUE(Exists(dir_.path() + "/state/clusters/t/operation.json"));
  // The user's spec file says what the API was asked (an older file would be a new change).
  WriteSpec(dir_.path(), Spec(4, 1));
  up_ = std::make_unique<Up>(spec, dir_.path(), api_.base());
  ASSERT_TRUE(WaitPhase("Ready", std::chrono::seconds(120))) << up_->Log();
  EXPECT_FALSE(Exists(dir_.path() + "/state/clusters/t/operation.json"));
  ASSERT_TRUE(WaitHealthy(base(), 8, std::chrono::seconds(30))) << up_->Log();
  EXPECT_EQ(ProbeCluster(base(), 8).masters, 4);
  ExpectNothingLost();
  for (int batch = 0; batch < 20; ++batch) {
    EXPECT_EQ(ClusterCmd(base(), {"GET", "{b" + std::to_string(batch) + "}:4999"}), "4999");
  }
  auto check = Slotkeeper({"check", "127.0.0.1:" + std::to_string(base())});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

// Defect 11: a deleted cluster's state made a new cluster of the same name "lost slots"; a
// rejected duplicate create rewrote the running nodes' redis.conf and spec.json.
TEST_F(SafetyTest, ADuplicateCreateChangesNothingAndADeletedClusterLeavesNoState) {
  StartController();
  ASSERT_EQ(Call("POST", "/api/v1/clusters", SpecYaml(3, 0), "application/yaml").code, 201);
  ASSERT_TRUE(WaitPhase("Ready"));
  const std::string conf = NodeDir(0) + "/redis.conf";
  const std::string spec_json = dir_.Sub("ctl-state") + "/clusters/t/spec.json";
  const std::string conf_before = ReadAll(conf), spec_before = ReadAll(spec_json);
  Reply dup = Call("POST", "/api/v1/clusters", SpecYaml(3, 0, "  redis:\n    maxmemory: 32mb\n"),
                   "application/yaml");
  EXPECT_EQ(dup.code, 409) << dup.body;
  EXPECT_EQ(ReadAll(conf), conf_before);
  EXPECT_EQ(ReadAll(spec_json), spec_before);
  // Deleted with its data, then created again: a new cluster, not one that lost its slots.
  EXPECT_LT(Call("DELETE", "/api/v1/clusters/t?purge=true").code, 300);
  EXPECT_FALSE(Exists(dir_.Sub("ctl-state") + "/clusters/t"));
  ASSERT_EQ(Call("POST", "/api/v1/clusters", SpecYaml(3, 0), "application/yaml").code, 201);
  ASSERT_TRUE(WaitPhase("Ready")) << ctl_->Log();
  EXPECT_TRUE(WaitHealthy(base(), 3, std::chrono::seconds(20)));
}

// Defect 2: a node whose whole directory is gone (a disk replaced) was never started again
// ("cannot start /usr/bin/redis-server: No such file or directory").
TEST_F(SafetyTest, ANodeWhoseDirectoryIsGoneComesBackEmptyAndRejoins) {
  std::string spec = WriteSpec(dir_.path(), Spec(3, 1));
  up_ = std::make_unique<Up>(spec, dir_.path(), api_.base());
  ASSERT_TRUE(WaitHealthy(base(), 6, std::chrono::seconds(30))) << up_->Log();
  // A replica's disk is replaced: its process dies and its directory is gone.
  int replica = -1;
  for (int i = 0; i < 6; ++i) {
    if (RedisCmd(base() + i, {"ROLE"}).rfind("slave", 0) == 0) replica = i;
  }
  ASSERT_GE(replica, 0);
  const std::string old_id = RedisCmd(base() + replica, {"CLUSTER", "MYID"});
  const int pid = NodePid(data(), "t", base() + replica);
  std::filesystem::remove_all(NodeDir(replica));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(WaitHealthy(base(), 6, std::chrono::seconds(40))) << up_->Log();
  EXPECT_NE(RedisCmd(base() + replica, {"CLUSTER", "MYID"}), old_id);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(RedisCmd(base() + i, {"CLUSTER", "NODES"}).find(old_id), std::string::npos);
  }
  EXPECT_THAT(up_->Log(), HasSubstr("was gone; made it again"));
  EXPECT_THAT(up_->Log(), ::testing::Not(HasSubstr("No such file or directory")));
}

}  // namespace
}  // namespace sk::e2e
