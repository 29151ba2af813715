// Executor: runs one plan step against live nodes.
//
// Actions run in the order given; consecutive actions for the same node share one pipeline
// (a 100-node create sends its MEETs as 100 pipelines, not 4,950 round trips). Each action
// that could harm re-checks its precondition on a fresh read first (RESET HARD only on a node
// with no key and no slot), and "already done" answers count as success (a slot that is
// already ours is not an error), so running a step twice is harmless.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/types/provider.h"
#include "controller/model/model.h"
#include "controller/observe/observe.h"

namespace sk::act {

struct ActionResult {
  model::Action action;
  Status status;
};

class Executor {
 public:
  // `endpoints` maps node names to addresses; `provider` may be null (no StartNode then).
  Executor(observe::ClientPool& pool, NodeProvider* provider,
           std::map<std::string, Endpoint> endpoints)
      : pool_(pool), provider_(provider), endpoints_(std::move(endpoints)) {}

  // Runs every action of `step`, even after a failure, and reports each outcome.
  std::vector<ActionResult> Run(const std::vector<model::Action>& step);

 private:
  Status RunGroup(const std::string& node, const std::vector<const model::Action*>& group,
                  std::vector<ActionResult>& out);
  Status CheckResetAllowed(redis::RedisClient& c);
  // The commands one action sends; empty when it needs no Redis command.
  std::vector<std::vector<std::string>> Commands(const model::Action& a, bool addslotsrange);
  // Judges the replies of one action; turns known benign errors into success.
  Status Judge(const model::Action& a, redis::RedisClient& c,
               const std::vector<redis::Reply>& replies);

  observe::ClientPool& pool_;
  NodeProvider* provider_;
  std::map<std::string, Endpoint> endpoints_;
  std::map<std::string, bool> addslotsrange_;  // per node: server >= 7.0
};

}  // namespace sk::act
