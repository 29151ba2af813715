// `slotkeeper up` / `down` end to end: real redis-server processes, the binary driven only
// through its CLI, every test on its own ports and directories.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/e2e/e2e_util.h"

namespace sk::e2e {
namespace {

using ::testing::HasSubstr;
using testing::PortLease;
using testing::RedisCmd;
using testing::TempDir;

class UpTest : public ::testing::Test {
 protected:
  // Lays out a spec of masters x replicas on fresh ports.
  SpecOptions Spec(int masters, int replicas) {
    nodes_ = masters * (1 + replicas);
    ports_ = std::make_unique<PortLease>(nodes_);
    SpecOptions o;
    o.masters = masters;
    o.replicas = replicas;
    o.base_port = ports_->base();
    o.data_dir = dir_.Sub("data");
    data_ = o.data_dir;
    return o;
  }
  void TearDown() override {
    if (nodes_ > 0) KillNodes(data_, "t", ports_->base(), nodes_);
  }
  int base() const { return ports_->base(); }
  std::string NodeDir(int i) const { return data_ + "/t/" + std::to_string(base() + i); }

  TempDir dir_;
  PortLease api_{1};
  std::unique_ptr<PortLease> ports_;
  std::string data_;
  int nodes_ = 0;
};

TEST_F(UpTest, CreatesAdoptsAndStopsA3x1Cluster) {
  std::string spec = WriteSpec(dir_.path(), Spec(3, 1));
  std::vector<int> pids;
  {
    Up up(spec, dir_.path(), api_.base());
    ASSERT_TRUE(WaitHealthy(base(), 6, std::chrono::seconds(30))) << up.Log();
    Probe p = ProbeCluster(base(), 6);
    EXPECT_EQ(p.masters, 3);
    EXPECT_EQ(p.replicas, 3);
    std::set<std::string> ids(p.ids.begin(), p.ids.end());
    EXPECT_EQ(ids.size(), 6u) << "every node has its own ID";
    // CONTRACT section 2: every Redis file name carries the port; configs are 0600.
    for (int i = 0; i < 6; ++i) {
      std::string port = std::to_string(base() + i);
      EXPECT_EQ(FileMode(NodeDir(i) + "/redis.conf"), 0600);
      EXPECT_TRUE(Exists(NodeDir(i) + "/nodes-" + port + ".conf"));
      EXPECT_TRUE(Exists(NodeDir(i) + "/redis-" + port + ".log"));
      EXPECT_TRUE(Exists(NodeDir(i) + "/appendonlydir-" + port));
      EXPECT_THAT(ReadAll(NodeDir(i) + "/redis.conf"), HasSubstr("appendonly-" + port + ".aof"));
      int pid = NodePid(data_, "t", base() + i);
      EXPECT_GT(pid, 1);
      pids.push_back(pid);
    }
    // /healthz answers while the daemon runs.
    EXPECT_THAT(HttpRequest(api_.base(), "GET", "/healthz"), HasSubstr("200"));
    EXPECT_THAT(HttpRequest(api_.base(), "GET", "/nope"), HasSubstr("404"));
    // A key is served by the master that owns its slot.
    auto slot = Slotkeeper({"keyslot", "hello"});
    EXPECT_EQ(slot.out, "866\n");
    EXPECT_EQ(up.Stop(), 0) << up.Log();
  }
  // The nodes survive the daemon; a second `up` adopts them instead of starting new ones.
  for (int pid : pids) EXPECT_TRUE(Running(pid));
  {
    Up up(spec, dir_.path(), api_.base());
    ASSERT_TRUE(testing::WaitFor([&] { return up.Log().find("is ready") != std::string::npos; },
                                 std::chrono::seconds(20), "second up ready",
                                 [&] { return up.Log(); }));
    EXPECT_THAT(up.Log(), HasSubstr("0 started, 6 adopted"));
    // Re-running on a healthy cluster does nothing: no action is logged.
    EXPECT_EQ(up.Log().find("reconcile="), std::string::npos) << up.Log();
    for (int i = 0; i < 6; ++i) EXPECT_EQ(NodePid(data_, "t", base() + i), pids[i]);
    EXPECT_EQ(up.Stop(), 0);
  }
  auto plan = Slotkeeper({"plan", "-f", spec, "--state-dir", dir_.Sub("state")}, dir_.path());
  EXPECT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("nothing to do"));

