// Building blocks shared by Migrator::Run and Migrator::Resolve (not a public interface):
// moving the keys of open slots, assigning slots, rate limiting, naming things in errors.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "controller/act/migrate.h"
#include "controller/observe/observe.h"
#include "controller/redis/cluster_nodes.h"

namespace sk::act::internal {

// "a 127.0.0.1:7000".
std::string NodeRef(const MigrateNode& n);
// "slot 42 (a 127.0.0.1:7000 -> d 127.0.0.1:7003)".
std::string SlotRef(int slot, const MigrateNode& from, const MigrateNode& to);

// A key budget shared by all streams of one Run: at most `per_second` keys a second.
class RateLimiter {
 public:
  explicit RateLimiter(long long per_second);
  // Blocks until `keys` more keys may go. Returns at once when unlimited.
  void Acquire(long long keys);

 private:
  long long per_second_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point start_;
  long long granted_ = 0;
};

// Moves the keys of open slots from one source to one target with pipelined
// GETKEYSINSLOT + MIGRATE ... KEYS. The batch adapts: it shrinks on IOERR or slow rounds
// (down to one key per MIGRATE, then with a longer MIGRATE timeout) and grows back on fast
// ones. One per thread; it keeps its batch size across calls (keys of one cluster look alike).
class KeyMover {
 public:
  KeyMover(const MigrateOptions& opts, RateLimiter& limiter);

  // Moves every key of `slots` until the source holds none of them. The slots must be open:
  // MIGRATING on the source, and IMPORTING on (or owned by) the target. `first` may hold
  // keys already fetched per slot. Returns the slots that failed, with their error; keys
  // moved are added to `moved`.
  std::map<int, Error> Move(redis::RedisClient& source, const MigrateNode& from,
                            const MigrateNode& to, const std::vector<int>& slots,
                            std::map<int, std::vector<std::string>> first,
                            std::atomic<long long>& moved);

 private:
  struct SlotState;
  std::vector<std::string> MigrateArgv(const MigrateNode& to, bool replace,
                                       const std::vector<std::string>& keys, std::size_t n) const;
  void Shrink();
  void Judge(const MigrateNode& from, const MigrateNode& to, int slot, const redis::Reply& r,
             std::size_t sent, SlotState& st, bool& io_error, bool& wait,
             std::atomic<long long>& moved);

  const MigrateOptions& opts_;
  RateLimiter& limiter_;
  std::size_t batch_;
  int timeout_ms_;
};

// SETSLOT <slot> NODE <to> on the target first (so that a crash cannot leave the slot
// without an owner, redis#7116), then on the source and every other master at once. Only
// for slots the source no longer holds keys of. Returns the slots that could not be
// assigned on the target or the source; other masters learn by gossip if they miss it.
// Then it waits (opts.gate_timeout_ms) until every master's view names `to` as the owner,
// telling the ones that do not again; a slot that some master still sees elsewhere after that
// is reported with that master and the links it lacks (kAborted): its keys are on `to`.
std::map<int, Error> AssignSlots(observe::ClientPool& pool, const std::vector<int>& slots,
                                 const MigrateNode& from, const MigrateNode& to,
                                 const MigrateOptions& opts);

// Every master's CLUSTER NODES, all requested before any reply is read.
Result<std::vector<redis::NodeTable>> ReadViews(observe::ClientPool& pool,
                                                const std::vector<MigrateNode>& masters);
// The problems MoveGateProblems reports, from views read already (views[i] is masters[i]'s).
std::vector<std::string> GateProblems(const std::vector<MigrateNode>& masters,
                                      const std::vector<redis::NodeTable>& views);
// `masters` plus `from` and `to` when they are missing (by ID).
std::vector<MigrateNode> WithPair(std::vector<MigrateNode> masters, const MigrateNode& from,
                                  const MigrateNode& to);

// The id of the master `table` says serves `slot`, or "".
std::string OwnerOf(const redis::NodeTable& table, int slot);

}  // namespace sk::act::internal
