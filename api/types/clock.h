// Clock: the one way controller code reads the time, so that the decisions made from it
// (backoff, stall bounds, how long a node is held down, operation deadlines) are unit-tested
// with a fake clock (tests/support/fake_clock.h). Waiting itself (condition variables) stays
// real time.
#pragma once

#include <chrono>

namespace sk {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point Now() const = 0;
  // Wall time, for timestamps people read (RFC 3339).
  virtual std::chrono::system_clock::time_point WallNow() const = 0;
};

class RealClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point Now() const override {
    return std::chrono::steady_clock::now();
  }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::now();
  }
  static const RealClock& Get() {
    static const RealClock clock;
    return clock;
  }
};

}  // namespace sk
