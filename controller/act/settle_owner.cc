// Executor::SettleOwner: slots whose owner the masters disagree on, settled toward the keys.
//
// Redis settles two claims on a slot by config epoch and deletes the keys on the losing
// side, and a slot that no master claims any more (its owner lost it to a stale claim) is
// served by no one while views still name an owner. Neither settles by itself when the claim
// with the keys has the lower epoch. Every decision here is made on fresh reads of every
// master: the one master that holds keys of the slot takes it (else the one that claims it,
// else the owner most views name), makes its epoch the newest (BUMPEPOCH) so that its claim
// wins everywhere, and every other master is told (SETSLOT NODE). Two masters with keys of
// one slot: nothing is changed; that needs a person.
#include <spdlog/spdlog.h>

#include <map>
#include <optional>

#include "controller/act/executor.h"
#include "controller/act/migrate_internal.h"
#include "controller/redis/cluster_nodes.h"

namespace sk::act {

using redis::Reply;

namespace {

struct MasterRead {
  MigrateNode node;
  redis::NodeTable table;
  std::map<int, long long> keys;  // slot -> COUNTKEYSINSLOT
};

bool OwnsInOwnView(const redis::NodeTable& t, int slot) {
  const redis::NodeEntry* self = t.Myself();
  if (!self) return false;
  for (const SlotRange& r : self->slots) {
    if (r.start <= slot && slot <= r.end) return true;
  }
  return false;
}

}  // namespace

Status Executor::SettleOwner(const model::SettleOwner& a) {
  std::vector<int> slots;
  for (const SlotRange& r : a.slots) {
    for (int s = std::max(0, r.start); s <= std::min(kSlots - 1, r.end); ++s) slots.push_back(s);
  }
  std::vector<MasterRead> reads;
  for (const MigrateNode& m : masters_) {
    std::vector<std::vector<std::string>> cmds = {{"CLUSTER", "NODES"}};
    for (int s : slots) cmds.push_back({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(s)});
    SK_ASSIGN_OR_RETURN(redis::RedisClient * c, pool_.Get(m.ep));
    Result<std::vector<Reply>> r = c->Pipeline(cmds);
    if (!r.ok()) {
      pool_.Drop(m.ep);
      return std::move(r).error().Wrap("settling slot owners: " + m.name);
    }
    if ((*r)[0].IsError()) return redis::ReplyError(m.ep, (*r)[0].str);
    MasterRead read{m, {}, {}};
    SK_ASSIGN_OR_RETURN(read.table, redis::ParseClusterNodes((*r)[0].str));
    const redis::NodeEntry* self = read.table.Myself();
    if (!self || !self->IsMaster()) continue;  // turned replica since: it owns nothing
    for (std::size_t i = 0; i < slots.size(); ++i) {
      read.keys[slots[i]] = (*r)[i + 1].IsError() ? 0 : (*r)[i + 1].integer;
    }
    reads.push_back(std::move(read));
  }
  std::map<std::size_t, std::vector<int>> give;  // reads index -> slots it takes
  std::string conflict;
  for (int s : slots) {
    std::vector<std::size_t> holders, claimers;
    std::optional<std::size_t> preferred;
    for (std::size_t i = 0; i < reads.size(); ++i) {
      if (reads[i].keys[s] > 0) holders.push_back(i);
      if (OwnsInOwnView(reads[i].table, s)) claimers.push_back(i);
      if (reads[i].node.name == a.node) preferred = i;
    }
    if (holders.size() > 1) {
      if (conflict.empty()) {
        conflict = "slot " + std::to_string(s) + ": " + reads[holders[0]].node.name + " and " +
                   reads[holders[1]].node.name +
                   " both hold keys of it; slotkeeper will not choose between them";
      }
      continue;
    }
    std::optional<std::size_t> owner;
    if (holders.size() == 1) {
      owner = holders[0];
    } else if (claimers.size() == 1) {
      owner = claimers[0];
    } else {
      owner = preferred;
    }
    if (owner) give[*owner].push_back(s);
  }
  for (const auto& [i, mine] : give) {
    const MasterRead& o = reads[i];
    std::vector<std::vector<std::string>> take;
    for (int s : mine) {
      if (!OwnsInOwnView(o.table, s)) {
        take.push_back({"CLUSTER", "SETSLOT", std::to_string(s), "NODE", o.node.id});
      }
    }
    take.push_back({"CLUSTER", "BUMPEPOCH"});
    SK_ASSIGN_OR_RETURN(redis::RedisClient * c, pool_.Get(o.node.ep));
    SK_ASSIGN_OR_RETURN(std::vector<Reply> replies, c->Pipeline(take));
    for (const Reply& r : replies) {
      if (r.IsError()) return redis::ReplyError(o.node.ep, r.str).Wrap("taking slots");
    }
    spdlog::warn("slots {}: settled toward {} (it holds their keys or is their only claimant)",
                 RangesToString(RangesFromSlots(mine)), internal::NodeRef(o.node));
    // Every other master learns the owner; the confirmation of AssignSlots is not needed
    // here: the next observation shows whether the views agree now.
    for (const MasterRead& other : reads) {
      if (other.node.id == o.node.id) continue;
      std::vector<std::vector<std::string>> tell;
      for (int s : mine)
        tell.push_back({"CLUSTER", "SETSLOT", std::to_string(s), "NODE", o.node.id});
      SK_ASSIGN_OR_RETURN(redis::RedisClient * oc, pool_.Get(other.node.ep));
      Result<std::vector<Reply>> told = oc->Pipeline(tell);
      if (!told.ok()) {
        pool_.Drop(other.node.ep);
        spdlog::warn("{}: {}", other.node.name, told.error().message());
      }
    }
  }
  if (!conflict.empty()) return FailedPrecondition(conflict);
  return Status::Ok();
}

}  // namespace sk::act
