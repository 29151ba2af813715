// bench/reshard: adding a 4th master to a 3-master cluster holding N keys and rebalancing
// (a quarter of the keys and 4,096 slots move), then draining it back to 3 masters:
// slotkeeper's Migrator (with PlanSlotMoves) vs `redis-cli --cluster rebalance`, with its
// default pipeline (10 keys per MIGRATE) and with --cluster-pipeline 1000, side by side in
// one run. Every run gets a fresh, identical cluster; runs rotate which tool goes first.
//
//   build/bench/reshard/bench_reshard [--keys 1000000] [--reps 5] [--value 100]
//                                     [--base-port 20600] [--rate 2000]
//
// Timed: from the start of the move (slotkeeper: reading the layout, planning and moving;
// redis-cli: spawning it) until it returns. During the move a client does GET/SET of random
// keys at about --rate ops/s against the master serving each key (following MOVED/ASK) and
// its p99 latency is reported. After each move: no slot open, all nodes agree on the owners,
// the masters hold exactly N keys and a sample of values reads back right.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "agent/supervise/process.h"
#include "api/types/files.h"
#include "bench/reshard/bench_cluster.h"
#include "controller/plan/reshard.h"
#include "controller/redis/cluster_nodes.h"
#include "controller/redis/redis_client.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  long long keys = 1000000;
  int reps = 5;
  int value = 100;
  int base = 20600;  // bus ports base+10000.. stay below the ephemeral range
  int rate = 2000;
  std::vector<int> tools = {0, 1, 2};  // --tools 0,1,2: slotkeeper, cli p10, cli p1000
};

struct Measure {
  double secs = -1;
  long long keys = 0;
  double p99 = -1;
  long long errors = 0;
};

const char* kTools[] = {"slotkeeper", "redis-cli (pipeline 10)", "redis-cli (pipeline 1000)"};

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Holds the same lock files as the tests' PortLease, so that no test picks these ports
// while the benchmark runs.
class PortLocks {
 public:
  PortLocks(int base, int n) {
    mkdir("/tmp/slotkeeper-test-ports", 01777);
    for (int p = base; p < base + n; ++p) {
      std::string path = "/tmp/slotkeeper-test-ports/" + std::to_string(p) + ".lock";
      int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
      if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
        fds_.push_back(fd);
      } else {
        ok_ = false;
        if (fd >= 0) close(fd);
      }
    }
  }
  ~PortLocks() {
    for (int fd : fds_) close(fd);
  }
  bool ok() const { return ok_; }

 private:
  std::vector<int> fds_;
  bool ok_ = true;
};

// The current layout as node 0 sees it: n0..n3 staying (or n3 leaving).
sk::plan::ReshardInput Layout(const bench::BenchCluster& c, bool drain_last) {
  std::map<std::string, std::vector<sk::SlotRange>> by_id;
  auto c0 = sk::redis::RedisClient::Connect({"127.0.0.1", c.port(0)}, {});
  if (c0.ok()) {
    auto r = c0->Call({"CLUSTER", "NODES"});
    auto t = r.ok() ? sk::redis::ParseClusterNodes(r->str) : sk::redis::NodeTable{};
    if (t.ok()) {
      for (const auto& n : t->nodes) by_id[n.id] = n.slots;
    }
  }
  sk::plan::ReshardInput in;
  for (int i = 0; i < 4; ++i) {
    auto entry = std::make_pair(c.node(i).name, by_id[c.id(i)]);
    (drain_last && i == 3 ? in.leaving : in.masters).push_back(entry);
  }
  return in;
}

bool SlotkeeperMove(const bench::BenchCluster& c, bool drain_last, const std::string& dir) {
  auto moves = sk::plan::PlanSlotMoves(Layout(c, drain_last));
  std::vector<sk::act::SlotMoveJob> jobs;
  for (const auto& m : moves) {
    jobs.push_back(
        {m.slot, c.node(std::stoi(m.from.substr(1))), c.node(std::stoi(m.to.substr(1)))});
  }
  sk::act::MigrateOptions opts;
  opts.masters = c.all();
  opts.journal_path = dir + "/journal.json";
  std::atomic<bool> stop{false};
  sk::Status st = sk::act::Migrator(opts).Run(jobs, nullptr, stop);
  if (!st.ok()) std::fprintf(stderr, "slotkeeper: %s\n", st.error().ToString().c_str());
  return st.ok();
}

std::vector<std::string> CliArgs(const bench::BenchCluster& c, int tool, bool drain_last) {
  static const std::string cli = sk::agent::FindExecutable("redis-cli").ok()
                                     ? *sk::agent::FindExecutable("redis-cli")
                                     : "/usr/bin/redis-cli";
  std::vector<std::string> args = {cli, "--cluster", "rebalance",
                                   "127.0.0.1:" + std::to_string(c.port(0))};
  if (drain_last) {
    args.insert(args.end(), {"--cluster-weight", c.id(3) + "=0"});
  } else {
    args.push_back("--cluster-use-empty-masters");
  }
  if (tool == 2) args.insert(args.end(), {"--cluster-pipeline", "1000"});
  return args;
}

bool CliMove(const bench::BenchCluster& c, int tool, bool drain_last) {
  sk::agent::SpawnSpec s{CliArgs(c, tool, drain_last), "", "", ""};
  auto r = sk::agent::RunCapture(s, std::chrono::minutes(20));
  if (!r.ok() || r->exit_status != 0) {
    std::fprintf(
        stderr, "redis-cli failed: %s\n",
        r.ok() ? r->output.substr(r->output.size() > 2000 ? r->output.size() - 2000 : 0).c_str()
               : r.error().message().c_str());
    return false;
  }
  return true;
}

