#include "controller/act/executor.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <type_traits>

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

std::vector<ActionResult> Executor::Run(const std::vector<Action>& step) {
  std::vector<ActionResult> out;
  size_t i = 0;
  while (i < step.size()) {
    const std::string& node = model::ActionNode(step[i]);
    std::vector<const Action*> group;
    while (i < step.size() && model::ActionNode(step[i]) == node) group.push_back(&step[i++]);
    Status st = RunGroup(node, group, out);
    if (!st.ok()) {
      // The whole group failed before any reply (connection): report it for each action.
      for (const Action* a : group) out.push_back({*a, st});
    }
  }
  return out;
}

Status Executor::RunGroup(const std::string& node, const std::vector<const Action*>& group,
                          std::vector<ActionResult>& out) {
  // Starting a process goes through the provider, not Redis.
  if (std::holds_alternative<model::StartNode>(*group.front())) {
    for (const Action* a : group) {
      Status st = provider_ ? provider_->StartNode(node)
                            : FailedPrecondition("no provider can start " + node);
      out.push_back({*a, st});
    }
    return Status::Ok();
  }
  auto ep = endpoints_.find(node);
  if (ep == endpoints_.end()) return Internal("unknown node " + node);
  SK_ASSIGN_OR_RETURN(redis::RedisClient * client, pool_.Get(ep->second));

  auto has_range = addslotsrange_.find(node);
  if (has_range == addslotsrange_.end()) {
    auto info = client->Call({"INFO", "server"});
    bool modern = false;
    if (info.ok()) {
      auto fields = redis::ParseInfo(info->str);
      modern = std::atoi(fields["redis_version"].c_str()) >= 7;  // ADDSLOTSRANGE: 7.0
    }
    has_range = addslotsrange_.emplace(node, modern).first;
  }

  // Preconditions that need a fresh read come first, per action.
  std::vector<std::vector<std::string>> cmds;
  std::vector<size_t> counts;
  std::vector<const Action*> sent;
  for (const Action* a : group) {
    if (std::holds_alternative<model::ResetHard>(*a)) {
      Status ok = CheckResetAllowed(*client);
      if (!ok.ok()) {
        out.push_back({*a, ok});
        continue;
      }
    }
    auto c = Commands(*a, has_range->second);
    counts.push_back(c.size());
    sent.push_back(a);
    for (auto& cmd : c) cmds.push_back(std::move(cmd));
  }
  if (cmds.empty()) return Status::Ok();
  auto replies = client->Pipeline(cmds);
  if (!replies.ok()) {
    pool_.Drop(ep->second);
    for (const Action* a : sent) out.push_back({*a, replies.error()});
    return Status::Ok();
  }
  size_t at = 0;
  for (size_t k = 0; k < sent.size(); ++k) {
    std::vector<Reply> mine(replies->begin() + at, replies->begin() + at + counts[k]);
    at += counts[k];
    out.push_back({*sent[k], Judge(*sent[k], *client, mine)});
  }
  return Status::Ok();
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
    Error e = redis::ReplyError(c.endpoint(), r.str);
    if (StartsWith(r.str, "ERR Unknown node")) return Aborted(e.message());
    return e;
  }
  return Status::Ok();
}

}  // namespace sk::act
