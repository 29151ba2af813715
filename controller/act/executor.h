// Executor: runs one plan step against live nodes.
//
// Actions run in waves of one kind, in the order given; within a wave every node gets one
// pipeline and all pipelines are sent before any reply is read (a 100-node create sends its
// 4,950 MEETs as 100 concurrent pipelines, not 4,950 round trips). Each action
// that could harm re-checks its precondition on a fresh read first (RESET HARD only on a node
// with no key and no slot), and "already done" answers count as success (a slot that is
// already ours is not an error), so running a step twice is harmless.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/types/provider.h"
#include "controller/act/migrate.h"
#include "controller/model/model.h"
#include "controller/observe/observe.h"

namespace sk::act {

struct ActionResult {
  model::Action action;
  Status status;
};

struct ExecutorOptions {
  // MoveSlots / SettleSlot: the migration journal, MIGRATE's cap (below half the node
  // timeout) and the gate's bound (MigrateOptions).
  std::string journal_path;
  int max_migrate_timeout_ms = 2500;
  int gate_timeout_ms = 5000;
  // Makes a MoveSlots stop soon (after the wave in flight); null = never.
  const std::atomic<bool>* stop = nullptr;
  // Called from the executing thread while slots move.
  std::function<void(const MigrateProgress&)> on_progress;
};

class Executor {
 public:
  // `seen` is the observation the step was planned from: node addresses and server versions
  // (ADDSLOTSRANGE needs 7.0). `provider` may be null (no StartNode then).
  Executor(observe::ClientPool& pool, NodeProvider* provider, const model::ObservedCluster& seen,
           ExecutorOptions opts = {});

  // Runs every action of `step`, even after a failure, and reports each outcome in order.
  // All nodes get their commands before any reply is read.
  std::vector<ActionResult> Run(const std::vector<model::Action>& step);

 private:
  // The actions of one wave for one node, sent as one pipeline.
  struct Group {
    std::string node;
    std::vector<const model::Action*> actions;
    std::vector<const model::Action*> sent;
    std::vector<size_t> counts;  // commands per sent action
    redis::RedisClient* client = nullptr;
  };
  void SendGroup(Group& g, std::vector<ActionResult>& out);
  void ReceiveGroup(Group& g, std::vector<ActionResult>& out);
  Status CheckResetAllowed(redis::RedisClient& c);
  // The actions that run through the provider or the migration engine, not one pipeline.
  bool RunSpecial(const model::Action& a, std::vector<ActionResult>& out);
  Status MoveSlots(const model::MoveSlots& a);
  Status Retire(const model::RetireNode& a);
  Status SettleOwner(const model::SettleOwner& a);
  MigrateOptions Migration() const;
  MigrateNode NodeOf(const std::string& name) const;
  // The commands one action sends; empty when it needs no Redis command.
  std::vector<std::vector<std::string>> Commands(const model::Action& a, bool addslotsrange);
  // Judges the replies of one action; turns known benign errors into success.
  Status Judge(const model::Action& a, redis::RedisClient& c,
               const std::vector<redis::Reply>& replies);

  observe::ClientPool& pool_;
  NodeProvider* provider_;
  ExecutorOptions opts_;
  std::map<std::string, Endpoint> endpoints_;
  std::map<std::string, std::string> ids_;     // name -> node ID, as seen
  std::map<std::string, bool> addslotsrange_;  // per node: server >= 7.0
  std::vector<MigrateNode> masters_;           // answering masters (SETSLOT NODE goes to all)
  std::vector<MigrateNode> serving_;           // the ones of them that serve slots
};

}  // namespace sk::act
