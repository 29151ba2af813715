// The fixtures themselves: port leases, child processes with captured output, redis-server
// processes and the RESP helper.
#include "tests/support/support.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace sk::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

// When re-executed with SK_SUPPORT_CHILD set, this binary acts as a scripted child process
// (before gtest starts): "<out_bytes> <err_bytes> <exit_code>" writes that many bytes to
// stdout and stderr, interleaved in chunks, prints $SK_CHILD_NOTE, then exits.
const bool kChildMode = [] {
  const char* mode = std::getenv("SK_SUPPORT_CHILD");
  if (mode == nullptr) return false;
  long out_bytes = 0;
  long err_bytes = 0;
  int code = 0;
  if (std::sscanf(mode, "%ld %ld %d", &out_bytes, &err_bytes, &code) != 3) _exit(100);
  const std::string chunk(4096, 'o');
  const std::string echunk(4096, 'e');
  while (out_bytes > 0 || err_bytes > 0) {
    if (out_bytes > 0) {
      long n = std::min<long>(out_bytes, 4096);
      if (write(1, chunk.data(), static_cast<size_t>(n)) != n) _exit(101);
      out_bytes -= n;
    }
    if (err_bytes > 0) {
      long n = std::min<long>(err_bytes, 4096);
      if (write(2, echunk.data(), static_cast<size_t>(n)) != n) _exit(102);
      err_bytes -= n;
    }
  }
  if (const char* note = std::getenv("SK_CHILD_NOTE")) {
    std::string s = std::string("note=") + note + "\n";
    if (write(1, s.data(), s.size()) < 0) _exit(103);
  }
  _exit(code);
}();

std::string Self() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

bool LockIsHeld(int port) {
  std::string path = "/tmp/slotkeeper-test-ports/" + std::to_string(port) + ".lock";
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  bool held = flock(fd, LOCK_EX | LOCK_NB) != 0;
  close(fd);
  return held;
}

TEST(PortLeaseTest, TwoLeasesGetDisjointRangesInTheSafeWindow) {
  PortLease a(6);
  PortLease b(6);
  ASSERT_GT(a.base(), 0);
  ASSERT_GT(b.base(), 0);
  EXPECT_EQ(a.count(), 6);
  EXPECT_TRUE(a.base() + 6 <= b.base() || b.base() + 6 <= a.base())
      << a.base() << " vs " << b.base();
  for (const PortLease* l : {&a, &b}) {
    EXPECT_GE(l->base(), 12000);
    EXPECT_LE(l->base() + l->count() - 1 + 10000, 32767) << "bus port in the ephemeral range";
    for (int p = l->base(); p < l->base() + l->count(); ++p) EXPECT_TRUE(LockIsHeld(p)) << p;
  }
}

TEST(PortLeaseTest, LocksAreReleasedOnDestructionAndFollowAMove) {
  int base = 0;
  {
    PortLease a(3);
    base = a.base();
    PortLease moved(std::move(a));
    EXPECT_EQ(moved.base(), base);
    EXPECT_EQ(a.base(), 0);  // NOLINT(bugprone-use-after-move): documented moved-from state
    EXPECT_TRUE(LockIsHeld(base + 2));
  }
  EXPECT_FALSE(LockIsHeld(base));
  EXPECT_FALSE(LockIsHeld(base + 2));
}

TEST(RunCommandTest, CapturesStdoutStderrAndExitCode) {
  CommandResult r = RunCommand({Self()}, 30s, "", {{"SK_SUPPORT_CHILD", "10 5 3"}});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, std::string(10, 'o'));
  EXPECT_EQ(r.err, std::string(5, 'e'));
}

TEST(RunCommandTest, LargeOutputOnBothPipesDoesNotDeadlock) {
  // Far more than a pipe buffer (64 KiB) on each stream.
  CommandResult r = RunCommand({Self()}, 30s, "",
                               {{"SK_SUPPORT_CHILD", "3000000 2000000 0"}, {"SK_CHILD_NOTE", "x"}});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.size(), 3000000u + 7u);
  EXPECT_EQ(r.err.size(), 2000000u);
  EXPECT_THAT(r.out, ::testing::EndsWith("note=x\n"));
}

TEST(RunCommandTest, EnvAdditionsReachTheChild) {
  CommandResult r =
      RunCommand({Self()}, 30s, "", {{"SK_SUPPORT_CHILD", "0 0 0"}, {"SK_CHILD_NOTE", "a b=c"}});
  EXPECT_EQ(r.out, "note=a b=c\n");
}

TEST(RunCommandTest, CwdAndPathLookup) {
  CommandResult r = RunCommand({"pwd"}, 30s, "/tmp");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "/tmp\n");
}

