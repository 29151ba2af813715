#include "api/types/spec.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>
#include <string_view>

namespace sk {
namespace {

constexpr int kMinMasters = 3;
constexpr int64_t kMaxNodes = 1000;
constexpr int kMaxNameLength = 40;
constexpr int kMinNodeTimeoutMs = 100;
constexpr int kMaxNodeTimeoutMs = 3600000;
constexpr int kBusPortOffset = 10000;
// Overlap reports stop after this many: each costs a walk over the slots of its range, and a
// hostile spec with thousands of "0-16383" ranges should not cost billions of steps.
constexpr int kMaxOverlapReports = 32;
// Enough for any real mistake; thousands of bad config keys should not produce a megabyte of
// error text.
constexpr size_t kMaxListedProblems = 100;

// Problems are "path: message" strings (spec.h); this keeps that format in one place.
class Problems {
 public:
  void Add(const std::string& path, const std::string& message) {
    list_.push_back(path + ": " + message);
  }
  std::vector<std::string>& list() { return list_; }

 private:
  std::vector<std::string> list_;
};

// JSON-style quoting so that a newline or a quote in user input cannot break the message.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
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
      case '\0':
        out += "\\0";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

// Shortest text that reads back as the same double ("2", "0.5", "1e-07").
std::string FormatDouble(double d) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  return ec == std::errc() ? std::string(buf, ptr) : std::string("?");
}

bool MatchesCharset(std::string_view s, bool allow_empty) {
  if (s.empty()) return allow_empty;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool HasLineBreakOrNul(std::string_view s) {
  return s.find_first_of(std::string_view("\n\r\0", 3)) != std::string_view::npos;
}

// Dotted quad, each part 0..255 in decimal. inet_pton would also do, but types is std-only.
bool IsIpv4Literal(std::string_view s) {
  int parts = 0;
  while (true) {
    size_t dot = s.find('.');
    std::string_view part = s.substr(0, dot);
    if (part.empty() || part.size() > 3) return false;
    if (!std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    int value = 0;
    std::from_chars(part.data(), part.data() + part.size(), value);
    if (value > 255) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return parts == 4;
}

// redis.conf memory sizes as Redis's memtoull() reads them: digits, then an optional unit.
bool IsMemorySize(std::string_view s) {
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0) return false;
  std::string unit;
  for (char c : s.substr(digits)) unit += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return unit.empty() || unit == "b" || unit == "k" || unit == "kb" || unit == "m" ||
         unit == "mb" || unit == "g" || unit == "gb";
}

std::string SlotsText(int first, int last) {
  if (first == last) return "slot " + std::to_string(first);
  return "slots " + std::to_string(first) + "-" + std::to_string(last);
}

void CheckEnvelope(const ClusterSpec& spec, Problems& p) {
  if (spec.api_version != kApiVersion) {
    p.Add("apiVersion", "must be " + std::string(kApiVersion) + ", got " + Quote(spec.api_version));
  }
  if (spec.kind != kKind) {
    p.Add("kind", "must be " + std::string(kKind) + ", got " + Quote(spec.kind));
  }
  if (spec.name.empty()) {
    p.Add("metadata.name", "is required");
  } else if (spec.name.size() > kMaxNameLength || !MatchesCharset(spec.name, false)) {
    p.Add("metadata.name", "must be 1..40 characters of [a-z0-9-], got " + Quote(spec.name));
  }
}

void CheckCounts(const ClusterSpec& spec, Problems& p) {
  if (spec.masters < kMinMasters) {
    p.Add("spec.masters", "must be at least 3, got " + std::to_string(spec.masters) +
                              " (Redis Cluster needs a majority of masters to fail over)");
  }
  if (spec.replicas_per_master < 0) {
    p.Add("spec.replicasPerMaster",
          "must be at least 0, got " + std::to_string(spec.replicas_per_master));
  }
  // 64-bit so that absurd values report instead of overflowing NodeCount().
  const int64_t nodes = int64_t{spec.masters} * (1 + int64_t{spec.replicas_per_master});
  if (spec.masters > 0 && spec.replicas_per_master >= 0 && nodes > kMaxNodes) {
    p.Add("spec.masters", "masters * (1 + replicasPerMaster) = " + std::to_string(nodes) +
                              " nodes, more than the maximum of " + std::to_string(kMaxNodes));
  }
}

void CheckWeights(const ClusterSpec& spec, Problems& p) {
  const std::vector<double>& w = spec.slots.weights;
  bool all_valid = true;
  for (size_t i = 0; i < w.size(); ++i) {
    if (!std::isfinite(w[i]) || w[i] <= 0) {
      p.Add("spec.slots.weights[" + std::to_string(i) + "]",
            "must be a finite number > 0, got " + FormatDouble(w[i]));
      all_valid = false;
    }
  }
  if (w.size() != static_cast<size_t>(std::max(spec.masters, 0))) {
    p.Add("spec.slots.weights", "has " + std::to_string(w.size()) +
                                    " entries, expected one per master (" +
                                    std::to_string(spec.masters) + ")");
    return;
  }
  if (!all_valid) return;
  std::vector<std::vector<SlotRange>> split = WeightedSplit(w);
  for (size_t i = 0; i < split.size(); ++i) {
    if (split[i].empty()) {
      p.Add("spec.slots.weights[" + std::to_string(i) + "]",
            "weight " + FormatDouble(w[i]) + " gives master " + std::to_string(i) +
                " no slots; raise it");
    }
  }
}

std::string RangePath(size_t master, size_t index) {
  return "spec.slots.ranges[" + std::to_string(master) + "][" + std::to_string(index) + "]";
}

// Reports every overlap between ranges (naming the earlier range that already assigned the
// slots) and every gap, so a user fixes a bad layout in one edit.
void CheckRangeCoverage(const ClusterSpec& spec, Problems& p) {
  const auto& lists = spec.slots.ranges;
  // Owner of each slot, as (list, index) of the first range that assigned it.
  std::vector<std::pair<int, int>> owner(kSlots, {-1, -1});
  // Coverage counts via a difference array, independent of the bounded overlap walk.
  std::vector<int> delta(kSlots + 1, 0);
  int overlap_reports = 0;
  bool overlaps_truncated = false;
  for (size_t i = 0; i < lists.size(); ++i) {
    for (size_t j = 0; j < lists[i].size(); ++j) {
      const SlotRange& r = lists[i][j];
      if (r.start < 0 || r.end >= kSlots || r.start > r.end) continue;  // reported already
      ++delta[r.start];
      --delta[r.end + 1];
      if (overlap_reports >= kMaxOverlapReports) {
        overlaps_truncated = true;
        continue;
      }
      // Walk the range, grouping consecutive slots that an earlier range already owns into
      // one report per (earlier range, run).
      int s = r.start;
      while (s <= r.end) {
        if (owner[s].first < 0) {
          owner[s] = {static_cast<int>(i), static_cast<int>(j)};
          ++s;
          continue;
        }
        const std::pair<int, int> prev = owner[s];
        int run_end = s;
        while (run_end + 1 <= r.end && owner[run_end + 1] == prev) ++run_end;
        if (overlap_reports < kMaxOverlapReports) {
          std::string text = SlotsText(s, run_end);
          text += s == run_end ? " is" : " are";
          text += " also assigned by " + RangePath(prev.first, prev.second);
          p.Add(RangePath(i, j), text);
          ++overlap_reports;
        } else {
          overlaps_truncated = true;
        }
        s = run_end + 1;
      }
    }
  }
  if (overlaps_truncated) {
    p.Add("spec.slots.ranges", "more overlapping ranges than listed here");
  }
  int depth = 0;
  int gap_start = -1;
  for (int s = 0; s <= kSlots; ++s) {
    if (s < kSlots) depth += delta[s];
    const bool uncovered = s < kSlots && depth == 0;
    if (uncovered && gap_start < 0) gap_start = s;
    if (!uncovered && gap_start >= 0) {
      p.Add("spec.slots.ranges",
            SlotsText(gap_start, s - 1) + (gap_start == s - 1 ? " is" : " are") + " not covered");
      gap_start = -1;
    }
  }
}

void CheckRanges(const ClusterSpec& spec, Problems& p) {
  const auto& lists = spec.slots.ranges;
  if (lists.size() != static_cast<size_t>(std::max(spec.masters, 0))) {
    p.Add("spec.slots.ranges", "has " + std::to_string(lists.size()) +
                                   " lists, expected one per master (" +
                                   std::to_string(spec.masters) + ")");
  }
  for (size_t i = 0; i < lists.size(); ++i) {
    if (lists[i].empty()) {
      p.Add("spec.slots.ranges[" + std::to_string(i) + "]",
            "is empty; every master needs at least one slot range");
    }
    for (size_t j = 0; j < lists[i].size(); ++j) {
      const SlotRange& r = lists[i][j];
      if (r.start < 0 || r.end < 0 || r.start >= kSlots || r.end >= kSlots) {
        p.Add(RangePath(i, j), "slot range " + std::to_string(r.start) + "-" +
                                   std::to_string(r.end) + " is outside 0..16383");
      } else if (r.start > r.end) {
        p.Add(RangePath(i, j), "slot range " + std::to_string(r.start) + "-" +
                                   std::to_string(r.end) + " starts after it ends");
      }
    }
  }
  CheckRangeCoverage(spec, p);
}

void CheckSlots(const ClusterSpec& spec, Problems& p) {
  const bool has_weights = !spec.slots.weights.empty();
  const bool has_ranges = !spec.slots.ranges.empty();
  if (has_weights && has_ranges) {
    // Which one the user meant is unknown, so checking either would only add noise.
    p.Add("spec.slots", "weights and ranges exclude each other; give one of them");
    return;
  }
  if (has_weights) CheckWeights(spec, p);
  if (has_ranges) CheckRanges(spec, p);
}

void CheckRedisConfig(const RedisSettings& redis, Problems& p) {
  const auto& owned = OwnedRedisDirectives();
  std::set<std::string_view> seen;
  for (const auto& [key, value] : redis.config) {
    if (!MatchesCharset(key, false)) {
      p.Add("spec.redis.config", "directive name " + Quote(key) + " must be lowercase [a-z0-9-]+");
      continue;
    }
    const std::string path = "spec.redis.config." + key;
    if (auto it = owned.find(key); it != owned.end()) {
      p.Add(path, it->second);
    }
    if (!seen.insert(key).second) p.Add(path, "is given more than once");
    // A line break would start a new directive in redis.conf, i.e. config injection.
    if (HasLineBreakOrNul(value)) {
      p.Add(path, "value must not contain a newline, carriage return or NUL");
    }
  }
}

void CheckRedis(const RedisSettings& redis, Problems& p) {
  if (redis.node_timeout_ms < kMinNodeTimeoutMs || redis.node_timeout_ms > kMaxNodeTimeoutMs) {
    p.Add("spec.redis.nodeTimeoutMs",
          "must be between 100 and 3600000 (ms), got " + std::to_string(redis.node_timeout_ms));
  }
  if (redis.replica_validity_factor < 0) {
    p.Add("spec.redis.replicaValidityFactor",
          "must be at least 0, got " + std::to_string(redis.replica_validity_factor));
  }
  if (redis.migration_barrier < 0) {
    p.Add("spec.redis.migrationBarrier",
          "must be at least 0, got " + std::to_string(redis.migration_barrier));
  }
  if (redis.maxmemory && !IsMemorySize(*redis.maxmemory)) {
    p.Add("spec.redis.maxmemory",
          "must be a byte count with an optional unit b, k, kb, m, mb, g or gb (e.g. 256mb), "
          "got " +
              Quote(*redis.maxmemory));
  }
  CheckRedisConfig(redis, p);
}

void CheckLocal(const ClusterSpec& spec, Problems& p) {
  const LocalSpec& local = spec.local;
  if (!IsIpv4Literal(local.bind)) {
    p.Add("spec.local.bind", "must be an IPv4 address (nodes CLUSTER MEET each other by IP), got " +
                                 Quote(local.bind));
  } else if (local.bind == "0.0.0.0") {
    // Nodes announce and meet each other at this address; 0.0.0.0 reaches no one.
    p.Add("spec.local.bind", "must be an address the nodes can reach each other at, not 0.0.0.0");
  }
  if (local.base_port < 1 || local.base_port > 65535) {
    p.Add("spec.local.basePort",
          "must be between 1 and 65535, got " + std::to_string(local.base_port));
  } else if (spec.masters > 0 && spec.replicas_per_master >= 0) {
    const int64_t nodes = int64_t{spec.masters} * (1 + int64_t{spec.replicas_per_master});
    const int64_t last_bus = local.base_port + nodes - 1 + kBusPortOffset;
    if (last_bus > 65535) {
      p.Add("spec.local.basePort",
            "the last node's cluster bus port, basePort + nodes - 1 + 10000 = " +
                std::to_string(last_bus) + ", is above 65535");
    }
  }
  if (local.data_dir.empty()) {
    p.Add("spec.local.dataDir", "is required");
  } else if (HasLineBreakOrNul(local.data_dir)) {
    // It is rendered into redis.conf's dir directive.
    p.Add("spec.local.dataDir", "must not contain a newline, carriage return or NUL");
  }
}

// http(s)://host:port with an optional trailing '/'.
bool IsAgentUrl(std::string_view url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.substr(0, scheme.size()) == scheme) {
      std::string_view rest = url.substr(scheme.size());
      if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
      return ParseEndpoint(rest).ok();
    }
  }
  return false;
}

void CheckHosts(const ClusterSpec& spec, Problems& p) {
  if (spec.local_given && !spec.hosts.empty()) {
    p.Add("spec.hosts", "spec.local and spec.hosts exclude each other; give one of them");
  }
  std::map<std::string_view, size_t> first_seen;  // agent -> index
  for (size_t i = 0; i < spec.hosts.size(); ++i) {
    const HostSpec& h = spec.hosts[i];
    const std::string path = "spec.hosts[" + std::to_string(i) + "]";
    if (!IsAgentUrl(h.agent)) {
      p.Add(path + ".agent",
            "must be http://HOST:PORT or https://HOST:PORT, got " + Quote(h.agent));
    }
    if (auto [it, inserted] = first_seen.emplace(h.agent, i); !inserted) {
      p.Add(path + ".agent", "same agent as spec.hosts[" + std::to_string(it->second) + "]");
    }
    if (!MatchesCharset(h.zone, true)) {
      p.Add(path + ".zone", "must match [a-z0-9-]*, got " + Quote(h.zone));
    }
  }
}

}  // namespace

