#include "controller/observe/observe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "controller/redis/cluster_nodes.h"

namespace sk::observe {

using model::ObservedNode;
using model::PeerView;

Result<redis::RedisClient*> ClientPool::Get(const Endpoint& ep) {
  auto it = clients_.find(ep);
  if (it != clients_.end()) return it->second.get();
  SK_ASSIGN_OR_RETURN(redis::RedisClient client, redis::RedisClient::Connect(ep, opts_));
  auto owned = std::make_unique<redis::RedisClient>(std::move(client));
  redis::RedisClient* raw = owned.get();
  clients_[ep] = std::move(owned);
  return raw;
}

namespace {

// CLUSTER MYID, CLUSTER NODES, CLUSTER INFO, DBSIZE, INFO server, INFO replication, INFO memory,
// INFO stats; then one CONFIG GET per managed setting. (One INFO per section: Redis before 7.0
// takes one section per call.)
constexpr size_t kFixedCommands = 8;

PeerView ToPeer(const redis::NodeEntry& e) {
  PeerView p;
  p.id = e.id;
  p.ep = Endpoint{e.host, e.port};
  p.myself = e.IsMyself();
  p.master = e.IsMaster();
  p.replica = e.IsReplica();
  p.pfail = e.IsPfail();
  p.fail = e.IsFail();
  p.handshake = e.InHandshake();
  p.noaddr = e.NoAddr() || e.host.empty();
  p.connected = e.link_connected;
  p.master_id = e.master_id;
  p.config_epoch = e.config_epoch;
  p.slots = e.slots;
  p.migrating = e.migrating;
  p.importing = e.importing;
  return p;
}

int IntOf(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : std::atoi(it->second.c_str());
}

std::string StrOf(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

// Fills `n` from the pipeline's replies; an unexpected reply makes the node unreachable for
// this pass with the reason.
Status Fill(ObservedNode& n, const std::vector<redis::Reply>& replies,
            const std::vector<std::string>& config_keys) {
  auto text = [&](size_t i, const char* what) -> Result<std::string> {
    if (i >= replies.size()) return Internal(std::string("missing reply to ") + what);
    if (replies[i].IsError()) return redis::ReplyError(n.ep, replies[i].str).Wrap(what);
    return replies[i].AsString();
  };
  SK_ASSIGN_OR_RETURN(n.id, text(0, "CLUSTER MYID"));
  SK_ASSIGN_OR_RETURN(std::string nodes_text, text(1, "CLUSTER NODES"));
  SK_ASSIGN_OR_RETURN(redis::NodeTable table, redis::ParseClusterNodes(nodes_text));
  for (const redis::NodeEntry& e : table.nodes) n.peers.push_back(ToPeer(e));
  SK_ASSIGN_OR_RETURN(std::string info_text, text(2, "CLUSTER INFO"));
  auto cinfo = redis::ParseInfo(info_text);
  n.cluster_state = StrOf(cinfo, "cluster_state");
  n.current_epoch = std::atoll(StrOf(cinfo, "cluster_current_epoch").c_str());
  n.known_nodes = IntOf(cinfo, "cluster_known_nodes");
  n.slots_assigned = IntOf(cinfo, "cluster_slots_assigned");
  n.slots_ok = IntOf(cinfo, "cluster_slots_ok");
  n.slots_pfail = IntOf(cinfo, "cluster_slots_pfail");
  n.slots_fail = IntOf(cinfo, "cluster_slots_fail");
  if (replies.size() < 4 || replies[3].IsError()) return Internal("no reply to DBSIZE");
  SK_ASSIGN_OR_RETURN(n.keys, replies[3].AsInteger());
  SK_ASSIGN_OR_RETURN(std::string server, text(4, "INFO server"));
  SK_ASSIGN_OR_RETURN(std::string replication, text(5, "INFO replication"));
  SK_ASSIGN_OR_RETURN(std::string memory, text(6, "INFO memory"));
  SK_ASSIGN_OR_RETURN(std::string stats, text(7, "INFO stats"));
  auto i = redis::ParseInfo(server + replication + memory + stats);
  n.used_memory = std::atoll(StrOf(i, "used_memory").c_str());
  n.ops_per_sec = std::atoll(StrOf(i, "instantaneous_ops_per_sec").c_str());
  n.version = StrOf(i, "redis_version");
  n.repl.role = StrOf(i, "role");
  n.repl.link_up = StrOf(i, "master_link_status") == "up";
  n.repl.sync_in_progress = StrOf(i, "master_sync_in_progress") == "1";
  n.repl.offset = std::atoll(
      StrOf(i, n.repl.role == "slave" ? "slave_repl_offset" : "master_repl_offset").c_str());
  n.repl.connected_replicas = IntOf(i, "connected_slaves");
  if (n.repl.role == "slave" && !n.repl.link_up) {
    const std::string down = StrOf(i, "master_link_down_since_seconds");
    n.repl.link_down_seconds = down.empty() ? -1 : std::atoll(down.c_str());
  }
  for (size_t k = 0; k < config_keys.size() && kFixedCommands + k < replies.size(); ++k) {
    const redis::Reply& r = replies[kFixedCommands + k];
    // CONFIG GET answers [name, value], or [] for a name the server does not know.
    if (r.type == redis::Reply::Type::kArray && r.elements.size() >= 2) {
      n.config[config_keys[k]] = r.elements[1].str;
    }
  }
  return Status::Ok();
}

}  // namespace

namespace {

ObservedNode Blank(const Target& t) {
  ObservedNode n;
  n.name = t.name;
  n.ep = t.ep;
  n.host = t.host;
  n.zone = t.zone;
  n.process_running = t.process_running;
  n.failing = t.failing;
  return n;
}

}  // namespace

ObservedNode PredictFresh(const Target& t) {
  ObservedNode n = Blank(t);
  n.reachable = true;
  n.synthetic = true;
  n.id = "(new id of " + t.name + ")";
  n.cluster_state = "fail";
  n.known_nodes = 1;
  n.repl.role = "master";
  n.peers.push_back({.id = n.id, .ep = n.ep, .myself = true, .master = true, .connected = true});
  return n;
}

ObservedNode ObserveNode(ClientPool& pool, const Target& t,
                         const std::vector<std::string>& config_keys) {
  return std::move(Observe(pool, {t}, config_keys).nodes.front());
}

model::ObservedCluster Observe(ClientPool& pool, const std::vector<Target>& targets,
                               const std::vector<std::string>& config_keys) {
  std::vector<std::vector<std::string>> cmds = {
      {"CLUSTER", "MYID"}, {"CLUSTER", "NODES"},    {"CLUSTER", "INFO"}, {"DBSIZE"},
      {"INFO", "server"},  {"INFO", "replication"}, {"INFO", "memory"},  {"INFO", "stats"}};
  for (const std::string& key : config_keys) cmds.push_back({"CONFIG", "GET", key});
  model::ObservedCluster o;
  o.nodes.reserve(targets.size());
  // Every node gets its pipeline before any reply is read: one round trip for the whole
  // cluster instead of one per node, and the nodes work in parallel.
  std::vector<redis::RedisClient*> sent(targets.size(), nullptr);
  for (size_t i = 0; i < targets.size(); ++i) {
    ObservedNode& n = o.nodes.emplace_back(Blank(targets[i]));
    if (!n.process_running) {
      n.error = targets[i].last_exit.empty() ? "process not running"
                                             : "process not running; last " + targets[i].last_exit;
      continue;
    }
    auto client = pool.Get(n.ep);
    if (!client.ok()) {
      n.error = client.error().message();
      continue;
    }
    if (Status st = (*client)->Send(cmds); !st.ok()) {
      pool.Drop(n.ep);
      n.error = st.error().message();
      continue;
    }
    sent[i] = *client;
  }
  std::set<Endpoint> dropped;  // a dropped client is gone: never read from it again
  for (size_t i = 0; i < targets.size(); ++i) {
    if (!sent[i]) continue;
    ObservedNode& n = o.nodes[i];
    if (dropped.count(n.ep)) {
      n.error = "connection lost";
      continue;
    }
    auto replies = sent[i]->Receive(cmds.size());
    if (!replies.ok()) {
      pool.Drop(n.ep);
      dropped.insert(n.ep);
      n.error = replies.error().message();
      continue;
    }
    if (Status st = Fill(n, *replies, config_keys); !st.ok()) {
      n.error = st.error().message();
      n.peers.clear();
      continue;
    }
    n.reachable = true;
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    ObservedNode& n = o.nodes[i];
    if (!n.reachable && targets[i].fresh) {
      std::string why = n.error;
      n = PredictFresh(targets[i]);
      n.starting = true;
      n.error = why;
    }
  }
  return o;
}

std::string ProbeTcp(const Endpoint& ep, int timeout_ms) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(ep.port));
  if (inet_pton(AF_INET, ep.host.c_str(), &addr.sin_addr) != 1) return "not an IPv4 address";
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  std::string result;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      result = std::strerror(errno);
    } else {
      pollfd p{fd, POLLOUT, 0};
      int r = poll(&p, 1, timeout_ms);
      int err = 0;
      socklen_t len = sizeof err;
      if (r == 0) {
        result = "timed out after " + std::to_string(timeout_ms) + " ms";
      } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        result = std::strerror(err ? err : errno);
      }
    }
  }
  close(fd);
  return result;
}

}  // namespace sk::observe
