// Process helpers, the Supervisor and atomic file writes, against real processes
// (/bin/sleep, /bin/false, /bin/sh). Every process started here is killed by PID.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/supervise/process.h"
#include "agent/supervise/supervisor.h"
#include "api/types/files.h"
#include "tests/support/support.h"

namespace sk::agent {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using sk::testing::TempDir;
using sk::testing::WaitFor;
using std::chrono::milliseconds;

SpawnSpec Cmd(std::vector<std::string> argv) {
  return SpawnSpec{.argv = std::move(argv), .cwd = "", .output_path = "", .stdin_data = ""};
}

// Records every exit the supervisor reports, with the time it was seen.
struct ExitLog {
  std::mutex mu;
  std::vector<std::pair<Clock::time_point, Supervisor::State>> exits;
  void Attach(Supervisor& s) {
    s.OnExit([this](const std::string&, const Supervisor::State& st) {
      std::lock_guard lock(mu);
      exits.emplace_back(Clock::now(), st);
    });
  }
  size_t Count() {
    std::lock_guard lock(mu);
    return exits.size();
  }
};

// A process that is not our child: sh starts sleep in the background and exits, so the
// sleep is reparented to init (or a subreaper).
int SpawnOrphanSleep() {
  Result<CaptureResult> r = RunCapture(
      Cmd({"/bin/sh", "-c", "sleep 30 </dev/null >/dev/null 2>&1 & echo $!"}), milliseconds(5000));
  if (!r.ok() || r->exit_status != 0) return 0;
  return std::atoi(r->output.c_str());
}

TEST(ProcessTest, FindExecutable) {
  Result<std::string> sh = FindExecutable("sh");
  ASSERT_TRUE(sh.ok()) << sh.error().ToString();
  EXPECT_EQ(sh->front(), '/');
  Result<std::string> missing = FindExecutable("/nonexistent/redis-server");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("SLOTKEEPER_REDIS_SERVER"));
  Result<std::string> none = FindExecutable("no-such-binary-slotkeeper");
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.error().message(),
              HasSubstr("no-such-binary-slotkeeper not found on PATH: install redis-server"));
}

TEST(ProcessTest, SpawnRunsInItsOwnSessionWithOutputAppended) {
  TempDir tmp;
  const std::string out = tmp.Sub("out.log");
  ASSERT_TRUE(WriteFileAtomic(out, "before\n", 0600).ok());
  Result<int> pid = Spawn(SpawnSpec{.argv = {"/bin/sh", "-c", "pwd; echo err >&2; exec sleep 30"},
                                    .cwd = tmp.path(),
                                    .output_path = out,
                                    .stdin_data = ""});
  ASSERT_TRUE(pid.ok()) << pid.error().ToString();
  EXPECT_EQ(getsid(*pid), *pid) << "a session of its own";
  EXPECT_TRUE(WaitFor([&] { return ReadFile(out).value().find("err") != std::string::npos; },
                      milliseconds(5000), "output appended"));
  EXPECT_EQ(ReadFile(out).value(), "before\n" + tmp.path() + "\nerr\n");
  EXPECT_EQ(ProcessCwd(*pid), tmp.path());
  EXPECT_TRUE(TerminateProcess(*pid, milliseconds(5000)).ok());

  const std::string fresh = tmp.Sub("fresh.log");
  Result<int> quick =
      Spawn(SpawnSpec{.argv = {"/bin/true"}, .cwd = "", .output_path = fresh, .stdin_data = ""});
  ASSERT_TRUE(quick.ok());
  int st = 0;
  ASSERT_EQ(waitpid(*quick, &st, 0), *quick);
  struct stat sb {};
  ASSERT_EQ(stat(fresh.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
  EXPECT_FALSE(Spawn(Cmd({"/nonexistent/binary"})).ok());
  EXPECT_FALSE(Spawn(SpawnSpec{.argv = {"/bin/true"},
                               .cwd = tmp.Sub("nodir"),
                               .output_path = "",
                               .stdin_data = ""})
                   .ok());
}

TEST(ProcessTest, RunCaptureFeedsStdinMatchesAndTimesOut) {
  Result<CaptureResult> cat = RunCapture(
      SpawnSpec{.argv = {"/bin/cat"}, .cwd = "", .output_path = "", .stdin_data = "hello\n"},
      milliseconds(5000));
  ASSERT_TRUE(cat.ok());
  EXPECT_EQ(cat->output, "hello\n");
  EXPECT_EQ(cat->exit_status, 0);
  EXPECT_FALSE(cat->matched);

  Result<CaptureResult> match =
      RunCapture(Cmd({"/bin/sh", "-c", "echo ready; exec sleep 30"}), milliseconds(5000), "ready");
  ASSERT_TRUE(match.ok());
  EXPECT_TRUE(match->matched);
  EXPECT_EQ(match->exit_status, -1);

  auto start = Clock::now();
  Result<CaptureResult> slow = RunCapture(Cmd({"/bin/sleep", "30"}), milliseconds(200));
  ASSERT_TRUE(slow.ok());
  EXPECT_FALSE(slow->matched);
  EXPECT_EQ(slow->exit_status, -1);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));

  Result<CaptureResult> fail =
      RunCapture(Cmd({"/bin/sh", "-c", "echo oops >&2; exit 3"}), milliseconds(5000));
  ASSERT_TRUE(fail.ok());
  EXPECT_EQ(fail->exit_status, 3);
  EXPECT_EQ(fail->output, "oops\n");
}

