// Migrator::Run: several streams, one per (source, target) pair in flight. A stream leases
// up to kLease slots of a pair, journals them with one write, and moves them in waves. A
// wave of slots costs about as many round trips as one slot: its SETSLOT IMPORTING,
// MIGRATING and NODE commands go out as one pipeline per node (Redis then also saves
// nodes.conf once per pipeline, not once per slot) and its keys move in rounds of MIGRATEs
// that span its slots. Finished slots leave the journal with its next write, so fsyncs stay
// off the per-slot path (each journal write costs two).
#include "controller/act/migrate.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <optional>
#include <set>
#include <thread>

#include "api/types/slot_range.h"
#include "controller/act/migrate_internal.h"
#include "controller/act/migrate_journal.h"

namespace sk::act {
namespace {

using Clock = std::chrono::steady_clock;
using internal::NodeRef;
using internal::SlotRef;
using redis::Reply;

// Slots journaled at once. Journaling slots early is harmless: Resolve leaves a slot that
// was never opened alone.
constexpr int kLease = 256;
// Wave sizes adapt so that a wave takes about kWaveTarget: long enough to amortise its
// fixed round trips, short enough that `stop` is honoured soon and that slots do not sit
// open (clients redirected with ASK) for long.
constexpr int kFirstWave = 32;
constexpr int kMaxWave = 128;
constexpr auto kWaveTarget = std::chrono::milliseconds(150);

struct Pair {
  MigrateNode from;
  MigrateNode to;
  std::deque<int> slots;
  bool busy = false;
};

struct Chunk {
  std::size_t pair = 0;
  std::vector<int> slots;
};

// Hands out chunks so that no pair has two in flight and idle sources are used first.
class Scheduler {
 public:
  explicit Scheduler(std::vector<Pair> pairs) : pairs_(std::move(pairs)) {}

  std::optional<Chunk> Next(int max_slots) {
    std::lock_guard<std::mutex> lock(mu_);
    std::optional<std::size_t> best;
    auto score = [&](std::size_t i) {
      // Fewer streams on the same source, then on the same target, then most work left.
      return std::make_tuple(-busy_sources_[pairs_[i].from.id], -busy_targets_[pairs_[i].to.id],
                             pairs_[i].slots.size());
    };
    for (std::size_t i = 0; i < pairs_.size(); ++i) {
      if (pairs_[i].busy || pairs_[i].slots.empty()) continue;
      if (!best || score(i) > score(*best)) best = i;
    }
    if (!best) return std::nullopt;
    Pair& p = pairs_[*best];
    Chunk c{*best, {}};
    while (!p.slots.empty() && static_cast<int>(c.slots.size()) < max_slots) {
      c.slots.push_back(p.slots.front());
      p.slots.pop_front();
    }
    p.busy = true;
    ++busy_sources_[p.from.id];
    ++busy_targets_[p.to.id];
    return c;
  }

  void Done(std::size_t pair) {
    std::lock_guard<std::mutex> lock(mu_);
    Pair& p = pairs_[pair];
    p.busy = false;
    --busy_sources_[p.from.id];
    --busy_targets_[p.to.id];
  }

  const Pair& pair(std::size_t i) const { return pairs_[i]; }

 private:
  std::mutex mu_;
  std::vector<Pair> pairs_;
  std::map<std::string, int> busy_sources_;
  std::map<std::string, int> busy_targets_;
};

// State shared by the streams of one Run.
struct Shared {
  const MigrateOptions& opts;
  Journal& journal;
  Scheduler& sched;
  const std::atomic<bool>& stop;
  internal::RateLimiter limiter;
  std::atomic<long long> keys{0};
  std::mutex mu;
  std::condition_variable cv;
  int slots_done = 0;
  int running = 0;
  std::optional<Error> error;
};

Status ValidateJobs(const std::vector<SlotMoveJob>& jobs) {
  std::set<int> seen;
  for (const SlotMoveJob& j : jobs) {
    std::string ref = SlotRef(j.slot, j.from, j.to);
    if (j.slot < 0 || j.slot >= kSlots) return InvalidArgument(ref + ": slot outside 0..16383");
    if (!seen.insert(j.slot).second) return InvalidArgument(ref + ": slot listed twice");
    if (j.from.id.empty() || j.to.id.empty()) return InvalidArgument(ref + ": node id missing");
    if (j.from.id == j.to.id) return InvalidArgument(ref + ": source and target are the same");
  }
  return Status::Ok();
}

// Groups jobs by (source, target), keeping each pair's slots in the order given.
std::vector<Pair> MakePairs(const std::vector<SlotMoveJob>& jobs) {
  std::vector<Pair> pairs;
  std::map<std::pair<std::string, std::string>, std::size_t> index;
  for (const SlotMoveJob& j : jobs) {
    auto [it, fresh] = index.emplace(std::make_pair(j.from.id, j.to.id), pairs.size());
    if (fresh) pairs.push_back(Pair{j.from, j.to, {}, false});
    pairs[it->second].slots.push_back(j.slot);
  }
  return pairs;
}

// One stream: a thread with its own connections and its own adaptive batch size.
class Stream {
 public:
  explicit Stream(Shared& sh) : sh_(sh), pool_(sh.opts.client), mover_(sh.opts, sh.limiter) {}

