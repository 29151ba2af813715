// Giving a moved slot to its new owner, and the checks around it: the link gate before a wave
// opens, and the confirmation that every master names the new owner afterwards.
//
// Why both: SETSLOT NODE is sent to every master directly, but the new owner's config epoch,
// which decides every later conflict about the slot, reaches a master only over a bus link
// between the two. A master without that link keeps an old epoch for the new owner and may
// take the old owner's next claim for the newer one; Redis settles conflicting claims by
// epoch and deletes the keys on the losing side (clusterUpdateSlotsConfigWith, "dirty
// slots"). So a slot opens only while every master links to every other with distinct
// epochs, and it counts as moved only once every master's view names the new owner.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "controller/act/migrate_internal.h"
#include "controller/redis/cluster_nodes.h"

namespace sk::act {
namespace internal {
namespace {

using Clock = std::chrono::steady_clock;
using redis::Reply;

std::vector<std::vector<std::string>> NodeCmds(const std::vector<int>& which,
                                               const std::string& id) {
  std::vector<std::vector<std::string>> cmds;
  for (int s : which) cmds.push_back({"CLUSTER", "SETSLOT", std::to_string(s), "NODE", id});
  return cmds;
}

bool LiveLink(const redis::NodeEntry& e) {
  return e.link_connected && !e.IsPfail() && !e.IsFail() && !e.InHandshake() && !e.NoAddr();
}

// Sends SETSLOT NODE for `slots` to every node of `to_tell` at once; returns, per node index,
// the error replies (other than a master turned replica's "only with masters").
std::map<std::size_t, std::vector<std::pair<int, std::string>>> Tell(
    observe::ClientPool& pool, const std::vector<MigrateNode>& to_tell,
    const std::vector<int>& slots, const std::string& id) {
  std::map<std::size_t, std::vector<std::pair<int, std::string>>> errors;
  const auto cmds = NodeCmds(slots, id);
  std::vector<redis::RedisClient*> sent(to_tell.size(), nullptr);
  for (std::size_t i = 0; i < to_tell.size(); ++i) {
    Result<redis::RedisClient*> c = pool.Get(to_tell[i].ep);
    if (c.ok() && (*c)->Send(cmds).ok()) {
      sent[i] = *c;
    } else {
      pool.Drop(to_tell[i].ep);
      errors[i].push_back({-1, c.ok() ? "send failed" : c.error().message()});
    }
  }
  for (std::size_t i = 0; i < to_tell.size(); ++i) {
    if (!sent[i]) continue;
    Result<std::vector<Reply>> got = sent[i]->Receive(cmds.size());
    if (!got.ok()) {
      pool.Drop(to_tell[i].ep);
      errors[i].push_back({-1, got.error().message()});
      continue;
    }
    for (std::size_t k = 0; k < slots.size(); ++k) {
      const Reply& r = (*got)[k];
      // A master that lost its last slot turns into a replica of the new owner (replica
      // migration) as soon as gossip tells it, and then refuses SETSLOT: the slot is where it
      // belongs, as redis-cli also concludes.
      if (r.IsError() && r.cause() != Cause::kNotMaster) {
        errors[i].push_back({slots[k], r.str});
      }
    }
  }
  return errors;
}

}  // namespace

std::vector<MigrateNode> WithPair(std::vector<MigrateNode> masters, const MigrateNode& from,
                                  const MigrateNode& to) {
  for (const MigrateNode* n : {&from, &to}) {
    bool in = std::any_of(masters.begin(), masters.end(),
                          [&](const MigrateNode& m) { return m.id == n->id; });
    if (!in) masters.push_back(*n);
  }
  return masters;
}

Result<std::vector<redis::NodeTable>> ReadViews(observe::ClientPool& pool,
                                                const std::vector<MigrateNode>& masters) {
  const std::vector<std::vector<std::string>> cmd = {{"CLUSTER", "NODES"}};
  std::vector<redis::RedisClient*> sent(masters.size(), nullptr);
  for (std::size_t i = 0; i < masters.size(); ++i) {
    SK_ASSIGN_OR_RETURN(redis::RedisClient * c, pool.Get(masters[i].ep));
    if (Status st = c->Send(cmd); !st.ok()) {
      pool.Drop(masters[i].ep);
      return std::move(st).error().Wrap(NodeRef(masters[i]));
    }
    sent[i] = c;
  }
  std::vector<redis::NodeTable> views;
  std::optional<Error> first;
  for (std::size_t i = 0; i < masters.size(); ++i) {
    Result<std::vector<Reply>> r = sent[i]->Receive(1);
    if (!r.ok()) {
      pool.Drop(masters[i].ep);
      if (!first) first = std::move(r).error().Wrap(NodeRef(masters[i]));
      continue;
    }
    if ((*r)[0].IsError()) {
      if (!first) first = redis::ReplyError(masters[i].ep, (*r)[0].str);
      continue;
    }
    Result<redis::NodeTable> t = redis::ParseClusterNodes((*r)[0].str);
    if (!t.ok()) {
      if (!first) first = std::move(t).error().Wrap(NodeRef(masters[i]));
      continue;
    }
    views.push_back(std::move(t).value());
  }
  if (first) return *first;
  return views;
}

std::vector<std::string> GateProblems(const std::vector<MigrateNode>& masters,
                                      const std::vector<redis::NodeTable>& views) {
  std::vector<std::string> out;
  std::map<long long, std::string> epochs;
  for (std::size_t i = 0; i < masters.size() && i < views.size(); ++i) {
    const redis::NodeEntry* self = views[i].Myself();
    if (self && self->config_epoch != 0) {
      auto [it, fresh] = epochs.emplace(self->config_epoch, masters[i].name);
      if (!fresh) {
        out.push_back(masters[i].name + " and " + it->second + " share config epoch " +
                      std::to_string(self->config_epoch));
      }
    }
    for (std::size_t j = 0; j < masters.size(); ++j) {
      if (i == j) continue;
      const redis::NodeEntry* e = views[i].Find(masters[j].id);
      if (!e) {
        out.push_back(masters[i].name + " does not know " + masters[j].name);
      } else if (e->IsPfail() || e->IsFail()) {
        out.push_back(masters[i].name + " sees " + masters[j].name + " as failing");
      } else if (!LiveLink(*e)) {
        out.push_back(masters[i].name + " has no bus link to " + masters[j].name);
      }
    }
  }
  return out;
}

std::map<int, Error> AssignSlots(observe::ClientPool& pool, const std::vector<int>& slots,
                                 const MigrateNode& from, const MigrateNode& to,
                                 const MigrateOptions& opts) {
  std::map<int, Error> failed;
  if (slots.empty()) return failed;
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
  Result<std::vector<Reply>> replies = (*target)->Pipeline(NodeCmds(slots, to.id));
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
  for (const MigrateNode& m : opts.masters) {
    if (m.id != from.id && m.id != to.id && m.ep != from.ep && m.ep != to.ep) rest.push_back(m);
  }
  for (const auto& [i, errs] : Tell(pool, rest, on_target, to.id)) {
    for (const auto& [slot, text] : errs) {
      if (i != 0) {
        spdlog::warn("{}: SETSLOT {} NODE: {} (checked below)", NodeRef(rest[i]), slot, text);
        continue;
      }
      for (int s : slot < 0 ? on_target : std::vector<int>{slot}) {
        failed.emplace(s, Error(Code::kFailedPrecondition,
                                SlotRef(s, from, to) + ": SETSLOT NODE on the source: " + text));
      }
    }
  }
  // Every master's view must name the new owner. One read normally confirms it; a master
  // that missed it (or was turned back by a stale claim) is told again until the bound.
  std::vector<int> pending;
  for (int s : on_target) {
    if (!failed.count(s)) pending.push_back(s);
  }
  const std::vector<MigrateNode> all = WithPair(opts.masters, from, to);
  const auto deadline = Clock::now() + std::chrono::milliseconds(opts.gate_timeout_ms);
  std::string last_problem;
  while (!pending.empty()) {
    Result<std::vector<redis::NodeTable>> views = ReadViews(pool, all);
    std::map<std::size_t, std::vector<int>> wrong;  // master index -> slots it sees elsewhere
    if (views.ok()) {
      for (std::size_t i = 0; i < all.size(); ++i) {
        for (int s : pending) {
          if (OwnerOf((*views)[i], s) != to.id) wrong[i].push_back(s);
        }
      }
      if (wrong.empty()) break;
      const auto& [i, some] = *wrong.begin();
      std::string owner = OwnerOf((*views)[i], some.front());
      last_problem = all[i].name + " names " + (owner.empty() ? "no node" : owner.substr(0, 8)) +
                     " as the owner of slot " + std::to_string(some.front());
      std::vector<std::string> links = GateProblems(all, *views);
      if (!links.empty()) last_problem += " (" + links.front() + ")";
    } else {
      last_problem = views.error().message();
    }
    if (Clock::now() > deadline) {
      std::set<int> bad;
      for (const auto& [i, some] : wrong) bad.insert(some.begin(), some.end());
      if (!views.ok()) bad.insert(pending.begin(), pending.end());
      for (int s : bad) {
        failed.emplace(
            s, Error(Code::kAborted, SlotRef(s, from, to) + ": its keys are on the target, but " +
                                         last_problem + " " + std::to_string(opts.gate_timeout_ms) +
                                         " ms after SETSLOT NODE"));
      }
      break;
    }
    for (const auto& [i, some] : wrong) (void)Tell(pool, {all[i]}, some, to.id);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return failed;
}

}  // namespace internal

Result<std::string> MoveGateProblems(observe::ClientPool& pool,
                                     const std::vector<MigrateNode>& masters) {
  SK_ASSIGN_OR_RETURN(std::vector<redis::NodeTable> views, internal::ReadViews(pool, masters));
  std::vector<std::string> problems = internal::GateProblems(masters, views);
  std::string out;
  for (std::size_t i = 0; i < problems.size() && i < 12; ++i) out += (i ? "; " : "") + problems[i];
  if (problems.size() > 12) out += "; and " + std::to_string(problems.size() - 12) + " more";
  return out;
}

}  // namespace sk::act
