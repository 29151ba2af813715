// RenderNode: (spec, node) -> the files of one redis-server, as CONTRACT.md section 2 says.
//
// Pure: no file system access. Every name Redis writes carries the port, so two nodes can
// never share a node ID or a file even when pointed at one directory. The password is
// written into redis.conf (mode 0600), never onto a command line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/types/spec.h"

namespace sk::agent {

// Absolute paths of one node's files under <dataDir>/<cluster>/<port>/.
struct NodeLayout {
  int port = 0;
  std::string dir;              // <root>/<cluster>/<port>
  std::string config;           // <dir>/redis.conf
  std::string nodes_conf_name;  // nodes-<port>.conf (relative to dir, as Redis wants it)
  std::string aof_dir_name;     // appendonlydir-<port>
  std::string aof_file_name;    // appendonly-<port>.aof
  std::string rdb_name;         // dump-<port>.rdb
  std::string log;              // <dir>/redis-<port>.log
  std::string pid;              // <dir>/redis-<port>.pid
};

// `root` must be absolute (the resolved dataDir).
NodeLayout LayoutFor(const std::string& root, const std::string& cluster, int port);

struct RedisVersion {
  int major = 7, minor = 0, patch = 0;
  bool AtLeast(int ma, int mi) const { return major > ma || (major == ma && minor >= mi); }
};
// Parses "v=7.0.15" out of `redis-server --version`, or "7.0.15" (INFO redis_version).
std::optional<RedisVersion> ParseRedisVersion(std::string_view text);

struct RenderInput {
  const ClusterSpec* spec = nullptr;
  std::string name;  // the node's stable name, e.g. "demo-3" (header comment only)
  Endpoint ep;
  NodeLayout layout;
  RedisVersion version;
  std::optional<std::string> password;  // plain text; goes only into the returned file text
};

// The full redis.conf text: a header comment, slotkeeper-owned directives, the typed
// spec.redis settings, then spec.redis.config passed through. Strings are quoted so that no
// value can inject a directive.
std::string RenderRedisConf(const RenderInput& in);

// The directives of spec.redis (typed and passthrough) as CONFIG SET name/value pairs, in
// the form CONFIG GET prints them, for applying a spec change to running nodes.
std::vector<std::pair<std::string, std::string>> RuntimeSettings(const ClusterSpec& spec);

// Quotes a redis.conf argument ("..." with \\, \", \n, \xHH escapes) when it needs it.
std::string QuoteConfigArg(std::string_view v);

}  // namespace sk::agent
