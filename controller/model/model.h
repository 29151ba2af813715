// The controller's plain values: what is wanted (DesiredCluster), what was seen
// (ObservedCluster), and what to do about the difference (Action, Plan).
//
// No I/O, no Redis types: observe/ converts replies into these, plan/ turns them into a
// Plan, act/ executes it. Nodes are referred to by their stable name ("demo-3").
#pragma once

#include <map>
#include <optional>
#include <set>
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

// The shape a scale operation is heading for.
struct ResizeGoal {
  int masters = 3;
  std::vector<double> weights;                 // per shard, or empty
  std::vector<std::vector<SlotRange>> ranges;  // per shard, or empty
  // Nodes that leave the cluster: drained, handed over, forgotten everywhere, then retired.
  std::vector<std::string> leaving;
};

// History the planner cannot see in one observation, kept by the reconciler (with its clock)
// and given to every pass. Every field is a fact about the past, never a guess.
struct PassMemory {
  // Repair MEETs sent from a node to a target (names) while the two still have no link.
  std::map<std::pair<std::string, std::string>, int> meets;
  // MEET pairs sent within the last second: not sent again yet (a handshake takes a moment).
  std::set<std::pair<std::string, std::string>> recent_meets;
  // (viewer, peer) pairs whose bus link has been missing for longer than Redis's reconnects
  // (every 100 ms) explain: only these get a repair MEET.
  std::set<std::pair<std::string, std::string>> long_unlinked;
  // (sender, receiver) pairs that got their one teaching MEET already.
  std::set<std::pair<std::string, std::string>> taught;
  // Replicas a CLUSTER FAILOVER was sent to within the last few seconds (not sent twice).
  std::set<std::string> failovers_in_flight;
  // Slots whose owner the masters' views have disagreed on for long enough that gossip will
  // not settle it by itself (PlanOwnership then settles it toward the node with the keys).
  std::vector<SlotRange> lasting_disagreements;
};
// A MEET sent this many times without a link is not sent again: the planner reports it.
inline constexpr int kMaxMeetAttempts = 5;

struct DesiredCluster {
  std::string name;
  int masters = 3;
  int replicas_per_master = 1;
  std::vector<std::vector<SlotRange>> shard_slots;  // per shard, in master order
  std::vector<DesiredNode> nodes;                   // every node the spec declares
  // True once this cluster reached full coverage (persisted in the state dir): from then on
  // a slot that no node serves is lost data, never re-created empty by the planner.
  bool formed_before = false;
  // A person asked for these lost slots back, empty (recover-slots --accept-data-loss): those
  // of them no node serves are assigned again, and an ID that no node answers to is forgotten
  // even when views still give it slots, if all of them lie here. Nothing else lost is.
  std::vector<SlotRange> recover_slots;
  // Node IDs that belonged to this cluster in earlier runs (not foreign when seen).
  std::vector<std::string> known_ids;
  // The last node ID seen for each node name: how a node that is down is recognised in its
  // peers' views, and how an ID that no node answers to any more is told from a live one.
  std::map<std::string, std::string> node_ids;
  // Settings to keep applied on running nodes (CONFIG SET name -> value as CONFIG GET shows).
  std::vector<std::pair<std::string, std::string>> runtime_config;
  // A replica whose link to its dead master has been down longer than this (seconds) does not
  // take over: its copy is stale, and the master restarted from its own files has more.
  long long takeover_max_link_down_s = 10;
  // A scale operation in progress (masters, replicas or the slot split change): the planner
  // holds the layout the nodes serve now for every earlier stage and, once all of them are
  // done, moves the cluster towards this goal (plan/resize_plan.cc).
  std::optional<ResizeGoal> resize;
  // What the reconciler remembers between passes and hands to the pure planner.
  PassMemory memory;
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
  // Replica: seconds since its link to an in-sync master went down; -1 while it is up, and
  // also while it never completed a sync (Redis prints -1 then: a replica that lost its
  // master during its first full sync has no copy of the data).
  long long link_down_seconds = -1;
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
  long long used_memory = 0;                  // INFO memory used_memory (bytes)
  long long ops_per_sec = 0;                  // INFO stats instantaneous_ops_per_sec
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
// CLUSTER MEET sent to `node`, making it contact `target`. A MEET to a node that already knows
// the sender is not harmless: Redis 7.0 replaces the receiver's inbound link from the sender
// (setClusterNodeToInboundClusterLink frees the old one), which drops the bus link between
// the two until cron reconnects. So besides joining, a MEET is sent only for a purpose, once.
enum class MeetKind {
  kJoin,       // the two do not know each other
  kReaddress,  // `node` knows `target` at an old address
  kTeach,      // a cluster being created: `target` learns `node`'s slots or role at once
  kRepair,     // the link has been missing for long: Redis's own reconnects do not work
};
struct Meet {
  std::string node;
  Endpoint target;
  std::string reason;
  MeetKind kind = MeetKind::kJoin;
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

// Slots with their keys from their masters to new ones (act::Migrator), the moves of one
// decision of a scale operation. `node` is the first target (for logs and grouping).
struct SlotMoveRef {
  int slot = 0;
  std::string from;  // names
  std::string to;
  auto operator<=>(const SlotMoveRef&) const = default;
};
struct MoveSlots {
  std::string node;
  std::vector<SlotMoveRef> moves;
  std::string reason;
};
// A node that left the cluster for good (scale-in): it is stopped and its files deleted,
// only if, on a fresh read right before, it answers as `id`, serves no slot in its own view
// and no master's view gives `id` a slot.
struct RetireNode {
  std::string node;
  std::string id;
  std::string reason;
};
// Slots whose owner the masters disagree on (or that no master claims although views name
// an owner), settled toward the master that holds their keys, read fresh: that master takes
// them (SETSLOT NODE), makes its config epoch the newest (BUMPEPOCH) and every other master
// is told. When two masters hold keys of one slot nothing is changed (a person decides).
struct SettleOwner {
  std::string node;  // the owner most views name: chosen when no master holds a key
  std::vector<SlotRange> slots;
  std::string reason;
};

using Action =
    std::variant<StartNode, ResetHard, SetConfigEpoch, AddSlots, Meet, Replicate, Failover, Forget,
                 ConfigSet, SettleSlot, ReplaceNode, MoveSlots, RetireNode, SettleOwner>;

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

  // Slots whose owner the masters' views disagree on in this observation (the reconciler
  // times them: PassMemory::lasting_disagreements).
  std::vector<SlotRange> disagreements;
  // With a resize goal: the goal is reached (no move, failover or retirement is left and the
  // rest has converged); `final_layout` is then the slots of each master in shard order.
  bool resize_done = false;
  std::vector<std::vector<SlotRange>> final_layout;
  // Slots whose keys are lost (served by no node after the cluster served them, or owned by
  // an ID that no longer exists): what the blockers name, and what recover-slots may
  // re-create empty.
  std::vector<SlotRange> lost;

  bool Converged() const { return steps.empty() && waiting.empty() && blockers.empty(); }
  // A stable text form of steps + waiting + blockers (progress detection, `slotkeeper plan`).
  std::string ToString() const;
};

}  // namespace sk::model
