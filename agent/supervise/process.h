// Starting and stopping processes by PID: argv only, never a shell, never kill by name.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/types/result.h"

namespace sk::agent {

struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0] is an absolute path
  std::string cwd;                // working directory of the child
  std::string output_path;        // stdout and stderr are appended here ("" = /dev/null)
  std::string stdin_data;         // written to the child's stdin, then closed (RunCapture only)
};

// posix_spawn in a new session (so a Ctrl-C at the terminal does not reach redis-server),
// stdin from /dev/null. Returns the PID. kUnavailable if the program cannot be started.
Result<int> Spawn(const SpawnSpec& spec);

// Searches PATH for `name` (or checks `name` if it contains '/'); NotFound says what to install.
Result<std::string> FindExecutable(const std::string& name);

// kill(pid, 0) succeeds (the process exists; zombies of ours count as gone after reaping).
bool ProcessAlive(int pid);
// readlink /proc/<pid>/cwd, or "" when unreadable.
std::string ProcessCwd(int pid);

// SIGTERM, wait up to `grace` for the process to go away, then SIGKILL and wait again; while
// `busy` (when given) says the process still makes progress (writing its final save), the
// SIGKILL waits longer, up to kMaxBusyWait. Reaps it when it is our child. Ok when it was
// already gone.
inline constexpr std::chrono::minutes kMaxBusyWait{30};
Status TerminateProcess(int pid, std::chrono::milliseconds grace,
                        const std::function<bool()>& busy = {});
// The same through a pidfd the caller holds (it pins the process; the PID is for messages).
// The caller closes the pidfd and reaps its child.
Status TerminatePidfd(int pidfd, int pid, std::chrono::milliseconds grace,
                      const std::function<bool()>& busy = {});

struct CaptureResult {
  int exit_status = -1;  // -1 when killed by us after a match or a timeout
  std::string output;    // stdout + stderr
  bool matched = false;  // `until` was seen in the output
};
// Runs argv (stdin from spec.stdin_data), collects stdout+stderr until the process exits, or
// `until` appears in the output (then kills it), or `timeout` passes (then kills it).
Result<CaptureResult> RunCapture(const SpawnSpec& spec, std::chrono::milliseconds timeout,
                                 const std::string& until = "");

}  // namespace sk::agent
