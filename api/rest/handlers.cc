// The route handlers. Bodies are parsed here (JSON or YAML, 400 when malformed) and spec
// documents go through the spec codec (422 with every field problem); everything else is the
// ClusterService's decision, its errors mapped by ErrorResponse().
#include "api/rest/handlers.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>

#include "api/codec/spec_codec.h"
#include "api/codec/status_codec.h"
#include "api/rest/document.h"
#include "api/types/keyslot.h"

namespace sk::rest::internal {

namespace {

using json = nlohmann::json;

std::string HeaderOr(const Request& req, const std::string& name) {
  auto it = req.headers.find(name);
  return it == req.headers.end() ? "" : it->second;
}

// The body as a document, or the 400 that explains why it is not one.
std::optional<json> ReadDocument(const Request& req, Response* fail) {
  Result<json> doc = ParseDocument(req.body, FormatOf(HeaderOr(req, "content-type"), req.body));
  if (!doc.ok()) {
    *fail = JsonError(400, "MalformedBody", doc.error().message());
    return std::nullopt;
  }
  return std::move(doc).value();
}

Response InvalidSpec(const Error& e) {
  return JsonError(422, "InvalidSpec", e.message(), e.fields());
}

// A spec document (possibly a whole GET response) into a validated spec. `path_name` is the
// cluster in the URL for PUT and PATCH: a document without metadata.name takes it, and one
// naming another cluster is refused.
// `original` is the text as sent (nullptr when the document was computed, as for PATCH).
std::optional<ClusterSpec> SpecFromDocument(json doc, const std::string* original,
                                            const std::string& path_name, Response* fail) {
  bool rewritten = StripReadOnly(doc) || original == nullptr;
  if (!path_name.empty() && doc.is_object()) {
    json& meta = doc["metadata"];
    if (meta.is_null()) meta = json::object();
    if (meta.is_object() && !meta.contains("name")) {
      meta["name"] = path_name;
      rewritten = true;
    }
  }
  // The text as sent keeps the codec's line numbers meaningful; a rewritten one is JSON.
  Result<ClusterSpec> spec = codec::ParseSpec(
      rewritten ? doc.dump(2, ' ', false, json::error_handler_t::replace) : *original);
  if (!spec.ok()) {
    *fail = InvalidSpec(spec.error());
    return std::nullopt;
  }
  if (!path_name.empty() && spec->name != path_name) {
    std::string problem = "metadata.name: \"" + spec->name +
                          "\" does not match the cluster in the path, \"" + path_name + "\"";
    *fail = JsonError(422, "InvalidSpec", problem, {problem});
    return std::nullopt;
  }
  return std::move(spec).value();
}

// Reads an integer field of an action body; appends to `problems` when it is not one.
std::optional<int> IntField(const json& body, const char* name,
                            std::vector<std::string>& problems) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (it->is_number_integer() && *it >= INT32_MIN && *it <= INT32_MAX) return it->get<int>();
  problems.push_back(std::string(name) + ": expected an integer, got " +
                     it->dump(-1, ' ', false, json::error_handler_t::replace));
  return std::nullopt;
}

// Refuses fields an action body does not have, as the spec codec does.
void UnknownFields(const json& body, std::initializer_list<std::string_view> known,
                   std::vector<std::string>& problems) {
  for (const auto& [key, value] : body.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    problems.push_back(key + ": unknown field; expected " + list);
  }
}

// An action body (scale, failover) that must be a map; 400/422 into `fail`.
std::optional<json> ActionBody(const Call& c, Response* fail) {
  std::optional<json> body = ReadDocument(c.req, fail);
  if (body && !body->is_object()) {
    std::string problem = "the body must be a JSON object";
    *fail = JsonError(422, "InvalidArgument", problem, {problem});
    return std::nullopt;
  }
  return body;
}

Response Problems(const std::vector<std::string>& problems) {
  std::string message = problems.size() == 1
                            ? problems[0]
                            : std::to_string(problems.size()) + " problems in the request body";
  return JsonError(422, "InvalidArgument", message, problems);
}

}  // namespace