  auto down = Slotkeeper({"down", "-f", spec}, dir_.path());
  EXPECT_EQ(down.exit_code, 0) << down.err;
  for (int pid : pids) EXPECT_FALSE(Running(pid)) << "pid " << pid << " still runs";
  EXPECT_TRUE(Exists(NodeDir(0) + "/nodes-" + std::to_string(base()) + ".conf"))
      << "down keeps data";
  auto purge =
      Slotkeeper({"down", "-f", spec, "--purge", "--state-dir", dir_.Sub("state")}, dir_.path());
  EXPECT_EQ(purge.exit_code, 0) << purge.err;
  EXPECT_FALSE(Exists(data_ + "/t"));
}

struct Shape {
  int masters;
  int replicas;
};

class ShapeTest : public UpTest, public ::testing::WithParamInterface<Shape> {};

TEST_P(ShapeTest, FormsAndStops) {
  Shape s = GetParam();
  std::string spec = WriteSpec(dir_.path(), Spec(s.masters, s.replicas));
  Up up(spec, dir_.path(), api_.base());
  ASSERT_TRUE(WaitHealthy(base(), nodes_, std::chrono::seconds(40))) << up.Log();
  Probe p = ProbeCluster(base(), nodes_);
  EXPECT_EQ(p.masters, s.masters);
  EXPECT_EQ(p.replicas, s.masters * s.replicas);
  EXPECT_EQ(up.Stop(), 0);
  auto down =
      Slotkeeper({"down", "-f", spec, "--purge", "--state-dir", dir_.Sub("state")}, dir_.path());
  EXPECT_EQ(down.exit_code, 0) << down.err;
}

INSTANTIATE_TEST_SUITE_P(Shapes, ShapeTest,
                         ::testing::Values(Shape{3, 0}, Shape{3, 2}, Shape{5, 1}),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param.masters) + "x" +
                                  std::to_string(param_info.param.replicas);
                         });

// Slots a node serves in its own view, e.g. {"0-8191"}.
std::vector<std::string> OwnSlots(int port, const std::string& password = "") {
  std::string nodes = RedisCmd(port, {"CLUSTER", "NODES"}, password);
  std::istringstream in(nodes);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("myself") == std::string::npos) continue;
    std::istringstream f(line);
    std::vector<std::string> parts;
    for (std::string w; f >> w;) parts.push_back(w);
    return std::vector<std::string>(parts.begin() + 8, parts.end());
  }
  return {};
}

TEST_F(UpTest, SplitsByWeights) {
  SpecOptions o = Spec(3, 0);
  o.slots_yaml = "    weights: [2, 1, 1]\n";
  std::string spec = WriteSpec(dir_.path(), o);
  Up up(spec, dir_.path(), api_.base());
  ASSERT_TRUE(WaitHealthy(base(), 3, std::chrono::seconds(30))) << up.Log();
  EXPECT_THAT(OwnSlots(base()), ::testing::ElementsAre("0-8191"));
  EXPECT_THAT(OwnSlots(base() + 1), ::testing::ElementsAre("8192-12287"));
  EXPECT_THAT(OwnSlots(base() + 2), ::testing::ElementsAre("12288-16383"));
  up.Stop();
}

TEST_F(UpTest, SplitsByExplicitRanges) {
  SpecOptions o = Spec(3, 1);
  o.slots_yaml =
      "    ranges:\n      - [\"0-99\", \"1000-1999\"]\n      - [\"100-999\"]\n      - "
      "[\"2000-16383\"]\n";
  std::string spec = WriteSpec(dir_.path(), o);
  Up up(spec, dir_.path(), api_.base());
  ASSERT_TRUE(WaitHealthy(base(), 6, std::chrono::seconds(30))) << up.Log();
  EXPECT_THAT(OwnSlots(base()), ::testing::ElementsAre("0-99", "1000-1999"));
  EXPECT_THAT(OwnSlots(base() + 1), ::testing::ElementsAre("100-999"));
  EXPECT_THAT(OwnSlots(base() + 2), ::testing::ElementsAre("2000-16383"));
  up.Stop();
}

