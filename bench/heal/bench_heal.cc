// bench/heal: kill -9 a master of a 3x1 cluster (node-timeout 5000) under a steady write
// load, with slotkeeper's daemon keeping the cluster, and with Redis alone (the same cluster,
// daemon stopped), side by side in one run.
//
//   build/bench/heal/bench_heal [--reps 5] [--rate 1000] [--fault kill|gone]
//
// --fault gone (issue 3's case b, fault 9): the killed master cannot come back, because a
// stranger takes its port at once. slotkeeper then replaces it by a new node on a free port
// that joins as a replica; full redundancy is judged from the cluster's own view then.
//
// Measured from the kill: until every running node reports cluster_state:ok and every slot
// is served by a running master ("ok"), and until every master has a replica linked and in
// sync again ("full redundancy"; Redis alone never gets there: nobody restarts the node).
// Failed writes are counted by kind; acknowledged writes are read back afterwards.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/supervise/process.h"
#include "api/types/files.h"
#include "tests/support/load_client.h"
#include "tests/support/support.h"

namespace {

using Clock = std::chrono::steady_clock;
using sk::testing::RedisCmd;

constexpr int kNodes = 6;

std::string SelfDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string self(buf, n > 0 ? static_cast<size_t>(n) : 0);
  return self.substr(0, self.rfind("/bench/heal/"));
}

std::string WriteSpec(const std::string& dir, int base) {
  std::ostringstream y;
  y << "apiVersion: slotkeeper.io/v1alpha1\nkind: RedisCluster\nmetadata:\n  name: heal\n"
    << "spec:\n  masters: 3\n  replicasPerMaster: 1\n  redis:\n    nodeTimeoutMs: 5000\n"
    << "    appendonly: true\n  local:\n    bind: 127.0.0.1\n    basePort: " << base
    << "\n    dataDir: " << dir << "/data\n";
  std::string path = dir + "/spec.yaml";
  std::ofstream(path) << y.str();
  return path;
}

int NodePid(const std::string& dir, int port) {
  std::ifstream f(dir + "/data/heal/" + std::to_string(port) + "/redis-" + std::to_string(port) +
                  ".pid");
  int pid = 0;
  f >> pid;
  return pid;
}

bool Alive(int pid) { return pid > 1 && ::kill(pid, 0) == 0; }

struct Sample {
  double ok_s = -1;
  double redundant_s = -1;  // -1: never within the window
  sk::testing::ClusterLoad::Stats stats;
  size_t lost = 0;
};

// Every running node ok, and no slot owned by `dead_id`. `skip` is a port nothing of ours
// listens on any more (a stranger took it).
bool ClusterOk(const std::string& dir, int base, const std::string& dead_id, int skip = 0) {
  for (int i = 0; i < kNodes; ++i) {
    int port = base + i;
    if (port == skip || !Alive(NodePid(dir, port))) continue;
    auto info = sk::testing::ParseInfoText(RedisCmd(port, {"CLUSTER", "INFO"}));
    if (info["cluster_state"] != "ok") return false;
    std::string nodes = RedisCmd(port, {"CLUSTER", "NODES"});
    std::istringstream in(nodes);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(dead_id, 0) == 0 && line.find("master") != std::string::npos) {
        std::istringstream f(line);
        std::vector<std::string> w;
        for (std::string x; f >> x;) w.push_back(x);
        if (w.size() > 8) return false;  // still owns slots in this view
      }
    }
  }
  return true;
}

// Six nodes running, three masters each with a linked, synced replica.
bool FullyRedundant(const std::string& dir, int base) {
  int linked = 0;
  for (int i = 0; i < kNodes; ++i) {
    int port = base + i;
    if (!Alive(NodePid(dir, port))) return false;
    auto repl = sk::testing::ParseInfoText(RedisCmd(port, {"INFO", "replication"}));
    if (repl["role"] == "slave") {
      if (repl["master_link_status"] != "up" || repl["master_sync_in_progress"] != "0")
        return false;
      linked++;
    }
  }
  return linked == 3;
}

// From the view of the node at `seed`: three masters with slots, each with a replica that
// is linked and in sync, and no node flagged failing (wherever the nodes listen).
bool RedundantByView(int seed) {
  std::istringstream in(RedisCmd(seed, {"CLUSTER", "NODES"}));
  int masters = 0, linked = 0;
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::vector<std::string> w;
    for (std::string x; f >> x;) w.push_back(x);
    if (w.size() < 8) return false;
    if (w[2].find("fail") != std::string::npos) return false;
    if (w[2].find("master") != std::string::npos && w.size() > 8) masters++;
    if (w[2].find("slave") != std::string::npos) {
      auto colon = w[1].find(':');
      int port = std::atoi(w[1].c_str() + colon + 1);
      auto repl = sk::testing::ParseInfoText(RedisCmd(port, {"INFO", "replication"}));
      if (repl["master_link_status"] == "up" && repl["master_sync_in_progress"] == "0") linked++;
    }
  }
  return masters == 3 && linked == 3;
}

