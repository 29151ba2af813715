// Moving keys and assigning slots: the parts of a slot move that talk to Redis.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "controller/act/migrate_internal.h"
#include "controller/redis/cluster_nodes.h"

namespace sk::act::internal {
namespace {

using Clock = std::chrono::steady_clock;
using redis::Reply;

// Consecutive failures of one slot without progress before it is given up.
constexpr int kMaxFailures = 12;
// Rounds slower than this shrink the batch: a pipeline of MIGRATEs blocks the source for
// its whole length (Redis runs a client's pipelined commands back to back), so long rounds
// show up as client latency.
constexpr auto kSlowRound = std::chrono::milliseconds(40);
// Rounds faster than this (with a full batch) let the batch grow back.
constexpr auto kFastRound = std::chrono::milliseconds(10);
// MIGRATEs per round. Each MIGRATE is a synchronous round trip from the source to the target
// during which the source serves no one, and Redis runs a client's pipelined commands back
// to back: a round of many small MIGRATEs (slots with few keys) would block the source for
// their sum. Fetching the keys of a slot is cheap and is not capped. Measured on 300,000
// keys (bench/reshard, 2 cores): 8 per round gave a client p99 of 19-23 ms during the move,
// 2 gave 8-9 ms in the same time, 1 was 10-40% slower for the same p99.
constexpr std::size_t kMaxMigratesPerRound = 2;

std::vector<std::string> GetKeys(int slot, std::size_t n) {
  return {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), std::to_string(n)};
}

}  // namespace

std::string NodeRef(const MigrateNode& n) { return n.name + " " + n.ep.ToString(); }

std::string SlotRef(int slot, const MigrateNode& from, const MigrateNode& to) {
  return "slot " + std::to_string(slot) + " (" + NodeRef(from) + " -> " + NodeRef(to) + ")";
}

std::string OwnerOf(const redis::NodeTable& table, int slot) {
  for (const redis::NodeEntry& n : table.nodes) {
    for (const SlotRange& r : n.slots) {
      if (slot >= r.start && slot <= r.end) return n.id;
    }
  }
  return "";
}

RateLimiter::RateLimiter(long long per_second) : per_second_(per_second), start_(Clock::now()) {}

void RateLimiter::Acquire(long long keys) {
  if (per_second_ <= 0 || keys <= 0) return;
  Clock::time_point due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The time at which the keys granted so far are "paid for": wait until then.
    due = start_ + std::chrono::microseconds(granted_ * 1000000 / per_second_);
    granted_ += keys;
  }
  std::this_thread::sleep_until(due);
}

struct KeyMover::SlotState {
  std::vector<std::string> keys;  // the source's next keys of the slot
  bool fetched = false;           // `keys` is fresh from GETKEYSINSLOT
  bool replace = false;           // the target already has some keys (BUSYKEY)
  int failures = 0;
  std::string last_error;
};

KeyMover::KeyMover(const MigrateOptions& opts, RateLimiter& limiter)
    : opts_(opts),
      limiter_(limiter),
      batch_(static_cast<std::size_t>(std::max(1, opts.batch_keys))),
      timeout_ms_(std::max(1, std::min(opts.migrate_timeout_ms, opts.max_migrate_timeout_ms))) {}

std::vector<std::string> KeyMover::MigrateArgv(const MigrateNode& to, bool replace,
                                               const std::vector<std::string>& keys,
                                               std::size_t n) const {
  // MIGRATE host port "" 0 timeout [REPLACE] [AUTH pw] KEYS k...: the empty key and the
  // KEYS form (3.0.6) move many keys in one command. The host and port are the target as the
  // source reaches it. AUTH <password> (4.0.7) rather than AUTH2, which needs a user name.
  std::vector<std::string> argv = {"MIGRATE", to.ep.host, std::to_string(to.ep.port),
                                   "",        "0",        std::to_string(timeout_ms_)};
  if (replace) argv.push_back("REPLACE");
  if (opts_.client.has_password) {
    argv.push_back("AUTH");
    argv.push_back(opts_.client.password.get());
  }
  argv.push_back("KEYS");
  argv.insert(argv.end(), keys.begin(), keys.begin() + static_cast<long>(n));
  return argv;
}

void KeyMover::Shrink() {
  // A quarter at a time reaches one key quickly; at one key only a longer timeout can help.
  if (batch_ > 1) {
    batch_ = std::max<std::size_t>(1, batch_ / 4);
  } else {
    // Never past the cap: a source blocked longer would miss its cluster pings and could be
    // failed over mid-slot (MigrateOptions::max_migrate_timeout_ms).
    timeout_ms_ = std::min(timeout_ms_ * 2, std::max(1, opts_.max_migrate_timeout_ms));
  }
}