TEST_F(UpTest, PasswordGoesThroughConfigFilesOnly) {
  const std::string password = "s3cr3t \"quoted\" pass";
  std::string pw_file = dir_.Sub("demo.pass");
  std::ofstream(pw_file) << password << "\n";
  ::chmod(pw_file.c_str(), 0600);
  SpecOptions o = Spec(3, 1);
  o.password_file = pw_file;
  std::string spec = WriteSpec(dir_.path(), o);
  Up up(spec, dir_.path(), api_.base());
  ASSERT_TRUE(WaitHealthy(base(), 6, std::chrono::seconds(30), password)) << up.Log();
  EXPECT_THAT(RedisCmd(base(), {"PING"}), HasSubstr("NOAUTH"));
  EXPECT_EQ(RedisCmd(base(), {"PING"}, password), "PONG");
  for (int i = 0; i < 6; ++i) {
    int pid = NodePid(data_, "t", base() + i);
    std::string cmdline = ReadAll("/proc/" + std::to_string(pid) + "/cmdline");
    EXPECT_EQ(cmdline.find("s3cr3t"), std::string::npos);
    EXPECT_EQ(FileMode(NodeDir(i) + "/redis.conf"), 0600);
  }
  EXPECT_EQ(up.Stop(), 0);
  EXPECT_EQ(up.Log().find("s3cr3t"), std::string::npos) << "password leaked into the log";
  auto check =
      Slotkeeper({"check", "127.0.0.1:" + std::to_string(base()), "--password-file", pw_file});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

// A node dir seeded with another node's nodes-<port>.conf: same node ID on two nodes.
void CopyNodesConf(const std::string& from_dir, int from_port, const std::string& to_dir,
                   int to_port) {
  std::ifstream in(from_dir + "/nodes-" + std::to_string(from_port) + ".conf");
  std::stringstream ss;
  ss << in.rdbuf();
  std::ofstream(to_dir + "/nodes-" + std::to_string(to_port) + ".conf") << ss.str();
}

TEST_F(UpTest, ResetsAnEmptyNodeThatSharesANodeId) {
  std::string spec = WriteSpec(dir_.path(), Spec(3, 1));
  // Start node 0 once by hand so that it writes its nodes-<port>.conf, then copy that file
  // to node 1, as people do when they copy one folder to six.
  {
    testing::RedisProcess seed(base(), NodeDir(0));
    ASSERT_GT(seed.pid(), 0);
  }
  std::filesystem::create_directories(NodeDir(1));
  CopyNodesConf(NodeDir(0), base(), NodeDir(1), base() + 1);
  Up up(spec, dir_.path(), api_.base());
  ASSERT_TRUE(WaitHealthy(base(), 6, std::chrono::seconds(30))) << up.Log();
  Probe p = ProbeCluster(base(), 6);
  EXPECT_EQ(std::set<std::string>(p.ids.begin(), p.ids.end()).size(), 6u);
  EXPECT_THAT(up.Log(), HasSubstr("RESET HARD"));
  up.Stop();
}

TEST_F(UpTest, StopsWhenNodesWithDataShareANodeId) {
  std::string spec = WriteSpec(dir_.path(), Spec(3, 0));
  {
    Up up(spec, dir_.path(), api_.base());
    ASSERT_TRUE(WaitHealthy(base(), 3, std::chrono::seconds(30))) << up.Log();
    up.Stop();
  }
  ASSERT_EQ(Slotkeeper({"down", "-f", spec}, dir_.path()).exit_code, 0);
  CopyNodesConf(NodeDir(0), base(), NodeDir(1), base() + 1);
  // A cluster this state dir managed before is not given up when it is blocked: `up` keeps
  // serving, says why through the status (so that a person can act, e.g. recover-slots), and
  // keeps every file and its record of the cluster.
  Up up(spec, dir_.path(), api_.base());
  std::string got;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        got = HttpRequest(api_.base(), "GET", "/api/v1/clusters/t");
        return got.find("\"phase\":\"Degraded\"") != std::string::npos &&
               got.find("same node ID") != std::string::npos &&
               up.Log().find("needs a person") != std::string::npos;
      },
      std::chrono::seconds(30), "blocked status", [&] { return got + up.Log(); }));
  EXPECT_TRUE(up.Alive());
  EXPECT_THAT(up.Log(), HasSubstr("needs a person"));
  EXPECT_TRUE(Exists(NodeDir(1) + "/nodes-" + std::to_string(base() + 1) + ".conf"));
  EXPECT_TRUE(Exists(dir_.Sub("state") + "/clusters/t/spec.json"));
  EXPECT_EQ(up.Stop(), 0);
  EXPECT_TRUE(Exists(dir_.Sub("state") + "/clusters/t/spec.json"));
}

