#include "bench/reshard/bench_cluster.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <random>

#include "agent/supervise/process.h"
#include "api/types/files.h"
#include "api/types/keyslot.h"
#include "api/types/slot_range.h"
#include "controller/redis/cluster_nodes.h"
#include "controller/redis/redis_client.h"
#include "tests/support/support.h"

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;
using sk::redis::RedisClient;
using sk::redis::Reply;

sk::Endpoint Local(int port) { return {"127.0.0.1", port}; }

sk::redis::ClientOptions Opts() {
  sk::redis::ClientOptions o;
  o.connect_timeout_ms = 500;
  o.command_timeout_ms = 10000;
  return o;
}

// One command on a fresh connection; the reply text, or "ERR:<message>".
std::string Cmd(int port, const std::vector<std::string>& argv) {
  auto c = RedisClient::Connect(Local(port), Opts());
  if (!c.ok()) return "ERR:" + c.error().message();
  auto r = c->Pipeline({argv});
  if (!r.ok()) return "ERR:" + r.error().message();
  const Reply& x = (*r)[0];
  if (x.IsError()) return "ERR:" + x.str;
  if (x.type == Reply::Type::kInteger) return std::to_string(x.integer);
  if (x.type == Reply::Type::kArray) {  // ROLE: "master\n..."
    std::string out;
    for (const Reply& e : x.elements) out += e.str + "\n";
    return out;
  }
  return x.str;
}

// Port of the master serving each slot as node `port` sees it (0 when none).
std::vector<int> SlotPorts(int port) {
  std::vector<int> out(sk::kSlots, 0);
  auto table = sk::redis::ParseClusterNodes(Cmd(port, {"CLUSTER", "NODES"}));
  if (!table.ok()) return out;
  for (const auto& n : table->nodes) {
    for (const sk::SlotRange& r : n.slots) {
      for (int s = r.start; s <= r.end; ++s) out[s] = n.port;
    }
  }
  return out;
}

