// Internal to api/rest: the handlers behind Router (one per route of CONTRACT.md section 4)
// and the JSON views they answer with. Router has already matched the route, checked the
// method, the token and the path parameters when a handler runs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/rest/http.h"
#include "api/rest/routes.h"
#include "api/types/cluster_service.h"

namespace sk::rest::internal {

struct Call {
  const Request& req;
  std::vector<std::string> params;  // decoded path parameters, in pattern order
  ClusterService& service;
  const RouterOptions& options;
};
using RouteFn = Response (*)(const Call&);

Response ListClusters(const Call& c);
Response CreateCluster(const Call& c);
Response GetCluster(const Call& c);
Response ReplaceCluster(const Call& c);
Response PatchCluster(const Call& c);
Response DeleteCluster(const Call& c);
Response ScaleCluster(const Call& c);
Response FailoverCluster(const Call& c);
Response RecoverSlots(const Call& c);
Response GetNodes(const Call& c);
Response GetSlots(const Call& c);
Response GetEvents(const Call& c);
Response GetOperation(const Call& c);
Response GetKeyslot(const Call& c);

// An Error as the contract's JSON error with the status its code maps to (see
// cluster_service.h); InvalidArgument becomes 422 with `invalid_code` as the error code.
Response ErrorResponse(const Error& e, std::string_view invalid_code = "InvalidArgument");
// A JSON body (non-UTF-8 text replaced, never thrown on).
Response JsonResponse(int status, const nlohmann::ordered_json& body);

// {apiVersion, kind, metadata: {name, generation}, spec, status}.
nlohmann::ordered_json ClusterJson(const ClusterRecord& record);
// {id, cluster, kind, state, progress, slotsMoved, slotsTotal, keysMoved, startedAt,
//  finishedAt, error}; finishedAt and error are null while unset.
nlohmann::ordered_json OperationJson(const Operation& op);
// status.nodes, in the shape of StatusToJson.
nlohmann::ordered_json NodesJson(const ClusterStatus& status);
// [{start, end, master: {node}, replicas: [{node}...]}] by start slot, from status.nodes.
nlohmann::ordered_json SlotsJson(const ClusterStatus& status);

}  // namespace sk::rest::internal