TEST(ProcessTest, TerminateProcess) {
  Result<int> pid = Spawn(Cmd({"/bin/sleep", "30"}));
  ASSERT_TRUE(pid.ok());
  ASSERT_TRUE(ProcessAlive(*pid));
  EXPECT_TRUE(TerminateProcess(*pid, milliseconds(5000)).ok());
  EXPECT_FALSE(ProcessAlive(*pid));
  int st = 0;
  EXPECT_EQ(waitpid(*pid, &st, WNOHANG), -1) << "TerminateProcess reaps its child";
  EXPECT_TRUE(TerminateProcess(*pid, milliseconds(100)).ok()) << "already gone is Ok";

  // Ignores SIGTERM: SIGKILL after the grace period.
  Result<int> stubborn = Spawn(Cmd({"/bin/sh", "-c", "trap '' TERM; exec sleep 30"}));
  ASSERT_TRUE(stubborn.ok());
  // Wait until sh has set the trap and exec'ed sleep (an ignored signal stays ignored across
  // exec); a fixed sleep is not enough on a loaded machine.
  auto comm = [&] {
    std::ifstream f("/proc/" + std::to_string(*stubborn) + "/comm");
    std::string c;
    std::getline(f, c);
    return c;
  };
  for (int i = 0; i < 500 && comm() != "sleep"; ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_EQ(comm(), "sleep");
  auto start = Clock::now();
  EXPECT_TRUE(TerminateProcess(*stubborn, milliseconds(300)).ok());
  EXPECT_GE(Clock::now() - start, milliseconds(300));
  EXPECT_FALSE(ProcessAlive(*stubborn));

  EXPECT_EQ(ProcessCwd(getpid()), std::filesystem::current_path().string());
}

TEST(SupervisorTest, RestartsAKilledProcessAndReportsLastExit) {
  ExitLog log;
  Supervisor sup({.min_backoff = milliseconds(50),
                  .max_backoff = milliseconds(1000),
                  .stable_after = milliseconds(10000)});
  log.Attach(sup);
  ASSERT_TRUE(sup.Start("sleeper", Cmd({"/bin/sleep", "30"})).ok());
  auto st = sup.Get("sleeper");
  ASSERT_TRUE(st && st->running);
  const int first = st->pid;
  EXPECT_FALSE(st->adopted);
  ASSERT_EQ(kill(first, SIGKILL), 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = sup.Get("sleeper");
        return s && s->running && s->pid != first;
      },
      milliseconds(5000), "sleeper restarted"));
  st = sup.Get("sleeper");
  EXPECT_EQ(st->restarts, 1);
  EXPECT_EQ(st->last_exit, "killed by signal 9");
  ASSERT_EQ(log.Count(), 1u);
  EXPECT_EQ(log.exits[0].second.last_exit, "killed by signal 9");
  EXPECT_FALSE(ProcessAlive(first));
  EXPECT_EQ(sup.Snapshot().count("sleeper"), 1u);
  EXPECT_TRUE(sup.Stop("sleeper", milliseconds(5000)).ok());
  EXPECT_FALSE(ProcessAlive(st->pid));
}

