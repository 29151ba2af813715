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
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
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
  std::string owner = "up";  // who runs the cluster, written into its data-dir lock
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
  // a port taken by a process that is not this cluster's node (naming port and node), the
  // cluster's data dir locked by another slotkeeper (<dataDir>/<name>/slotkeeper.pid, held
  // with flock until this provider goes, so that two controllers never run one cluster).
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
  // Starts a node that is not running. A node whose directory is gone (a disk replaced) gets
  // it back with its config, and comes up empty with a new ID.
  Status StartNode(const std::string& name) override;
  Status StopNode(const std::string& name) override;
  // Also before Prepare (a resumed scale operation forgets the nodes it retired already).
  Status RetireNode(const std::string& name) override;
  // A free port from basePort + kReplacementPortOffset up (both it and its bus port must
  // bind), a new directory there, the move recorded in <dataDir>/<cluster>/placement.json.
  Status ReplaceNode(const std::string& name) override;
  // The nodes of `spec` that are new are checked (ports), rendered and, once prepared,
  // started; every node's redis.conf gets `spec`'s settings (checked with redis-server first:
  // a refused setting changes no file).
  Status Reconfigure(const ClusterSpec& spec) override;
  void SetHoldOnExit(std::set<std::string> names) override;
  void SetExitListener(std::function<void(const std::string& name)> listener) override;

  const RedisVersion& version() const { return version_; }
  Supervisor& supervisor() { return *supervisor_; }
  // The layout of the node called `name` (its port may have moved).
  std::optional<NodeLayout> LayoutOf(const std::string& name) const;

 private:
  // One node and what this provider knows of it. Guarded by mu_.
  struct Slot {
    LocalNode node;
    bool adopted = false;
    bool fresh = false;   // found with an empty dir and not running by Prepare()
    bool queued = false;  // Start() has yet to launch it
    int adoptable = 0;    // PID found running by Prepare()
  };
  std::optional<Slot> SlotOf(const std::string& name) const;
  std::vector<Slot> Slots() const;
  NodeLayout Layout(const LocalNode& n) const;
  SpawnSpec SpawnFor(const LocalNode& n) const;
  RenderInput InputFor(const LocalNode& n, const ClusterSpec& spec) const;
  // Port problems of nodes that do not run, with the PID of those that do (adoptable).
  Status CheckPorts(std::vector<Slot>& slots, const ClusterSpec& spec);
  Status LockDataDir();
  Status RewritePeerAddresses();
  Status LaunchNode(const std::string& name);
  void RecordExit(const std::string& name, const Supervisor::State& state);

  ClusterSpec spec_;  // guarded by mu_ once running
  LocalOptions opts_;
  std::string root_;        // absolute dataDir
  std::string redis_path_;  // resolved redis-server
  RedisVersion version_;
  std::unique_ptr<Supervisor> supervisor_;
  mutable std::mutex mu_;
  std::vector<Slot> nodes_;
  std::vector<std::string> started_;
  std::set<std::string> hold_;
  std::function<void(const std::string&)> listener_;
  std::mutex launch_mu_;  // one LaunchNode at a time
  std::atomic<bool> cancel_{false};
  std::map<std::string, std::string> last_exit_;  // enriched with time and last log line
  // Recent exits per node (RecordExit), to tell a crash loop from a crash.
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> exits_;
  std::atomic<bool> prepared_{false};
  int lock_fd_ = -1;  // flock on <dataDir>/<name>/slotkeeper.pid
};

// Replacement nodes listen from basePort + this up, clear of the ports the spec's nodes
// take when it grows.
inline constexpr int kReplacementPortOffset = 500;

// The spec's nodes (LocalNodes) where they live now: a node replaced after it could not come
// back has another port, recorded in <dataDir>/<cluster>/placement.json.
std::vector<LocalNode> PlacedNodes(const ClusterSpec& spec);

// The nodes of `spec` that run now (pid file alive and working in the node's dir).
std::vector<RunningNode> FindRunningNodes(const ClusterSpec& spec);

// Who holds the cluster's data-dir lock: its PID (-1 when unknown) and its owner ("up",
// "controller"); pid 0 when nobody does.
struct LockHolder {
  int pid = 0;
  std::string owner;
};
LockHolder DataDirLockHolder(const ClusterSpec& spec);

// `slotkeeper down`: stops every running node of the spec by PID (SIGTERM, wait, SIGKILL after
// `grace` without progress: a node still writing its final RDB/AOF is waited for); with purge,
// then deletes <dataDir>/<cluster>. Never touches other processes. kFailedPrecondition when a
// running slotkeeper manages the cluster (its data-dir lock is held): stop that one instead.
Status StopLocalCluster(const ClusterSpec& spec, bool purge, std::chrono::milliseconds grace);

// Renders every node's files of `spec` under `root` (made absolute) without starting anything:
// `slotkeeper render`. Returns the written config paths.
Result<std::vector<std::string>> RenderLocalCluster(const ClusterSpec& spec,
                                                    const std::string& root,
                                                    const RedisVersion& version,
                                                    const std::optional<std::string>& password);

}  // namespace sk::agent