TEST_F(UpTest, GivesUpANewClusterItCannotFormAndLeavesNothingItStarted) {
  std::string spec = WriteSpec(dir_.path(), Spec(3, 0));
  // Nodes that share one node ID and both serve a slot (a copied nodes-<port>.conf), and no
  // record of the cluster: a new cluster that needs a person.
  {
    testing::RedisProcess seed(base(), NodeDir(0));
    ASSERT_GT(seed.pid(), 0);
    ASSERT_EQ(RedisCmd(base(), {"CLUSTER", "ADDSLOTS", "1"}), "OK");
  }
  std::filesystem::create_directories(NodeDir(1));
  CopyNodesConf(NodeDir(0), base(), NodeDir(1), base() + 1);
  Up up(spec, dir_.path(), api_.base());
  ASSERT_TRUE(testing::WaitFor([&] { return !up.Alive(); }, std::chrono::seconds(30), "up gives up",
                               [&] { return up.Log(); }));
  EXPECT_EQ(up.ExitCode(), 1);
  // Which refusal comes first depends on whether t-1 answers in the first pass: the shared ID,
  // or t-0 serving a slot without ever having been part of this cluster. Both stop it.
  EXPECT_THAT(up.Log(), ::testing::AnyOf(HasSubstr("same node ID"),
                                         HasSubstr("was never part of cluster t")));
  // It stops the nodes it started, keeps every file and forgets the state it created.
  EXPECT_EQ(RedisCmd(base(), {"PING"}).rfind("CONNFAIL", 0), 0u);
  EXPECT_TRUE(Exists(NodeDir(1) + "/nodes-" + std::to_string(base() + 1) + ".conf"));
  EXPECT_FALSE(Exists(dir_.Sub("state") + "/clusters/t/spec.json"));
}

TEST_F(UpTest, RefusesANodeThatBelongsToAnotherCluster) {
  std::string spec = WriteSpec(dir_.path(), Spec(3, 0));
  {
    Up up(spec, dir_.path(), api_.base());
    ASSERT_TRUE(WaitHealthy(base(), 3, std::chrono::seconds(30))) << up.Log();
    up.Stop();
  }
  PortLease other(1);
  testing::RedisProcess stranger(other.base(), dir_.Sub("stranger"));
  ASSERT_EQ(RedisCmd(base() + 2, {"CLUSTER", "MEET", "127.0.0.1", std::to_string(other.base())}),
            "OK");
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return RedisCmd(base() + 2, {"CLUSTER", "NODES"})
                       .find(":" + std::to_string(other.base()) + "@") != std::string::npos &&
               RedisCmd(base() + 2, {"CLUSTER", "NODES"}).find("handshake") == std::string::npos;
      },
      std::chrono::seconds(10), "stranger met"));
  Up up(spec, dir_.path(), api_.base());
  ASSERT_TRUE(testing::WaitFor(
      [&] { return up.Log().find("belongs to another cluster") != std::string::npos; },
      std::chrono::seconds(30), "up refuses to merge", [&] { return up.Log(); }));
  EXPECT_THAT(up.Log(), HasSubstr("127.0.0.1:" + std::to_string(other.base())));
  // A cluster managed before keeps being served (blocked, with the reason in its status).
  std::string got = HttpRequest(api_.base(), "GET", "/api/v1/clusters/t");
  EXPECT_THAT(got, HasSubstr("belongs to another cluster"));
  EXPECT_TRUE(up.Alive());
  // Adopted nodes are left as they were: nothing reset, nothing stopped.
  EXPECT_EQ(RedisCmd(base(), {"PING"}), "PONG");
  EXPECT_TRUE(stranger.Alive());
  EXPECT_EQ(up.Stop(), 0);
}