TEST(SupervisorTest, BackoffDoublesWhileItKeepsDying) {
  ExitLog log;
  Supervisor sup({.min_backoff = milliseconds(50),
                  .max_backoff = milliseconds(400),
                  .stable_after = milliseconds(10000)});
  log.Attach(sup);
  ASSERT_TRUE(sup.Start("false", Cmd({"/bin/false"})).ok());
  ASSERT_TRUE(WaitFor([&] { return log.Count() >= 6; }, milliseconds(10000), "6 exits"));
  EXPECT_TRUE(sup.Stop("false", milliseconds(1000)).ok());
  std::lock_guard lock(log.mu);
  EXPECT_EQ(log.exits[0].second.last_exit, "exited with status 1");
  // Gaps between exits are at least the backoff before each restart: 50, 100, 200, 400, 400.
  const int want[] = {50, 100, 200, 400, 400};
  for (int i = 0; i < 5; ++i) {
    auto gap = log.exits[i + 1].first - log.exits[i].first;
    EXPECT_GE(gap, milliseconds(want[i])) << "restart " << i + 1;
  }
  EXPECT_LT(log.exits[5].first - log.exits[4].first, milliseconds(3000)) << "capped at max";
}

TEST(SupervisorTest, BackoffResetsAfterAStableRun) {
  ExitLog log;
  Supervisor sup({.min_backoff = milliseconds(100),
                  .max_backoff = milliseconds(5000),
                  .stable_after = milliseconds(200)});
  log.Attach(sup);
  ASSERT_TRUE(sup.Start("nap", Cmd({"/bin/sleep", "0.4"})).ok());
  ASSERT_TRUE(WaitFor([&] { return log.Count() >= 5; }, milliseconds(15000), "5 exits"));
  EXPECT_TRUE(sup.Stop("nap", milliseconds(1000)).ok());
  std::lock_guard lock(log.mu);
  // Without the reset the 5th restart would wait 1600 ms on top of the 400 ms run.
  EXPECT_LT(log.exits[4].first - log.exits[3].first, milliseconds(1500));
}

TEST(SupervisorTest, StopPreventsAPendingRestart) {
  ExitLog log;
  Supervisor sup({.min_backoff = milliseconds(300),
                  .max_backoff = milliseconds(1000),
                  .stable_after = milliseconds(10000)});
  log.Attach(sup);
  ASSERT_TRUE(sup.Start("false", Cmd({"/bin/false"})).ok());
  ASSERT_TRUE(WaitFor([&] { return log.Count() >= 1; }, milliseconds(5000), "first exit"));
  EXPECT_TRUE(sup.Stop("false", milliseconds(1000)).ok());  // restart is pending now
  std::this_thread::sleep_for(milliseconds(800));
  EXPECT_EQ(log.Count(), 1u) << "a stopped name is never restarted";
  EXPECT_FALSE(sup.Get("false").has_value());
  EXPECT_EQ(sup.Stop("false", milliseconds(100)).error().code(), Code::kNotFound);

  // Stop of a running process: no exit callback, no restart, process gone.
  ASSERT_TRUE(sup.Start("sleeper", Cmd({"/bin/sleep", "30"})).ok());
  const int pid = sup.Get("sleeper")->pid;
  EXPECT_TRUE(sup.Stop("sleeper", milliseconds(5000)).ok());
  EXPECT_FALSE(ProcessAlive(pid));
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(log.Count(), 1u);
  EXPECT_TRUE(sup.Snapshot().empty());
}

