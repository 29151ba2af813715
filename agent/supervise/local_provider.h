// LocalProvider: NodeProvider for the embedded default, nodes on this machine.
//
// Prepare() checks the environment without starting anything (redis-server present, data
// dir writable, every client and bus port free or held by this cluster's own running node,
// the rendered config accepted by redis-server itself) and writes each node's files. Launch()
// adopts the nodes that already run (pid file + /proc/<pid>/cwd == the node's dir) and starts
// the others under a Supervisor.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/render/render.h"
#include "agent/supervise/supervisor.h"
#include "api/types/provider.h"
#include "api/types/spec.h"

namespace sk::agent {

struct LocalOptions {
  std::string redis_server = "redis-server";  // name on PATH or a path ($SLOTKEEPER_REDIS_SERVER)
  std::optional<std::string> password;        // from spec.auth.passwordFile, read by the caller
  Supervisor::Options supervisor;
  std::chrono::milliseconds stop_grace{30000};  // StopNode/StopStartedThisRun: SIGTERM -> SIGKILL
};

// A node found running for this cluster: its pid file names a live process whose working
// directory is the node's directory.
struct RunningNode {
  std::string name;
  int port = 0;
  int pid = 0;
};

class LocalProvider : public NodeProvider {
 public:
  LocalProvider(ClusterSpec spec, LocalOptions opts);
  ~LocalProvider() override;

  // Environment checks and file rendering; starts nothing. InvalidArgument (exit 2) when
  // redis-server rejects the rendered settings, naming the directive; kFailedPrecondition /
  // kUnavailable (exit 1) for the environment: missing redis-server, unwritable data dir,
  // a port taken by a process that is not this cluster's node (naming port and node).
  Status Prepare() override;
  // Adopts the nodes of this cluster that already run. Quick: starts nothing.
  void AdoptRunning();
  // Adopts running nodes and starts the rest, lowest index first; does not wait for them to
  // answer. Safe to run on its own thread while the controller works with Nodes(), which
  // reports the nodes it has yet to start as queued.
  Status Start() override;
  // Waits until every node answers PING (bounded; the error names the node and the last
  // lines of its log when it exited instead).
  Status WaitReady(std::chrono::milliseconds ready_timeout) override;
  // Start() then WaitReady().
  Status Launch(std::chrono::milliseconds ready_timeout);
  // Makes a running Start() stop starting nodes and WaitReady() return (kAborted) soon.
  void Cancel() override { cancel_ = true; }
  // Stops supervising, stops every node (StopLocalCluster) and with purge deletes the data.
  Status Destroy(bool purge) override;
  // Names of the nodes this Launch() started (as opposed to adopted).
  std::vector<std::string> StartedThisRun() const;
  // Stops every node this run started (used when bootstrap is refused: nothing is left).
  void StopStartedThisRun() override;

  std::vector<NodeRuntime> Nodes() const override;
  Status StartNode(const std::string& name) override;
  Status StopNode(const std::string& name) override;
  Status RetireNode(const std::string& name) override;
  // A free port from basePort + kReplacementPortOffset up (both it and its bus port must
  // bind), a new directory there, the move recorded in <dataDir>/<cluster>/placement.json.
  Status ReplaceNode(const std::string& name) override;
  void SetRestartGate(std::function<bool(const std::string& name)> gate) override;

  const RedisVersion& version() const { return version_; }
  Supervisor& supervisor() { return *supervisor_; }
  // The layout of node `index`.
  NodeLayout Layout(int index) const;

 private:
  SpawnSpec SpawnFor(int index) const;
  int IndexOf(const std::string& name) const;
  RenderInput InputFor(int index) const;
  Status CheckPorts();
  Status RewritePeerAddresses();
  Status LaunchNode(int index);
  void RecordExit(const std::string& name, const Supervisor::State& state);

  ClusterSpec spec_;
  LocalOptions opts_;
  std::string root_;        // absolute dataDir
  std::string redis_path_;  // resolved redis-server
  RedisVersion version_;
  std::vector<LocalNode> nodes_;
  std::unique_ptr<Supervisor> supervisor_;
  mutable std::mutex mu_;
  std::vector<std::string> started_;
  std::vector<bool> adopted_;
  std::vector<bool> fresh_;   // per node: found with an empty dir and not running by Prepare()
  std::vector<bool> queued_;  // per node: Start() has yet to launch it
  std::mutex launch_mu_;      // one LaunchNode at a time
  std::atomic<bool> cancel_{false};
  std::vector<int> adoptable_;                    // per node: PID found running by Prepare()
  std::map<std::string, std::string> last_exit_;  // enriched with time and last log line
  // Recent exits per node (RecordExit), to tell a crash loop from a crash.
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> exits_;
  bool prepared_ = false;
};

// Replacement nodes listen from basePort + this up, clear of the ports the spec's nodes
// take when it grows.
inline constexpr int kReplacementPortOffset = 500;

// The spec's nodes (LocalNodes) where they live now: a node replaced after it could not come
// back has another port, recorded in <dataDir>/<cluster>/placement.json.
std::vector<LocalNode> PlacedNodes(const ClusterSpec& spec);

// The nodes of `spec` that run now (pid file alive and working in the node's dir).
std::vector<RunningNode> FindRunningNodes(const ClusterSpec& spec);

// `slotkeeper down`: stops every running node of the spec by PID (SIGTERM, wait, SIGKILL after
// `grace`); with purge, then deletes <dataDir>/<cluster>. Never touches other processes.
Status StopLocalCluster(const ClusterSpec& spec, bool purge, std::chrono::milliseconds grace);

// Renders every node's files of `spec` under `root` (made absolute) without starting anything:
// `slotkeeper render`. Returns the written config paths.
Result<std::vector<std::string>> RenderLocalCluster(const ClusterSpec& spec,
                                                    const std::string& root,
                                                    const RedisVersion& version,
                                                    const std::optional<std::string>& password);

}  // namespace sk::agent
