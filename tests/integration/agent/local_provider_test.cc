// LocalProvider end to end with real redis-server processes on leased ports in a temp dir.
// Every process is stopped by PID; TearDown fails the test (and kills by PID) if any
// process still works inside this test's directory.
#include "agent/supervise/local_provider.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "agent/supervise/local_checks.h"
#include "agent/supervise/process.h"
#include "api/types/files.h"
#include "tests/support/support.h"

namespace sk::agent {
namespace {

using sk::testing::PortLease;
using sk::testing::RedisCmd;
using sk::testing::TempDir;
using sk::testing::WaitFor;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr milliseconds kReady{15000};
const char* const kPassword = "pa ss\"wörd";

// PIDs of processes whose working directory lies under `dir`.
std::vector<int> ProcessesUnder(const std::string& dir) {
  std::vector<int> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0 || pid == getpid()) continue;
    std::string cwd = ProcessCwd(pid);
    if (cwd == dir || cwd.rfind(dir + "/", 0) == 0) out.push_back(pid);
  }
  closedir(d);
  return out;
}

unsigned ModeOf(const std::string& path) {
  struct stat sb {};
  if (stat(path.c_str(), &sb) != 0) return 0;
  return sb.st_mode & 07777;
}

// A TCP listener held by the test: "another process" from the provider's point of view.
class Listener {
 public:
  explicit Listener(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(fd_, 4) == 0;
  }
  ~Listener() { close(fd_); }
  bool ok() const { return ok_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

class LocalProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_.name = "lp";
    spec_.masters = 3;
    spec_.replicas_per_master = 0;
    spec_.redis.node_timeout_ms = 2000;
    spec_.local.bind = "127.0.0.1";
    spec_.local.base_port = lease_.base();
    spec_.local.data_dir = tmp_.Sub("data");
    const char* env = std::getenv("SLOTKEEPER_REDIS_SERVER");
    opts_.redis_server = env && *env ? env : "redis-server";
    opts_.password = kPassword;
    opts_.stop_grace = milliseconds(5000);
    opts_.supervisor.min_backoff = milliseconds(100);
  }
  void TearDown() override {
    std::vector<int> left = ProcessesUnder(tmp_.path());
    for (int pid : left) {
      ADD_FAILURE() << "process " << pid << " still runs in " << tmp_.path();
      EXPECT_TRUE(TerminateProcess(pid, milliseconds(2000)).ok());
    }
  }
  std::string NodeDir(int i) const {
    return tmp_.Sub("data") + "/lp/" + std::to_string(lease_.base() + i);
  }

  PortLease lease_{3};
  TempDir tmp_;
  ClusterSpec spec_;
  LocalOptions opts_;
};