Sample RunOnce(const std::string& root, int base, int api, bool with_daemon, double rate,
               bool gone) {
  Sample s;
  std::string dir = root + (with_daemon ? "/sk" : "/redis");
  (void)sk::MakeDirs(dir);
  std::string spec = WriteSpec(dir, base);
  std::string bin = SelfDir() + "/slotkeeper";
  auto up = sk::agent::Spawn({{bin, "up", "-f", spec, "--api", "127.0.0.1:" + std::to_string(api),
                               "--state-dir", dir + "/state"},
                              dir,
                              dir + "/up.log",
                              ""});
  if (!up.ok()) return s;
  auto deadline = Clock::now() + std::chrono::seconds(30);
  // Healthy first (every node ok, every replica in sync), so that only the kill's effects count.
  while (!(FullyRedundant(dir, base) && ClusterOk(dir, base, "-")) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (Clock::now() >= deadline) std::fprintf(stderr, "cluster not healthy after 30 s\n");
  if (!with_daemon) (void)sk::agent::TerminateProcess(*up, std::chrono::seconds(10));

  std::vector<int> ports;
  for (int i = 0; i < kNodes; ++i) ports.push_back(base + i);
  sk::testing::ClusterLoad load({ports, rate, "heal", ""});
  load.Start();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // The victim: the master of slot 0.
  int victim = -1;
  for (int i = 0; i < kNodes && victim < 0; ++i) {
    if (RedisCmd(base + i, {"ROLE"}).rfind("master", 0) == 0) victim = base + i;
  }
  int victim_pid = victim > 0 ? NodePid(dir, victim) : 0;
  if (victim_pid <= 1) {  // never kill(0) or kill(1): that would hit our own process group
    std::fprintf(stderr, "no master to kill (cluster not healthy?): see %s/up.log\n", dir.c_str());
    load.Stop();
    return s;
  }
  std::string dead_id = RedisCmd(victim, {"CLUSTER", "MYID"});
  auto t0 = Clock::now();
  ::kill(victim_pid, SIGKILL);
  std::unique_ptr<sk::testing::PortSquatter> squatter;
  while (gone && !(squatter && squatter->bound()) && Clock::now() - t0 < std::chrono::seconds(2)) {
    squatter =
        std::make_unique<sk::testing::PortSquatter>(victim);  // as soon as the dead process lets go
  }
  const int seed = victim == base ? base + 1 : base;
  auto end = t0 + std::chrono::seconds(with_daemon ? 20 : 15);
  while (Clock::now() < end) {
    double t = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s.ok_s < 0 && ClusterOk(dir, base, dead_id, gone ? victim : 0)) s.ok_s = t;
    if (s.ok_s >= 0 && (gone ? RedundantByView(seed) : FullyRedundant(dir, base))) {
      s.redundant_s = t;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  load.Stop();
  s.stats = load.Snapshot();
  s.lost = load.Verify().size();
  if (with_daemon) (void)sk::agent::TerminateProcess(*up, std::chrono::seconds(10));
  sk::agent::SpawnSpec down{
      {bin, "down", "-f", spec, "--purge", "--state-dir", dir + "/state"}, dir, "", ""};
  (void)sk::agent::RunCapture(down, std::chrono::seconds(60));
  return s;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return -1;
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string Fmt(double v) {
  if (v < 0) return "never";
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  double rate = 1000;
  bool gone = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--reps") reps = std::atoi(argv[i + 1]);
    if (a == "--rate") rate = std::atof(argv[i + 1]);
    if (a == "--fault") gone = std::string(argv[i + 1]) == "gone";
  }
  std::string root = "/tmp/slotkeeper-bench-heal-" + std::to_string(::getpid());
  std::map<bool, std::vector<Sample>> all;
  for (int r = 0; r < reps; ++r) {
    for (bool daemon : {r % 2 == 0, r % 2 != 0}) {
      int base = 13000 + (daemon ? 0 : 100) + r * 10;
      Sample s = RunOnce(root + "/" + std::to_string(r), base, 12900 + r * 2 + (daemon ? 0 : 1),
                         daemon, rate, gone);
      std::fprintf(stderr, "rep %d %s: ok %s s, redundant %s s, failed %lld, lost %zu\n", r,
                   daemon ? "slotkeeper" : "redis alone", Fmt(s.ok_s).c_str(),
                   Fmt(s.redundant_s).c_str(), s.stats.failed, s.lost);
      all[daemon].push_back(s);
    }
  }
  std::printf(
      "| setup | ok after kill (s) | full redundancy (s) | failed writes | by kind | lost acked | "
      "write p99 (ms) |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (bool daemon : {false, true}) {
    std::vector<double> ok, red, failed, p99;
    std::map<std::string, std::vector<double>> kinds;
    size_t lost = 0;
    for (const Sample& s : all[daemon]) {
      ok.push_back(s.ok_s);
      red.push_back(s.redundant_s < 0 ? 1e9 : s.redundant_s);
      failed.push_back(static_cast<double>(s.stats.failed));
      p99.push_back(s.stats.p99_ms);
      for (const auto& [k, v] : s.stats.failed_by_kind) kinds[k].push_back(static_cast<double>(v));
      lost += s.lost;
    }
    std::string by_kind;
    for (auto& [k, v] : kinds) {
      while (v.size() < all[daemon].size()) v.push_back(0);
      by_kind += k + " " + std::to_string(static_cast<long long>(Median(v))) + "; ";
    }
    double r = Median(red);
    std::printf("| %s | %s | %s | %.0f | %s | %zu | %.1f |\n",
                daemon ? "slotkeeper" : "Redis alone", Fmt(Median(ok)).c_str(),
                r >= 1e9 ? "never" : Fmt(r).c_str(), Median(failed), by_kind.c_str(), lost,
                Median(p99));
  }
  (void)sk::RemoveTree(root);
  return 0;
}
