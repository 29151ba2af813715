// The API's own metrics, in Prometheus text format: requests by route template, method and
// status code, and a latency histogram by route. Labels come from the route table and a
// fixed method list only, never from what a client sent (no unbounded label values, and no
// header, token or body can reach /metrics).
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

namespace sk::rest {

class ApiMetrics {
 public:
  // `route` is a route template ("/api/v1/clusters/{name}") or "unmatched"; a method outside
  // the standard ones is counted as "OTHER".
  void Observe(std::string_view route, std::string_view method, int status, double seconds);
  // slotkeeper_api_requests_total and slotkeeper_api_request_duration_seconds, with HELP and
  // TYPE lines.
  std::string Text() const;

  static constexpr std::array<double, 9> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                     0.025,  0.1,   0.5,    2.5};

 private:
  struct Histogram {
    std::array<long long, kBuckets.size()> buckets{};  // cumulative counts are built in Text()
    long long count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, long long> requests_;
  std::map<std::string, Histogram> durations_;
};

}  // namespace sk::rest
