// A small blocking HTTP/1.1 client over POSIX sockets, for the CLI's client verbs (apply,
// get, scale, failover) and tests. One request per connection (Connection: close), plain
// http:// only, a deadline on connect and on the whole exchange. It keeps cpprest and Beast
// out of the CLI's translation units (TOOLCHAIN.md section 6).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include "api/types/result.h"

namespace sk::cli {

struct Url {
  std::string host;
  int port = 80;
  std::string prefix;  // path before the API's own, "" or "/slotkeeper" (no trailing slash)

  std::string ToString() const;  // "http://host:port[/prefix]"
};

// Parses "http://HOST[:PORT][/PREFIX]" (also "HOST:PORT" alone). InvalidArgument for another
// scheme (https is not served by slotkeeper) or a malformed URL, naming it.
Result<Url> ParseUrl(std::string_view text);

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

class HttpClient {
 public:
  explicit HttpClient(Url base, std::string token = "",
                      std::chrono::milliseconds timeout = std::chrono::seconds(30))
      : base_(std::move(base)), token_(std::move(token)), timeout_(timeout) {}

  // Sends one request to base prefix + `path` (already percent-encoded) and reads the whole
  // answer. The token, when set, goes in "Authorization: Bearer". kUnavailable when the server
  // cannot be reached or the connection breaks ("connection refused", "timed out after 30 s",
  // "cannot resolve HOST"); an HTTP error status is not an error here.
  Result<HttpResponse> Send(const std::string& method, const std::string& path,
                            const std::string& body = "",
                            const std::string& content_type = "application/json") const;

  const Url& base() const { return base_; }

 private:
  Url base_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

}  // namespace sk::cli
