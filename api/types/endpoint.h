// A node's client address. The cluster bus listens on port + 10000 (Redis's default offset).
#pragma once

#include <compare>
#include <string>

#include "api/types/result.h"

namespace sk {

struct Endpoint {
  std::string host;
  int port = 0;

  int BusPort() const { return port + 10000; }
  std::string ToString() const { return host + ":" + std::to_string(port); }
  auto operator<=>(const Endpoint&) const = default;
};

// Parses "HOST:PORT" (IPv4 or a name; port 1..65535). InvalidArgument names the bad part.
Result<Endpoint> ParseEndpoint(std::string_view text);

}  // namespace sk