Status Validate(const ClusterSpec& spec) {
  Problems p;
  CheckEnvelope(spec, p);
  CheckCounts(spec, p);
  CheckSlots(spec, p);
  CheckRedis(spec.redis, p);
  if (spec.auth) {
    if (spec.auth->password_file.empty()) {
      p.Add("spec.auth.passwordFile", "is required when spec.auth is given");
    } else if (HasLineBreakOrNul(spec.auth->password_file)) {
      p.Add("spec.auth.passwordFile", "must not contain a newline, carriage return or NUL");
    }
  }
  // The local defaults are only used when no hosts are given; check them then, or when the
  // user wrote spec.local explicitly.
  if (spec.hosts.empty() || spec.local_given) CheckLocal(spec, p);
  CheckHosts(spec, p);

  std::vector<std::string>& problems = p.list();
  if (problems.empty()) return Status::Ok();
  if (problems.size() > kMaxListedProblems) {
    const size_t more = problems.size() - kMaxListedProblems;
    problems.resize(kMaxListedProblems);
    problems.push_back("spec: " + std::to_string(more) + " more problems not listed");
  }
  std::string message = "invalid spec";
  // Only a well-formed name goes into the summary; a bad one is quoted in its own problem.
  if (MatchesCharset(spec.name, false) && spec.name.size() <= kMaxNameLength) {
    message += " " + spec.name;
  }
  message += ": " + std::to_string(problems.size()) +
             (problems.size() == 1 ? " problem: " : " problems: ");
  for (size_t i = 0; i < problems.size(); ++i) {
    if (i > 0) message += "; ";
    message += problems[i];
  }
  return InvalidArgument(std::move(message), std::move(problems));
}

