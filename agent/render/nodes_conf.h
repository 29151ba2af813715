// Rewriting addresses in nodes-<port>.conf (pure).
//
// When nodes come back on other addresses (a new bind, every pod with a new IP), their
// nodes.conf files still point at the old ones and nobody reaches anybody (redis#4645).
// Node IDs do not change, so every line whose ID is known gets its current address, the
// node's own "myself" line included, before the node starts.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "api/types/endpoint.h"

namespace sk::agent {

// The node ID of the "myself" line, or "" when there is none.
std::string NodesConfMyId(std::string_view nodes_conf);

struct Rewritten {
  std::string text;
  int changed = 0;  // lines whose address changed
};

// Replaces "ip:port@cport" of every line whose ID is in `by_id` with the endpoint's address
// (bus port = port + 10000) and drops its "noaddr" flag; keeps a ",hostname" suffix and
// every other field as it was.
Rewritten RewriteAddresses(std::string_view nodes_conf,
                           const std::map<std::string, Endpoint>& by_id);

}  // namespace sk::agent
