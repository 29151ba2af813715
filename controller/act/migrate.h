// Migrator: moves hash slots between masters with their keys, through hiredis.
//
// Per slot, the order Redis Cluster needs (REDIS-FACTS, SETSLOT row): SETSLOT IMPORTING on
// the target, SETSLOT MIGRATING on the source, then CLUSTER GETKEYSINSLOT + MIGRATE ... KEYS
// in large pipelined batches until the slot is empty on the source, then SETSLOT NODE on the
// target first, then on the source, then on every other master. A MIGRATE that fails is never
// followed by SETSLOT NODE: the slot stays open (journaled) and the error is returned.
// Several slots are in flight at once on disjoint (source, target) pairs. The batch adapts
// to key sizes so that a big key never times out (down to one key per MIGRATE, with a longer
// timeout for it). BUSYKEY (the target already has the key, e.g. after a crash mid-batch)
// is resolved with REPLACE only when the source still holds the key (it is the newer copy).
// Password-protected clusters use MIGRATE ... AUTH2 (or AUTH) without the password ever
// reaching a log or an error message.
//
// The journal (a JSON file, rewritten atomically) records each slot before its first command
// and after its last one, so that a controller killed mid-move can Resume(): finish or roll
// back exactly the slots that were in flight, losing no key.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/types/endpoint.h"
#include "api/types/result.h"
#include "controller/observe/observe.h"
#include "controller/redis/redis_client.h"

namespace sk::act {

struct MigrateNode {
  std::string name;
  std::string id;  // 40-hex node ID
  Endpoint ep;
};

struct SlotMoveJob {
  int slot = 0;
  MigrateNode from;
  MigrateNode to;
};

struct MigrateOptions {
  redis::ClientOptions client;     // password, connect/command timeouts
  int batch_keys = 1000;           // keys per GETKEYSINSLOT/MIGRATE to start with; adapts
  int max_parallel = 4;            // slots in flight, each on its own (source, target) pair
  int migrate_timeout_ms = 10000;  // MIGRATE's own timeout argument, to start with
  // The longest a MIGRATE may block its source. A source blocked in MIGRATE answers no
  // cluster ping; blocked for a node timeout it is failed over mid-slot. Set it below half
  // the node timeout (the executor does); the adaptive timeout never grows past it.
  int max_migrate_timeout_ms = 80000;
  // Before a wave of slots opens, every master must have a live bus link to every other and
  // their config epochs must be distinct; waited for this long, then the move stops with the
  // slots untouched on their source. After SETSLOT NODE, every master's view must name the
  // new owner within the same bound, else the slot is reported (it stays journaled).
  int gate_timeout_ms = 5000;
  long long max_keys_per_second = 0;  // rate limit; 0 = none
  std::string journal_path;           // "" = no journal
  std::vector<MigrateNode> masters;   // every master: SETSLOT NODE goes to all of them
};

// Why slots may not move between `masters` now ("" when they may): pairs without a live bus
// link in the masters' own views, masters some master sees as failing, shared config epochs.
// Reads every master's CLUSTER NODES; kUnavailable when one does not answer.
Result<std::string> MoveGateProblems(observe::ClientPool& pool,
                                     const std::vector<MigrateNode>& masters);

struct MigrateProgress {
  int slots_done = 0;
  int slots_total = 0;
  long long keys_moved = 0;
  double keys_per_second = 0;
};

// State of one open slot as the nodes report it (for Resolve).
struct OpenSlot {
  int slot = 0;
  MigrateNode source;  // has it MIGRATING (or owns it)
  MigrateNode target;  // has it IMPORTING
};

class Migrator {
 public:
  explicit Migrator(MigrateOptions opts);

  // Moves every slot of `jobs`; calls `on_progress` after each slot. Stops early (kAborted)
  // when `stop` becomes true, leaving no slot half-moved: the slot in flight is finished.
  // Returns the first error; slots already moved stay moved.
  Status Run(const std::vector<SlotMoveJob>& jobs,
             const std::function<void(const MigrateProgress&)>& on_progress,
             const std::atomic<bool>& stop);

  // Finishes or rolls back one slot left MIGRATING/IMPORTING (crash, killed daemon, a human):
  // if the source still holds keys of the slot, they are moved and the slot is given to the
  // target; if only the target holds keys, the slot is given to the target; if neither
  // does, the flags are cleared and the slot stays with its owner. Also clears stale
  // IMPORTING/MIGRATING flags on replicas' masters views. Never drops a key.
  Status Resolve(const OpenSlot& open);

  // Reads the journal and Resolves every slot it records as in flight. Ok when there is none.
  Status Resume();

 private:
  MigrateOptions opts_;
};

}  // namespace sk::act
