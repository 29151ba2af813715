// The CLI's side of the REST API (CONTRACT.md sections 3 and 4): where the server is, the
// token, and calls that turn every failure into a message a person can act on.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "api/cli/args.h"
#include "api/cli/http_client.h"
#include "api/types/result.h"

namespace sk::cli {

struct ClientConfig {
  Url server;
  std::string token;
  std::string token_source;  // "--token-file FILE" or "$SLOTKEEPER_TOKEN"; never the token
};

// --server, else $SLOTKEEPER_SERVER, else http://127.0.0.1:7070; --token-file, else
// $SLOTKEEPER_TOKEN. InvalidArgument for a bad URL or an unreadable token file.
Result<ClientConfig> ClientConfigFrom(const Args& args);

// The options every client verb takes, for ParseArgs.
inline constexpr const char* kServerFlag = "--server";
inline constexpr const char* kTokenFileFlag = "--token-file";

class ApiClient {
 public:
  explicit ApiClient(ClientConfig config);

  // Sends the request and parses a JSON answer (key order kept). Errors:
  //  - kUnavailable "cannot reach slotkeeper at URL: connection refused; is `slotkeeper up`
  //    running?" when there is no server;
  //  - for an HTTP error, the server's error message and fields, with a code that follows the
  //    status (422 InvalidArgument, so the CLI exits 2; 404 NotFound; 409 AlreadyExists for
  //    an existing cluster, else Aborted; 401 names the token options).
  Result<nlohmann::ordered_json> Call(const std::string& method, const std::string& path,
                                      const std::string& body = "",
                                      const std::string& content_type = "application/json") const;

  const ClientConfig& config() const { return config_; }

 private:
  ClientConfig config_;
  HttpClient http_;
};

}  // namespace sk::cli
