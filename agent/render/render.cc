#include "agent/render/render.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <string>

namespace sk::agent {

namespace {

std::string PortName(std::string_view prefix, int port, std::string_view suffix) {
  return std::string(prefix) + std::to_string(port) + std::string(suffix);
}

// Characters sdssplitargs (Redis's config tokenizer) treats specially outside quotes, plus
// anything that is not printable ASCII: such a value must be quoted and escaped.
bool NeedsQuoting(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '\\') return true;
  }
  return false;
}

// Always quotes: used for secrets so that their rendering never depends on their content.
std::string Quote(std::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < ' ' || c >= 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

// A comment line must stay one line whatever the cluster or node name holds.
std::string CommentSafe(std::string_view v) {
  std::string out(v);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) c = '?';
  }
  return out;
}

std::string YesNo(bool b) { return b ? "yes" : "no"; }

void Line(std::string& out, std::string_view directive, std::string_view value) {
  out += QuoteConfigArg(directive);
  out += ' ';
  out += QuoteConfigArg(value);
  out += '\n';
}

// Redis's memtoull(): digits then an optional unit (b, k, kb, m, mb, g, gb; any case).
// Returns nullopt for anything Redis would reject, so the value is passed through as written.
std::optional<unsigned long long> MemoryBytes(std::string_view v) {
  size_t digits = 0;
  while (digits < v.size() && std::isdigit(static_cast<unsigned char>(v[digits]))) ++digits;
  if (digits == 0) return std::nullopt;
  std::string unit;
  for (char c : v.substr(digits)) unit += static_cast<char>(std::tolower(c));
  unsigned long long mul = 0;
  if (unit.empty() || unit == "b")
    mul = 1;
  else if (unit == "k")
    mul = 1000;
  else if (unit == "kb")
    mul = 1024;
  else if (unit == "m")
    mul = 1000 * 1000;
  else if (unit == "mb")
    mul = 1024 * 1024;
  else if (unit == "g")
    mul = 1000ULL * 1000 * 1000;
  else if (unit == "gb")
    mul = 1024ULL * 1024 * 1024;
  else
    return std::nullopt;
  unsigned long long n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + digits, n);
  if (ec != std::errc() || ptr != v.data() + digits) return std::nullopt;
  if (n > UINT64_MAX / mul) return std::nullopt;
  return n * mul;
}

// Parses "7.0.15" (patch optional) at the start of `text`.
std::optional<RedisVersion> ParseDotted(std::string_view text) {
  int parts[3] = {0, 0, 0};
  int count = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  while (count < 3 && p < end) {
    auto [next, ec] = std::from_chars(p, end, parts[count]);
    if (ec != std::errc()) break;
    ++count;
    p = next;
    if (p == end || *p != '.') break;
    ++p;
  }
  if (count < 2) return std::nullopt;
  return RedisVersion{.major = parts[0], .minor = parts[1], .patch = parts[2]};
}

}  // namespace

NodeLayout LayoutFor(const std::string& root, const std::string& cluster, int port) {
  NodeLayout l;
  l.port = port;
  l.dir = root + "/" + cluster + "/" + std::to_string(port);
  l.config = l.dir + "/redis.conf";
  l.nodes_conf_name = PortName("nodes-", port, ".conf");
  l.aof_dir_name = PortName("appendonlydir-", port, "");
  l.aof_file_name = PortName("appendonly-", port, ".aof");
  l.rdb_name = PortName("dump-", port, ".rdb");
  l.log = l.dir + "/" + PortName("redis-", port, ".log");
  l.pid = l.dir + "/" + PortName("redis-", port, ".pid");
  return l;
}

std::optional<RedisVersion> ParseRedisVersion(std::string_view text) {
  // `redis-server --version`: "Redis server v=7.0.15 sha=00000000:0 malloc=...".
  if (size_t at = text.find("v="); at != std::string_view::npos) {
    return ParseDotted(text.substr(at + 2));
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  return ParseDotted(text);
}

std::string QuoteConfigArg(std::string_view v) {
  return NeedsQuoting(v) ? Quote(v) : std::string(v);
}

std::string RenderRedisConf(const RenderInput& in) {
  const ClusterSpec& spec = *in.spec;
  const NodeLayout& l = in.layout;
  const int port = in.ep.port;
  std::string out;
  out += "# slotkeeper: cluster " + CommentSafe(spec.name) + ", node " + CommentSafe(in.name) +
         ", port " + std::to_string(port) + "\n";
  out += "# rendered by slotkeeper; edits are overwritten\n";

  // Owned directives. Every file name Redis writes carries the port (CONTRACT.md section 2).
  Line(out, "port", std::to_string(port));
  Line(out, "bind", spec.hosts.empty() ? spec.local.bind : in.ep.host);
  Line(out, "dir", l.dir);
  Line(out, "daemonize", "no");
  Line(out, "cluster-enabled", "yes");
  Line(out, "cluster-config-file", l.nodes_conf_name);
  // Peers learn a node's address from its announcement, not from the source address of its
  // bus connections: on loopback aliases (127.0.0.2) or multi-homed hosts that source is
  // another address, and peers would record it.
  Line(out, "cluster-announce-ip", in.ep.host);
  Line(out, "dbfilename", l.rdb_name);
  Line(out, "appendfilename", l.aof_file_name);
  // Multi-part AOF (7.0) writes into a directory; older servers reject the directive.
  if (in.version.AtLeast(7, 0)) Line(out, "appenddirname", l.aof_dir_name);
  Line(out, "logfile", l.log);
  Line(out, "pidfile", l.pid);

  const RedisSettings& r = spec.redis;
  Line(out, "cluster-node-timeout", std::to_string(r.node_timeout_ms));
  Line(out, "appendonly", YesNo(r.appendonly));
  Line(out, "cluster-require-full-coverage", YesNo(r.require_full_coverage));
  Line(out, "cluster-replica-validity-factor", std::to_string(r.replica_validity_factor));
  Line(out, "cluster-migration-barrier", std::to_string(r.migration_barrier));
  if (r.maxmemory) Line(out, "maxmemory", *r.maxmemory);

  if (in.password) {
    // masterauth too: a replica must authenticate to its master after a failover.
    out += "requirepass " + Quote(*in.password) + "\n";
    out += "masterauth " + Quote(*in.password) + "\n";
  }
  for (const auto& [name, value] : r.config) Line(out, name, value);
  return out;
}

std::vector<std::pair<std::string, std::string>> RuntimeSettings(const ClusterSpec& spec) {
  const RedisSettings& r = spec.redis;
  std::vector<std::pair<std::string, std::string>> out = {
      {"cluster-node-timeout", std::to_string(r.node_timeout_ms)},
      {"appendonly", YesNo(r.appendonly)},
      {"cluster-require-full-coverage", YesNo(r.require_full_coverage)},
      {"cluster-replica-validity-factor", std::to_string(r.replica_validity_factor)},
      {"cluster-migration-barrier", std::to_string(r.migration_barrier)},
  };
  // An unset maxmemory is Redis's default 0 (no limit), so removing it from a spec undoes it.
  std::string maxmemory = "0";
  if (r.maxmemory) {
    auto bytes = MemoryBytes(*r.maxmemory);
    maxmemory = bytes ? std::to_string(*bytes) : *r.maxmemory;
  }
  out.emplace_back("maxmemory", maxmemory);
  for (const auto& kv : r.config) out.push_back(kv);
  return out;
}

}  // namespace sk::agent
