#include "api/cli/api_client.h"

#include <cstdlib>

#include "api/rest/auth.h"

namespace sk::cli {

namespace {

using ojson = nlohmann::ordered_json;

constexpr const char* kDefaultServer = "http://127.0.0.1:7070";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The server's {"error": {...}} as an Error whose code follows the HTTP status.
Error ServerError(const ClientConfig& cfg, const HttpResponse& r) {
  ojson body = ojson::parse(r.body, nullptr, false);
  std::string message;
  std::string code;
  std::vector<std::string> fields;
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    const ojson& e = body["error"];
    message = e.value("message", "");
    code = e.value("code", "");
    if (e.contains("fields") && e["fields"].is_array()) {
      for (const ojson& f : e["fields"]) {
        if (f.is_string()) fields.push_back(f.get<std::string>());
      }
    }
  }
  if (message.empty()) message = "the server answered HTTP " + std::to_string(r.status);
  switch (r.status) {
    case 400:
    case 422:
      return InvalidArgument(message, fields);
    case 401:
      if (cfg.token.empty()) {
        return Error(Code::kFailedPrecondition,
                     "the server wants a token: --token-file or $SLOTKEEPER_TOKEN");
      }
      return Error(Code::kFailedPrecondition,
                   "the server refused the token from " + cfg.token_source +
                       "; the server wants a token: --token-file or $SLOTKEEPER_TOKEN");
    case 404:
      return NotFound(message);
    case 409:
      return code == "AlreadyExists" ? AlreadyExists(message) : Aborted(message);
    case 503:
      return Unavailable(message);
    default:
      return Error(Code::kInternal, message, fields);
  }
}

}  // namespace

Result<ClientConfig> ClientConfigFrom(const Args& args) {
  ClientConfig cfg;
  std::string server = args.Get(kServerFlag);
  if (server.empty()) server = Env("SLOTKEEPER_SERVER");
  if (server.empty()) server = kDefaultServer;
  SK_ASSIGN_OR_RETURN(cfg.server, ParseUrl(server));
  if (std::string file = args.Get(kTokenFileFlag); !file.empty()) {
    SK_ASSIGN_OR_RETURN(cfg.token, rest::ReadTokenFile(file));
    cfg.token_source = "--token-file " + file;
  } else if (std::string env = Env("SLOTKEEPER_TOKEN"); !env.empty()) {
    cfg.token = env;
    cfg.token_source = "$SLOTKEEPER_TOKEN";
  }
  return cfg;
}

ApiClient::ApiClient(ClientConfig config)
    : config_(std::move(config)), http_(config_.server, config_.token) {}

Result<ojson> ApiClient::Call(const std::string& method, const std::string& path,
                              const std::string& body, const std::string& content_type) const {
  Result<HttpResponse> r = http_.Send(method, path, body, content_type);
  if (!r.ok()) {
    return Unavailable("cannot reach slotkeeper at " + config_.server.ToString() + ": " +
                       r.error().message() + "; is `slotkeeper up` running?");
  }
  if (r->status < 200 || r->status >= 300) return ServerError(config_, *r);
  ojson doc = ojson::parse(r->body, nullptr, false);
  if (doc.is_discarded()) {
    return Unavailable("the server at " + config_.server.ToString() +
                       " did not answer JSON; is it slotkeeper?");
  }
  return doc;
}

}  // namespace sk::cli
