#include "tests/support/load_client.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>

#include "tests/support/support.h"

namespace sk::testing {

namespace {

using Clock = std::chrono::steady_clock;

uint16_t Crc16(const std::string& s) {
  uint16_t crc = 0;
  for (unsigned char c : s) {
    crc ^= static_cast<uint16_t>(c) << 8;
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

// "connection", "CLUSTERDOWN", "TRYAGAIN", "MOVED", "timeout", ... from a flattened reply.
std::string Kind(const std::string& reply) {
  if (reply.rfind("CONNFAIL:", 0) == 0) {
    return reply.find("timed out") != std::string::npos ||
                   reply.find("Resource temporarily") != std::string::npos
               ? "timeout"
               : "connection";
  }
  if (reply.rfind("ERR:", 0) == 0) {
    std::string word = reply.substr(4, reply.find(' ', 4) - 4);
    return word;
  }
  return "unexpected";
}

}  // namespace

int TestKeySlot(const std::string& key) {
  auto open = key.find('{');
  if (open != std::string::npos) {
    auto close = key.find('}', open + 1);
    if (close != std::string::npos && close > open + 1) {
      return Crc16(key.substr(open + 1, close - open - 1)) % 16384;
    }
  }
  return Crc16(key) % 16384;
}

ClusterLoad::ClusterLoad(Options opts) : opts_(std::move(opts)), slot_port_(16384, 0) {}

ClusterLoad::~ClusterLoad() { Stop(); }

void ClusterLoad::Start() {
  RefreshSlots();
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void ClusterLoad::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ClusterLoad::RefreshSlots() {
  for (int port : opts_.ports) {
    std::string nodes = RedisCmd(port, {"CLUSTER", "NODES"}, opts_.password);
    if (nodes.rfind("CONNFAIL", 0) == 0 || nodes.rfind("ERR:", 0) == 0) continue;
    std::istringstream in(nodes);
    std::string line;
    bool any = false;
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::vector<std::string> w;
      for (std::string x; f >> x;) w.push_back(x);
      if (w.size() < 9 || w[2].find("master") == std::string::npos ||
          w[2].find("fail") != std::string::npos)
        continue;
      int p = std::atoi(w[1].substr(w[1].rfind(':') + 1).c_str());
      for (size_t i = 8; i < w.size(); ++i) {
        if (w[i][0] == '[') continue;
        auto dash = w[i].find('-');
        int a = std::atoi(w[i].c_str());
        int b = dash == std::string::npos ? a : std::atoi(w[i].c_str() + dash + 1);
        for (int s = a; s <= b && s < 16384; ++s) slot_port_[s] = p;
        any = true;
      }
    }
    if (any) return;
  }
}

std::string ClusterLoad::Route(const std::vector<std::string>& argv, int slot) {
  static thread_local std::map<int, std::unique_ptr<RespConnection>> conns;
  auto conn = [&](int port) -> RespConnection& {
    auto& c = conns[port];
    if (!c || !c->ok())
      c = std::make_unique<RespConnection>(port, opts_.password, "127.0.0.1", 500);
    return *c;
  };
  int port = slot_port_[slot] ? slot_port_[slot] : opts_.ports.front();
  bool asking = false;
  std::string reply;
  for (int hop = 0; hop < 4; ++hop) {
    RespConnection& c = conn(port);
    if (asking) c.Cmd({"ASKING"});
    reply = c.Cmd(argv);
    if (reply.rfind("ERR:MOVED ", 0) == 0 || reply.rfind("ERR:ASK ", 0) == 0) {
      asking = reply.rfind("ERR:ASK ", 0) == 0;
      port = std::atoi(reply.substr(reply.rfind(':') + 1).c_str());
      if (!asking) slot_port_[slot] = port;
      continue;
    }
    if (reply.rfind("ERR:TRYAGAIN", 0) == 0 && hop == 0) continue;
    return reply;
  }
  return reply;
}

std::string ClusterLoad::Write(const std::string& key, const std::string& value) {
  return Route({"SET", key, value}, TestKeySlot(key));
}

void ClusterLoad::Loop() {
  const auto period = std::chrono::duration<double>(1.0 / opts_.writes_per_second);
  auto next = Clock::now();
  int since_refresh = 0;
  while (!stop_.load()) {
    long long seq = seq_++;
    std::string key = opts_.prefix + ":" + std::to_string(seq);
    auto t0 = Clock::now();
    std::string reply = Write(key, std::to_string(seq));
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    {
      std::lock_guard lock(mu_);
      stats_.attempted++;
      latencies_ms_.push_back(ms);
      if (reply == "OK") {
        stats_.acked++;
        acked_.push_back(seq);
      } else {
        if (std::getenv("SK_LOAD_DEBUG")) {
          std::fprintf(stderr, "%.3f fail slot %d port %d: %s\n",
                       std::chrono::duration<double>(Clock::now().time_since_epoch()).count(),
                       TestKeySlot(key), slot_port_[TestKeySlot(key)], reply.c_str());
        }
        stats_.failed++;
        stats_.failed_by_kind[Kind(reply)]++;
        since_refresh++;
      }
    }
    // After failures the topology may have changed (failover): re-read it, at most 10/s.
    if (since_refresh > 0 && seq % 100 == 0) {
      RefreshSlots();
      since_refresh = 0;
    }
    next += std::chrono::duration_cast<Clock::duration>(period);
    auto now = Clock::now();
    if (next > now)
      std::this_thread::sleep_until(next);
    else if (now - next > std::chrono::seconds(1))
      next = now;  // do not burst after a stall
  }
}

ClusterLoad::Stats ClusterLoad::Snapshot() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  std::vector<double> l = latencies_ms_;
  if (!l.empty()) {
    std::sort(l.begin(), l.end());
    s.p50_ms = l[l.size() / 2];
    s.p99_ms = l[std::min(l.size() - 1, static_cast<size_t>(std::ceil(l.size() * 0.99)) - 1)];
    s.max_ms = l.back();
  }
  return s;
}

std::vector<std::string> ClusterLoad::Verify() {
  RefreshSlots();
  std::vector<long long> acked;
  {
    std::lock_guard lock(mu_);
    acked = acked_;
  }
  std::vector<std::string> bad;
  for (long long seq : acked) {
    std::string key = opts_.prefix + ":" + std::to_string(seq);
    std::string got = Route({"GET", key}, TestKeySlot(key));
    if (got != std::to_string(seq)) bad.push_back(key + "=" + got);
  }
  return bad;
}

}  // namespace sk::testing
