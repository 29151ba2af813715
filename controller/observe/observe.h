// Observe: reads every node fresh and builds an immutable ObservedCluster.
//
// One pipeline per node (CLUSTER MYID, CLUSTER NODES, CLUSTER INFO, DBSIZE, INFO, CONFIG GET of
// the managed settings): one round trip each. Nothing carries over from an earlier pass
// except open connections. A node that does not answer is recorded with the reason, never
// guessed.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/types/endpoint.h"
#include "controller/model/model.h"
#include "controller/redis/redis_client.h"

namespace sk::observe {

// Open connections by endpoint, reused across passes; a broken one is dropped and made anew.
// Not thread-safe: one pool per thread.
class ClientPool {
 public:
  explicit ClientPool(redis::ClientOptions opts) : opts_(std::move(opts)) {}
  // A connected client, or the connect error (kUnavailable / kDeadlineExceeded / auth).
  Result<redis::RedisClient*> Get(const Endpoint& ep);
  void Drop(const Endpoint& ep) { clients_.erase(ep); }
  const redis::ClientOptions& options() const { return opts_; }

 private:
  redis::ClientOptions opts_;
  std::map<Endpoint, std::unique_ptr<redis::RedisClient>> clients_;
};

struct Target {
  std::string name;
  Endpoint ep;
  std::string host;
  std::string zone;
  bool process_running = true;
  // Started (or queued to start) from an empty dir and not yet seen answering: while it does
  // not answer, it is reported as a starting empty node rather than as unreachable.
  bool fresh = false;
  bool failing = false;   // NodeRuntime::failing
  std::string last_exit;  // NodeRuntime::last_exit, for diagnostics
};

// What a node started from an empty dir will look like: a master with a placeholder ID,
// knowing no peer, no slot, no key.
model::ObservedNode PredictFresh(const Target& t);

model::ObservedNode ObserveNode(ClientPool& pool, const Target& t,
                                const std::vector<std::string>& config_keys);
model::ObservedCluster Observe(ClientPool& pool, const std::vector<Target>& targets,
                               const std::vector<std::string>& config_keys);

// Whether a TCP connection to `ep` succeeds within `timeout_ms` (bus port diagnostics).
// Returns "" on success, else the reason ("connection refused", "timed out after 500 ms").
std::string ProbeTcp(const Endpoint& ep, int timeout_ms);

}  // namespace sk::observe