std::vector<LocalNode> LocalNodes(const ClusterSpec& spec) {
  std::vector<LocalNode> nodes;
  if (spec.masters <= 0 || spec.replicas_per_master < 0) return nodes;
  const int64_t count = int64_t{spec.masters} * (1 + int64_t{spec.replicas_per_master});
  if (count > kMaxNodes) return nodes;  // never valid; avoids a huge allocation
  for (int i = 0; i < count; ++i) {
    nodes.push_back({i, spec.name + "-" + std::to_string(i),
                     Endpoint{spec.local.bind, spec.local.base_port + i}});
  }
  return nodes;
}

std::vector<std::vector<SlotRange>> DesiredSlots(const ClusterSpec& spec) {
  if (!spec.slots.ranges.empty()) {
    std::vector<std::vector<SlotRange>> out;
    for (const auto& list : spec.slots.ranges) out.push_back(NormalizeRanges(list));
    return out;
  }
  if (!spec.slots.weights.empty()) return WeightedSplit(spec.slots.weights);
  return EvenSplit(spec.masters);
}

const std::map<std::string, std::string>& OwnedRedisDirectives() {
  static const auto* const kOwned = new std::map<std::string, std::string>{
      {"port", "owned by slotkeeper (node i listens on spec.local.basePort + i)"},
      {"bind", "owned by slotkeeper (set spec.local.bind)"},
      {"dir", "owned by slotkeeper (each node has <spec.local.dataDir>/<cluster>/<port>)"},
      {"daemonize", "owned by slotkeeper (it supervises redis-server in the foreground)"},
      {"supervised", "owned by slotkeeper (it supervises redis-server itself)"},
      {"cluster-enabled", "owned by slotkeeper (always yes)"},
      {"cluster-config-file", "owned by slotkeeper (nodes-<port>.conf, one per node)"},
      {"cluster-port", "owned by slotkeeper (the cluster bus listens on port + 10000)"},
      {"appendfilename", "owned by slotkeeper (appendonly-<port>.aof)"},
      {"appenddirname", "owned by slotkeeper (appendonlydir-<port>)"},
      {"dbfilename", "owned by slotkeeper (dump-<port>.rdb)"},
      {"logfile", "owned by slotkeeper (redis-<port>.log)"},
      {"pidfile", "owned by slotkeeper (redis-<port>.pid)"},
      {"requirepass", "owned by slotkeeper (set spec.auth.passwordFile)"},
      {"masterauth", "owned by slotkeeper (set spec.auth.passwordFile)"},
      {"masteruser", "owned by slotkeeper (replicas authenticate with spec.auth.passwordFile)"},
      {"replicaof", "owned by slotkeeper (replicas are attached with CLUSTER REPLICATE)"},
      {"slaveof", "owned by slotkeeper (replicas are attached with CLUSTER REPLICATE)"},
      {"include", "owned by slotkeeper (an included file would bypass these checks)"},
      {"cluster-announce-ip", "owned by slotkeeper (nodes announce the address they listen on)"},
      {"cluster-announce-port", "owned by slotkeeper (nodes announce the port they listen on)"},
      {"cluster-announce-bus-port", "owned by slotkeeper (the cluster bus is port + 10000)"},
      {"cluster-announce-tls-port", "owned by slotkeeper (nodes announce the port they listen on)"},
      {"rename-command",
       "owned by slotkeeper (slotkeeper needs CLUSTER, CONFIG, INFO, MIGRATE...)"},
      {"cluster-node-timeout", "set spec.redis.nodeTimeoutMs instead"},
      {"appendonly", "set spec.redis.appendonly instead"},
      {"cluster-require-full-coverage", "set spec.redis.requireFullCoverage instead"},
      {"cluster-replica-validity-factor", "set spec.redis.replicaValidityFactor instead"},
      {"cluster-slave-validity-factor", "set spec.redis.replicaValidityFactor instead"},
      {"cluster-migration-barrier", "set spec.redis.migrationBarrier instead"},
      {"maxmemory", "set spec.redis.maxmemory instead"},
  };
  return *kOwned;
}

}  // namespace sk
