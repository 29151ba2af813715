#include "agent/supervise/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
// glibc 2.36 declares these without extern "C" (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "api/types/files.h"

extern char** environ;

namespace sk::agent {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string ErrnoText(int err) { return std::strerror(err); }

// posix_spawn attributes and file actions, released on scope exit.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawnattr_init(&attr_);
    posix_spawn_file_actions_init(&fa_);
    // A new session: a Ctrl-C at the terminal of slotkeeper must not reach redis-server.
    // The signal mask and dispositions are reset because the caller may block SIGTERM
    // (e.g. a signal-waiting thread); redis-server would then ignore our SIGTERM.
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&attr_, &empty);
    posix_spawnattr_setsigdefault(&attr_, &all);
    posix_spawnattr_setflags(&attr_,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&fa_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  posix_spawn_file_actions_t* fa() { return &fa_; }
  // Closes every inherited descriptor above stderr (sockets, pidfds, listeners of other
  // modules that may lack O_CLOEXEC), then changes directory.
  void Finish(const std::string& cwd) {
    posix_spawn_file_actions_addclosefrom_np(&fa_, 3);
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa_, cwd.c_str());
  }
  Result<int> Run(const std::vector<std::string>& argv) {
    if (argv.empty()) return Internal("spawn: empty argv");
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, args[0], &fa_, &attr_, args.data(), environ);
    if (rc != 0) return Unavailable("cannot start " + argv[0] + ": " + ErrnoText(rc));
    return static_cast<int>(pid);
  }

 private:
  posix_spawnattr_t attr_;
  posix_spawn_file_actions_t fa_;
};

// Waits until the process behind `pidfd` has exited, at most `timeout`.
bool WaitPidfd(int pidfd, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    // Rounded up: a truncated timeout would end the grace period up to 1 ms early.
    auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
    if (left < 0) left = 0;
    pollfd p{.fd = pidfd, .events = POLLIN, .revents = 0};
    int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return true;
    if (rc == 0 && Clock::now() >= deadline) return false;
    if (rc == 0) continue;
    if (errno != EINTR) return false;
  }
}