// One tool on a fresh cluster: 3 -> 4 masters, then back to 3.
std::pair<Measure, Measure> RunTool(const Config& cfg, int tool, const std::string& dir) {
  std::pair<Measure, Measure> out;
  bench::BenchCluster c(cfg.base, 4, 3, dir);
  if (!c.ok() || !c.Load(cfg.keys, cfg.value)) {
    std::fprintf(stderr, "cluster setup or key loading failed (ports %d..%d)\n", cfg.base,
                 cfg.base + 3);
    return out;
  }
  bench::LatencyProbe probe(c.port(0), cfg.keys, cfg.value, cfg.rate);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // probe warm: connections, map
  for (bool drain : {false, true}) {
    Measure& m = drain ? out.second : out.first;
    probe.Start();
    auto t0 = Clock::now();
    bool ok = tool == 0 ? SlotkeeperMove(c, drain, dir) : CliMove(c, tool, drain);
    double secs = Since(t0);
    probe.Stop();
    std::string bad = c.Check(cfg.keys, cfg.value);
    if (!ok || !bad.empty()) {
      std::fprintf(stderr, "%s %s: FAILED %s\n", kTools[tool], drain ? "4->3" : "3->4",
                   bad.c_str());
      return out;
    }
    m.secs = secs;
    m.p99 = probe.Percentile(99);
    m.errors = probe.errors();
    // The keys that moved: the 4th master's after scale-out, the same ones back.
    m.keys = drain ? out.first.keys : c.Keys(3);
  }
  return out;
}

double Median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return x < 0; }), v.end());
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

Config ParseArgs(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--keys") cfg.keys = std::atoll(argv[i + 1]);
    if (a == "--reps") cfg.reps = std::atoi(argv[i + 1]);
    if (a == "--value") cfg.value = std::atoi(argv[i + 1]);
    if (a == "--base-port") cfg.base = std::atoi(argv[i + 1]);
    if (a == "--rate") cfg.rate = std::atoi(argv[i + 1]);
    if (a == "--tools") {
      cfg.tools.clear();
      for (const char* p = argv[i + 1]; *p; ++p) {
        if (*p >= '0' && *p <= '2') cfg.tools.push_back(*p - '0');
      }
    }
  }
  return cfg;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg = ParseArgs(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  if (cfg.base < 12000 || cfg.base + 3 > 21999) {
    std::fprintf(stderr, "--base-port must leave base..base+3 within 12000..21999\n");
    return 2;
  }
  PortLocks locks(cfg.base, 4);
  if (!locks.ok()) {
    std::fprintf(stderr, "ports %d..%d are leased by a test; pick another --base-port\n", cfg.base,
                 cfg.base + 3);
    return 2;
  }
  std::string root = "/tmp/slotkeeper-bench-reshard-" + std::to_string(::getpid());
  // [tool][direction] -> samples
  std::map<int, std::map<int, std::vector<double>>> secs, p99, keys;
  std::map<int, long long> errors;
  for (int r = 0; r < cfg.reps; ++r) {
    for (std::size_t k = 0; k < cfg.tools.size(); ++k) {
      // Rotate which tool goes first.
      int tool = cfg.tools[(k + static_cast<std::size_t>(r)) % cfg.tools.size()];
      std::string dir = root + "/" + std::to_string(r) + "-" + std::to_string(tool);
      (void)sk::MakeDirs(dir);
      auto [up, down] = RunTool(cfg, tool, dir);
      for (int d = 0; d < 2; ++d) {
        const Measure& m = d ? down : up;
        secs[tool][d].push_back(m.secs);
        p99[tool][d].push_back(m.p99);
        keys[tool][d].push_back(static_cast<double>(m.keys));
        errors[tool] += m.errors;
      }
      std::fprintf(stderr, "rep %d %-26s 3->4 %6.2f s (%lld keys, p99 %.2f ms)  4->3 %6.2f s\n", r,
                   kTools[tool], up.secs, up.keys, up.p99, down.secs);
      (void)sk::RemoveTree(dir);
    }
  }
  (void)sk::RemoveTree(root);
  std::printf("\n%lld keys of %d bytes, 3 masters; medians of %d runs\n\n", cfg.keys, cfg.value,
              cfg.reps);
  std::printf(
      "| move | tool | time (s) | keys moved | keys/s | client p99 (ms) | vs slotkeeper |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (int d = 0; d < 2; ++d) {
    double sk_time = Median(secs[0][d]);
    for (int tool = 0; tool < 3; ++tool) {
      double t = Median(secs[tool][d]);
      double n = Median(keys[tool][d]);
      std::printf(
          "| %s | %s | %.2f | %.0f | %.0f | %.2f | %s |\n",
          d ? "4 -> 3 (drain)" : "3 -> 4 (add empty master)", kTools[tool], t, n, t > 0 ? n / t : 0,
          Median(p99[tool][d]),
          tool == 0 ? "-" : (std::to_string(t / sk_time).substr(0, 4) + "x slower").c_str());
    }
  }
  std::printf(
      "\nredis-cli commands: `redis-cli --cluster rebalance 127.0.0.1:P "
      "--cluster-use-empty-masters [--cluster-pipeline 1000]`, then `redis-cli --cluster "
      "rebalance 127.0.0.1:P --cluster-weight <id of the 4th>=0 [--cluster-pipeline "
      "1000]`\n");
  std::printf(
      "client operations that failed during the moves: slotkeeper %lld, redis-cli %lld / "
      "%lld\n",
      errors[0], errors[1], errors[2]);
  return 0;
}