TEST(SupervisorTest, SeesTheExitOfAnAdoptedProcess) {
  const int orphan = SpawnOrphanSleep();
  ASSERT_GT(orphan, 0);
  ExitLog log;
  Supervisor sup({.min_backoff = milliseconds(50),
                  .max_backoff = milliseconds(1000),
                  .stable_after = milliseconds(10000)});
  log.Attach(sup);
  ASSERT_TRUE(sup.Adopt("adopted", orphan, Cmd({"/bin/sleep", "30"})).ok());
  EXPECT_TRUE(sup.Get("adopted")->adopted);
  EXPECT_EQ(sup.Get("adopted")->pid, orphan);
  EXPECT_FALSE(sup.Adopt("adopted", orphan, Cmd({"/bin/sleep", "30"})).ok());
  ASSERT_EQ(kill(orphan, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return log.Count() >= 1; }, milliseconds(5000), "adopted exit"));
  {
    std::lock_guard lock(log.mu);
    EXPECT_EQ(log.exits[0].second.last_exit, "exited (not our child; status unknown)");
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = sup.Get("adopted");
        return s && s->running;
      },
      milliseconds(5000), "restarted from its spec"));
  auto st = sup.Get("adopted");
  EXPECT_FALSE(st->adopted);
  EXPECT_NE(st->pid, orphan);
  EXPECT_TRUE(sup.Stop("adopted", milliseconds(5000)).ok());
  EXPECT_FALSE(ProcessAlive(st->pid));
  EXPECT_EQ(sup.Adopt("gone", orphan, Cmd({"/bin/true"})).error().code(), Code::kNotFound);
}

TEST(SupervisorTest, DestructorLeavesProcessesRunning) {
  int pid = 0;
  {
    Supervisor sup({});
    ASSERT_TRUE(sup.Start("sleeper", Cmd({"/bin/sleep", "30"})).ok());
    pid = sup.Get("sleeper")->pid;
  }
  EXPECT_TRUE(ProcessAlive(pid));
  EXPECT_TRUE(TerminateProcess(pid, milliseconds(5000)).ok());
}

TEST(FilesTest, WriteFileAtomicSetsModeAndLeavesNoTempFile) {
  TempDir tmp;
  const std::string path = tmp.Sub("redis.conf");
  ASSERT_TRUE(WriteFileAtomic(path, "one\n", 0644).ok());
  ASSERT_TRUE(WriteFileAtomic(path, "two\n", 0600).ok());
  Result<std::string> text = ReadFile(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "two\n");
  struct stat sb {};
  ASSERT_EQ(stat(path.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  Status bad = WriteFileAtomic(tmp.Sub("missing/dir/file"), "x", 0600);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Code::kUnavailable);
  EXPECT_THAT(bad.error().message(), HasSubstr("missing/dir/file"));
  EXPECT_EQ(ReadFile(tmp.Sub("nope")).error().code(), Code::kNotFound);
}

TEST(FilesTest, MakeDirsAbsolutePathRemoveTree) {
  TempDir tmp;
  const std::string deep = tmp.Sub("a/b/c");
  ASSERT_TRUE(MakeDirs(deep, 0700).ok());
  ASSERT_TRUE(MakeDirs(deep, 0700).ok()) << "existing is fine";
  struct stat sb {};
  ASSERT_EQ(stat(deep.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0700u);
  ASSERT_TRUE(WriteFileAtomic(deep + "/f", "x", 0600).ok());
  EXPECT_FALSE(MakeDirs(deep + "/f/g").ok()) << "a file is in the way";
  EXPECT_EQ(AbsolutePath(tmp.path() + "/a/./b/../b/"), tmp.path() + "/a/b");
  EXPECT_EQ(AbsolutePath("x/../y"), std::filesystem::current_path().string() + "/y");
  EXPECT_TRUE(RemoveTree(tmp.Sub("a")).ok());
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("a")));
  EXPECT_TRUE(RemoveTree(tmp.Sub("a")).ok()) << "missing is fine";
}

}  // namespace
}  // namespace sk::agent
