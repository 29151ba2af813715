// Checks LocalProvider runs before it touches anything: is a port free, is this node's own
// process running, does redis-server accept the rendered settings. Internal to
// agent/supervise; only local_provider.cc and the agent tests include it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "agent/render/render.h"
#include "api/types/result.h"

namespace sk::agent {

// 0 when `port` can be bound on `bind` (with SO_REUSEADDR, as redis-server binds), else the
// errno of the failed bind (EADDRINUSE when another socket holds it).
int PortBindError(const std::string& bind, int port);

// Linux's ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range), if readable.
std::optional<std::pair<int, int>> EphemeralPortRange();

// True when something at host:port answers PING like a Redis server does (+PONG, or an
// error such as -NOAUTH or -LOADING) within `timeout`. A mere TCP accept is not enough: a
// foreign listener on the port would look ready while our node dies on "Address already in
// use". A wildcard bind address (0.0.0.0, ::) is probed on loopback.
bool RedisAnswers(const std::string& host, int port, std::chrono::milliseconds timeout);

// The PID in the node's pid file when that process is alive and works in layout.dir (so it is
// this node and not a stranger that reused the PID); 0 otherwise.
int RunningNodePid(const NodeLayout& layout);

// The last `n` lines of a text file ("" when unreadable).
std::string TailLines(const std::string& path, int n);

// Starts `redis_server -` with `conf` on stdin followed by overrides that keep it off the
// network and out of the node's files (port 0, a unix socket, dir and files in a fresh temp
// dir, no persistence), waits until it is ready (then kills it) or exits (5 s bound).
// InvalidArgument with one "spec.<path>: redis-server rejects '<line>': <reason>" field when
// it refuses a directive; kFailedPrecondition when it fails otherwise. `password` is scrubbed
// from anything returned.
Status CheckConfigWithRedis(const std::string& redis_server, const std::string& conf,
                            const std::optional<std::string>& password);

// The spec field a redis.conf directive comes from: "spec.redis.maxmemory",
// "spec.redis.config.<directive>", ...
std::string SpecFieldForDirective(const std::string& directive);

}  // namespace sk::agent
