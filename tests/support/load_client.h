// ClusterLoad: a cluster-aware write load for fault tests and benchmarks.
//
// Writes unique keys (prefix:seq -> seq) at a steady rate from one thread, routed by slot
// (CLUSTER SLOTS, refreshed on MOVED), following ASK (with ASKING) and retrying TRYAGAIN
// once. A write that still fails is counted by kind (connection, CLUSTERDOWN, timeout, ...)
// and never retried: it is simply not acknowledged. Every acknowledged key can be verified
// afterwards. Built on the fixtures' own RESP client, not on the code under test.
// SK_LOAD_DEBUG=1 prints every failed write (time, slot, node, reply) to stderr.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sk::testing {

class ClusterLoad {
 public:
  struct Options {
    std::vector<int> ports;  // seed nodes on 127.0.0.1
    double writes_per_second = 1000;
    std::string prefix = "load";
    std::string password;
  };
  struct Stats {
    long long attempted = 0;
    long long acked = 0;
    long long failed = 0;
    std::map<std::string, long long> failed_by_kind;
    double p50_ms = 0;
    double p99_ms = 0;
    double max_ms = 0;
  };

  explicit ClusterLoad(Options opts);
  ~ClusterLoad();
  void Start();
  void Stop();
  Stats Snapshot() const;
  // Reads every acknowledged key back (through the cluster) and returns those that are
  // missing or hold another value.
  std::vector<std::string> Verify();
  // Writes attempted so far (the next key's sequence number).
  long long Sequence() const { return seq_.load(); }

 private:
  void Loop();
  std::string Write(const std::string& key, const std::string& value);
  std::string Route(const std::vector<std::string>& argv, int slot);
  void RefreshSlots();

  Options opts_;
  std::atomic<bool> stop_{false};
  std::atomic<long long> seq_{0};
  std::thread thread_;
  mutable std::mutex mu_;
  Stats stats_;
  std::vector<double> latencies_ms_;
  std::vector<long long> acked_;  // sequence numbers
  std::vector<int> slot_port_;    // slot -> port
};

// CRC16/XMODEM mod 16384 with hash tags (the fixtures' own copy).
int TestKeySlot(const std::string& key);

}  // namespace sk::testing
