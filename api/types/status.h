// The status of a managed cluster, in the shape of CONTRACT.md section 4. The reconciler
// publishes one immutable snapshot after every pass; the REST API and the CLI only read it.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sk {

// Typed everywhere; spelled as CONTRACT.md's strings only by api/codec (status_codec.h).
enum class Phase { kCreating, kReady, kScaling, kHealing, kDegraded, kFailed };
enum class Role { kUnknown, kMaster, kReplica };
enum class ConditionStatus { kTrue, kFalse, kUnknown };
enum class LinkState { kConnected, kDisconnected };

struct Condition {
  std::string type;  // Ready, Progressing, Degraded
  ConditionStatus status = ConditionStatus::kUnknown;
  std::string reason;  // CamelCase
  std::string message;
  std::string last_transition_time;  // RFC 3339; changes only when status flips
  long long observed_generation = 0;
};

struct NodeStatus {
  std::string id;
  std::string name;
  std::string host;
  int port = 0;
  Role role = Role::kUnknown;
  std::string master_id;           // "" for masters (JSON null)
  std::vector<std::string> slots;  // "0-5460"
  std::vector<std::string> flags;  // fail, pfail, handshake, noaddr, unreachable, not-running
  LinkState link_state = LinkState::kDisconnected;  // the cluster bus, as every peer sees it
  std::string zone;
  long long keys = 0;
  int pid = 0;
  // Replication, for a replica: linked to its master and in sync, and how many bytes of the
  // master's stream it has not applied yet (-1 unknown).
  bool repl_link_up = false;
  bool repl_syncing = false;
  long long repl_lag_bytes = -1;
  long long used_memory = 0;  // bytes
  long long ops_per_sec = 0;
};

struct Event {
  std::string time;    // RFC 3339
  std::string type;    // Normal / Warning
  std::string reason;  // CamelCase: Meet, AddSlots, Replicate, Blocked, ...
  std::string message;
};

struct ClusterStatus {
  Phase phase = Phase::kCreating;
  std::string cluster_state = "fail";
  int slots_assigned = 0;
  int slots_ok = 0;
  int slots_pfail = 0;
  int slots_fail = 0;
  std::vector<std::string> open_slots;  // "42 migrating demo-0 -> demo-3"
  int masters = 0;
  int replicas = 0;
  std::vector<Condition> conditions;
  std::vector<NodeStatus> nodes;
  std::optional<std::string> operation;  // id of the running operation
  long long observed_generation = 0;
  std::string last_reconcile_at;
};

}  // namespace sk
