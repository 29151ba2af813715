// The status of a managed cluster, in the shape of CONTRACT.md section 4. The reconciler
// publishes one immutable snapshot after every pass; the REST API and the CLI only read it.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sk {

struct Condition {
  std::string type;    // Ready, Progressing, Degraded
  std::string status;  // "True" / "False" / "Unknown"
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
  std::string role;                // "master" / "replica" / "unknown"
  std::string master_id;           // "" for masters (JSON null)
  std::vector<std::string> slots;  // "0-5460"
  std::vector<std::string> flags;  // fail, pfail, handshake, noaddr, unreachable, not-running
  std::string link_state;          // "connected" / "disconnected"
  std::string zone;
  long long keys = 0;
  int pid = 0;
};

struct Event {
  std::string time;    // RFC 3339
  std::string type;    // Normal / Warning
  std::string reason;  // CamelCase: Meet, AddSlots, Replicate, Blocked, ...
  std::string message;
};

struct ClusterStatus {
  std::string phase = "Creating";  // Creating|Ready|Scaling|Healing|Degraded|Failed
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
