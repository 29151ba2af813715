// Child processes of tests: fork/exec, RunCommand and Background. No shell anywhere: every
// child gets an argv.
#include "tests/support/spawn.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/support.h"

extern char** environ;

namespace sk::testing {
namespace internal {
namespace {

// Resolves a bare program name on $PATH before fork, so the child only calls execve.
std::string Resolve(const std::string& prog) {
  if (prog.find('/') != std::string::npos) return prog;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + prog;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return prog;  // execve fails with ENOENT, reported to the parent
}

std::vector<std::string> MergedEnv(const std::map<std::string, std::string>& add) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    std::string key = kv.substr(0, kv.find('='));
    if (add.count(key) == 0) out.push_back(std::move(kv));
  }
  for (const auto& [k, v] : add) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> Pointers(std::vector<std::string>& strs) {
  std::vector<char*> out;
  for (std::string& s : strs) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// In the child between fork and exec only async-signal-safe calls are allowed (the test
// process may have threads), hence write(2) of the errno and _exit.
[[noreturn]] void ChildFail(int report_fd) {
  int e = errno;
  ssize_t n = write(report_fd, &e, sizeof e);
  (void)n;
  _exit(127);
}

}  // namespace

pid_t Spawn(const SpawnSpec& spec, std::string& error) {
  if (spec.argv.empty()) {
    error = "empty argv";
    return -1;
  }
  std::string path = Resolve(spec.argv[0]);
  std::vector<std::string> argv = spec.argv;
  std::vector<std::string> envs = MergedEnv(spec.env);
  std::vector<char*> argv_p = Pointers(argv);
  std::vector<char*> env_p = Pointers(envs);
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    error = std::string("pipe2: ") + std::strerror(errno);
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    close(report[0]);
    close(report[1]);
    return -1;
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0) ChildFail(report[1]);
    if (spec.stdout_fd >= 0 && dup2(spec.stdout_fd, 1) < 0) ChildFail(report[1]);
    if (spec.stderr_fd >= 0 && dup2(spec.stderr_fd, 2) < 0) ChildFail(report[1]);
    if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) ChildFail(report[1]);
    execve(path.c_str(), argv_p.data(), env_p.data());
    ChildFail(report[1]);
  }
  close(report[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n > 0) {
    Reap(pid);
    error = "cannot execute " + path + ": " + std::strerror(child_errno);
    return -1;
  }
  return pid;
}

int Reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool ReapWithin(pid_t pid, std::chrono::milliseconds timeout, int& code) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      return true;
    }
    if (r < 0 && errno != EINTR) {
      code = -1;
      return true;  // not our child (already reaped): nothing left to wait for
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace internal

CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                         const std::string& cwd, const std::map<std::string, std::string>& env) {
  CommandResult result;
  int out[2];
  int err[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    result.err = std::string("pipe2: ") + std::strerror(errno);
    return result;
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    result.err = std::string("pipe2: ") + std::strerror(errno);
    close(out[0]);
    close(out[1]);
    return result;
  }
  std::string error;
  pid_t pid = internal::Spawn(
      {.argv = argv, .cwd = cwd, .env = env, .stdout_fd = out[1], .stderr_fd = err[1]}, error);
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    close(out[0]);
    close(err[0]);
    result.err = error;
    return result;
  }
  // Both pipes are drained together with poll(), so a child that fills one of them while we
  // block on the other cannot deadlock.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  bool timed_out = false;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    int r = poll(fds, 2, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[65536];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  int code = -1;
  if (timed_out && !internal::ReapWithin(pid, std::chrono::milliseconds(0), code)) {
    kill(pid, SIGKILL);
    internal::Reap(pid);
    result.exit_code = -1;
    return result;
  }
  result.exit_code = timed_out ? code : internal::Reap(pid);
  return result;
}

Background::Background(const std::vector<std::string>& argv, const std::string& log_path,
                       const std::string& cwd)
    : log_path_(log_path) {
  int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    ADD_FAILURE() << "cannot open " << log_path << ": " << std::strerror(errno);
    code_ = -1;
    return;
  }
  std::string error;
  pid_t pid = internal::Spawn({.argv = argv, .cwd = cwd, .stdout_fd = fd, .stderr_fd = fd}, error);
  close(fd);
  if (pid < 0) {
    ADD_FAILURE() << error;
    code_ = -1;
    return;
  }
  pid_ = pid;
}

Background::~Background() {
  if (pid_ > 0 && !code_) Stop();
}

bool Background::Alive() {
  if (pid_ <= 0 || code_) return false;
  int code = -1;
  if (internal::ReapWithin(pid_, std::chrono::milliseconds(0), code)) {
    code_ = code;
    return false;
  }
  return true;
}

std::optional<int> Background::ExitCode() {
  Alive();
  return code_;
}

int Background::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0 || code_) return code_.value_or(-1);
  kill(pid_, SIGTERM);
  int code = -1;
  if (!internal::ReapWithin(pid_, grace, code)) {
    kill(pid_, SIGKILL);
    code = internal::Reap(pid_);
  }
  code_ = code;
  return code;
}

std::string Background::Log() const { return internal::ReadFile(log_path_); }

}  // namespace sk::testing
