// A Clock that moves only when the test says so.
#pragma once

#include <atomic>
#include <chrono>

#include "api/types/clock.h"

namespace sk::testing {

class FakeClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point Now() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms_.load()));
  }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms_.load())) +
           std::chrono::hours(24 * 365 * 56);
  }
  void Advance(std::chrono::milliseconds d) { ms_ += d.count(); }

 private:
  std::atomic<long long> ms_{1000000};
};

}  // namespace sk::testing
