// Supervisor: keeps named processes running, restarting them with backoff.
//
// One thread waits on a pidfd per process, so an exit is seen at once, for children and for
// adopted processes (found running at start) alike. An exited process is restarted after a
// backoff that doubles while it keeps dying quickly (min..max) and resets once it has stayed
// up for `stable_after`. The supervisor never kills by name, and destroying it leaves the
// processes running (they are started in their own session).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "agent/supervise/process.h"
#include "api/types/result.h"

namespace sk::agent {

class Supervisor {
 public:
  struct Options {
    std::chrono::milliseconds min_backoff{100};
    std::chrono::milliseconds max_backoff{30000};
    std::chrono::milliseconds stable_after{30000};
  };
  struct State {
    int pid = 0;
    bool running = false;
    bool adopted = false;
    int restarts = 0;
    std::string last_exit;  // "exited with status 1", "killed by signal 9", "gone (not our child)"
    bool held = false;      // exited; its restart waits for Resume() (the restart gate said so)
  };
  // Called on the supervisor thread after a supervised process exits, before its restart
  // is scheduled. Keep it short.
  using ExitCallback = std::function<void(const std::string& name, const State& state)>;

  explicit Supervisor(Options opts);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Spawns `spec` now and keeps it running under `name`.
  Status Start(const std::string& name, const SpawnSpec& spec);
  // Watches an already running `pid`; when it exits, restarts it from `spec`.
  Status Adopt(const std::string& name, int pid, const SpawnSpec& spec);
  // Terminates the process (SIGTERM, then SIGKILL after `grace`) and stops supervising it.
  Status Stop(const std::string& name, std::chrono::milliseconds grace);
  // Stops supervising without touching the process.
  void Release(const std::string& name);

  std::optional<State> Get(const std::string& name) const;
  std::map<std::string, State> Snapshot() const;
  // Adds a callback (all of them run, in the order added); LocalProvider installs one too.
  void OnExit(ExitCallback cb);
  // Asked after each exit (after the exit callbacks): restart now (true) or hold the process
  // down until Resume() (false). Without a gate every exit is restarted with backoff.
  using RestartGate = std::function<bool(const std::string& name)>;
  void SetRestartGate(RestartGate gate);
  // Restarts a held process now. NotFound when it is not supervised.
  Status Resume(const std::string& name);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sk::agent
