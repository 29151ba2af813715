// Internal to sk_test_support: fork/exec of an argv (never a shell) with chosen stdio fds,
// working directory and environment.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace sk::testing::internal {

struct SpawnSpec {
  std::vector<std::string> argv;           // argv[0]: a path, or a name looked up on $PATH
  std::string cwd;                         // empty: inherit
  std::map<std::string, std::string> env;  // added to (or replacing in) the parent's environ
  int stdout_fd = -1;                      // -1: inherit
  int stderr_fd = -1;                      // -1: inherit
};

// Starts the child with stdin from /dev/null. Returns its pid, or -1 with `error` set when
// the program could not be executed (the child's exec errno is reported back through a
// close-on-exec pipe, so "not found" is an error here rather than an exit code 127).
pid_t Spawn(const SpawnSpec& spec, std::string& error);

// waitpid() that retries on EINTR; returns the exit code, or -1 when killed by a signal.
int Reap(pid_t pid);
// Like Reap but gives up after `timeout`; returns false if the child is still running.
bool ReapWithin(pid_t pid, std::chrono::milliseconds timeout, int& code);

// Whole file content ("" when unreadable).
std::string ReadFile(const std::string& path);

}  // namespace sk::testing::internal
