// NodeProvider: the seam between the controller and whatever runs redis-server processes.
//
// Local mode (agent/supervise/local_provider) runs them on this machine; agents on other
// hosts and Kubernetes pods will implement the same interface later, so the controller never
// knows how a node is started. Implementations are thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "api/types/endpoint.h"
#include "api/types/result.h"
#include "api/types/spec.h"

namespace sk {

struct NodeRuntime {
  std::string name;  // stable identity, e.g. "demo-3"
  Endpoint ep;       // where clients reach it
  std::string host;  // the machine it runs on (anti-affinity), e.g. "127.0.0.1"
  std::string zone;  // optional failure domain
  int pid = 0;       // 0 when not running
  bool running = false;
  bool adopted = false;   // found running at start rather than started by us
  int restarts = 0;       // restarts after unexpected exits
  std::string last_exit;  // e.g. "exited with status 1 at 12:00:01: <last log line>"
  // Started (or about to be started) by this run from a directory with no cluster state and
  // no data: until it answers, the controller may count on it coming up as an empty node.
  bool fresh = false;
  // Not running yet, but the provider is about to start it (a start in progress).
  bool queued = false;
  // Exited, and held down (SetHoldOnExit) until StartNode().
  bool held = false;
  // Cannot stay up: it exited again and again right after its restarts (its port taken by a
  // stranger, its data dir unreadable, a crash at start). Restarting it will not help.
  bool failing = false;
};

class NodeProvider {
 public:
  virtual ~NodeProvider() = default;
  // Checks the environment and writes the nodes' files; starts nothing. InvalidArgument when
  // the spec's settings are refused, other codes for the environment (ports, dirs, binary).
  virtual Status Prepare() = 0;
  // Adopts running nodes and starts the others, without waiting for them to answer.
  virtual Status Start() = 0;
  // Waits until every node answers; names the node (and why) that does not.
  virtual Status WaitReady(std::chrono::milliseconds timeout) = 0;
  // Makes a running Start()/WaitReady() return soon.
  virtual void Cancel() = 0;
  // Stops every node of the cluster by PID; with purge also deletes their data.
  virtual Status Destroy(bool purge) = 0;
  // Stops the nodes this provider started (not those it adopted): a create that is refused
  // leaves nothing behind.
  virtual void StopStartedThisRun() = 0;
  // Every node the current spec declares, in index order.
  virtual std::vector<NodeRuntime> Nodes() const = 0;
  // Starts a node that is not running (no-op when it runs). kUnavailable if it cannot.
  virtual Status StartNode(const std::string& name) = 0;
  // Stops a node gracefully (SIGTERM, then SIGKILL after a grace period) and keeps it
  // stopped until StartNode.
  virtual Status StopNode(const std::string& name) = 0;
  // Retires a node that left the cluster for good (scale-in): stops it like StopNode, stops
  // supervising it, and only then deletes its files (config, nodes.conf, data).
  virtual Status RetireNode(const std::string& name) = 0;
  // Gives a failing node a new home: a free port and an empty directory, where it starts as
  // a new, empty node under the same name. The old directory is left as it is (its data may
  // still matter to a person); the old process, if any, is stopped.
  virtual Status ReplaceNode(const std::string& name) = 0;
  // Makes the provider run the nodes `spec` declares besides the ones it runs now (a scale
  // operation's new nodes): their files are written and they are started, without waiting
  // for them to answer. Nodes it runs that `spec` does not declare keep running until
  // RetireNode. The provider is never replaced while its nodes run.
  virtual Status Reconfigure(const ClusterSpec& spec) = 0;
  // Desired state the controller pushes (an agent never calls the controller): nodes that,
  // if their process exits, are held down until StartNode() instead of being restarted at
  // once (a master whose replica should take over first). Replaces the previous set.
  virtual void SetHoldOnExit(std::set<std::string> names) = 0;
  // Called (on the provider's thread; keep it short) after a node's process exits.
  virtual void SetExitListener(std::function<void(const std::string& name)> listener) = 0;
};

}  // namespace sk
