#include "api/rest/metrics.h"

#include <fmt/format.h>

namespace sk::rest {

namespace {

std::string_view KnownMethod(std::string_view m) {
  for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (m == known) return known;
  }
  return "OTHER";
}

}  // namespace

void ApiMetrics::Observe(std::string_view route, std::string_view method, int status,
                         double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(route), std::string(KnownMethod(method)), status}];
  Histogram& h = durations_[std::string(route)];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
}

std::string ApiMetrics::Text() const {
  std::lock_guard lock(mu_);
  std::string out =
      "# HELP slotkeeper_api_requests_total API requests by route, method and status code.\n"
      "# TYPE slotkeeper_api_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    const auto& [route, method, status] = key;
    out +=
        fmt::format("slotkeeper_api_requests_total{{route=\"{}\",method=\"{}\",code=\"{}\"}} {}\n",
                    route, method, status, n);
  }
  out +=
      "# HELP slotkeeper_api_request_duration_seconds Time to answer an API request.\n"
      "# TYPE slotkeeper_api_request_duration_seconds histogram\n";
  for (const auto& [route, h] : durations_) {
    long long cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      out += fmt::format(
          "slotkeeper_api_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", route,
          kBuckets[i], cumulative);
    }
    out += fmt::format(
        "slotkeeper_api_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", route,
        h.count);
    out += fmt::format("slotkeeper_api_request_duration_seconds_sum{{route=\"{}\"}} {:.6f}\n",
                       route, h.sum);
    out += fmt::format("slotkeeper_api_request_duration_seconds_count{{route=\"{}\"}} {}\n", route,
                       h.count);
  }
  return out;
}

}  // namespace sk::rest