TEST_F(LocalProviderTest, LaunchAdoptRestartStopAndPurge) {
  auto p1 = std::make_unique<LocalProvider>(spec_, opts_);
  Status prepared = p1->Prepare();
  ASSERT_TRUE(prepared.ok()) << prepared.error().ToString();
  Status launched = p1->Launch(kReady);
  ASSERT_TRUE(launched.ok()) << launched.error().ToString();
  EXPECT_EQ(p1->StartedThisRun(), (std::vector<std::string>{"lp-0", "lp-1", "lp-2"}));
  EXPECT_TRUE(p1->version().AtLeast(2, 0));

  std::vector<NodeRuntime> nodes = p1->Nodes();
  ASSERT_EQ(nodes.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const int port = lease_.base() + i;
    const std::string dir = NodeDir(i), p = std::to_string(port);
    EXPECT_EQ(nodes[i].name, "lp-" + std::to_string(i));
    EXPECT_EQ(nodes[i].ep.port, port);
    EXPECT_EQ(nodes[i].host, "127.0.0.1");
    EXPECT_TRUE(nodes[i].running);
    EXPECT_FALSE(nodes[i].adopted);
    EXPECT_EQ(ProcessCwd(nodes[i].pid), dir);
    EXPECT_EQ(RedisCmd(port, {"PING"}, kPassword), "PONG");
    EXPECT_THAT(RedisCmd(port, {"PING"}), HasSubstr("NOAUTH"));
    EXPECT_EQ(RedisCmd(port, {"SAVE"}, kPassword), "OK");
    EXPECT_EQ(ModeOf(dir + "/redis.conf"), 0600u);
    EXPECT_EQ(ModeOf(dir), 0700u);
    WaitFor([&] { return std::filesystem::exists(dir + "/redis-" + p + ".pid"); },
            milliseconds(5000), "pid file");
    for (const std::string& f : {"nodes-" + p + ".conf", "appendonlydir-" + p, "dump-" + p + ".rdb",
                                 "redis-" + p + ".log"}) {
      EXPECT_TRUE(std::filesystem::exists(dir + "/" + f)) << f;
    }
    EXPECT_TRUE(std::filesystem::exists(dir + "/appendonlydir-" + p + "/appendonly-" + p +
                                        ".aof.1.base.rdb"));
    // The password lives only in the 0600 file, never on a command line.
    std::ifstream cmdline("/proc/" + std::to_string(nodes[i].pid) + "/cmdline");
    std::string args((std::istreambuf_iterator<char>(cmdline)), {});
    EXPECT_THAT(args, Not(HasSubstr("wörd")));
  }
  std::vector<RunningNode> running = FindRunningNodes(spec_);
  ASSERT_EQ(running.size(), 3u);
  EXPECT_EQ(running[1].pid, nodes[1].pid);

  // While it lives, no second provider may run the same cluster: its data dir is locked
  // before anything is written (two controllers must never act on one cluster).
  {
    LocalProvider rival(spec_, opts_);
    Status refused = rival.Prepare();
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code(), Code::kFailedPrecondition);
    EXPECT_THAT(refused.error().message(), HasSubstr("already managed by a running slotkeeper"));
    EXPECT_THAT(refused.error().message(), HasSubstr("pid " + std::to_string(::getpid())));
  }
  // Once it is gone (its nodes keep running), a new provider adopts them.
  p1.reset();
  p1 = std::make_unique<LocalProvider>(spec_, opts_);
  ASSERT_TRUE(p1->Prepare().ok());
  ASSERT_TRUE(p1->Launch(kReady).ok());
  EXPECT_TRUE(p1->StartedThisRun().empty());
  {
    std::vector<NodeRuntime> adopted = p1->Nodes();
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(adopted[i].pid, nodes[i].pid);
      EXPECT_TRUE(adopted[i].adopted);
    }
  }

  // A killed node is restarted by its supervisor and the exit is reported, to the
  // provider's own callback and to one added by the caller.
  std::atomic<int> seen{0};
  p1->supervisor().OnExit([&](const std::string& name, const Supervisor::State& st) {
    if (name == "lp-0" && st.last_exit == "killed by signal 9") ++seen;
  });
  ASSERT_EQ(kill(nodes[0].pid, SIGKILL), 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        NodeRuntime n = p1->Nodes()[0];
        return n.running && n.pid != nodes[0].pid &&
               RedisCmd(n.ep.port, {"PING"}, kPassword) == "PONG";
      },
      kReady, "lp-0 restarted"));
  NodeRuntime again = p1->Nodes()[0];
  EXPECT_EQ(again.restarts, 1);
  EXPECT_THAT(again.last_exit, HasSubstr("killed by signal 9 at "));
  EXPECT_EQ(seen.load(), 1);

  // StopNode keeps it stopped; StartNode brings it back.
  ASSERT_TRUE(p1->StopNode("lp-1").ok());
  EXPECT_FALSE(ProcessAlive(nodes[1].pid));
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_FALSE(p1->Nodes()[1].running);
  ASSERT_TRUE(p1->StartNode("lp-1").ok());
  EXPECT_TRUE(p1->Nodes()[1].running);
  // Its pid file appears once it runs; `down` finds nodes by pid file.
  ASSERT_TRUE(WaitFor([&] { return FindRunningNodes(spec_).size() == 3; }, kReady, "lp-1 up"));
  EXPECT_EQ(p1->StartNode("lp-9").error().code(), Code::kNotFound);

  // `down --purge`: the supervisor must let go first, or it would restart the nodes.
  std::vector<int> pids;
  for (const NodeRuntime& n : p1->Nodes()) pids.push_back(n.pid);
  p1.reset();
  Status down = StopLocalCluster(spec_, /*purge=*/true, milliseconds(5000));
  ASSERT_TRUE(down.ok()) << down.error().ToString();
  for (int pid : pids) EXPECT_FALSE(ProcessAlive(pid)) << pid;
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("data") + "/lp"));
  EXPECT_TRUE(FindRunningNodes(spec_).empty());
}

TEST_F(LocalProviderTest, ForeignListenersAreReportedByNodeAndPort) {
  Listener client(lease_.base() + 1);
  Listener bus(lease_.base() + 2 + 10000);
  ASSERT_TRUE(client.ok() && bus.ok());
  LocalProvider p(spec_, opts_);
  Status st = p.Prepare();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kFailedPrecondition);
  const std::string c = std::to_string(lease_.base() + 1);
  const std::string b = std::to_string(lease_.base() + 2 + 10000);
  EXPECT_THAT(st.error().message(),
              HasSubstr("port " + c + " of node lp-1 is in use by another process"));
  EXPECT_THAT(st.error().message(), HasSubstr("; bus port " + b + " of node lp-2 is in use"));
  EXPECT_THAT(st.error().message(), Not(HasSubstr("lp-0")));
  EXPECT_FALSE(p.Launch(kReady).ok()) << "Launch needs a successful Prepare";
  EXPECT_FALSE(std::filesystem::exists(NodeDir(0) + "/redis.conf"));
}

