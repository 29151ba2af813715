// Backoff: jittered exponential delays for what the retry rule (DispositionOf) retries.
//
// Pure: the jitter comes from a generator seeded by the caller (the cluster's name), so that
// two clusters failing together do not retry in lockstep and tests are repeatable.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace sk::reconcile {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, std::uint32_t seed)
      : min_(min), max_(max), base_(min), rng_(seed) {}
  // The next delay: the base with +-20 % jitter, then the base doubles up to `max`.
  std::chrono::milliseconds Next() {
    std::uniform_int_distribution<long long> jitter(-base_.count() / 5, base_.count() / 5);
    std::chrono::milliseconds d = base_ + std::chrono::milliseconds(jitter(rng_));
    base_ = std::min(max_, base_ * 2);
    return std::max(std::chrono::milliseconds(1), d);
  }
  void Reset() { base_ = min_; }
  std::chrono::milliseconds base() const { return base_; }

 private:
  std::chrono::milliseconds min_, max_, base_;
  std::minstd_rand rng_;
};

}  // namespace sk::reconcile