void KeyMover::Judge(const MigrateNode& from, const MigrateNode& to, int slot, const Reply& r,
                     std::size_t sent, SlotState& st, bool& io_error, bool& wait,
                     std::atomic<long long>& moved) {
  if (!r.IsError()) {
    // "OK", or "NOKEY" when every key vanished (expired or deleted) since GETKEYSINSLOT.
    if (r.str != "NOKEY") moved += static_cast<long long>(sent);
    st.failures = 0;
    return;
  }
  ++st.failures;
  st.last_error = r.str;
  switch (r.cause()) {
    case Cause::kBusyKey:
      // The target has a key the source still holds: an earlier MIGRATE reached the target
      // but its reply did not come back (the source deletes only what was acknowledged).
      // While the source holds a key it is the copy clients write to, so it is the newer one.
      spdlog::info("{}: target already holds some keys; retrying with REPLACE",
                   SlotRef(slot, from, to));
      st.replace = true;
      break;
    case Cause::kMigrateIo:
      io_error = true;
      break;
    case Cause::kClusterBusy:
      wait = true;  // these clear by themselves
      break;
    default:
      st.failures = kMaxFailures + 1;  // NOAUTH, MOVED from the target, OOM...: no retry helps
  }
}

std::map<int, Error> KeyMover::Move(redis::RedisClient& source, const MigrateNode& from,
                                    const MigrateNode& to, const std::vector<int>& slots,
                                    std::map<int, std::vector<std::string>> first,
                                    std::atomic<long long>& moved) {
  std::map<int, SlotState> open;
  for (int s : slots) {
    SlotState& st = open[s];
    auto it = first.find(s);
    if (it != first.end()) {
      st.keys = std::move(it->second);
      st.fetched = true;
    }
  }
  std::map<int, Error> failed;
  while (true) {
    for (auto it = open.begin(); it != open.end();) {  // drop finished and failed slots
      SlotState& st = it->second;
      if (st.failures > kMaxFailures) {
        Code code = redis::ClassifyReply(st.last_error).cause == Cause::kMigrateIo
                        ? Code::kDeadlineExceeded
                        : Code::kFailedPrecondition;
        failed.emplace(it->first,
                       Error(code, SlotRef(it->first, from, to) + ": MIGRATE: " + st.last_error));
        it = open.erase(it);
      } else if (st.fetched && st.keys.empty()) {
        it = open.erase(it);
      } else {
        ++it;
      }
    }
    if (open.empty()) break;
    // One round: a MIGRATE + the next GETKEYSINSLOT per slot, about `batch_` keys in all, so
    // that the source is never blocked long and the emptiness check costs no extra trip.
    std::vector<std::vector<std::string>> cmds;
    std::vector<std::pair<int, std::size_t>> items;  // slot, keys sent (0: fetch only)
    std::size_t total = 0;
    std::size_t migrates = 0;
    for (auto& [slot, st] : open) {
      if (!items.empty() && (total >= batch_ || migrates >= kMaxMigratesPerRound)) break;
      std::size_t n = st.fetched ? std::min(st.keys.size(), batch_) : 0;
      if (n > 0) {
        cmds.push_back(MigrateArgv(to, st.replace, st.keys, n));
        ++migrates;
      }
      cmds.push_back(GetKeys(slot, batch_));
      items.push_back({slot, n});
      total += n;
    }
    limiter_.Acquire(static_cast<long long>(total));
    // Our read timeout must outlast MIGRATE's own, which applies to each of its I/O steps.
    source.SetCommandTimeout(timeout_ms_ + opts_.client.command_timeout_ms);
    Clock::time_point t0 = Clock::now();
    Result<std::vector<Reply>> replies = source.Pipeline(cmds);
    auto took = Clock::now() - t0;
    bool io_error = false;
    bool retry_later = false;
    if (!replies.ok()) {
      // The connection is gone (or our read timed out): the server may still finish the
      // MIGRATEs, so every slot of the round starts again from a fresh GETKEYSINSLOT.
      spdlog::warn("{} -> {}: {}", NodeRef(from), NodeRef(to), replies.error().message());
      io_error = true;
      for (auto& [slot, n] : items) {
        SlotState& st = open[slot];
        st.fetched = false;
        st.keys.clear();
        ++st.failures;
        st.last_error = "IOERR " + replies.error().message();
      }
    } else {
      std::size_t at = 0;
      for (auto& [slot, n] : items) {
        SlotState& st = open[slot];
        if (n > 0) Judge(from, to, slot, (*replies)[at++], n, st, io_error, retry_later, moved);
        const Reply& keys = (*replies)[at++];
        st.fetched = !keys.IsError();
        st.keys.clear();
        if (keys.IsError()) {
          ++st.failures;
          st.last_error = keys.str;
          retry_later = true;
          continue;
        }
        for (const Reply& k : keys.elements) st.keys.push_back(k.str);
      }
    }
    if (io_error) {
      Shrink();
      spdlog::info("{} -> {}: MIGRATE timed out; now {} keys per MIGRATE, timeout {} ms",
                   NodeRef(from), NodeRef(to), batch_, timeout_ms_);
    } else if (took > kSlowRound && batch_ > 1) {
      batch_ = std::max<std::size_t>(1, batch_ / 2);
    } else if (took < kFastRound && total >= batch_ &&
               batch_ < static_cast<std::size_t>(std::max(1, opts_.batch_keys))) {
      batch_ = std::min<std::size_t>(batch_ * 2, static_cast<std::size_t>(opts_.batch_keys));
    }
    // TRYAGAIN, LOADING and the like clear by themselves; don't spin on them.
    if (retry_later) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return failed;
}

}  // namespace sk::act::internal
