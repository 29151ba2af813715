// The controller's plain values: what is wanted (DesiredCluster), what was seen
// (ObservedCluster), and what to do about the difference (Action, Plan).
//
// No I/O, no Redis types: observe/ converts replies into these, plan/ turns them into a
// Plan, act/ executes it. Nodes are referred to by their stable name ("demo-3").
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "api/types/endpoint.h"
#include "api/types/result.h"
#include "api/types/slot_range.h"

namespace sk::model {

// ---------------------------------------------------------------- desired

struct DesiredNode {
  std::string name;
  Endpoint ep;
  std::string host;  // machine, for anti-affinity
  std::string zone;
};

struct DesiredCluster {
  std::string name;
  int masters = 3;
  int replicas_per_master = 1;
  std::vector<std::vector<SlotRange>> shard_slots;  // per shard, in master order
  std::vector<DesiredNode> nodes;                   // every node the spec declares
  // True once this cluster reached full coverage (persisted in the state dir): from then on
  // a slot that no node serves is lost data, never re-created empty by the planner.
  bool formed_before = false;
  // A person asked for the lost slots back, empty (recover-slots --accept-data-loss): slots
  // no node serves are assigned again, and IDs that no node answers to are forgotten even
  // when views still give them slots.
  bool recover_slots = false;
  // Node IDs that belonged to this cluster in earlier runs (not foreign when seen).
  std::vector<std::string> known_ids;
  // The last node ID seen for each node name: how a node that is down is recognised in its
  // peers' views, and how an ID that no node answers to any more is told from a live one.
  std::map<std::string, std::string> node_ids;
  // Settings to keep applied on running nodes (CONFIG SET name -> value as CONFIG GET shows).
  std::vector<std::pair<std::string, std::string>> runtime_config;
};

// ---------------------------------------------------------------- observed

// One line of a node's CLUSTER NODES: how that node sees a peer (or itself).
struct PeerView {
  std::string id;
  Endpoint ep;  // host "" when noaddr
  bool myself = false;
  bool master = false;
  bool replica = false;
  bool pfail = false;
  bool fail = false;
  bool handshake = false;
  bool noaddr = false;
  bool connected = false;
  std::string master_id;
  long long config_epoch = 0;
  std::vector<SlotRange> slots;
  std::map<int, std::string> migrating;  // slot -> target id
  std::map<int, std::string> importing;  // slot -> source id
};

struct ReplicationView {
  std::string role;               // "master" or "slave"
  bool link_up = false;           // replica: master_link_status:up
  bool sync_in_progress = false;  // replica: master_sync_in_progress:1
  long long offset = 0;           // replica: slave_repl_offset; master: master_repl_offset
  int connected_replicas = 0;     // master
};

struct ObservedNode {
  std::string name;
  Endpoint ep;
  std::string host;
  std::string zone;
  bool process_running = true;  // the provider's word; true when unknown
  bool reachable = false;       // answered this pass
  std::string error;            // why not, when unreachable
  bool synthetic = false;       // not running: predicted from its files (plan dry run)
  // Runs but does not answer yet, started from an empty dir: predicted as an empty node
  // (reachable, synthetic). The planner counts on it but sends it nothing.
  bool starting = false;
  bool failing = false;  // the provider's word: it cannot stay up (NodeRuntime::failing)

  std::string id;               // CLUSTER MYID
  std::vector<PeerView> peers;  // its CLUSTER NODES, itself included
  std::string cluster_state;    // "ok" / "fail"
  long long current_epoch = 0;
  int known_nodes = 0;
  int slots_assigned = 0, slots_ok = 0, slots_pfail = 0, slots_fail = 0;
  long long keys = 0;  // DBSIZE
  ReplicationView repl;
  std::string version;                        // redis_version
  std::map<std::string, std::string> config;  // CONFIG GET of the managed settings

