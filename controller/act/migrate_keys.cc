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

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

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
      timeout_ms_(std::max(1, opts.migrate_timeout_ms)) {}

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
    timeout_ms_ = std::min(timeout_ms_ * 2, std::max(1, opts_.migrate_timeout_ms) * 8);
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
  if (Contains(r.str, "BUSYKEY")) {
    // The target has a key the source still holds: an earlier MIGRATE reached the target but
    // its reply did not come back (the source deletes only what was acknowledged). While
    // the source holds a key it is the copy clients write to, so it is the newer one.
    spdlog::info("{}: target already holds some keys; retrying with REPLACE",
                 SlotRef(slot, from, to));
    st.replace = true;
  } else if (StartsWith(r.str, "IOERR")) {
    io_error = true;
  } else if (StartsWith(r.str, "TRYAGAIN") || StartsWith(r.str, "LOADING") ||
             StartsWith(r.str, "CLUSTERDOWN") || StartsWith(r.str, "MASTERDOWN")) {
    wait = true;  // these clear by themselves
  } else {
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
        Code code = StartsWith(st.last_error, "IOERR") ? Code::kDeadlineExceeded
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

std::map<int, Error> AssignSlots(observe::ClientPool& pool, const std::vector<int>& slots,
                                 const MigrateNode& from, const MigrateNode& to,
                                 const std::vector<MigrateNode>& masters) {
  std::map<int, Error> failed;
  if (slots.empty()) return failed;
  auto node_cmds = [&](const std::vector<int>& which) {
    std::vector<std::vector<std::string>> cmds;
    for (int s : which) cmds.push_back({"CLUSTER", "SETSLOT", std::to_string(s), "NODE", to.id});
    return cmds;
  };
  auto fail_all = [&](const std::vector<int>& which, const Error& e) {
    for (int s : which)
      failed.emplace(s, Error(e.code(), SlotRef(s, from, to) + ": " + e.message()));
  };
  // Target first: it clears IMPORTING and bumps its config epoch, so its claim wins. If we
  // stopped after the source instead, nobody would serve the slot.
  Result<redis::RedisClient*> target = pool.Get(to.ep);
  if (!target.ok()) {
    fail_all(slots, target.error());
    return failed;
  }
  Result<std::vector<Reply>> replies = (*target)->Pipeline(node_cmds(slots));
  if (!replies.ok()) {
    pool.Drop(to.ep);
    fail_all(slots, replies.error());
    return failed;
  }
  std::vector<int> on_target;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const Reply& r = (*replies)[i];
    if (r.IsError()) {
      failed.emplace(slots[i],
                     Error(Code::kFailedPrecondition,
                           SlotRef(slots[i], from, to) + ": SETSLOT NODE on the target: " + r.str));
    } else {
      on_target.push_back(slots[i]);
    }
  }
  if (on_target.empty()) return failed;
  // Then the source and every other master, all sent before any reply is read.
  std::vector<MigrateNode> rest = {from};
  for (const MigrateNode& m : masters) {
    if (m.id != from.id && m.id != to.id && m.ep != from.ep && m.ep != to.ep) rest.push_back(m);
  }
  std::vector<redis::RedisClient*> sent(rest.size(), nullptr);
  const auto cmds = node_cmds(on_target);
  for (std::size_t i = 0; i < rest.size(); ++i) {
    Result<redis::RedisClient*> c = pool.Get(rest[i].ep);
    if (c.ok() && (*c)->Send(cmds).ok()) {
      sent[i] = *c;
    } else {
      pool.Drop(rest[i].ep);
      if (i == 0)
        fail_all(on_target, c.ok() ? Unavailable(NodeRef(from) + ": send failed") : c.error());
    }
  }
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (!sent[i]) continue;
    Result<std::vector<Reply>> got = sent[i]->Receive(cmds.size());
    if (!got.ok()) {
      pool.Drop(rest[i].ep);
      if (i == 0) fail_all(on_target, got.error());
      continue;
    }
    for (std::size_t k = 0; k < on_target.size(); ++k) {
      const Reply& r = (*got)[k];
      if (!r.IsError()) continue;
      // A master that lost its last slot turns into a replica of the new owner (replica
      // migration) as soon as gossip tells it, and then refuses SETSLOT: the slot is where
      // it belongs, as redis-cli also concludes.
      if (Contains(r.str, "only with masters")) continue;
      if (i == 0) {
        failed.emplace(on_target[k], Error(Code::kFailedPrecondition,
                                           SlotRef(on_target[k], from, to) +
                                               ": SETSLOT NODE on the source: " + r.str));
      } else {
        spdlog::warn("{}: SETSLOT {} NODE: {} (it will learn by gossip)", NodeRef(rest[i]),
                     on_target[k], r.str);
      }
    }
  }
  return failed;
}

}  // namespace sk::act::internal
