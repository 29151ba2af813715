// Parsers for CLUSTER NODES / nodes.conf and INFO text. The format is the one of
// clusterGenNodeDescription() in Redis 7.0 cluster.c; nodes.conf adds a trailing
// "vars currentEpoch N lastVoteEpoch M" line (clusterSaveConfig()).
#include "controller/redis/cluster_nodes.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <utility>

namespace sk::redis {
namespace {

constexpr std::size_t kNodeIdLen = 40;  // CLUSTER_NAMELEN

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v'; }

std::vector<std::string_view> SplitWords(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    std::size_t start = i;
    while (i < line.size() && !IsSpace(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::vector<std::string_view> SplitOn(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    std::size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// Whole-string decimal integer (an optional leading '-'), nothing else.
bool ParseInt(std::string_view s, long long& out) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && ptr == end;
}

bool ParsePort(std::string_view s, int& out) {
  long long v = 0;
  if (!ParseInt(s, v) || v < 0 || v > 65535) return false;
  out = static_cast<int>(v);
  return true;
}

bool ParseSlot(std::string_view s, int& out) {
  long long v = 0;
  if (!ParseInt(s, v) || v < 0 || v >= kSlots) return false;
  out = static_cast<int>(v);
  return true;
}

bool IsNodeId(std::string_view s) {
  return s.size() == kNodeIdLen && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

Error LineError(int line_no, const std::string& what) {
  return InvalidArgument("line " + std::to_string(line_no) + ": " + what);
}

// "ip:port@cport[,hostname[,aux=value...]]". The port is after the LAST ':' before '@'
// because Redis prints IPv6 addresses without brackets ("::1:7000@17000"). ":0@0" is a
// node whose address is not known yet (noaddr).
Status ParseAddress(std::string_view field, int line_no, NodeEntry& node) {
  std::vector<std::string_view> parts = SplitOn(field, ',');
  std::string_view addr = parts[0];
  // 7.0 prints the hostname as the second part (possibly empty); later versions append
  // "key=value" auxiliary fields, which are not ours to interpret.
  if (parts.size() > 1 && parts[1].find('=') == std::string_view::npos) {
    node.hostname = std::string(parts[1]);
  }
  auto bad = [&](const char* why) {
    return LineError(line_no, std::string(why) + " in address '" + std::string(field) + "'");
  };
  std::size_t at = addr.find('@');
  std::string_view host_port = addr.substr(0, at);
  if (at != std::string_view::npos) {
    // Before Redis 4 there was no "@cport"; then bus_port stays 0.
    if (!ParsePort(addr.substr(at + 1), node.bus_port)) return bad("bad bus port");
  }
  std::size_t colon = host_port.rfind(':');
  if (colon == std::string_view::npos) return bad("missing ':port'");
  if (!ParsePort(host_port.substr(colon + 1), node.port)) return bad("bad port");
  std::string_view host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  node.host = std::string(host);
  return Status::Ok();
}

// One slot field: "5", "0-5460", "[5->-<id>]" (migrating to id) or "[5-<-<id>]"
// (importing from id).
Status ParseSlotField(std::string_view f, int line_no, NodeEntry& node) {
  if (f.front() == '[') {
    auto bad = [&] { return LineError(line_no, "bad open slot '" + std::string(f) + "'"); };
    if (f.size() < 2 || f.back() != ']') return bad();
    std::string_view inner = f.substr(1, f.size() - 2);
    bool migrating = true;
    std::size_t pos = inner.find("->-");
    if (pos == std::string_view::npos) {
      migrating = false;
      pos = inner.find("-<-");
    }
    if (pos == std::string_view::npos) return bad();
    int slot = 0;
    std::string_view peer = inner.substr(pos + 3);
    if (!ParseSlot(inner.substr(0, pos), slot) || !IsNodeId(peer)) return bad();
    (migrating ? node.migrating : node.importing)[slot] = std::string(peer);
    return Status::Ok();
  }
  auto bad = [&] { return LineError(line_no, "bad slot range '" + std::string(f) + "'"); };
  SlotRange r;
  std::size_t dash = f.find('-');
  if (dash == std::string_view::npos) {
    if (!ParseSlot(f, r.start)) return bad();
    r.end = r.start;
  } else if (!ParseSlot(f.substr(0, dash), r.start) || !ParseSlot(f.substr(dash + 1), r.end) ||
             r.start > r.end) {
    return bad();
  }
  node.slots.push_back(r);
  return Status::Ok();
}

Status ParseVarsLine(const std::vector<std::string_view>& w, int line_no, NodeTable& table) {
  if (w.size() % 2 != 1) {
    return LineError(line_no, "vars line needs name/value pairs, got " +
                                  std::to_string(w.size() - 1) + " words");
  }
  for (std::size_t i = 1; i + 1 < w.size(); i += 2) {
    long long v = 0;
    bool known = w[i] == "currentEpoch" || w[i] == "lastVoteEpoch";
    if (!known) continue;  // newer Redis versions may add variables
    if (!ParseInt(w[i + 1], v) || v < 0) {
      return LineError(line_no, "bad " + std::string(w[i]) + " '" + std::string(w[i + 1]) + "'");
    }
    (w[i] == "currentEpoch" ? table.current_epoch : table.last_vote_epoch) = v;
  }
  return Status::Ok();
}

Result<NodeEntry> ParseNodeLine(const std::vector<std::string_view>& w, int line_no) {
  if (w.size() < 8) {
    return LineError(line_no, "expected at least 8 fields, got " + std::to_string(w.size()));
  }
  NodeEntry node;
  if (!IsNodeId(w[0])) return LineError(line_no, "bad node id '" + std::string(w[0]) + "'");
  node.id = std::string(w[0]);
  SK_TRY(ParseAddress(w[1], line_no, node));
  for (std::string_view flag : SplitOn(w[2], ',')) {
    if (flag.empty()) return LineError(line_no, "bad flags '" + std::string(w[2]) + "'");
    node.flags.emplace_back(flag);
  }
  if (w[3] != "-") {
    if (!IsNodeId(w[3])) return LineError(line_no, "bad master id '" + std::string(w[3]) + "'");
    node.master_id = std::string(w[3]);
  }
  struct {
    const char* name;
    std::string_view text;
    long long* out;
  } numbers[] = {{"ping-sent", w[4], &node.ping_sent},
                 {"pong-recv", w[5], &node.pong_recv},
                 {"config-epoch", w[6], &node.config_epoch}};
  for (const auto& n : numbers) {
    if (!ParseInt(n.text, *n.out) || *n.out < 0) {
      return LineError(line_no, std::string("bad ") + n.name + " '" + std::string(n.text) + "'");
    }
  }
  if (w[7] == "connected") {
    node.link_connected = true;
  } else if (w[7] != "disconnected") {
    return LineError(line_no, "bad link state '" + std::string(w[7]) + "'");
  }
  for (std::size_t i = 8; i < w.size(); ++i) SK_TRY(ParseSlotField(w[i], line_no, node));
  return node;
}

}  // namespace

bool NodeEntry::HasFlag(std::string_view f) const {
  return std::find(flags.begin(), flags.end(), f) != flags.end();
}

const NodeEntry* NodeTable::Myself() const {
  for (const NodeEntry& n : nodes) {
    if (n.IsMyself()) return &n;
  }
  return nullptr;
}

const NodeEntry* NodeTable::Find(std::string_view id) const {
  for (const NodeEntry& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

Result<NodeTable> ParseClusterNodes(std::string_view text) {
  NodeTable table;
  int line_no = 0;
  for (std::string_view line : SplitOn(text, '\n')) {
    ++line_no;
    std::vector<std::string_view> words = SplitWords(line);
    if (words.empty()) continue;
    if (words[0] == "vars") {
      SK_TRY(ParseVarsLine(words, line_no, table));
      continue;
    }
    SK_ASSIGN_OR_RETURN(NodeEntry node, ParseNodeLine(words, line_no));
    table.nodes.push_back(std::move(node));
  }
  return table;
}

std::map<std::string, std::string> ParseInfo(std::string_view text) {
  std::map<std::string, std::string> out;
  for (std::string_view line : SplitOn(text, '\n')) {
    while (!line.empty() && IsSpace(line.back())) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    out[std::string(line.substr(0, colon))] = std::string(line.substr(colon + 1));
  }
  return out;
}

}  // namespace sk::redis
