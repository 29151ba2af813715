// bench/reshard helpers: a throw-away Redis Cluster on fixed ports, fast key loading,
// checks after a move, and a client that measures latency while slots move.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/act/migrate.h"

namespace bench {

// `nodes` redis-servers on base..base+nodes-1 (files in `dir`); the first `masters` get
// redis-cli's even split and all nodes meet. Killed (by PID) in the destructor.
class BenchCluster {
 public:
  BenchCluster(int base, int nodes, int masters, const std::string& dir);
  ~BenchCluster();
  BenchCluster(const BenchCluster&) = delete;
  BenchCluster& operator=(const BenchCluster&) = delete;

  bool ok() const { return ok_; }
  int port(int i) const { return base_ + i; }
  const std::string& id(int i) const { return ids_[i]; }
  sk::act::MigrateNode node(int i) const;
  std::vector<sk::act::MigrateNode> all() const;

  // SETs keys "key:<i>" (i < n) with `value_size`-byte values on the masters serving them,
  // pipelined on every master at once.
  bool Load(long long n, int value_size) const;
  // Empty when no node shows an open slot, every node agrees on each owner, the masters hold
  // `n` keys in all and a sample of values reads back right; else what is wrong.
  std::string Check(long long n, int value_size) const;
  long long Keys(int i) const;  // DBSIZE of node i

 private:
  std::string StrayKeys(const std::vector<int>& owner) const;

  int base_;
  bool ok_ = false;
  std::vector<int> pids_;
  std::vector<std::string> ids_;
};

std::string KeyName(long long i);
std::string Value(long long i, int size);

// Closed-loop client pacing GET/SET of random keys (about `rate` per second) against the
// master serving each key, following MOVED and ASK like a cluster client, and recording each
// operation's latency (redirects included) while recording() is on.
class LatencyProbe {
 public:
  LatencyProbe(int any_port, long long keys, int value_size, int rate);
  ~LatencyProbe();
  void Start();                       // begins recording
  void Stop();                        // ends recording
  double Percentile(double p) const;  // ms, over the recorded operations
  long long errors() const { return errors_; }
  long long count() const { return static_cast<long long>(samples_.size()); }

 private:
  void Loop();

  int any_port_;
  long long keys_;
  int value_size_;
  int rate_;
  std::atomic<bool> recording_{false};
  std::atomic<bool> quit_{false};
  mutable std::mutex mu_;  // guards samples_ and recording_ transitions
  std::vector<double> samples_;
  std::atomic<long long> errors_{0};
  std::thread thread_;
};

}  // namespace bench
