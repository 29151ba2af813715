// Routing, authentication and metrics around the handlers. The route table below is the one
// place routes are declared: Router::Routes() exposes it, and a test holds api/openapi.yaml
// to it in both directions.
#include "api/rest/routes.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <chrono>
#include <optional>
#include <string_view>

#include "api/rest/auth.h"
#include "api/rest/handlers.h"

namespace sk::rest {

namespace {

using internal::RouteFn;

struct Route {
  std::string_view method;
  std::string_view pattern;
  RouteFn fn;  // null for the three routes the router answers itself
};

constexpr std::string_view kClusters = "/api/v1/clusters";
constexpr std::string_view kCluster = "/api/v1/clusters/{name}";

const Route kRoutes[] = {
    {"GET", "/healthz", nullptr},
    {"GET", "/readyz", nullptr},
    {"GET", "/metrics", nullptr},
    {"GET", kClusters, internal::ListClusters},
    {"POST", kClusters, internal::CreateCluster},
    {"GET", kCluster, internal::GetCluster},
    {"PUT", kCluster, internal::ReplaceCluster},
    {"PATCH", kCluster, internal::PatchCluster},
    {"DELETE", kCluster, internal::DeleteCluster},
    {"POST", "/api/v1/clusters/{name}/scale", internal::ScaleCluster},
    {"POST", "/api/v1/clusters/{name}/failover", internal::FailoverCluster},
    {"POST", "/api/v1/clusters/{name}/recover-slots", internal::RecoverSlots},
    {"GET", "/api/v1/clusters/{name}/nodes", internal::GetNodes},
    {"GET", "/api/v1/clusters/{name}/slots", internal::GetSlots},
    {"GET", "/api/v1/clusters/{name}/events", internal::GetEvents},
    {"GET", "/api/v1/operations/{id}", internal::GetOperation},
    {"GET", "/api/v1/keyslot/{key}", internal::GetKeyslot},
};

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> parts;
  if (path.empty() || path.front() != '/') return parts;
  path.remove_prefix(1);
  // One trailing slash is forgiven ("/api/v1/clusters/"), as most HTTP clients add it freely.
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  while (true) {
    size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

// The raw (still encoded) segments against a pattern; parameters are decoded after the
// split, so an encoded "/" stays inside its segment.
std::optional<std::vector<std::pair<std::string, std::string>>> MatchPattern(
    std::string_view pattern, const std::vector<std::string_view>& segments) {
  std::vector<std::string_view> want = Split(pattern);
  if (want.size() != segments.size()) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> params;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i].front() == '{') {
      if (segments[i].empty()) return std::nullopt;
      params.emplace_back(std::string(want[i].substr(1, want[i].size() - 2)),
                          UrlDecode(segments[i]));
    } else if (want[i] != segments[i]) {
      return std::nullopt;
    }
  }
  return params;
}

bool ValidName(std::string_view s) {
  if (s.empty() || s.size() > 40) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool ValidOperationId(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

// Printable for a message: control bytes escaped, long values cut.
std::string Shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += "\\x" + std::string(1, "0123456789abcdef"[u >> 4]) + "0123456789abcdef"[u & 15];
    } else {
      out.push_back(c);
    }
  }
  return s.size() > 64 ? out + "..." : out;
}

std::optional<Response> CheckParams(const std::vector<std::pair<std::string, std::string>>& ps) {
  for (const auto& [name, value] : ps) {
    if (name == "name" && !ValidName(value)) {
      return JsonError(
          400, "InvalidName",
          "\"" + Shown(value) + "\" is not a cluster name: 1 to 40 characters of a-z, 0-9 and -");
    }
    if (name == "id" && !ValidOperationId(value)) {
      return JsonError(400, "InvalidName", "\"" + Shown(value) + "\" is not an operation id");
    }
  }
  return std::nullopt;
}

bool Mutating(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

}  // namespace

Router::Router(ClusterService* service, RouterOptions options)
    : service_(service), options_(std::move(options)) {}