Response ErrorResponse(const Error& e, std::string_view invalid_code) {
  switch (e.code()) {
    case Code::kInvalidArgument:
      return JsonError(422, std::string(invalid_code), e.message(), e.fields());
    case Code::kNotFound:
      return JsonError(404, "NotFound", e.message(), e.fields());
    case Code::kAlreadyExists:
      return JsonError(409, "AlreadyExists", e.message(), e.fields());
    case Code::kAborted:
      return JsonError(409, "Conflict", e.message(), e.fields());
    case Code::kFailedPrecondition:
      return JsonError(409, "FailedPrecondition", e.message(), e.fields());
    case Code::kUnavailable:
    case Code::kDeadlineExceeded: {
      Response r = JsonError(503, "Unavailable", e.message(), e.fields());
      r.headers["Retry-After"] = "2";
      return r;
    }
    case Code::kOk:
    case Code::kInternal:
      break;
  }
  return JsonError(500, "Internal", e.message(), e.fields());
}

Response ListClusters(const Call& c) {
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const ClusterSummary& s : c.service.List()) {
    items.push_back(
        {{"name", s.name}, {"phase", codec::Name(s.phase)}, {"generation", s.generation}});
  }
  return JsonResponse(200, items);
}

Response CreateCluster(const Call& c) {
  Response fail;
  std::optional<json> doc = ReadDocument(c.req, &fail);
  if (!doc) return fail;
  std::optional<ClusterSpec> spec = SpecFromDocument(std::move(*doc), &c.req.body, "", &fail);
  if (!spec) return fail;
  Result<ClusterRecord> created = c.service.Create(*spec);
  if (!created.ok()) return ErrorResponse(created.error(), "InvalidSpec");
  Response r = JsonResponse(201, ClusterJson(*created));
  r.headers["Location"] = "/api/v1/clusters/" + spec->name;
  return r;
}

Response GetCluster(const Call& c) {
  Result<ClusterRecord> record = c.service.Get(c.params[0]);
  if (!record.ok()) return ErrorResponse(record.error());
  return JsonResponse(200, ClusterJson(*record));
}

Response ReplaceCluster(const Call& c) {
  Response fail;
  std::optional<json> doc = ReadDocument(c.req, &fail);
  if (!doc) return fail;
  std::optional<ClusterSpec> spec =
      SpecFromDocument(std::move(*doc), &c.req.body, c.params[0], &fail);
  if (!spec) return fail;
  Result<Operation> op = c.service.Replace(*spec);
  if (!op.ok()) return ErrorResponse(op.error(), "InvalidSpec");
  return JsonResponse(202, OperationJson(*op));
}

// RFC 7386 JSON merge patch over the current spec document, then the same path as PUT.
Response PatchCluster(const Call& c) {
  Response fail;
  std::optional<json> patch = ReadDocument(c.req, &fail);
  if (!patch) return fail;
  Result<ClusterRecord> record = c.service.Get(c.params[0]);
  if (!record.ok()) return ErrorResponse(record.error());
  json doc = json::parse(codec::SpecToJson(record->spec, -1), nullptr, false);
  doc.merge_patch(*patch);
  std::optional<ClusterSpec> spec = SpecFromDocument(std::move(doc), nullptr, c.params[0], &fail);
  if (!spec) return fail;
  Result<Operation> op = c.service.Replace(*spec);
  if (!op.ok()) return ErrorResponse(op.error(), "InvalidSpec");
  return JsonResponse(202, OperationJson(*op));
}

Response DeleteCluster(const Call& c) {
  bool purge = false;
  if (auto it = c.req.query.find("purge"); it != c.req.query.end()) {
    if (it->second == "true" || it->second == "1" || it->second.empty()) {
      purge = true;
    } else if (it->second != "false" && it->second != "0") {
      return JsonError(400, "BadRequest", "purge must be true or false");
    }
  }
  Status st = c.service.Delete(c.params[0], purge);
  if (!st.ok()) return ErrorResponse(st.error());
  return JsonResponse(200, {{"name", c.params[0]}, {"deleted", true}, {"purged", purge}});
}

