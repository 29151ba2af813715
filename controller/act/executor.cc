#include "controller/act/executor.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <type_traits>

#include "controller/act/migrate.h"
#include "controller/redis/cluster_nodes.h"

namespace sk::act {

using model::Action;
using redis::Reply;

namespace {

bool StartsWith(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// "ERR Slot 42 is already busy" -> 42, else -1.
int BusySlot(const std::string& err) {
  auto pos = err.find("Slot ");
  if (pos == std::string::npos || err.find("already busy") == std::string::npos) return -1;
  return std::atoi(err.c_str() + pos + 5);
}

}  // namespace

Executor::Executor(observe::ClientPool& pool, NodeProvider* provider,
                   const model::ObservedCluster& seen)
    : pool_(pool), provider_(provider) {
  for (const model::ObservedNode& n : seen.nodes) {
    endpoints_[n.name] = n.ep;
    addslotsrange_[n.name] = n.HasAddSlotsRange();
    if (n.reachable && n.IsMaster()) masters_.push_back({n.name, n.id, n.ep});
  }
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
  if (std::holds_alternative<model::ReplaceNode>(*g.actions.front())) {
    for (const Action* a : g.actions) {
      Status st = provider_ ? provider_->ReplaceNode(g.node)
                            : FailedPrecondition("no provider can replace " + g.node);
      out.push_back({*a, st});
    }
    return;
  }
  // Starting a process goes through the provider, not Redis.
  if (std::holds_alternative<model::StartNode>(*g.actions.front())) {
    for (const Action* a : g.actions) {
      Status st = provider_ ? provider_->StartNode(g.node)
                            : FailedPrecondition("no provider can start " + g.node);
      out.push_back({*a, st});
    }
    return;
  }
  auto ep = endpoints_.find(g.node);
  if (ep == endpoints_.end()) {
    for (const Action* a : g.actions) out.push_back({*a, Internal("unknown node " + g.node)});
    return;
  }
  // An open slot is settled by the migration engine (keys may have to move).
  if (std::holds_alternative<model::SettleSlot>(*g.actions.front())) {
    MigrateOptions mo;
    mo.client = pool_.options();
    mo.masters = masters_;
    Migrator migrator(mo);
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
    if (std::holds_alternative<model::SetConfigEpoch>(action) &&
        r.str.find("does not know any other node") != std::string::npos) {
      // It met a peer meanwhile; Redis resolves epoch collisions by itself.
      spdlog::debug("{}: config epoch not set: {}", c.endpoint().ToString(), r.str);
      continue;
    }
    if (std::holds_alternative<model::AddSlots>(action)) {
      int slot = BusySlot(r.str);
      if (slot >= 0) {
        // Busy is fine when the slot is already where the plan wants it.
        auto nodes = c.Call({"CLUSTER", "NODES"});
        if (nodes.ok()) {
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
    }
    if (std::holds_alternative<model::Forget>(action) &&
        r.str.find("Unknown node") != std::string::npos) {
      continue;  // already forgotten: the goal holds
    }
    Error e = redis::ReplyError(c.endpoint(), r.str);
    if (StartsWith(r.str, "ERR Unknown node")) return Aborted(e.message());
    return e;
  }
  return Status::Ok();
}

}  // namespace sk::act
