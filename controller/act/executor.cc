#include "controller/act/executor.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <type_traits>

#include "controller/act/migrate.h"
#include "controller/act/migrate_internal.h"
#include "controller/redis/cluster_nodes.h"

namespace sk::act {

using model::Action;
using redis::Reply;

namespace {

// "ERR Slot 42 is already busy" (Cause::kSlotBusy) -> 42, else -1.
int BusySlot(const std::string& err) {
  auto pos = err.find("Slot ");
  if (pos == std::string::npos) return -1;
  return std::atoi(err.c_str() + pos + 5);
}

}  // namespace

Executor::Executor(observe::ClientPool& pool, NodeProvider* provider,
                   const model::ObservedCluster& seen, ExecutorOptions opts)
    : pool_(pool), provider_(provider), opts_(std::move(opts)) {
  for (const model::ObservedNode& n : seen.nodes) {
    endpoints_[n.name] = n.ep;
    if (n.reachable && !n.starting) ids_[n.name] = n.id;
    addslotsrange_[n.name] = n.HasAddSlotsRange();
    if (n.reachable && !n.starting && n.IsMaster()) {
      masters_.push_back({n.name, n.id, n.ep});
      if (!n.OwnSlots().empty()) serving_.push_back({n.name, n.id, n.ep});
    }
  }
}

MigrateNode Executor::NodeOf(const std::string& name) const {
  auto ep = endpoints_.find(name);
  auto id = ids_.find(name);
  return {name, id == ids_.end() ? "" : id->second,
          ep == endpoints_.end() ? Endpoint{} : ep->second};
}

MigrateOptions Executor::Migration() const {
  MigrateOptions mo;
  mo.client = pool_.options();
  mo.masters = masters_;
  mo.journal_path = opts_.journal_path;
  mo.max_migrate_timeout_ms = opts_.max_migrate_timeout_ms;
  mo.migrate_timeout_ms = std::min(mo.migrate_timeout_ms, opts_.max_migrate_timeout_ms);
  mo.gate_timeout_ms = opts_.gate_timeout_ms;
  return mo;
}

// The moves of a scale operation. The gate and the confirmation (migrate_assign.cc) run
// between the masters that serve slots and the new owners; empty masters that take no slot
// play no part in who owns what.
Status Executor::MoveSlots(const model::MoveSlots& a) {
  MigrateOptions mo = Migration();
  mo.masters = serving_;
  std::vector<SlotMoveJob> jobs;
  for (const model::SlotMoveRef& m : a.moves) {
    SlotMoveJob job{m.slot, NodeOf(m.from), NodeOf(m.to)};
    if (job.from.id.empty() || job.to.id.empty()) {
      return Aborted("slot " + std::to_string(m.slot) + ": " +
                     (job.from.id.empty() ? m.from : m.to) + " did not answer when planned");
    }
    mo.masters = internal::WithPair(std::move(mo.masters), job.from, job.to);
    jobs.push_back(std::move(job));
  }
  static const std::atomic<bool> kNever{false};
  Migrator mig(mo);
  return mig.Run(
      jobs,
      [&](const MigrateProgress& p) {
        if (opts_.on_progress) opts_.on_progress(p);
      },
      opts_.stop ? *opts_.stop : kNever);
}

// Retires a node that left the cluster, after checking again, on fresh reads, that it is the
// node the plan meant and that nothing depends on it: it answers as `id`, serves no slot, and
// no master gives `id` a slot. An empty or unknown ID never matches anything.
Status Executor::Retire(const model::RetireNode& a) {
  if (!provider_) return FailedPrecondition("no provider can retire " + a.node);
  if (a.id.empty()) return FailedPrecondition(a.node + " has no known node ID; not retired");
  auto ep = endpoints_.find(a.node);
  if (ep == endpoints_.end()) return Internal("unknown node " + a.node);
  SK_ASSIGN_OR_RETURN(redis::RedisClient * c, pool_.Get(ep->second));
  Result<std::vector<redis::Reply>> r =
      c->Pipeline({{"CLUSTER", "MYID"}, {"CLUSTER", "NODES"}, {"DBSIZE"}});
  if (!r.ok()) {
    pool_.Drop(ep->second);
    return std::move(r).error().Wrap("retiring " + a.node);
  }
  for (const redis::Reply& x : *r) {
    if (x.IsError()) return redis::ReplyError(ep->second, x.str).Wrap("retiring " + a.node);
  }
  if ((*r)[0].str != a.id) {
    return Aborted(a.node + " answers as node " + (*r)[0].str + ", not " + a.id + "; not retired");
  }
  SK_ASSIGN_OR_RETURN(redis::NodeTable table, redis::ParseClusterNodes((*r)[1].str));
  const redis::NodeEntry* self = table.Myself();
  if (!self || !self->slots.empty() || (self->IsMaster() && (*r)[2].integer > 0)) {
    return FailedPrecondition(a.node + " still serves slots or holds keys; not retired");
  }
  std::vector<MigrateNode> others;
  for (const MigrateNode& m : masters_) {
    if (m.id != a.id) others.push_back(m);
  }
  SK_ASSIGN_OR_RETURN(std::vector<redis::NodeTable> views, internal::ReadViews(pool_, others));
  for (std::size_t i = 0; i < views.size(); ++i) {
    const redis::NodeEntry* e = views[i].Find(a.id);
    if (e && !e->slots.empty()) {
      return FailedPrecondition(others[i].name + " still gives " + a.node + " slots " +
                                RangesToString(e->slots) + "; not retired");
    }
  }
  return provider_->RetireNode(a.node);
}

bool Executor::RunSpecial(const Action& a, std::vector<ActionResult>& out) {
  if (const auto* move = std::get_if<model::MoveSlots>(&a)) {
    out.push_back({a, MoveSlots(*move)});
  } else if (const auto* retire = std::get_if<model::RetireNode>(&a)) {
    out.push_back({a, Retire(*retire)});
  } else if (const auto* settle = std::get_if<model::SettleOwner>(&a)) {
    out.push_back({a, SettleOwner(*settle)});
  } else if (const auto* replace = std::get_if<model::ReplaceNode>(&a)) {
    out.push_back({a, provider_ ? provider_->ReplaceNode(replace->node)
                                : FailedPrecondition("no provider can replace " + replace->node)});
  } else if (const auto* start = std::get_if<model::StartNode>(&a)) {
    // Starting a process goes through the provider, not Redis.
    out.push_back({a, provider_ ? provider_->StartNode(start->node)
                                : FailedPrecondition("no provider can start " + start->node)});
  } else {
    return false;
  }
  return true;
}

std::vector<ActionResult> Executor::Run(const std::vector<Action>& step) {
  // Waves: runs of actions of one kind. Within a wave each node gets one pipeline, all are
  // sent before any reply is read; a wave ends before the next begins, so a CONFIG SET on a
  // master is applied before the REPLICATEs that follow it.
  std::vector<ActionResult> out;
  size_t i = 0;
  while (i < step.size()) {
    std::string_view kind = model::ActionKind(step[i]);
    std::vector<Group> groups;
    std::map<std::string, size_t> group_of;
    for (; i < step.size() && model::ActionKind(step[i]) == kind; ++i) {
      const std::string& node = model::ActionNode(step[i]);
      auto [it, fresh] = group_of.emplace(node, groups.size());
      if (fresh) groups.push_back(Group{node, {}, {}, {}, nullptr});
      groups[it->second].actions.push_back(&step[i]);
    }
    std::vector<std::vector<ActionResult>> results(groups.size());
    for (size_t g = 0; g < groups.size(); ++g) SendGroup(groups[g], results[g]);
    for (size_t g = 0; g < groups.size(); ++g) ReceiveGroup(groups[g], results[g]);
    for (auto& r : results) {
      for (auto& x : r) out.push_back(std::move(x));
    }
  }
  return out;
}

void Executor::SendGroup(Group& g, std::vector<ActionResult>& out) {
  std::vector<ActionResult> special;
  if (RunSpecial(*g.actions.front(), special)) {
    for (ActionResult& r : special) out.push_back(std::move(r));
    for (std::size_t i = 1; i < g.actions.size(); ++i) RunSpecial(*g.actions[i], out);
    return;
  }
  auto ep = endpoints_.find(g.node);
  if (ep == endpoints_.end()) {
    for (const Action* a : g.actions) out.push_back({*a, Internal("unknown node " + g.node)});
    return;
  }
  // An open slot is settled by the migration engine (keys may have to move).
  if (std::holds_alternative<model::SettleSlot>(*g.actions.front())) {
    Migrator migrator(Migration());
    for (const Action* a : g.actions) {
      const auto& s = std::get<model::SettleSlot>(*a);
      auto target = endpoints_.find(s.target);
      if (target == endpoints_.end()) {
        out.push_back({*a, Internal("unknown node " + s.target)});
        continue;
      }
      OpenSlot open{
          s.slot, {s.node, s.source_id, ep->second}, {s.target, s.target_id, target->second}};
      out.push_back({*a, migrator.Resolve(open)});
    }
    return;
  }
  auto client = pool_.Get(ep->second);
  if (!client.ok()) {
    for (const Action* a : g.actions) out.push_back({*a, client.error()});
    return;
  }
  std::vector<std::vector<std::string>> cmds;
  for (const Action* a : g.actions) {
    // Preconditions that need a fresh read are checked right before sending.
    if (std::holds_alternative<model::ResetHard>(*a)) {
      if (Status ok = CheckResetAllowed(**client); !ok.ok()) {
        out.push_back({*a, ok});
        continue;
      }
    }
    auto c = Commands(*a, addslotsrange_[g.node]);
    g.counts.push_back(c.size());
    g.sent.push_back(a);
    for (auto& cmd : c) cmds.push_back(std::move(cmd));
  }
  if (cmds.empty()) return;
  if (Status st = (*client)->Send(cmds); !st.ok()) {
    pool_.Drop(ep->second);
    for (const Action* a : g.sent) out.push_back({*a, st.error()});
    g.sent.clear();
    return;
  }
  g.client = *client;
}

void Executor::ReceiveGroup(Group& g, std::vector<ActionResult>& out) {
  if (!g.client) return;
  size_t total = 0;
  for (size_t c : g.counts) total += c;
  auto replies = g.client->Receive(total);
  if (!replies.ok()) {
    pool_.Drop(endpoints_[g.node]);
    for (const Action* a : g.sent) out.push_back({*a, replies.error()});
    return;
  }
  size_t at = 0;
  for (size_t k = 0; k < g.sent.size(); ++k) {
    std::vector<Reply> mine(replies->begin() + static_cast<long>(at),
                            replies->begin() + static_cast<long>(at + g.counts[k]));
    at += g.counts[k];
    out.push_back({*g.sent[k], Judge(*g.sent[k], *g.client, mine)});
  }
}

// RESET HARD flushes the node: refuse unless a fresh read shows no key and no slot.
Status Executor::CheckResetAllowed(redis::RedisClient& c) {
  SK_ASSIGN_OR_RETURN(Reply keys, c.Call({"DBSIZE"}));
  if (keys.integer != 0) {
    return FailedPrecondition(c.endpoint().ToString() + " holds " + std::to_string(keys.integer) +
                              " keys now; not resetting it");
  }
  SK_ASSIGN_OR_RETURN(Reply nodes, c.Call({"CLUSTER", "NODES"}));
  SK_ASSIGN_OR_RETURN(redis::NodeTable table, redis::ParseClusterNodes(nodes.str));
  const redis::NodeEntry* self = table.Myself();
  if (self && !self->slots.empty()) {
    return FailedPrecondition(c.endpoint().ToString() + " serves slots now; not resetting it");
  }
  return Status::Ok();
}

std::vector<std::vector<std::string>> Executor::Commands(const Action& action, bool addslotsrange) {
  return std::visit(
      [&](const auto& a) -> std::vector<std::vector<std::string>> {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, model::ResetHard>) {
          return {{"CLUSTER", "RESET", "HARD"}};
        } else if constexpr (std::is_same_v<T, model::SetConfigEpoch>) {
          return {{"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(a.epoch)}};
        } else if constexpr (std::is_same_v<T, model::AddSlots>) {
          std::vector<std::string> cmd;
          if (addslotsrange) {
            cmd = {"CLUSTER", "ADDSLOTSRANGE"};
            for (const SlotRange& r : a.ranges) {
              cmd.push_back(std::to_string(r.start));
              cmd.push_back(std::to_string(r.end));
            }
          } else {
            cmd = {"CLUSTER", "ADDSLOTS"};
            for (const SlotRange& r : a.ranges) {
              for (int s = r.start; s <= r.end; ++s) cmd.push_back(std::to_string(s));
            }
          }
          return {cmd};
        } else if constexpr (std::is_same_v<T, model::Meet>) {
          return {{"CLUSTER", "MEET", a.target.host, std::to_string(a.target.port)}};
        } else if constexpr (std::is_same_v<T, model::Replicate>) {
          return {{"CLUSTER", "REPLICATE", a.master_id}};
        } else if constexpr (std::is_same_v<T, model::Failover>) {
          if (a.mode.empty()) return {{"CLUSTER", "FAILOVER"}};
          return {{"CLUSTER", "FAILOVER", a.mode}};
        } else if constexpr (std::is_same_v<T, model::Forget>) {
          return {{"CLUSTER", "FORGET", a.id}};
        } else if constexpr (std::is_same_v<T, model::ConfigSet>) {
          return {{"CONFIG", "SET", a.key, a.value}};
        } else {
          return {};
        }
      },
      action);
}

Status Executor::Judge(const Action& action, redis::RedisClient& c,
                       const std::vector<Reply>& replies) {
  for (const Reply& r : replies) {
    if (!r.IsError()) continue;
    const Cause cause = r.cause();
    if (std::holds_alternative<model::SetConfigEpoch>(action) && cause == Cause::kKnowsOthers) {
      // It met a peer meanwhile; Redis resolves epoch collisions by itself.
      spdlog::debug("{}: config epoch not set: {}", c.endpoint().ToString(), r.str);
      continue;
    }
    if (std::holds_alternative<model::AddSlots>(action) && cause == Cause::kSlotBusy) {
      int slot = BusySlot(r.str);
      // Busy is fine when the slot is already where the plan wants it.
      auto nodes = c.Call({"CLUSTER", "NODES"});
      if (nodes.ok() && slot >= 0) {
        auto table = redis::ParseClusterNodes(nodes->str);
        const redis::NodeEntry* self = table.ok() ? table->Myself() : nullptr;
        bool mine = false;
        if (self) {
          for (const SlotRange& sr : self->slots) mine |= sr.start <= slot && slot <= sr.end;
        }
        if (mine) continue;
      }
      return Aborted(c.endpoint().ToString() + ": slot " + std::to_string(slot) +
                     " is already served by another node (views changed); re-observing");
    }
    if (std::holds_alternative<model::Forget>(action) && cause == Cause::kUnknownNode) {
      continue;  // already forgotten: the goal holds
    }
    return redis::ReplyError(c.endpoint(), r.str);
  }
  return Status::Ok();
}

}  // namespace sk::act
