// Pure parsers for what Redis Cluster prints: CLUSTER NODES (and nodes-<port>.conf, which
// has the same lines plus a "vars" line), INFO / CLUSTER INFO key:value text.
// No I/O; fuzzed and unit-tested.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/types/result.h"
#include "api/types/slot_range.h"

namespace sk::redis {

// One line of CLUSTER NODES:
// <id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch>
// <link-state> <slot> <slot> ... [slot->-id] [slot-<-id]
struct NodeEntry {
  std::string id;
  std::string host;  // empty for ":0@0" (noaddr)
  int port = 0;
  int bus_port = 0;
  std::string hostname;            // 7.0 ",hostname" suffix, else empty
  std::vector<std::string> flags;  // as printed: myself, master, slave, fail?, fail, handshake,
                                   // noaddr, nofailover, noflags
  std::string master_id;           // empty when "-"
  long long ping_sent = 0;
  long long pong_recv = 0;
  long long config_epoch = 0;
  bool link_connected = false;  // "connected" vs "disconnected"
  std::vector<SlotRange> slots;
  std::map<int, std::string> migrating;  // slot -> target node id   ([slot->-id])
  std::map<int, std::string> importing;  // slot -> source node id   ([slot-<-id])

  bool HasFlag(std::string_view f) const;
  bool IsMyself() const { return HasFlag("myself"); }
  bool IsMaster() const { return HasFlag("master"); }
  bool IsReplica() const { return HasFlag("slave"); }
  bool IsFail() const { return HasFlag("fail"); }
  bool IsPfail() const { return HasFlag("fail?"); }
  bool InHandshake() const { return HasFlag("handshake"); }
  bool NoAddr() const { return HasFlag("noaddr"); }
};

struct NodeTable {
  std::vector<NodeEntry> nodes;
  long long current_epoch = -1;  // from a nodes.conf "vars" line, else -1
  long long last_vote_epoch = -1;

  // The "myself" entry, or nullptr.
  const NodeEntry* Myself() const;
  const NodeEntry* Find(std::string_view id) const;
};

// Parses CLUSTER NODES output or a nodes.conf file. InvalidArgument names the line number
// and what is wrong; an empty text gives an empty table.
Result<NodeTable> ParseClusterNodes(std::string_view text);

// Parses "key:value" lines (INFO, CLUSTER INFO); skips "# Section" and blank lines.
std::map<std::string, std::string> ParseInfo(std::string_view text);

}  // namespace sk::redis