std::vector<Router::RouteInfo> Router::Routes() {
  std::vector<RouteInfo> out;
  for (const Route& r : kRoutes) out.push_back({std::string(r.method), std::string(r.pattern)});
  return out;
}

Handler Router::AsHandler() {
  return [this](const Request& req) { return Handle(req); };
}

void Router::RecordRejected(int status) { metrics_.Observe("rejected", "OTHER", status, 0); }

Response Router::Handle(const Request& req) {
  const auto start = std::chrono::steady_clock::now();
  std::string route = "unmatched";
  Response out;
  try {
    out = Dispatch(req, &route);
  } catch (const std::exception& e) {
    spdlog::error("api: {} {}: {}", req.method, route, e.what());
    out = JsonError(500, "Internal", "internal error");
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.Observe(route, req.method, out.status, secs);
  // The route template, never the raw path or headers: nothing a client sent is logged.
  if (out.status >= 500) {
    spdlog::warn("api: {} {} -> {}", req.method, route, out.status);
  } else {
    spdlog::debug("api: {} {} -> {} ({:.1f} ms)", req.method, route, out.status, secs * 1e3);
  }
  return out;
}

Response Router::Dispatch(const Request& req, std::string* route_label) {
  const std::vector<std::string_view> segments =
      Split(req.raw_path.empty() ? std::string_view(req.path) : std::string_view(req.raw_path));
  const Route* found = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  std::string allow;
  for (const Route& r : kRoutes) {
    auto match = MatchPattern(r.pattern, segments);
    if (!match) continue;
    *route_label = std::string(r.pattern);
    if (r.method == req.method) {
      found = &r;
      params = std::move(*match);
      break;
    }
    allow += (allow.empty() ? "" : ", ") + std::string(r.method);
  }
  if (!found && allow.empty()) {
    return JsonError(404, "NotFound", "no route for " + Shown(req.method) + " " + Shown(req.path));
  }
  if (!found) {
    Response r =
        JsonError(405, "MethodNotAllowed",
                  Shown(req.method) + " is not allowed on " + *route_label + "; allowed: " + allow);
    r.headers["Allow"] = allow;
    return r;
  }
  // The token before anything else about the request is looked at.
  if (!options_.token.empty() && Mutating(req.method)) {
    auto auth = req.headers.find("authorization");
    if (auth == req.headers.end() || !BearerMatches(auth->second, options_.token)) {
      Response r =
          JsonError(401, "Unauthorized",
                    auth == req.headers.end() ? "this call needs Authorization: Bearer <token>"
                                              : "the bearer token is not valid");
      r.headers["WWW-Authenticate"] = "Bearer";
      return r;
    }
  }
  if (auto bad = CheckParams(params)) return *bad;
  ClusterService* service = service_.load();
  if (found->pattern == "/healthz") return {200, "application/json", R"({"status":"ok"})", {}};
  if (found->pattern == "/readyz") {
    const bool ready = service && service->Ready();
    return {ready ? 200 : 503,
            "application/json",
            ready ? R"({"status":"ready"})" : R"({"status":"not ready"})",
            {}};
  }
  if (found->pattern == "/metrics") return Metrics(service);
  if (!service) {
    Response r = JsonError(503, "Unavailable", "the controller is starting; retry shortly");
    r.headers["Retry-After"] = "1";
    return r;
  }
  internal::Call call{req, {}, *service, options_};
  for (auto& [name, value] : params) call.params.push_back(std::move(value));
  return found->fn(call);
}

Response Router::Metrics(ClusterService* service) const {
  std::string text = metrics_.Text();
  if (service) text += service->MetricsText();
  return {200, "text/plain; version=0.0.4; charset=utf-8", std::move(text), {}};
}

Result<std::unique_ptr<Server>> Serve(const std::string& addr, Router& router,
                                      ServerOptions options) {
  auto previous = std::move(options.on_reject);
  options.on_reject = [&router, previous](int status) {
    router.RecordRejected(status);
    if (previous) previous(status);
  };
  return Server::Start(addr, router.AsHandler(), std::move(options));
}

}  // namespace sk::rest