  void Loop() {
    while (!Failed() && !sh_.stop.load()) {
      std::optional<Chunk> lease = sh_.sched.Next(kLease);
      if (!lease) break;
      Status st = MoveLease(sh_.sched.pair(lease->pair), lease->slots);
      sh_.sched.Done(lease->pair);
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(sh_.mu);
        if (!sh_.error) sh_.error = std::move(st).error();
        break;
      }
    }
    std::lock_guard<std::mutex> lock(sh_.mu);
    --sh_.running;
    sh_.cv.notify_all();
  }

 private:
  bool Failed() {
    std::lock_guard<std::mutex> lock(sh_.mu);
    return sh_.error.has_value();
  }
  Status MoveLease(const Pair& p, const std::vector<int>& slots);
  Status MoveChunk(const Pair& p, const std::vector<int>& slots);
  Status Gate(const Pair& p);
  Result<std::vector<Reply>> OnNode(const MigrateNode& n,
                                    const std::vector<std::vector<std::string>>& cmds);
  void Finish(const Pair& p, std::vector<int> done, std::map<int, Error>& failed);

  Shared& sh_;
  observe::ClientPool pool_;
  internal::KeyMover mover_;
  int wave_ = kFirstWave;
};

Status Stream::MoveLease(const Pair& p, const std::vector<int>& slots) {
  std::vector<JournalEntry> entries;
  for (int s : slots) entries.push_back({s, p.from, p.to, "moving", ""});
  // Journal first: a slot must never be open without a record of it.
  SK_TRY(sh_.journal.Put(entries));
  std::size_t at = 0;
  Status st;
  while (at < slots.size() && st.ok() && !sh_.stop.load() && !Failed()) {
    std::size_t n = std::min(slots.size() - at, static_cast<std::size_t>(wave_));
    Clock::time_point t0 = Clock::now();
    st = MoveChunk(p, std::vector<int>(slots.begin() + static_cast<long>(at),
                                       slots.begin() + static_cast<long>(at + n)));
    at += n;
    double ratio = std::chrono::duration<double>(kWaveTarget) / (Clock::now() - t0);
    wave_ = std::clamp(static_cast<int>(wave_ * std::clamp(ratio, 0.5, 2.0)), 1, kMaxWave);
  }
  // Slots never started (stopped, or another stream failed) leave the journal untouched.
  sh_.journal.Drop(std::vector<int>(slots.begin() + static_cast<long>(at), slots.end()));
  return st;
}

Result<std::vector<Reply>> Stream::OnNode(const MigrateNode& n,
                                          const std::vector<std::vector<std::string>>& cmds) {
  SK_ASSIGN_OR_RETURN(redis::RedisClient * c, pool_.Get(n.ep));
  Result<std::vector<Reply>> r = c->Pipeline(cmds);
  if (!r.ok()) pool_.Drop(n.ep);
  return r;
}

// Waits (bounded) until the masters may move slots: MoveGateProblems says nothing.
Status Stream::Gate(const Pair& p) {
  const std::vector<MigrateNode> masters = internal::WithPair(sh_.opts.masters, p.from, p.to);
  const auto deadline = Clock::now() + std::chrono::milliseconds(sh_.opts.gate_timeout_ms);
  while (true) {
    SK_ASSIGN_OR_RETURN(std::string why, MoveGateProblems(pool_, masters));
    if (why.empty()) return Status::Ok();
    if (Clock::now() > deadline || sh_.stop.load()) {
      return Unavailable("slots from " + NodeRef(p.from) + " to " + NodeRef(p.to) +
                         " stay on their source: " + why);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// One wave: slots journaled already (MoveLease), moved with one pipeline per step and node.
// Opened only once the gate allows it, so a wave never starts while some master cannot hear
// the new owner.
Status Stream::MoveChunk(const Pair& p, const std::vector<int>& slots) {
  SK_TRY(Gate(p));
  std::map<int, Error> failed;
  auto fail = [&](int s, Code code, const std::string& what) {
    failed.emplace(s, Error(code, SlotRef(s, p.from, p.to) + ": " + what));
  };
  // IMPORTING on the target before MIGRATING on the source: a client sent to the target by
  // ASK must find the slot importing there.
  std::vector<std::vector<std::string>> cmds;
  for (int s : slots) {
    cmds.push_back({"CLUSTER", "SETSLOT", std::to_string(s), "IMPORTING", p.from.id});
  }
  Result<std::vector<Reply>> imp = OnNode(p.to, cmds);
  if (!imp.ok()) {
    // Some IMPORTING may have been applied: the slots stay journaled for Resolve.
    Error e = std::move(imp).error().Wrap("moving slots to " + NodeRef(p.to));
    std::vector<JournalEntry> entries;
    for (int s : slots) entries.push_back({s, p.from, p.to, "failed", e.message()});
    (void)sh_.journal.Put(entries);
    return e;
  }
  std::vector<int> importing, owned;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const Reply& r = (*imp)[i];
    if (!r.IsError()) {
      importing.push_back(slots[i]);
    } else if (r.cause() == Cause::kAlreadyOwner) {
      owned.push_back(slots[i]);  // done before (a resumed or repeated run): check below
    } else {
      fail(slots[i], Code::kFailedPrecondition, "SETSLOT IMPORTING on the target: " + r.str);
    }
  }
  // MIGRATING plus the first keys of each slot in one trip; COUNTKEYSINSLOT for the slots
  // the target owns already, which are done only if the source holds none of their keys.
  cmds.clear();
  for (int s : importing) {
    cmds.push_back({"CLUSTER", "SETSLOT", std::to_string(s), "MIGRATING", p.to.id});
    cmds.push_back({"CLUSTER", "GETKEYSINSLOT", std::to_string(s),
                    std::to_string(std::max(1, sh_.opts.batch_keys))});
  }
  for (int s : owned) cmds.push_back({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(s)});
  Result<std::vector<Reply>> mig = OnNode(p.from, cmds);
  std::map<int, std::vector<std::string>> first;
  std::vector<int> open, done, rollback;
  if (!mig.ok()) {
    // Unknown whether MIGRATING was applied; the slots stay journaled for Resolve.
    for (int s : importing) fail(s, mig.error().code(), mig.error().message());
    for (int s : owned) fail(s, mig.error().code(), mig.error().message());
  } else {
    std::size_t at = 0;
    for (int s : importing) {
      const Reply& m = (*mig)[at++];
      const Reply& k = (*mig)[at++];
      if (m.IsError()) {
        fail(s, Code::kAborted, "SETSLOT MIGRATING on the source: " + m.str);
        rollback.push_back(s);
        continue;
      }
      open.push_back(s);
      if (!k.IsError()) {
        for (const Reply& key : k.elements) first[s].push_back(key.str);
      }
    }
    for (int s : owned) {
      const Reply& n = (*mig)[at++];
      if (!n.IsError() && n.integer == 0) {
        done.push_back(s);
      } else {
        fail(s, Code::kAborted,
             "the target owns the slot but the source still holds keys of it (or did not "
             "answer): resolve it");
      }
    }
  }
  if (!rollback.empty()) {
    // The source refused MIGRATING, so no key moved: just close the slot on the target.
    cmds.clear();
    for (int s : rollback) cmds.push_back({"CLUSTER", "SETSLOT", std::to_string(s), "STABLE"});
    if (OnNode(p.to, cmds).ok()) sh_.journal.Drop(rollback);
  }
  if (!open.empty()) {
    Result<redis::RedisClient*> src = pool_.Get(p.from.ep);
    std::map<int, Error> bad =
        src.ok() ? mover_.Move(**src, p.from, p.to, open, std::move(first), sh_.keys)
                 : std::map<int, Error>{};
    if (!src.ok()) {
      for (int s : open) fail(s, src.error().code(), src.error().message());
    }
    for (int s : open) {
      if (!src.ok()) break;
      auto it = bad.find(s);
      // A slot whose keys did not all move is never assigned: it stays open and journaled.
      if (it == bad.end()) {
        done.push_back(s);
      } else {
        failed.emplace(s, it->second);
      }
    }
  }
  Finish(p, done, failed);
  if (!failed.empty()) return failed.begin()->second;
  return Status::Ok();
}

// Assigns the emptied slots, then records the outcome: finished slots leave the journal,
// failed ones stay in it marked "failed" with their error.
void Stream::Finish(const Pair& p, std::vector<int> done, std::map<int, Error>& failed) {
  std::sort(done.begin(), done.end());
  std::map<int, Error> unassigned = internal::AssignSlots(pool_, done, p.from, p.to, sh_.opts);
  std::vector<int> finished;
  for (int s : done) {
    auto it = unassigned.find(s);
    if (it == unassigned.end()) {
      finished.push_back(s);
    } else {
      failed.emplace(s, it->second);
    }
  }
  // Lazily: the slots are moved, and the next chunk's write takes them out of the file.
  sh_.journal.Drop(finished);
  std::vector<JournalEntry> bad;
  for (const auto& [s, e] : failed) bad.push_back({s, p.from, p.to, "failed", e.message()});
  if (Status st = sh_.journal.Put(bad); !st.ok()) {
    spdlog::warn("migration journal: {}", st.error().message());
  }
  std::lock_guard<std::mutex> lock(sh_.mu);
  sh_.slots_done += static_cast<int>(finished.size());
  sh_.cv.notify_all();
}

}  // namespace

Migrator::Migrator(MigrateOptions opts) : opts_(std::move(opts)) {}

Status Migrator::Run(const std::vector<SlotMoveJob>& jobs,
                     const std::function<void(const MigrateProgress&)>& on_progress,
                     const std::atomic<bool>& stop) {
  SK_TRY(ValidateJobs(jobs));
  Journal journal(opts_.journal_path);
  SK_ASSIGN_OR_RETURN(std::vector<JournalEntry> left, journal.Load());
  if (!left.empty()) {
    // Slots left open by an earlier run are settled first: a new move must not start on top
    // of them, and a job whose slot Resume finished counts as done below.
    spdlog::info("migration journal {} lists {} slots in flight; resolving them first",
                 opts_.journal_path, left.size());
    SK_TRY(Resume());
    SK_ASSIGN_OR_RETURN(left, journal.Load());
  }
  if (jobs.empty()) return Status::Ok();
  Scheduler sched(MakePairs(jobs));
  Shared sh{opts_, journal, sched, stop, internal::RateLimiter(opts_.max_keys_per_second)};
  const std::size_t streams =
      std::min<std::size_t>(std::max(1, opts_.max_parallel), MakePairs(jobs).size());
  MigrateProgress progress{0, static_cast<int>(jobs.size()), 0, 0};
  Clock::time_point t0 = Clock::now();
  std::vector<std::thread> threads;
  sh.running = static_cast<int>(streams);
  for (std::size_t i = 0; i < streams; ++i) {
    threads.emplace_back([&sh] { Stream(sh).Loop(); });
  }
  // Progress is reported from the caller's thread, so that on_progress needs no locking.
  std::unique_lock<std::mutex> lock(sh.mu);
  int reported = -1;
  while (true) {
    sh.cv.wait_for(lock, std::chrono::milliseconds(200));
    bool finished = sh.running == 0;
    if (sh.slots_done != reported && on_progress) {
      reported = sh.slots_done;
      progress.slots_done = sh.slots_done;
      progress.keys_moved = sh.keys.load();
      double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      progress.keys_per_second = secs > 0 ? static_cast<double>(progress.keys_moved) / secs : 0;
      lock.unlock();
      on_progress(progress);
      lock.lock();
    }
    if (finished) break;
  }
  lock.unlock();
  for (std::thread& t : threads) t.join();
  if (Status st = journal.Flush(); !st.ok()) {
    spdlog::warn("migration journal: {}", st.error().message());
  }
  spdlog::info("moved {} of {} slots, {} keys in {:.2f} s", sh.slots_done, jobs.size(),
               sh.keys.load(), std::chrono::duration<double>(Clock::now() - t0).count());
  if (sh.error) return *sh.error;
  if (sh.slots_done < static_cast<int>(jobs.size())) {
    return Aborted("migration stopped after " + std::to_string(sh.slots_done) + " of " +
                   std::to_string(jobs.size()) + " slots");
  }
  return Status::Ok();
}

}  // namespace sk::act
