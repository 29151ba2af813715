// The REST API of CONTRACT.md section 4 on top of ClusterService: routing, bearer-token
// checks, body parsing (JSON or YAML), error mapping and the API's metrics. It holds no
// cluster state and never talks to Redis; every answer comes from the ClusterService
// (whose reads are served from the controller's snapshot).
//
// Routing is exact: an unknown path is a JSON 404, a known path with another method a JSON
// 405 with an Allow header. Path parameters are percent-decoded per segment after the
// split, so "%2F" never forms a new segment; cluster names must match [a-z0-9-]{1,40}
// (400 otherwise) and are only ever handed to the ClusterService.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "api/rest/http.h"
#include "api/rest/metrics.h"
#include "api/rest/rest_server.h"
#include "api/types/cluster_service.h"

namespace sk::rest {

struct RouterOptions {
  // When not empty, POST/PUT/PATCH/DELETE need "Authorization: Bearer <token>" (else 401).
  std::string token;
  size_t max_events = 100;  // GET .../events returns at most this many (newest first)
};

class Router {
 public:
  // `service` may be null while the controller starts: /healthz answers 200, /readyz 503 and
  // every /api route 503 until SetService() gives one. The service must outlive the router's
  // use of it.
  explicit Router(ClusterService* service, RouterOptions options = {});
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  void SetService(ClusterService* service) { service_.store(service); }

  // Answers one request. Thread-safe; never throws (a bug becomes a JSON 500).
  Response Handle(const Request& req);
  // A Handler for rest::Server that calls Handle(); the router must outlive the server.
  Handler AsHandler();
  // Counts an answer the server gave by itself (413, 431, ...) in the API metrics; wired
  // through ServerOptions::on_reject by Serve().
  void RecordRejected(int status);

  struct RouteInfo {
    std::string method;   // "GET"
    std::string pattern;  // "/api/v1/clusters/{name}", as in api/openapi.yaml
  };
  // Every route the router answers (the OpenAPI document is tested against this).
  static std::vector<RouteInfo> Routes();

 private:
  Response Dispatch(const Request& req, std::string* route_label);
  Response Metrics(ClusterService* service) const;

  std::atomic<ClusterService*> service_;
  RouterOptions options_;
  ApiMetrics metrics_;
};

// Starts a rest::Server on `addr` ("127.0.0.1:7070") that answers with `router`, its own
// rejections counted in the router's metrics. Errors as Server::Start.
Result<std::unique_ptr<Server>> Serve(const std::string& addr, Router& router,
                                      ServerOptions options = {});

}  // namespace sk::rest
