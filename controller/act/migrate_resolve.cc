// Migrator::Resolve and Migrator::Resume: settling slots left open, losing no key.
//
// Every decision is made from a fresh read of both nodes (CLUSTER NODES for ownership and
// flags, COUNTKEYSINSLOT for keys) and of every other master (keys and stale flags):
//
//   source keys | target keys | ownership                 | action
//   ------------+-------------+---------------------------+-------------------------------
//   > 0         | 0           | source owns, nothing open | nothing (the move never began)
//   > 0         | any         | any other                 | move the rest, give to target
//   0           | > 0         | any                       | give to target
//   0           | 0           | target owns, or nobody    | give to target
//   0           | 0           | source (or another) owns  | clear the flags (roll back)
//
// A third master that holds keys of the slot, or a source that holds keys of a slot it sees
// served by someone else, is refused with kFailedPrecondition: no automatic choice there is
// safe, because Redis deletes the keys of a slot a node loses to a higher config epoch.
#include <spdlog/spdlog.h>

#include <optional>

#include "controller/act/migrate.h"
#include "controller/act/migrate_internal.h"
#include "controller/act/migrate_journal.h"
#include "controller/redis/cluster_nodes.h"

namespace sk::act {
namespace {

using internal::NodeRef;
using internal::SlotRef;
using redis::Reply;

struct NodeView {
  redis::NodeTable table;
  redis::NodeEntry self;
  long long keys = 0;
};

Result<NodeView> ReadView(observe::ClientPool& pool, const MigrateNode& n, int slot) {
  SK_ASSIGN_OR_RETURN(redis::RedisClient * c, pool.Get(n.ep));
  Result<std::vector<Reply>> r =
      c->Pipeline({{"CLUSTER", "NODES"}, {"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}});
  if (!r.ok()) {
    pool.Drop(n.ep);
    return std::move(r).error();
  }
  for (const Reply& x : *r) {
    if (x.IsError()) return redis::ReplyError(n.ep, x.str);
  }
  NodeView v;
  SK_ASSIGN_OR_RETURN(v.table, redis::ParseClusterNodes((*r)[0].str));
  const redis::NodeEntry* self = v.table.Myself();
  if (!self) return Internal(n.ep.ToString() + ": CLUSTER NODES has no myself line");
  v.self = *self;
  v.keys = (*r)[1].integer;
  return v;
}

Status Call(observe::ClientPool& pool, const MigrateNode& n, const std::vector<std::string>& argv) {
  SK_ASSIGN_OR_RETURN(redis::RedisClient * c, pool.Get(n.ep));
  Result<Reply> r = c->Call(argv);
  if (!r.ok()) return std::move(r).error().Wrap(argv[0] + " " + argv[1] + " " + argv[3]);
  return Status::Ok();
}

std::vector<std::string> SetSlot(int slot, const std::string& what, const std::string& id = "") {
  std::vector<std::string> argv = {"CLUSTER", "SETSLOT", std::to_string(slot), what};
  if (!id.empty()) argv.push_back(id);
  return argv;
}

// The node at `n.ep` must be the node the caller means (a journal can outlive an address).
Status CheckId(MigrateNode& n, const NodeView& v) {
  if (n.id.empty()) n.id = v.self.id;
  if (n.id != v.self.id) {
    return FailedPrecondition(NodeRef(n) + " is now node " + v.self.id + ", not " + n.id);
  }
  return Status::Ok();
}

class Resolver {
 public:
  explicit Resolver(const MigrateOptions& opts)
      : opts_(opts),
        pool_(opts.client),
        limiter_(opts.max_keys_per_second),
        mover_(opts, limiter_) {}

  Status Resolve(OpenSlot open);

 private:
  Status FinishMove(int slot, const MigrateNode& from, const MigrateNode& to, const NodeView& s,
                    const NodeView& t);
  Status GiveToTarget(int slot, const MigrateNode& from, const MigrateNode& to);
  // Views of the other masters; kFailedPrecondition if one of them holds keys of the slot.
  Result<std::vector<std::pair<MigrateNode, NodeView>>> Others(int slot, const MigrateNode& from,
                                                               const MigrateNode& to);

  const MigrateOptions& opts_;
  observe::ClientPool pool_;
  internal::RateLimiter limiter_;
  internal::KeyMover mover_;
  std::atomic<long long> moved_{0};
};

Result<std::vector<std::pair<MigrateNode, NodeView>>> Resolver::Others(int slot,
                                                                       const MigrateNode& from,
                                                                       const MigrateNode& to) {
  std::vector<std::pair<MigrateNode, NodeView>> out;
  for (const MigrateNode& m : opts_.masters) {
    if (m.id == from.id || m.id == to.id || m.ep == from.ep || m.ep == to.ep) continue;
    Result<NodeView> v = ReadView(pool_, m, slot);
    if (!v.ok()) {
      // It cannot serve the slot to anyone either; it learns the owner when it is back.
      spdlog::warn("resolving slot {}: {} not checked: {}", slot, NodeRef(m), v.error().message());
      continue;
    }
    if (v->keys > 0) {
      return FailedPrecondition(SlotRef(slot, from, to) + ": " + NodeRef(m) + " also holds " +
                                std::to_string(v->keys) + " keys of the slot; resolve by hand");
    }
    out.push_back({m, std::move(v).value()});
  }
  return out;
}

Status Resolver::Resolve(OpenSlot open) {
  const int slot = open.slot;
  MigrateNode& from = open.source;
  MigrateNode& to = open.target;
  SK_ASSIGN_OR_RETURN(NodeView s, ReadView(pool_, from, slot));
  SK_ASSIGN_OR_RETURN(NodeView t, ReadView(pool_, to, slot));
  SK_TRY(CheckId(from, s));
  SK_TRY(CheckId(to, t));
  if (t.self.IsReplica()) {
    // The target became a replica since (a failover, a later scale): it cannot take the slot.
    // Its keys, if any, are a copy of its master's. While the source still owns the slot, the
    // move is rolled back there; any other case needs a fresh look by a person.
    if (internal::OwnerOf(s.table, slot) == from.id) {
      if (s.self.migrating.count(slot)) SK_TRY(Call(pool_, from, SetSlot(slot, "STABLE")));
      spdlog::info("{}: the target is a replica now; the slot stays with its source",
                   SlotRef(slot, from, to));
      return Status::Ok();
    }
    return FailedPrecondition(SlotRef(slot, from, to) +
                              ": the target is a replica now and the source does not own the "
                              "slot; resolve by hand");
  }
  SK_ASSIGN_OR_RETURN(auto others, Others(slot, from, to));
  const std::string owner_s = internal::OwnerOf(s.table, slot);
  const std::string owner_t = internal::OwnerOf(t.table, slot);
  const bool s_owns = owner_s == from.id;
  const bool t_owns = owner_t == to.id;
  const bool s_mig = s.self.migrating.count(slot) > 0;
  const bool t_imp = t.self.importing.count(slot) > 0;
  spdlog::debug("resolving {}: source {} keys{}{}, target {} keys{}{}", SlotRef(slot, from, to),
                s.keys, s_owns ? " owner" : "", s_mig ? " migrating" : "", t.keys,
                t_owns ? " owner" : "", t_imp ? " importing" : "");
  Status st;
  if (s.keys > 0 && !s_mig && !t_imp && s_owns && !t_owns && t.keys == 0) {
    st = Status::Ok();  // the move never began: nothing is open, nothing to do
  } else if (s.keys > 0) {
    st = FinishMove(slot, from, to, s, t);
  } else if (t.keys > 0 || t_owns || (owner_s.empty() && owner_t.empty())) {
    st = GiveToTarget(slot, from, to);
  } else {
    // Nobody holds a key and the source (or a third master) serves the slot: roll back.
    if (t_imp) SK_TRY(Call(pool_, to, SetSlot(slot, "STABLE")));
    if (s_mig) SK_TRY(Call(pool_, from, SetSlot(slot, "STABLE")));
  }
  SK_TRY(st);
  // Flags on other masters are stale now; they hold no key of the slot (checked above).
  for (const auto& [m, v] : others) {
    if (v.self.migrating.count(slot) || v.self.importing.count(slot)) {
      spdlog::info("slot {}: clearing a stale open flag on {}", slot, NodeRef(m));
      SK_TRY(Call(pool_, m, SetSlot(slot, "STABLE")));
    }
  }
  return Status::Ok();
}

Status Resolver::FinishMove(int slot, const MigrateNode& from, const MigrateNode& to,
                            const NodeView& s, const NodeView& t) {
  const std::string ref = SlotRef(slot, from, to);
  const std::string owner_s = internal::OwnerOf(s.table, slot);
  if (owner_s != from.id) {
    if (!owner_s.empty()) {
      return FailedPrecondition(ref + ": the source holds " + std::to_string(s.keys) +
                                " keys of the slot but sees it served by " + owner_s +
                                "; resolve by hand");
    }
    // Nobody serves it: the source, which holds the keys, claims it so that it may MIGRATE.
    SK_TRY(Call(pool_, from, SetSlot(slot, "NODE", from.id)));
  }
  if (internal::OwnerOf(t.table, slot) != to.id) {
    SK_TRY(Call(pool_, to, SetSlot(slot, "IMPORTING", from.id)));
  }
  SK_TRY(Call(pool_, from, SetSlot(slot, "MIGRATING", to.id)));
  SK_ASSIGN_OR_RETURN(redis::RedisClient * src, pool_.Get(from.ep));
  std::map<int, Error> bad = mover_.Move(*src, from, to, {slot}, {}, moved_);
  if (!bad.empty()) return bad.begin()->second;
  return GiveToTarget(slot, from, to);
}

Status Resolver::GiveToTarget(int slot, const MigrateNode& from, const MigrateNode& to) {
  std::map<int, Error> bad = internal::AssignSlots(pool_, {slot}, from, to, opts_);
  if (!bad.empty()) return bad.begin()->second;
  // SETSLOT NODE bumps the target's config epoch only when it was importing. Make sure its
  // claim is the newest, else an older claim by the source could win by gossip and the
  // target would drop the keys (as redis-cli's fix does with BUMPEPOCH).
  SK_ASSIGN_OR_RETURN(redis::RedisClient * c, pool_.Get(to.ep));
  Result<Reply> r = c->Call({"CLUSTER", "BUMPEPOCH"});
  if (!r.ok()) spdlog::warn("{}: CLUSTER BUMPEPOCH: {}", NodeRef(to), r.error().message());
  return Status::Ok();
}

}  // namespace

Status Migrator::Resolve(const OpenSlot& open) { return Resolver(opts_).Resolve(open); }

Status Migrator::Resume() {
  Journal journal(opts_.journal_path);
  SK_ASSIGN_OR_RETURN(std::vector<JournalEntry> entries, journal.Load());
  if (entries.empty()) return Status::Ok();
  Resolver resolver(opts_);
  std::vector<int> settled;
  std::optional<Error> first;
  for (const JournalEntry& e : entries) {
    Status st = resolver.Resolve(OpenSlot{e.slot, e.from, e.to});
    if (st.ok()) {
      settled.push_back(e.slot);
    } else if (!first) {
      first = std::move(st).error();
    }
  }
  SK_TRY(journal.Remove(settled));
  spdlog::info("migration journal: resolved {} of {} slots", settled.size(), entries.size());
  if (first) return *first;
  return Status::Ok();
}

}  // namespace sk::act