template <class Pred>
bool WaitUntil(Pred pred, double seconds) {
  auto end = Clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (Clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace

std::string KeyName(long long i) { return "key:" + std::to_string(i); }

std::string Value(long long i, int size) {
  std::string v = "v" + std::to_string(i) + ":";
  v.resize(static_cast<std::size_t>(size), static_cast<char>('a' + i % 26));
  return v;
}

BenchCluster::BenchCluster(int base, int nodes, int masters, const std::string& dir) : base_(base) {
  auto redis = sk::agent::FindExecutable("redis-server");
  if (!redis.ok()) {
    std::fprintf(stderr, "%s\n", redis.error().message().c_str());
    return;
  }
  for (int i = 0; i < nodes; ++i) {
    // Another process on a client or bus port would make a node fail or, worse, answer for
    // it; connections of the previous run in TIME_WAIT clear within a minute.
    if (!WaitUntil(
            [&] { return sk::testing::CanBind(port(i)) && sk::testing::CanBind(port(i) + 10000); },
            90)) {
      std::fprintf(stderr, "port %d or %d is in use\n", port(i), port(i) + 10000);
      return;
    }
  }
  for (int i = 0; i < nodes; ++i) {
    std::string p = std::to_string(port(i));
    std::string d = dir + "/" + p;
    (void)sk::MakeDirs(d);
    auto pid = sk::agent::Spawn(
        {{*redis, "--port", p, "--bind", "127.0.0.1", "--dir", d, "--save", "", "--appendonly",
          "no", "--cluster-enabled", "yes", "--cluster-config-file", "nodes-" + p + ".conf",
          "--cluster-node-timeout", "5000", "--logfile", d + "/redis.log"},
         d,
         d + "/out.log",
         ""});
    if (!pid.ok()) return;
    pids_.push_back(*pid);
  }
  for (int i = 0; i < nodes; ++i) {
    if (!WaitUntil([&] { return Cmd(port(i), {"PING"}) == "PONG"; }, 10)) {
      std::fprintf(stderr, "redis-server on port %d does not answer (see %s/%d/out.log)\n", port(i),
                   dir.c_str(), port(i));
      return;
    }
    ids_.push_back(Cmd(port(i), {"CLUSTER", "MYID"}));
    Cmd(port(i), {"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(i + 1)});
  }
  auto split = sk::EvenSplit(masters);
  for (int i = 0; i < masters; ++i) {
    Cmd(port(i), {"CLUSTER", "ADDSLOTSRANGE", std::to_string(split[i][0].start),
                  std::to_string(split[i][0].end)});
  }
  for (int i = 1; i < nodes; ++i)
    Cmd(port(0), {"CLUSTER", "MEET", "127.0.0.1", std::to_string(port(i))});
  ok_ = WaitUntil(
      [&] {
        for (int i = 0; i < nodes; ++i) {
          if (Cmd(port(i), {"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos) {
            return false;
          }
          auto t = sk::redis::ParseClusterNodes(Cmd(port(i), {"CLUSTER", "NODES"}));
          if (!t.ok() || static_cast<int>(t->nodes.size()) != nodes) return false;
          for (const auto& n : t->nodes) {
            if (n.InHandshake()) return false;
          }
          std::vector<int> owners = SlotPorts(port(i));
          for (int o : owners) {
            if (o == 0) return false;
          }
        }
        return true;
      },
      60);
  if (!ok_) {
    std::fprintf(stderr, "cluster did not form in 60 s\n");
    for (int i = 0; i < nodes; ++i) {
      auto log = sk::ReadFile(dir + "/" + std::to_string(port(i)) + "/redis.log");
      std::string text = log.ok() ? *log : "";
      if (text.size() > 600) text = text.substr(text.size() - 600);
      std::fprintf(stderr, "node %d: %s\n...%s\n", port(i),
                   Cmd(port(i), {"CLUSTER", "INFO"}).substr(0, 40).c_str(), text.c_str());
    }
  }
}

BenchCluster::~BenchCluster() {
  for (int pid : pids_) (void)sk::agent::TerminateProcess(pid, std::chrono::seconds(5));
}

sk::act::MigrateNode BenchCluster::node(int i) const {
  return {"n" + std::to_string(i), ids_[i], Local(port(i))};
}

std::vector<sk::act::MigrateNode> BenchCluster::all() const {
  std::vector<sk::act::MigrateNode> out;
  for (std::size_t i = 0; i < ids_.size(); ++i) out.push_back(node(static_cast<int>(i)));
  return out;
}

bool BenchCluster::Load(long long n, int value_size) const {
  std::vector<int> owner = SlotPorts(port(0));
  std::map<int, std::unique_ptr<RedisClient>> clients;
  constexpr long long kBatch = 30000;
  for (long long at = 0; at < n; at += kBatch) {
    std::map<int, std::vector<std::vector<std::string>>> cmds;
    for (long long i = at; i < std::min(n, at + kBatch); ++i) {
      std::string key = KeyName(i);
      cmds[owner[sk::KeySlot(key)]].push_back({"SET", key, Value(i, value_size)});
    }
    // Every master gets its pipeline before any reply is read: they all work at once.
    for (auto& [p, list] : cmds) {
      if (!clients.count(p)) {
        auto c = RedisClient::Connect(Local(p), Opts());
        if (!c.ok()) return false;
        clients[p] = std::make_unique<RedisClient>(std::move(c).value());
      }
      if (!clients[p]->Send(list).ok()) return false;
    }
    for (auto& [p, list] : cmds) {
      auto r = clients[p]->Receive(list.size());
      if (!r.ok()) return false;
      for (const Reply& x : *r) {
        if (x.IsError()) return false;
      }
    }
  }
  return true;
}

// Diagnosis for a key-count mismatch: keys held by a node that does not serve their slot.
std::string BenchCluster::StrayKeys(const std::vector<int>& owner) const {
  std::string out;
  for (std::size_t i = 0; i < ids_.size(); ++i) {
    int p = port(static_cast<int>(i));
    auto c = RedisClient::Connect(Local(p), Opts());
    if (!c.ok()) continue;
    std::vector<std::vector<std::string>> cmds;
    for (int s = 0; s < sk::kSlots; ++s) {
      cmds.push_back({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(s)});
    }
    auto r = c->Pipeline(cmds);
    if (!r.ok()) continue;
    long long stray = 0;
    int slots = 0, first = -1;
    for (int s = 0; s < sk::kSlots; ++s) {
      if (owner[s] != p && (*r)[s].integer > 0) {
        stray += (*r)[s].integer;
        ++slots;
        if (first < 0) first = s;
      }
    }
    if (stray > 0) {
      out += "; node " + std::to_string(p) + " holds " + std::to_string(stray) + " keys in " +
             std::to_string(slots) + " slots it does not serve (first: " + std::to_string(first) +
             ", served by " + std::to_string(owner[first]) + ")";
    }
  }
  return out;
}

long long BenchCluster::Keys(int i) const { return std::atoll(Cmd(port(i), {"DBSIZE"}).c_str()); }

std::string BenchCluster::Check(long long n, int value_size) const {
  std::vector<int> reference = SlotPorts(port(0));
  long long total = 0;
  for (std::size_t i = 0; i < ids_.size(); ++i) {
    int p = port(static_cast<int>(i));
    std::string nodes = Cmd(p, {"CLUSTER", "NODES"});
    if (nodes.find('[') != std::string::npos) return "open slot on " + std::to_string(p);
    std::vector<int> mine = SlotPorts(p);
    for (int slot = 0; slot < sk::kSlots; ++slot) {
      if (mine[slot] != reference[slot]) {
        return "node " + std::to_string(p) + " sees slot " + std::to_string(slot) + " on " +
               std::to_string(mine[slot]) + ", node " + std::to_string(port(0)) + " on " +
               std::to_string(reference[slot]) + "\n" + Cmd(p, {"CLUSTER", "NODES"});
      }
    }
    // A drained master may have turned into a replica: its keys are copies.
    if (Cmd(p, {"ROLE"}).rfind("master", 0) == 0) total += Keys(static_cast<int>(i));
  }
  if (total != n)
    return "masters hold " + std::to_string(total) + " keys, expected " + std::to_string(n);
  std::mt19937_64 rng(42);
  for (int k = 0; k < 2000; ++k) {
    long long i = static_cast<long long>(rng() % static_cast<unsigned long long>(n));
    std::string key = KeyName(i);
    if (Cmd(reference[sk::KeySlot(key)], {"GET", key}) != Value(i, value_size)) {
      return "wrong value for " + key;
    }
  }
  return "";
}

LatencyProbe::LatencyProbe(int any_port, long long keys, int value_size, int rate)
    : any_port_(any_port), keys_(keys), value_size_(value_size), rate_(rate) {
  thread_ = std::thread([this] { Loop(); });
}

LatencyProbe::~LatencyProbe() {
  quit_ = true;
  if (thread_.joinable()) thread_.join();
}

void LatencyProbe::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  samples_.clear();
  errors_ = 0;
  recording_ = true;
}

void LatencyProbe::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  recording_ = false;
}

double LatencyProbe::Percentile(double p) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (samples_.empty()) return -1;
  std::vector<double> v = samples_;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1,
                    static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())))];
}