// Fallback without pidfds: polls kill(pid, 0).
bool WaitGone(int pid, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (ProcessAlive(pid)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

void ReapIfChild(int pid) {
  int st = 0;
  while (::waitpid(pid, &st, WNOHANG) < 0 && errno == EINTR) {
  }
}

// The same as TerminateProcess for kernels without pidfd_open (before 5.3).
Status TerminateWithoutPidfd(int pid, milliseconds grace) {
  if (::kill(pid, SIGTERM) != 0) {
    if (errno == ESRCH) return Status::Ok();
    return Unavailable("cannot signal pid " + std::to_string(pid) + ": " + ErrnoText(errno));
  }
  if (!WaitGone(pid, grace)) ::kill(pid, SIGKILL);
  bool gone = WaitGone(pid, milliseconds(10000));
  ReapIfChild(pid);
  if (!gone) return Unavailable("pid " + std::to_string(pid) + " did not exit after SIGKILL");
  return Status::Ok();
}

bool IsRegularExecutable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// Kills and reaps a RunCapture child.
void KillAndReap(int pid) {
  ::kill(pid, SIGKILL);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
}

// Waits for the exit status until `deadline`; a child that closed its output but lingers
// is killed then (-1).
int WaitStatus(int pid, Clock::time_point deadline) {
  int st = 0;
  while (true) {
    pid_t rc = ::waitpid(pid, &st, WNOHANG);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return -1;
    if (rc == pid) break;
    if (Clock::now() >= deadline) {
      KillAndReap(pid);
      return -1;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return 128 + WTERMSIG(st);
}

// Feeds `input` to the child and collects its output until EOF (returns true), a match of
// `until`, or the deadline. Closes both descriptors.
bool Exchange(int to_child, int from_child, std::string_view input, const std::string& until,
              Clock::time_point deadline, CaptureResult& res) {
  if (input.empty()) {
    ::close(to_child);
    to_child = -1;
  }
  bool eof = false;
  while (!eof && !res.matched) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd fds[2] = {{.fd = from_child, .events = POLLIN, .revents = 0},
                     {.fd = to_child, .events = POLLOUT, .revents = 0}};
    int rc = ::poll(fds, to_child >= 0 ? 2 : 1, static_cast<int>(left));
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    if (to_child >= 0 && fds[1].revents != 0) {
      ssize_t n = ::send(to_child, input.data(), input.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) input.remove_prefix(static_cast<size_t>(n));
      if (input.empty() || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        ::close(to_child);  // EOF on stdin: redis-server stops reading its config here
        to_child = -1;
      }
    }
    if (fds[0].revents == 0) continue;
    char buf[4096];
    ssize_t n = ::read(from_child, buf, sizeof buf);
    if (n > 0) {
      res.output.append(buf, static_cast<size_t>(n));
      res.matched = !until.empty() && res.output.find(until) != std::string::npos;
    } else if (n == 0 || errno != EINTR) {
      eof = true;
    }
  }
  if (to_child >= 0) ::close(to_child);
  ::close(from_child);
  return eof;
}

}  // namespace

Result<int> Spawn(const SpawnSpec& spec) {
  SpawnSetup s;
  const std::string out = spec.output_path.empty() ? "/dev/null" : spec.output_path;
  posix_spawn_file_actions_addopen(s.fa(), 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(s.fa(), 1, out.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
  posix_spawn_file_actions_adddup2(s.fa(), 1, 2);
  s.Finish(spec.cwd);
  return s.Run(spec.argv);
}

Result<std::string> FindExecutable(const std::string& name) {
  static constexpr const char* kHint =
      ": install redis-server (apt-get install redis-server) or set SLOTKEEPER_REDIS_SERVER";
  if (name.find('/') != std::string::npos) {
    if (IsRegularExecutable(name)) return AbsolutePath(name);
    return NotFound(name + " is not an executable file" + kHint);
  }
  const char* env = std::getenv("PATH");
  std::string path = env && *env ? env : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (IsRegularExecutable(candidate)) return AbsolutePath(candidate);
    start = end + 1;
  }
  return NotFound(name + " not found on PATH" + kHint);
}

bool ProcessAlive(int pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  // A zombie has exited: it only waits for its parent to reap it.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

std::string ProcessCwd(int pid) {
  if (pid <= 0) return "";
  std::string link = "/proc/" + std::to_string(pid) + "/cwd";
  char buf[4096];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

Status TerminatePidfd(int pidfd, int pid, std::chrono::milliseconds grace,
                      const std::function<bool()>& busy) {
  if (::pidfd_send_signal(pidfd, SIGTERM, nullptr, 0) != 0) {
    if (errno == ESRCH) return Status::Ok();
    return Unavailable("cannot signal pid " + std::to_string(pid) + ": " + ErrnoText(errno));
  }
  if (WaitPidfd(pidfd, grace)) return Status::Ok();
  // Still writing its data (a final RDB save on SIGTERM can take minutes on a big dataset):
  // SIGKILL would throw that work away. It gets more time while `busy` says it progresses.
  const auto cap = std::chrono::steady_clock::now() + kMaxBusyWait;
  while (busy && std::chrono::steady_clock::now() < cap && busy()) {
    if (WaitPidfd(pidfd, milliseconds(500))) return Status::Ok();
  }
  ::pidfd_send_signal(pidfd, SIGKILL, nullptr, 0);
  if (!WaitPidfd(pidfd, milliseconds(10000))) {
    return Unavailable("pid " + std::to_string(pid) + " did not exit after SIGKILL");
  }
  return Status::Ok();
}

Status TerminateProcess(int pid, std::chrono::milliseconds grace,
                        const std::function<bool()>& busy) {
  if (pid <= 0) return InvalidArgument("cannot terminate pid " + std::to_string(pid));
  // A pidfd pins the process: signals cannot hit a stranger that reused the PID.
  int pidfd = ::pidfd_open(pid, 0);
  if (pidfd < 0) {
    if (errno == ESRCH) return Status::Ok();
    return TerminateWithoutPidfd(pid, grace);
  }
  Status result = TerminatePidfd(pidfd, pid, grace, busy);
  ::close(pidfd);
  ReapIfChild(pid);
  return result;
}

Result<CaptureResult> RunCapture(const SpawnSpec& spec, std::chrono::milliseconds timeout,
                                 const std::string& until) {
  // stdin is a socket so that writing to a child that already exited gives EPIPE
  // (MSG_NOSIGNAL) instead of a SIGPIPE that would kill slotkeeper.
  int in[2], out[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) {
    return Unavailable("socketpair: " + ErrnoText(errno));
  }
  if (::pipe2(out, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(in[0]);
    ::close(in[1]);
    return Unavailable("pipe: " + ErrnoText(err));
  }
  Result<int> pid = [&] {
    SpawnSetup s;
    posix_spawn_file_actions_adddup2(s.fa(), in[1], 0);
    posix_spawn_file_actions_adddup2(s.fa(), out[1], 1);
    posix_spawn_file_actions_adddup2(s.fa(), out[1], 2);
    s.Finish(spec.cwd);
    return s.Run(spec.argv);
  }();
  ::close(in[1]);
  ::close(out[1]);
  if (!pid.ok()) {
    ::close(in[0]);
    ::close(out[0]);
    return std::move(pid).error();
  }
  CaptureResult res;
  const auto deadline = Clock::now() + timeout;
  const bool eof = Exchange(in[0], out[0], spec.stdin_data, until, deadline, res);
  if (eof) {
    res.exit_status = WaitStatus(*pid, deadline);
  } else {
    KillAndReap(*pid);  // matched, or the timeout passed
    res.exit_status = -1;
  }
  return res;
}

}  // namespace sk::agent
