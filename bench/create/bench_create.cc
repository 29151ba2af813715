// bench/create: time from "processes started" to "every node cluster_state:ok and every
// replica linked and in sync", slotkeeper vs `redis-cli --cluster create --cluster-replicas R`,
// side by side in one run, on the same number of fresh nodes with the same redis.conf.
//
//   build/bench/create/bench_create [--sizes 6,30,100] [--reps 5] [--replicas 1]
//
// The redis-cli run starts the nodes itself (configs rendered by `slotkeeper render`, so both
// runs use identical settings) and its clock starts before the first spawn. The slotkeeper run's
// clock starts before `slotkeeper up` is spawned, so it also pays for its own start-up checks.
// Runs alternate between the tools; the table shows medians and the ratio.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/supervise/process.h"
#include "api/types/files.h"
#include "controller/redis/cluster_nodes.h"
#include "controller/redis/redis_client.h"

namespace {

using Clock = std::chrono::steady_clock;
using sk::Endpoint;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string Self() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

// build/bench/create/bench_create -> build/slotkeeper
std::string SlotkeeperPath() {
  std::string self = Self();
  return self.substr(0, self.rfind("/bench/create/")) + "/slotkeeper";
}

struct Milestones {
  double ok = -1;        // every node cluster_state:ok
  double synced = -1;    // and every replica linked and in sync
  double returned = -1;  // redis-cli only: the create command returned
};

// Polls every node until all are ok and every replica is linked and in sync.
bool WaitConverged(int base, int n, Clock::time_point t0, Milestones& m, double timeout_s) {
  std::vector<sk::redis::RedisClient> clients;
  sk::redis::ClientOptions opts;
  opts.connect_timeout_ms = 200;
  opts.command_timeout_ms = 2000;
  while (Since(t0) < timeout_s) {
    bool all_ok = true;
    bool all_synced = true;
    for (int i = 0; i < n && all_ok; ++i) {
      auto c = sk::redis::RedisClient::Connect({"127.0.0.1", base + i}, opts);
      if (!c.ok()) {
        all_ok = false;
        break;
      }
      auto r = c->Pipeline({{"CLUSTER", "INFO"}, {"INFO", "replication"}});
      if (!r.ok()) {
        all_ok = false;
        break;
      }
      auto info = sk::redis::ParseInfo((*r)[0].str);
      auto repl = sk::redis::ParseInfo((*r)[1].str);
      all_ok = info["cluster_state"] == "ok";
      if (repl["role"] == "slave" &&
          (repl["master_link_status"] != "up" || repl["master_sync_in_progress"] != "0")) {
        all_synced = false;
      }
    }
    if (all_ok && m.ok < 0) m.ok = Since(t0);
    if (all_ok && all_synced) {
      m.synced = Since(t0);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string WriteSpec(const std::string& dir, int masters, int replicas, int base) {
  std::ostringstream y;
  y << "apiVersion: slotkeeper.io/v1alpha1\nkind: RedisCluster\nmetadata:\n  name: bench\n"
    << "spec:\n  masters: " << masters << "\n  replicasPerMaster: " << replicas
    << "\n  redis:\n    nodeTimeoutMs: 5000\n    appendonly: false\n"
    << "  local:\n    bind: 127.0.0.1\n    basePort: " << base << "\n    dataDir: " << dir
    << "/data\n";
  std::string path = dir + "/spec.yaml";
  std::ofstream(path) << y.str();
  return path;
}

int Run(const std::vector<std::string>& argv, double timeout_s = 120) {
  sk::agent::SpawnSpec s{argv, "", "/dev/null", ""};
  auto r = sk::agent::RunCapture(s, std::chrono::milliseconds(static_cast<int>(timeout_s * 1000)));
  if (!r.ok()) return -1;
  if (r->exit_status != 0) std::fprintf(stderr, "%s", r->output.c_str());
  return r->exit_status;
}

void KillPids(const std::vector<int>& pids) {
  for (int pid : pids) (void)sk::agent::TerminateProcess(pid, std::chrono::seconds(5));
}

Milestones RedisCliRun(const std::string& dir, int masters, int replicas, int base) {
  int n = masters * (1 + replicas);
  std::string spec = WriteSpec(dir, masters, replicas, base);
  Run({SlotkeeperPath(), "render", "-f", spec, "--out", dir + "/data"});
  auto redis = sk::agent::FindExecutable("redis-server");
  auto cli = sk::agent::FindExecutable("redis-cli");
  Milestones m;
  std::vector<int> pids;
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    std::string node_dir = dir + "/data/bench/" + std::to_string(base + i);
    auto pid = sk::agent::Spawn({{*redis, node_dir + "/redis.conf"}, node_dir, "/dev/null", ""});
    if (pid.ok()) pids.push_back(*pid);
  }
  // redis-cli needs every node up before it starts.
  sk::redis::ClientOptions opts;
  opts.connect_timeout_ms = 100;
  for (int i = 0; i < n; ++i) {
    while (!sk::redis::RedisClient::Connect({"127.0.0.1", base + i}, opts).ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  std::vector<std::string> args = {*cli, "--cluster", "create"};
  for (int i = 0; i < n; ++i) args.push_back("127.0.0.1:" + std::to_string(base + i));
  args.insert(args.end(), {"--cluster-replicas", std::to_string(replicas), "--cluster-yes"});
  if (Run(args) == 0) {
    m.returned = Since(t0);
    WaitConverged(base, n, t0, m, 120);
  }
  KillPids(pids);
  return m;
}

Milestones SlotkeeperRun(const std::string& dir, int masters, int replicas, int base, int api) {
  int n = masters * (1 + replicas);
  std::string spec = WriteSpec(dir, masters, replicas, base);
  Milestones m;
  auto t0 = Clock::now();
  auto pid = sk::agent::Spawn({{SlotkeeperPath(), "up", "-f", spec, "--api",
                                "127.0.0.1:" + std::to_string(api), "--state-dir", dir + "/state"},
                               dir,
                               dir + "/up.log",
                               ""});
  if (!pid.ok()) return m;
  WaitConverged(base, n, t0, m, 120);
  (void)sk::agent::TerminateProcess(*pid, std::chrono::seconds(10));
  Run({SlotkeeperPath(), "down", "-f", spec, "--purge", "--state-dir", dir + "/state"});
  return m;
}

double Median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return x < 0; }), v.end());
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::vector<int> ParseList(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, ',');) out.push_back(std::atoi(part.c_str()));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {6, 30, 100};
  int reps = 5;
  int replicas = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--sizes") sizes = ParseList(argv[i + 1]);
    if (a == "--reps") reps = std::atoi(argv[i + 1]);
    if (a == "--replicas") replicas = std::atoi(argv[i + 1]);
  }
  std::string root = "/tmp/slotkeeper-bench-create-" + std::to_string(::getpid());
  std::printf("| nodes | tool | returns (s) | all ok (s) | replicas in sync (s) |\n");
  std::printf("|---|---|---|---|---|\n");
  std::vector<std::string> summary;
  for (int n : sizes) {
    int masters = n / (1 + replicas);
    std::map<std::string, std::vector<double>> ok, synced, returned;
    for (int r = 0; r < reps; ++r) {
      // Fresh ports each run (bus ports stay below the ephemeral range), alternating order.
      int base = 12000 + (r % 2) * 4000 + (n % 7) * 400;
      for (int k = 0; k < 2; ++k) {
        bool sk_first = r % 2 == 0;
        bool run_sk = (k == 0) == sk_first;
        std::string dir =
            root + "/" + std::to_string(n) + "-" + std::to_string(r) + (run_sk ? "-sk" : "-cli");
        (void)sk::MakeDirs(dir);
        Milestones m = run_sk ? SlotkeeperRun(dir, masters, replicas, base + 1000, 11999 - r)
                              : RedisCliRun(dir, masters, replicas, base);
        std::string tool = run_sk ? "slotkeeper" : "redis-cli";
        ok[tool].push_back(m.ok);
        synced[tool].push_back(m.synced);
        returned[tool].push_back(m.returned);
        std::fprintf(stderr, "n=%d rep=%d %s: ok %.2f s, synced %.2f s\n", n, r, tool.c_str(), m.ok,
                     m.synced);
        (void)sk::RemoveTree(dir);
      }
    }
    for (const char* tool : {"redis-cli", "slotkeeper"}) {
      std::printf("| %d | %s | %s | %.2f | %.2f |\n", n, tool,
                  std::string(tool) == "redis-cli"
                      ? std::to_string(Median(returned[tool])).substr(0, 4).c_str()
                      : "-",
                  Median(ok[tool]), Median(synced[tool]));
    }
    char line[200];
    std::snprintf(line, sizeof line,
                  "%d nodes: redis-cli %.2f s, slotkeeper %.2f s to full sync: %.1fx faster", n,
                  Median(synced["redis-cli"]), Median(synced["slotkeeper"]),
                  Median(synced["redis-cli"]) / Median(synced["slotkeeper"]));
    summary.push_back(line);
    std::fflush(stdout);
  }
  std::printf("\n");
  for (const std::string& s : summary) std::printf("%s\n", s.c_str());
  (void)sk::RemoveTree(root);
  return 0;
}