  const PeerView* Self() const;
  const PeerView* PeerById(const std::string& peer_id) const;
  // A handshake in progress towards this address (a MEET sent, no PONG yet).
  bool HandshakingWith(const Endpoint& at) const;
  std::vector<SlotRange> OwnSlots() const;  // from the myself entry
  bool IsMaster() const;                    // by its own view
  std::string MasterId() const;             // its own view's master, "" for a master
  bool HasAddSlotsRange() const;            // Redis >= 7.0
};

struct ObservedCluster {
  std::vector<ObservedNode> nodes;
  const ObservedNode* ByName(const std::string& name) const;
  const ObservedNode* ById(const std::string& id) const;
};

// ---------------------------------------------------------------- actions

struct StartNode {
  std::string node;
};
// CLUSTER RESET HARD: forgets peers and takes a fresh node ID. Only for a node that holds
// no key and no slot (checked again right before).
struct ResetHard {
  std::string node;
  std::string reason;
};
// CLUSTER SET-CONFIG-EPOCH on a fresh node, before it meets anyone.
struct SetConfigEpoch {
  std::string node;
  long long epoch = 0;
};
// CLUSTER ADDSLOTSRANGE (ADDSLOTS before 7.0). Slots the node already owns are skipped.
struct AddSlots {
  std::string node;
  std::vector<SlotRange> ranges;
};
// CLUSTER MEET sent to `node`, making it contact `target`.
struct Meet {
  std::string node;
  Endpoint target;
  std::string reason;
};
// CLUSTER REPLICATE on `node`.
struct Replicate {
  std::string node;
  std::string master_id;
  std::string master_name;
};
// CLUSTER FAILOVER [FORCE|TAKEOVER] on a replica.
struct Failover {
  std::string node;
  std::string mode;  // "", "FORCE" or "TAKEOVER"
  std::string reason;
};
// CLUSTER FORGET on `node`: it drops `id` (and bans it for 60 s, so it is sent to every node
// that knows the ID in the same step).
struct Forget {
  std::string node;
  std::string id;
  std::string reason;
};
// CONFIG SET key value on `node`.
struct ConfigSet {
  std::string node;
  std::string key;
  std::string value;
  std::string reason;
};

// A slot left MIGRATING on `node` (the source) / IMPORTING on the target, e.g. by a move that
// a crash interrupted: finished (keys moved, slot given to the target) or rolled back (flags
// cleared) so that no key is lost. Runs act::Migrator::Resolve.
// The node cannot come back (a crash loop, its port taken, its dir unreadable) and holds
// nothing that exists nowhere else: the provider starts a new empty node in its place, on a
// free port, which then joins as a replica; the old ID is forgotten as a ghost.
struct ReplaceNode {
  std::string node;
  std::string reason;
};
struct SettleSlot {
  std::string node;  // the source
  int slot = 0;
  std::string source_id;
  std::string target;  // name
  std::string target_id;
};

using Action = std::variant<StartNode, ResetHard, SetConfigEpoch, AddSlots, Meet, Replicate,
                            Failover, Forget, ConfigSet, SettleSlot, ReplaceNode>;

// The node an action is sent to.
const std::string& ActionNode(const Action& a);
// One line a person can read: "MEET demo-0 -> 127.0.0.1:7001 (join)".
std::string Describe(const Action& a);
// Short kind name for metrics and events: "meet", "addslots", ...
std::string_view ActionKind(const Action& a);

struct Blocker {
  Code code = Code::kFailedPrecondition;
  std::string message;
};

struct Plan {
  // Ordered steps; the actions of one step are independent of each other.
  std::vector<std::vector<Action>> steps;
  // Conditions that are not true yet and that no action can hasten (handshakes, syncs).
  std::vector<std::string> waiting;
  // Why the plan cannot proceed without a person.
  std::vector<Blocker> blockers;
  // Things worth telling that do not stop convergence.
  std::vector<std::string> notes;

  bool Converged() const { return steps.empty() && waiting.empty() && blockers.empty(); }
  // A stable text form of steps + waiting + blockers (progress detection, `slotkeeper plan`).
  std::string ToString() const;
};

}  // namespace sk::model