TEST_F(LocalProviderTest, BusPortInTheEphemeralRangeGetsAHint) {
  auto range = EphemeralPortRange();
  if (!range) GTEST_SKIP() << "no ip_local_port_range";
  // Hold a port inside the ephemeral range and make it node 0's bus port.
  int held = range->first + 500;
  std::unique_ptr<Listener> l;
  for (; held < range->second; held += 97) {
    l = std::make_unique<Listener>(held);
    if (l->ok() && PortBindError("127.0.0.1", held - 10000) == 0) break;
  }
  ASSERT_TRUE(l && l->ok());
  spec_.local.base_port = held - 10000;
  LocalProvider p(spec_, opts_);
  Status st = p.Prepare();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message(), HasSubstr("bus port " + std::to_string(held) +
                                              " of node lp-0 is in use by another process"));
  EXPECT_THAT(st.error().message(), HasSubstr("ephemeral port range"));
  EXPECT_THAT(st.error().message(), HasSubstr("basePort"));
}

TEST_F(LocalProviderTest, RejectedDirectiveIsInvalidArgumentAndNothingStarts) {
  spec_.redis.config = {{"maxmemory-policy", "noeviction"}, {"no-such-directive", "1"}};
  LocalProvider p(spec_, opts_);
  Status st = p.Prepare();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kInvalidArgument);
  ASSERT_EQ(st.error().fields().size(), 1u);
  EXPECT_THAT(st.error().fields()[0],
              HasSubstr("spec.redis.config.no-such-directive: redis-server rejects "
                        "'no-such-directive 1': Bad directive"));
  EXPECT_THAT(st.error().message(), Not(HasSubstr("wörd")));
  EXPECT_FALSE(std::filesystem::exists(NodeDir(0) + "/redis.conf"));
  EXPECT_TRUE(ProcessesUnder(tmp_.path()).empty());

  spec_.redis.config.clear();
  spec_.redis.maxmemory = "lots";
  LocalProvider typed(spec_, opts_);
  st = typed.Prepare();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kInvalidArgument);
  EXPECT_THAT(st.error().message(), HasSubstr("spec.redis.maxmemory: redis-server rejects "
                                              "'maxmemory lots'"));
}

TEST_F(LocalProviderTest, EnvironmentProblems) {
  opts_.redis_server = "/nonexistent/redis-server";
  LocalProvider missing(spec_, opts_);
  Status st = missing.Prepare();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kFailedPrecondition);
  EXPECT_THAT(st.error().message(), HasSubstr("/nonexistent/redis-server"));

  SetUp();
  ASSERT_TRUE(WriteFileAtomic(tmp_.Sub("file"), "x", 0600).ok());
  spec_.local.data_dir = tmp_.Sub("file") + "/data";
  LocalProvider unwritable(spec_, opts_);
  st = unwritable.Prepare();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kFailedPrecondition);
  EXPECT_THAT(st.error().message(),
              HasSubstr("data dir " + tmp_.Sub("file") + "/data is not writable: Not a directory"));
}

TEST_F(LocalProviderTest, NodeThatDiesWhileStartingNamesItsLog) {
  LocalProvider p(spec_, opts_);
  ASSERT_TRUE(p.Prepare().ok());
  Listener squatter(lease_.base() + 1);  // taken after the check: redis-server cannot bind
  ASSERT_TRUE(squatter.ok());
  Status st = p.Launch(kReady);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kUnavailable);
  const std::string port = std::to_string(lease_.base() + 1);
  EXPECT_THAT(st.error().message(),
              HasSubstr("node lp-1 (port " + port + ") exited with status 1"));
  EXPECT_THAT(st.error().message(), HasSubstr("redis-" + port + ".log"));
  EXPECT_THAT(st.error().message(), HasSubstr("Address already in use"));
  p.StopStartedThisRun();
  EXPECT_TRUE(p.StartedThisRun().empty());
}

TEST_F(LocalProviderTest, RenderLocalClusterWritesEveryConfig) {
  Result<std::vector<std::string>> files =
      RenderLocalCluster(spec_, tmp_.Sub("out"), RedisVersion{7, 0, 15}, std::nullopt);
  ASSERT_TRUE(files.ok()) << files.error().ToString();
  ASSERT_EQ(files->size(), 3u);
  const std::string p = std::to_string(lease_.base() + 2);
  EXPECT_EQ((*files)[2], tmp_.Sub("out") + "/lp/" + p + "/redis.conf");
  EXPECT_EQ(ModeOf((*files)[2]), 0600u);
  EXPECT_THAT(ReadFile((*files)[2]).value(), HasSubstr("cluster-config-file nodes-" + p + ".conf"));
  EXPECT_THAT(ReadFile((*files)[2]).value(), Not(HasSubstr("requirepass")));
  EXPECT_TRUE(ProcessesUnder(tmp_.path()).empty());
}

}  // namespace
}  // namespace sk::agent
