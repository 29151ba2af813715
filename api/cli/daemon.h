// What `up` and `controller` share: the ClusterManager wired to local providers, the REST
// API in front of it, and the signal handling of a foreground daemon.
#pragma once

#include <signal.h>

#include <memory>
#include <string>

#include "api/rest/rest_server.h"
#include "api/rest/routes.h"
#include "api/types/result.h"
#include "controller/reconcile/manager.h"

namespace sk::cli {

// Blocks SIGINT and SIGTERM in the calling thread before any other thread exists (every
// thread inherits the mask, so only WaitForSignal() sees them) and sizes the API's pool.
sigset_t BlockSignals();
// Waits for SIGINT/SIGTERM; returns the signal.
int WaitForSignal(const sigset_t& set);

// Hooks that make the manager run clusters on this machine (LocalProvider). `owner` ("up",
// "controller") is written into each cluster's data-dir lock, so that `down` can tell who
// manages it.
reconcile::ManagerHooks LocalHooks(const std::string& owner);

// The state dir is one daemon's: <state-dir>/lock, flock'ed for the process's life before
// anything else is done (a second `up` or `controller` on it stops at once, changing nothing).
class StateDirLock {
 public:
  StateDirLock() = default;
  ~StateDirLock();
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;
  // kFailedPrecondition naming the holder's PID when another process holds it.
  Status Acquire(const std::string& state_dir, const std::string& owner);

 private:
  int fd_ = -1;
};

// The API in front of a manager. Stop it before the manager goes.
struct Api {
  std::unique_ptr<rest::Router> router;
  std::unique_ptr<rest::Server> server;
  void Stop();
};
// Serves `service` on `addr`; `token_file` may be "" (no token). InvalidArgument for a bad
// address or token file, kUnavailable when the port cannot be bound.
Result<Api> ServeApi(const std::string& addr, const std::string& token_file,
                     ClusterService* service);

}  // namespace sk::cli