TEST_F(UpTest, AppliesChangedSettingsToRunningNodes) {
  SpecOptions o = Spec(3, 1);
  o.redis_yaml = "    maxmemory: 64mb\n";
  std::string spec = WriteSpec(dir_.path(), o);
  {
    Up up(spec, dir_.path(), api_.base());
    ASSERT_TRUE(WaitHealthy(base(), 6, std::chrono::seconds(30))) << up.Log();
    up.Stop();
  }
  o.redis_yaml = "    maxmemory: 128mb\n";
  // databases cannot change at runtime: it waits for a restart instead of blocking the rest.
  o.config_yaml = "      maxmemory-policy: allkeys-lru\n      databases: 32\n";
  WriteSpec(dir_.path(), o);
  Up up(spec, dir_.path(), api_.base());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        for (int i = 0; i < 6; ++i) {
          if (RedisCmd(base() + i, {"CONFIG", "GET", "maxmemory"}) != "maxmemory\n134217728" ||
              RedisCmd(base() + i, {"CONFIG", "GET", "maxmemory-policy"}) !=
                  "maxmemory-policy\nallkeys-lru") {
            return false;
          }
        }
        return true;
      },
      std::chrono::seconds(20), "new settings on every node", [&] { return up.Log(); }));
  EXPECT_THAT(ReadAll(NodeDir(0) + "/redis.conf"), HasSubstr("maxmemory-policy allkeys-lru"));
  EXPECT_THAT(ReadAll(NodeDir(0) + "/redis.conf"), HasSubstr("databases 32"));
  ASSERT_TRUE(testing::WaitFor([&] { return up.Log().find("is ready") != std::string::npos; },
                               std::chrono::seconds(20), "ready despite an immutable setting",
                               [&] { return up.Log(); }));
  EXPECT_THAT(up.Log(), HasSubstr("databases cannot change while a node runs"));
  up.Stop();
}