void LatencyProbe::Loop() {
  std::vector<int> owner = SlotPorts(any_port_);
  std::map<int, std::unique_ptr<RedisClient>> clients;
  std::mt19937_64 rng(7);
  const auto interval = std::chrono::microseconds(1000000 / std::max(1, rate_));
  Clock::time_point next = Clock::now();
  while (!quit_) {
    std::this_thread::sleep_until(next);
    next += interval;
    if (Clock::now() - next > std::chrono::milliseconds(100)) next = Clock::now();
    long long i = static_cast<long long>(rng() % static_cast<unsigned long long>(keys_));
    std::string key = KeyName(i);
    int slot = sk::KeySlot(key);
    std::vector<std::string> cmd =
        rng() % 2 ? std::vector<std::string>{"GET", key}
                  : std::vector<std::string>{"SET", key, Value(i, value_size_)};
    Clock::time_point t0 = Clock::now();
    int p = owner[slot];
    bool ask = false, ok = false;
    for (int attempt = 0; attempt < 8 && !ok && p != 0; ++attempt) {
      if (!clients.count(p)) {
        auto c = RedisClient::Connect(Local(p), Opts());
        if (!c.ok()) break;
        clients[p] = std::make_unique<RedisClient>(std::move(c).value());
      }
      auto r = ask ? clients[p]->Pipeline({{"ASKING"}, cmd}) : clients[p]->Pipeline({cmd});
      if (!r.ok()) {
        clients.erase(p);
        break;
      }
      const Reply& x = r->back();
      if (!x.IsError()) {
        ok = true;
      } else if (x.str.rfind("MOVED", 0) == 0 || x.str.rfind("ASK", 0) == 0) {
        // "MOVED 3999 127.0.0.1:6381": follow it; MOVED also fixes our slot map.
        int to = std::atoi(x.str.c_str() + x.str.rfind(':') + 1);
        ask = x.str[0] == 'A';
        if (!ask) owner[slot] = to;
        p = to;
      } else if (x.str.rfind("TRYAGAIN", 0) == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      } else {
        break;
      }
    }
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(mu_);
    if (!recording_) continue;
    samples_.push_back(ms);
    if (!ok) ++errors_;
  }
}

}  // namespace bench