Response ScaleCluster(const Call& c) {
  Response fail;
  std::optional<json> body = ActionBody(c, &fail);
  if (!body) return fail;
  std::vector<std::string> problems;
  UnknownFields(*body, {"masters", "replicasPerMaster"}, problems);
  ScaleRequest req;
  req.masters = IntField(*body, "masters", problems);
  req.replicas_per_master = IntField(*body, "replicasPerMaster", problems);
  if (problems.empty() && !req.masters && !req.replicas_per_master) {
    problems.push_back("give masters, replicasPerMaster or both");
  }
  if (!problems.empty()) return Problems(problems);
  Result<Operation> op = c.service.Scale(c.params[0], req);
  if (!op.ok()) return ErrorResponse(op.error());
  return JsonResponse(202, OperationJson(*op));
}

Response FailoverCluster(const Call& c) {
  Response fail;
  std::optional<json> body = ActionBody(c, &fail);
  if (!body) return fail;
  std::vector<std::string> problems;
  UnknownFields(*body, {"node"}, problems);
  auto node = body->find("node");
  if (node == body->end() || !node->is_string() || node->get<std::string>().empty()) {
    problems.push_back("node: expected the replica's node ID or host:port");
  }
  if (!problems.empty()) return Problems(problems);
  Result<Operation> op = c.service.Failover(c.params[0], node->get<std::string>());
  if (!op.ok()) return ErrorResponse(op.error());
  return JsonResponse(202, OperationJson(*op));
}

Response RecoverSlots(const Call& c) {
  Response fail;
  std::optional<json> body = ActionBody(c, &fail);
  if (!body) return fail;
  std::vector<std::string> problems;
  UnknownFields(*body, {"acceptDataLoss"}, problems);
  auto accept = body->find("acceptDataLoss");
  if (accept == body->end() || !accept->is_boolean()) {
    problems.push_back(
        "acceptDataLoss: expected true (the slots come back empty: their keys are lost)");
  }
  if (!problems.empty()) return Problems(problems);
  Result<Operation> op = c.service.RecoverSlots(c.params[0], accept->get<bool>());
  if (!op.ok()) return ErrorResponse(op.error());
  return JsonResponse(202, OperationJson(*op));
}

Response GetNodes(const Call& c) {
  Result<ClusterRecord> record = c.service.Get(c.params[0]);
  if (!record.ok()) return ErrorResponse(record.error());
  return JsonResponse(200, NodesJson(record->status));
}

Response GetSlots(const Call& c) {
  Result<ClusterRecord> record = c.service.Get(c.params[0]);
  if (!record.ok()) return ErrorResponse(record.error());
  return JsonResponse(200, SlotsJson(record->status));
}

Response GetEvents(const Call& c) {
  size_t limit = c.options.max_events;
  if (auto it = c.req.query.find("limit"); it != c.req.query.end()) {
    size_t asked = 0;
    const std::string& text = it->second;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), asked);
    if (ec != std::errc() || ptr != text.data() + text.size() || asked == 0) {
      return JsonError(400, "BadRequest", "limit must be a positive integer");
    }
    limit = std::min(limit, asked);
  }
  Result<std::vector<Event>> events = c.service.Events(c.params[0]);
  if (!events.ok()) return ErrorResponse(events.error());
  if (events->size() > limit) events->resize(limit);
  return Response{200, "application/json", codec::EventsToJson(*events), {}};
}

Response GetOperation(const Call& c) {
  Result<Operation> op = c.service.GetOperation(c.params[0]);
  if (!op.ok()) return ErrorResponse(op.error());
  return JsonResponse(200, OperationJson(*op));
}

Response GetKeyslot(const Call& c) {
  const std::string& key = c.params[0];
  return JsonResponse(200, {{"key", key}, {"slot", KeySlot(key)}});
}

}  // namespace sk::rest::internal