TEST_F(UpTest, BadInputChangesNothing) {
  SpecOptions o = Spec(3, 1);
  // Malformed YAML, too few masters, unknown field: exit 2, nothing created.
  std::string bad = dir_.Sub("bad.yaml");
  std::ofstream(bad)
      << "apiVersion: slotkeeper.io/v1alpha1\nkind: RedisCluster\nmetadata: {name: t\nspec: [";
  auto r = Slotkeeper({"up", "-f", bad, "--api", "127.0.0.1:" + std::to_string(api_.base())},
                      dir_.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  o.masters = 2;
  r = Slotkeeper({"up", "-f", WriteSpec(dir_.path(), o, "two.yaml"), "--api",
                  "127.0.0.1:" + std::to_string(api_.base())},
                 dir_.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("spec.masters"));
  EXPECT_FALSE(Exists(data_));
  // A port taken by a stranger: exit 1 naming it, no node started.
  o.masters = 3;
  std::string spec = WriteSpec(dir_.path(), o);
  // The API on a node's port.
  r = Slotkeeper({"up", "-f", WriteSpec(dir_.path(), o, "api.yaml"), "--api",
                  "127.0.0.1:" + std::to_string(base() + 2)},
                 dir_.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("collides with the port of node t-2"));

  {
    testing::RedisProcess squatter(base() + 1, dir_.Sub("squatter"), /*cluster=*/false);
    r = Slotkeeper({"up", "-f", spec, "--api", "127.0.0.1:" + std::to_string(api_.base())},
                   dir_.path());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr(std::to_string(base() + 1)));
    EXPECT_EQ(RedisCmd(base(), {"PING"}).rfind("CONNFAIL", 0), 0u) << "nothing may start";
    EXPECT_FALSE(Exists(data_)) << "a refused up creates nothing";
  }
  // redis-server missing.
  r = testing::RunCommand({testing::BinaryPath("slotkeeper"), "up", "-f", spec, "--api",
                           "127.0.0.1:" + std::to_string(api_.base())},
                          std::chrono::seconds(30), dir_.path(),
                          {{"SLOTKEEPER_REDIS_SERVER", "/nonexistent/redis-server"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("redis-server"));
  // A data dir that cannot be written.
  o.data_dir = "/proc/slotkeeper-cannot-write";
  r = Slotkeeper({"up", "-f", WriteSpec(dir_.path(), o, "nowrite.yaml"), "--api",
                  "127.0.0.1:" + std::to_string(api_.base())},
                 dir_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("/proc/slotkeeper-cannot-write"));
  EXPECT_EQ(RedisCmd(base(), {"PING"}).rfind("CONNFAIL", 0), 0u);
}

// Nodes that a crashed earlier run left half-formed: one master has part of its slots and
// knows one peer. `up` adopts them and completes the cluster without touching what is there.
TEST_F(UpTest, CompletesAHalfFormedCluster) {
  std::string spec = WriteSpec(dir_.path(), Spec(3, 1));
  ASSERT_EQ(Slotkeeper({"render", "-f", spec, "--out", data_}, dir_.path()).exit_code, 0);
  std::vector<std::unique_ptr<testing::Background>> nodes;
  for (int i = 0; i < 6; ++i) {
    // Started from its own dir with its rendered config: exactly what `up` would have run.
    nodes.push_back(std::make_unique<testing::Background>(
        std::vector<std::string>{"/usr/bin/redis-server", NodeDir(i) + "/redis.conf"},
        dir_.Sub("node" + std::to_string(i) + ".out"), NodeDir(i)));
  }
  ASSERT_TRUE(testing::WaitFor([&] { return RedisCmd(base() + 5, {"PING"}) == "PONG"; },
                               std::chrono::seconds(10), "nodes answer"));
  ASSERT_EQ(RedisCmd(base(), {"CLUSTER", "ADDSLOTSRANGE", "0", "1000"}), "OK");
  ASSERT_EQ(RedisCmd(base(), {"CLUSTER", "MEET", "127.0.0.1", std::to_string(base() + 1)}), "OK");
  std::string id0 = RedisCmd(base(), {"CLUSTER", "MYID"});
  Up up(spec, dir_.path(), api_.base(), {"--log-format", "json"});
  ASSERT_TRUE(WaitHealthy(base(), 6, std::chrono::seconds(30))) << up.Log();
  EXPECT_THAT(up.Log(), HasSubstr("0 started, 6 adopted"));
  EXPECT_EQ(RedisCmd(base(), {"CLUSTER", "MYID"}), id0) << "the node was kept, not reset";
  EXPECT_THAT(OwnSlots(base()), ::testing::ElementsAre("0-5460"));
  // --log-format json: one JSON object per line.
  std::istringstream lines(up.Log());
  int json_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    // stdout's one human line ("cluster t is ready: ...") shares the file with stderr.
    if (line.empty() || line.rfind("cluster t is ready", 0) == 0) continue;
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_THAT(line, HasSubstr("\"level\":"));
    json_lines++;
  }
  EXPECT_GT(json_lines, 3);
  up.Stop();
}

// The whole machine "reboots": every node stopped with its data; the next `up` starts them
// from their files and the cluster comes back with its node IDs and every key.
TEST_F(UpTest, RestartsAStoppedClusterWithItsData) {
  std::string spec = WriteSpec(dir_.path(), Spec(3, 1));
  std::vector<std::string> ids;
  {
    Up up(spec, dir_.path(), api_.base());
    ASSERT_TRUE(WaitHealthy(base(), 6, std::chrono::seconds(30))) << up.Log();
    for (int i = 0; i < 200; ++i) {
      ASSERT_EQ(ClusterCmd(base(), {"SET", "key:" + std::to_string(i), "v" + std::to_string(i)}),
                "OK");
    }
    ids = ProbeCluster(base(), 6).ids;
    up.Stop();
  }
  ASSERT_EQ(Slotkeeper({"down", "-f", spec}, dir_.path()).exit_code, 0);
  ASSERT_EQ(RedisCmd(base(), {"PING"}).rfind("CONNFAIL", 0), 0u);
  Up up(spec, dir_.path(), api_.base());
  ASSERT_TRUE(WaitHealthy(base(), 6, std::chrono::seconds(30))) << up.Log();
  EXPECT_EQ(ProbeCluster(base(), 6).ids, ids);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(ClusterCmd(base(), {"GET", "key:" + std::to_string(i)}), "v" + std::to_string(i));
  }
  EXPECT_THAT(up.Log(), ::testing::Not(HasSubstr("RESET")));
  up.Stop();
}