TEST(RunCommandTest, NonZeroExitAndStderr) {
  CommandResult r = RunCommand({"ls", "/nonexistent-slotkeeper-path"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("nonexistent-slotkeeper-path"));
}

TEST(RunCommandTest, TimeoutKillsTheChild) {
  auto t0 = std::chrono::steady_clock::now();
  CommandResult r = RunCommand({"sleep", "30"}, 300ms);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(RunCommandTest, MissingProgramIsReported) {
  CommandResult r = RunCommand({"/nonexistent/program"});
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_THAT(r.err, HasSubstr("cannot execute /nonexistent/program"));
}

TEST(BackgroundTest, LogsBothStreamsAndReportsExitCode) {
  TempDir dir;
  std::string log = dir.Sub("child.log");
  setenv("SK_SUPPORT_CHILD", "3 2 7", 1);
  Background bg({Self()}, log);
  unsetenv("SK_SUPPORT_CHILD");
  ASSERT_GT(bg.pid(), 0);
  WaitFor([&] { return !bg.Alive(); }, 10s, "child to exit");
  EXPECT_EQ(bg.ExitCode(), 7);
  EXPECT_EQ(bg.Stop(), 7);
  std::string text = bg.Log();
  EXPECT_EQ(std::count(text.begin(), text.end(), 'o'), 3);
  EXPECT_EQ(std::count(text.begin(), text.end(), 'e'), 2);
}

TEST(BackgroundTest, StopTerminatesALongRunningChild) {
  TempDir dir;
  Background bg({"sleep", "60"}, dir.Sub("sleep.log"), "/tmp");
  ASSERT_GT(bg.pid(), 0);
  EXPECT_TRUE(bg.Alive());
  EXPECT_EQ(bg.ExitCode(), std::nullopt);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(bg.Stop(5s), -1);  // ended by SIGTERM
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  EXPECT_FALSE(bg.Alive());
  EXPECT_NE(kill(bg.pid(), 0), 0) << "the child must be reaped";
}

TEST(TempDirTest, RemovedWithContents) {
  std::string path;
  {
    TempDir d;
    path = d.path();
    ASSERT_TRUE(std::filesystem::is_directory(path));
    std::ofstream(d.Sub("f")) << "x";
    std::filesystem::create_directories(d.Sub("a/b"));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(RedisProcessTest, StartsAnswersAndIsKilledByPid) {
  PortLease lease(1);
  TempDir dir;
  int pid = 0;
  {
    RedisProcess r(lease.base(), dir.path(), /*cluster=*/false);
    pid = r.pid();
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(r.Alive());
    EXPECT_EQ(RedisCmd(lease.base(), {"SET", "k", std::string("v\r\n\0x", 5)}), "OK");
    EXPECT_EQ(RedisCmd(lease.base(), {"GET", "k"}), std::string("v\r\n\0x", 5));
    EXPECT_EQ(RedisCmd(lease.base(), {"INCR", "n"}), "1");
    EXPECT_EQ(RedisCmd(lease.base(), {"GET", "missing"}), "(nil)");
    EXPECT_THAT(RedisCmd(lease.base(), {"NOSUCH"}), StartsWith("ERR:ERR unknown command"));
    EXPECT_EQ(RedisCmd(lease.base(), {"RPUSH", "l", "a", "b"}), "2");
    EXPECT_EQ(RedisCmd(lease.base(), {"LRANGE", "l", "0", "-1"}), "a\nb");
    auto info = ParseInfoText(RedisCmd(lease.base(), {"INFO", "server"}));
    EXPECT_EQ(info["tcp_port"], std::to_string(lease.base()));
    EXPECT_TRUE(std::filesystem::exists(dir.Sub("redis-" + std::to_string(lease.base()) + ".log")));
  }
  EXPECT_NE(kill(pid, 0), 0) << "redis-server " << pid << " still exists";
  EXPECT_THAT(RedisCmd(lease.base(), {"PING"}), StartsWith("CONNFAIL:"));
}

TEST(RedisProcessTest, ClusterModeAndStopContinue) {
  PortLease lease(1);
  TempDir dir;
  RedisProcess r(lease.base(), dir.path());
  ASSERT_GT(r.pid(), 0);
  EXPECT_EQ(ParseInfoText(RedisCmd(lease.base(), {"CLUSTER", "INFO"}))["cluster_state"], "fail");
  r.Kill(SIGSTOP);
  EXPECT_TRUE(r.Alive());
  r.Kill(SIGCONT);
  EXPECT_EQ(RedisCmd(lease.base(), {"PING"}), "PONG");
  r.Kill();
  EXPECT_FALSE(r.Alive());
}

TEST(RedisProcessTest, PasswordedRedisCmd) {
  PortLease lease(1);
  TempDir dir;
  RedisProcess r(lease.base(), dir.path(), false, {"--requirepass", "pw1"});
  ASSERT_GT(r.pid(), 0);
  EXPECT_EQ(RedisCmd(lease.base(), {"PING"}, "pw1"), "PONG");
  EXPECT_THAT(RedisCmd(lease.base(), {"PING"}), StartsWith("ERR:NOAUTH"));
  EXPECT_THAT(RedisCmd(lease.base(), {"PING"}, "bad"), StartsWith("ERR:WRONGPASS"));
}

TEST(WaitForTest, ReturnsTrueAsSoonAsThePredicateHolds) {
  int calls = 0;
  EXPECT_TRUE(WaitFor([&] { return ++calls == 3; }, 5s, "third call"));
  EXPECT_EQ(calls, 3);
}

TEST(PathsTest, PointIntoTheTrees) {
  EXPECT_TRUE(std::filesystem::exists(SourcePath("tests/support/support.h")));
  EXPECT_TRUE(std::filesystem::exists(BinaryPath("CMakeCache.txt")));
}

TEST(PathsTest, FallBackToTheBuildTreeAboveTheCwd) {
  // ctest runs each test in its binary subdirectory of the build tree.
  const char* bin = std::getenv("SK_BINARY_DIR");
  const char* src = std::getenv("SK_SOURCE_DIR");
  std::string saved_bin = bin ? bin : "";
  std::string saved_src = src ? src : "";
  unsetenv("SK_BINARY_DIR");
  unsetenv("SK_SOURCE_DIR");
  std::string cache = BinaryPath("CMakeCache.txt");
  std::string header = SourcePath("tests/support/support.h");
  if (bin) setenv("SK_BINARY_DIR", saved_bin.c_str(), 1);
  if (src) setenv("SK_SOURCE_DIR", saved_src.c_str(), 1);
  EXPECT_TRUE(std::filesystem::exists(cache)) << cache;
  EXPECT_TRUE(std::filesystem::exists(header)) << header;
}

}  // namespace
}  // namespace sk::testing
