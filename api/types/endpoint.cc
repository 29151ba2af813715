#include "api/types/endpoint.h"

#include <charconv>
#include <string>
#include <string_view>

namespace sk {
namespace {

// Host names per RFC 1123 plus '_', which container runtimes put in service names. IPv4
// literals pass this check too; IPv6 is out of scope (the header says so).
bool IsHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<Endpoint> ParseEndpoint(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  // The last ':' splits host from port, so a stray second ':' lands in the host and is refused
  // there with a message that names the host.
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return InvalidArgument("invalid endpoint " + quoted + ": expected HOST:PORT");
  }
  const std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.empty()) {
    return InvalidArgument("invalid endpoint " + quoted + ": the host is empty");
  }
  if (!IsHostName(host)) {
    return InvalidArgument("invalid endpoint " + quoted + ": host \"" + std::string(host) +
                           "\" is not an IPv4 address or host name");
  }
  int port = 0;
  const char* first = port_text.data();
  const char* last = first + port_text.size();
  auto [ptr, ec] = std::from_chars(first, last, port);
  // from_chars accepts a leading '-'; ports are plain digits.
  if (port_text.empty() || port_text.front() == '-' || ec != std::errc() || ptr != last ||
      port < 1 || port > 65535) {
    return InvalidArgument("invalid endpoint " + quoted + ": port \"" + std::string(port_text) +
                           "\" is not a number in 1..65535");
  }
  return Endpoint{std::string(host), port};
}

}  // namespace sk