// Every node comes back on a new address (here: a new bind). Their nodes-<port>.conf still
// name the old addresses; slotkeeper rewrites them by node ID, and the cluster returns with
// its data instead of nobody reaching anybody (redis#4645).
TEST_F(UpTest, ComesBackWhenEveryNodeMovesToANewAddress) {
  SpecOptions o = Spec(3, 1);
  std::string spec = WriteSpec(dir_.path(), o);
  std::vector<std::string> ids;
  {
    Up up(spec, dir_.path(), api_.base());
    ASSERT_TRUE(WaitHealthy(base(), 6, std::chrono::seconds(30))) << up.Log();
    for (int i = 0; i < 100; ++i) {
      ASSERT_EQ(ClusterCmd(base(), {"SET", "m" + std::to_string(i), "x"}), "OK");
    }
    ids = ProbeCluster(base(), 6).ids;
    up.Stop();
  }
  ASSERT_EQ(Slotkeeper({"down", "-f", spec}, dir_.path()).exit_code, 0);
  o.bind = "127.0.0.2";
  WriteSpec(dir_.path(), o);
  Up up(spec, dir_.path(), api_.base());
  ASSERT_TRUE(WaitHealthy(base(), 6, std::chrono::seconds(30), "", "127.0.0.2")) << up.Log();
  EXPECT_EQ(ProbeCluster(base(), 6, "", "127.0.0.2").ids, ids);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(ClusterCmd(base(), {"GET", "m" + std::to_string(i)}, "", "127.0.0.2"), "x");
  }
  EXPECT_THAT(RedisCmd(base(), {"CLUSTER", "NODES"}, "", "127.0.0.2"),
              ::testing::Not(HasSubstr("127.0.0.1:")));
  up.Stop();
  Slotkeeper({"down", "-f", spec}, dir_.path());
}

TEST_F(UpTest, PlanIsADryRun) {
  std::string spec = WriteSpec(dir_.path(), Spec(3, 1));
  auto r = Slotkeeper({"plan", "-f", spec, "--state-dir", dir_.Sub("state")}, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("START t-0"));
  EXPECT_THAT(r.out, HasSubstr("SET-CONFIG-EPOCH 1 on t-0"));
  EXPECT_THAT(r.out, HasSubstr("CLUSTER MEET"));
  EXPECT_THAT(r.out, HasSubstr("CLUSTER REPLICATE"));
  EXPECT_FALSE(Exists(data_)) << "plan must not write anything";
  EXPECT_EQ(RedisCmd(base(), {"PING"}).rfind("CONNFAIL", 0), 0u);
}

}  // namespace
}  // namespace sk::e2e
