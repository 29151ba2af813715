// The mutating routes of the REST API: bodies in JSON and YAML, 400/422 with fields, merge
// patch, conflicts, and the bearer token.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/rest/rest_fixture.h"

namespace sk::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

constexpr const char* kYaml = "application/yaml";

std::string SpecJson(const std::string& name, int masters = 3) {
  return json{{"apiVersion", "slotkeeper.io/v1alpha1"},
              {"kind", "RedisCluster"},
              {"metadata", {{"name", name}}},
              {"spec", {{"masters", masters}, {"replicasPerMaster", 1}}}}
      .dump();
}

// True when some field problem mentions `path`.
bool HasField(const json& error, const std::string& path) {
  for (const json& f : error["error"]["fields"]) {
    if (f.get<std::string>().find(path) != std::string::npos) return true;
  }
  return false;
}

TEST_F(ApiTest, CreateFromJsonIs201WithTheCluster) {
  auto r = Call("POST", "/api/v1/clusters", SpecJson("demo"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers["location"], "/api/v1/clusters/demo");
  json c = Json(r);
  EXPECT_EQ(c["metadata"]["name"], "demo");
  EXPECT_EQ(c["metadata"]["generation"], 1);
  EXPECT_TRUE(c.contains("status"));
  EXPECT_EQ(c["spec"]["masters"], 3);
  auto again = Call("POST", "/api/v1/clusters", SpecJson("demo"));
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(ErrorCode(again), "AlreadyExists");
}

TEST_F(ApiTest, CreateFromYaml) {
  auto r = Call("POST", "/api/v1/clusters", SpecYaml("demo", 4), kYaml);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(fake_.last_spec()->masters, 4);
  EXPECT_EQ(fake_.last_spec()->local.base_port, 17000);
  // No content type at all: sniffed.
  EXPECT_EQ(Call("POST", "/api/v1/clusters", SpecYaml("other"), "").status, 201);
}

TEST_F(ApiTest, MalformedBodiesAre400) {
  for (const auto& [body, type] : std::vector<std::pair<std::string, std::string>>{
           {"{\"apiVersion\": ", "application/json"},
           {"{]", ""},
           {"metadata: [unclosed", kYaml},
           {"a: 1\n---\nb: 2\n", kYaml},
           {"", "application/json"},
           {std::string(100000, '['), "application/json"},
       }) {
    auto r = Call("POST", "/api/v1/clusters", body, type);
    EXPECT_EQ(r.status, 400) << body.substr(0, 40);
    EXPECT_EQ(ErrorCode(r), "MalformedBody") << body.substr(0, 40);
  }
}

TEST_F(ApiTest, InvalidSpecsAre422WithEveryField) {
  json doc = json::parse(SpecJson("demo"));
  doc["spec"]["masters"] = "three";
  doc["spec"]["mastres"] = 3;
  doc["spec"]["replicasPerMaster"] = -1;
  auto r = Call("POST", "/api/v1/clusters", doc.dump());
  ASSERT_EQ(r.status, 422) << r.body;
  json e = Json(r);
  EXPECT_EQ(e["error"]["code"], "InvalidSpec");
  EXPECT_TRUE(HasField(e, "spec.masters")) << r.body;
  EXPECT_TRUE(HasField(e, "spec.mastres")) << r.body;
  // The same in YAML, and a value rule.
  auto y = Call("POST", "/api/v1/clusters", SpecYaml("demo", 2), kYaml);
  EXPECT_EQ(y.status, 422);
  EXPECT_TRUE(HasField(Json(y), "spec.masters")) << y.body;
  auto name = Call("POST", "/api/v1/clusters", SpecJson("Bad_Name"));
  EXPECT_EQ(name.status, 422);
  EXPECT_TRUE(HasField(Json(name), "metadata.name")) << name.body;
  EXPECT_EQ(Call("POST", "/api/v1/clusters", "[1, 2]").status, 422);
}

TEST_F(ApiTest, PutAcceptsAWholeGetResponse) {
  fake_.AddCluster("demo");
  json got = Json(Call("GET", "/api/v1/clusters/demo"));
  got["spec"]["masters"] = 4;
  auto r = Call("PUT", "/api/v1/clusters/demo", got.dump());
  ASSERT_EQ(r.status, 202) << r.body;
  json op = Json(r);
  EXPECT_EQ(op["kind"], "replace");
  EXPECT_EQ(op["state"], "running");
  EXPECT_EQ(fake_.last_spec()->masters, 4);
  // Another operation runs now.
  auto busy = Call("PUT", "/api/v1/clusters/demo", got.dump());
  EXPECT_EQ(busy.status, 409);
  EXPECT_EQ(ErrorCode(busy), "Conflict");
}

TEST_F(ApiTest, PutChecksTheNameAgainstThePath) {
  fake_.AddCluster("demo");
  auto other = Call("PUT", "/api/v1/clusters/demo", SpecJson("other"));
  EXPECT_EQ(other.status, 422);
  EXPECT_TRUE(HasField(Json(other), "metadata.name")) << other.body;
  // No name at all: the path's.
  auto unnamed =
      Call("PUT", "/api/v1/clusters/demo",
           "apiVersion: slotkeeper.io/v1alpha1\nkind: RedisCluster\nspec:\n  masters: 5\n", kYaml);
  EXPECT_EQ(unnamed.status, 202) << unnamed.body;
  EXPECT_EQ(fake_.last_spec()->name, "demo");
  EXPECT_EQ(Call("PUT", "/api/v1/clusters/nope", SpecJson("nope")).status, 404);
}

TEST_F(ApiTest, PatchIsAJsonMergePatch) {
  fake_.AddCluster("demo");
  auto r = Call("PATCH", "/api/v1/clusters/demo", R"({"spec":{"masters":4}})",
                "application/merge-patch+json");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(fake_.last_spec()->masters, 4);
  EXPECT_EQ(fake_.last_spec()->replicas_per_master, 1);
  EXPECT_EQ(fake_.last_spec()->name, "demo");
  Call("GET", "/api/v1/operations/" + Json(r)["id"].get<std::string>());  // 0.25
  fake_.SetStep(1);
  Call("GET", "/api/v1/operations/" + Json(r)["id"].get<std::string>());  // done
  auto yaml = Call("PATCH", "/api/v1/clusters/demo", "spec:\n  replicasPerMaster: 2\n", kYaml);
  EXPECT_EQ(yaml.status, 202) << yaml.body;
  EXPECT_EQ(fake_.last_spec()->replicas_per_master, 2);
}

TEST_F(ApiTest, PatchErrors) {
  fake_.AddCluster("demo");
  auto bad = Call("PATCH", "/api/v1/clusters/demo", R"({"spec":{"masters":"x"}})");
  EXPECT_EQ(bad.status, 422);
  EXPECT_TRUE(HasField(Json(bad), "spec.masters")) << bad.body;
  auto rename = Call("PATCH", "/api/v1/clusters/demo", R"({"metadata":{"name":"other"}})");
  EXPECT_EQ(rename.status, 422);
  EXPECT_EQ(Call("PATCH", "/api/v1/clusters/demo", "{nope").status, 400);
  EXPECT_EQ(Call("PATCH", "/api/v1/clusters/nope", R"({"spec":{"masters":4}})").status, 404);
  // status in a patch is ignored like in PUT.
  auto status = Call("PATCH", "/api/v1/clusters/demo", R"({"status":{"phase":"Failed"}})");
  EXPECT_EQ(status.status, 202) << status.body;
}

TEST_F(ApiTest, DeleteAndPurge) {
  fake_.AddCluster("demo");
  fake_.AddCluster("two");
  auto r = Call("DELETE", "/api/v1/clusters/demo");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r)["deleted"], true);
  EXPECT_EQ(fake_.last_purge(), false);
  EXPECT_EQ(Call("GET", "/api/v1/clusters/demo").status, 404);
  EXPECT_EQ(Call("DELETE", "/api/v1/clusters/two?purge=maybe").status, 400);
  EXPECT_EQ(Call("DELETE", "/api/v1/clusters/two?purge=true").status, 200);
  EXPECT_EQ(fake_.last_purge(), true);
  EXPECT_EQ(Call("DELETE", "/api/v1/clusters/two").status, 404);
}

TEST_F(ApiTest, ScaleAndItsBodyRules) {
  fake_.AddCluster("demo");
  auto r = Call("POST", "/api/v1/clusters/demo/scale", R"({"masters":4,"replicasPerMaster":2})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(Json(r)["kind"], "scale");
  EXPECT_EQ(fake_.last_scale()->masters, 4);
  EXPECT_EQ(fake_.last_scale()->replicas_per_master, 2);
  auto busy = Call("POST", "/api/v1/clusters/demo/scale", R"({"masters":5})");
  EXPECT_EQ(busy.status, 409);
  EXPECT_EQ(ErrorCode(busy), "Conflict");

  fake_.AddCluster("idle");
  auto types = Call("POST", "/api/v1/clusters/idle/scale", R"({"masters":"4","replicas":1})");
  EXPECT_EQ(types.status, 422);
  EXPECT_TRUE(HasField(Json(types), "masters")) << types.body;
  EXPECT_TRUE(HasField(Json(types), "replicas: unknown field")) << types.body;
  EXPECT_EQ(Call("POST", "/api/v1/clusters/idle/scale", "{}").status, 422);
  EXPECT_EQ(Call("POST", "/api/v1/clusters/idle/scale", "[4]").status, 422);
  EXPECT_EQ(Call("POST", "/api/v1/clusters/idle/scale", "{").status, 400);
  auto small = Call("POST", "/api/v1/clusters/idle/scale", R"({"masters":2})");
  EXPECT_EQ(small.status, 422);
  EXPECT_TRUE(HasField(Json(small), "spec.masters")) << small.body;
  EXPECT_EQ(Call("POST", "/api/v1/clusters/nope/scale", R"({"masters":4})").status, 404);
}

TEST_F(ApiTest, RecoverSlotsNeedsAcceptDataLoss) {
  fake_.AddCluster("demo");
  const std::string path = "/api/v1/clusters/demo/recover-slots";
  auto missing = Call("POST", path, "{}");
  EXPECT_EQ(missing.status, 422);
  EXPECT_TRUE(HasField(Json(missing), "acceptDataLoss")) << missing.body;
  auto typed = Call("POST", path, R"({"acceptDataLoss":"yes","force":true})");
  EXPECT_EQ(typed.status, 422);
  EXPECT_TRUE(HasField(Json(typed), "force: unknown field")) << typed.body;
  EXPECT_EQ(Call("POST", path, R"({"acceptDataLoss":false})").status, 422);
  EXPECT_EQ(Call("POST", path, "{").status, 400);
  EXPECT_EQ(
      Call("POST", "/api/v1/clusters/nope/recover-slots", R"({"acceptDataLoss":true})").status,
      404);
  auto ok = Call("POST", path, R"({"acceptDataLoss":true})");
  ASSERT_EQ(ok.status, 202) << ok.body;
  EXPECT_EQ(Json(ok)["kind"], "recover-slots");
}

TEST_F(ApiTest, FailoverByIdOrAddress) {
  fake_.AddCluster("demo");
  json nodes = Json(Call("GET", "/api/v1/clusters/demo/nodes"));
  const std::string replica_id = nodes[3]["id"];
  auto by_id = Call("POST", "/api/v1/clusters/demo/failover", json{{"node", replica_id}}.dump());
  ASSERT_EQ(by_id.status, 202) << by_id.body;
  EXPECT_EQ(Json(by_id)["kind"], "failover");
  fake_.AddCluster("two");
  EXPECT_EQ(Call("POST", "/api/v1/clusters/two/failover", R"({"node":"127.0.0.1:7004"})").status,
            202);
  fake_.AddCluster("three");
  EXPECT_EQ(Call("POST", "/api/v1/clusters/three/failover", R"({"node":"10.0.0.1:1"})").status,
            404);
  EXPECT_EQ(Call("POST", "/api/v1/clusters/three/failover", R"({"node":"127.0.0.1:7000"})").status,
            409);
  auto missing = Call("POST", "/api/v1/clusters/three/failover", R"({"nod":"x"})");
  EXPECT_EQ(missing.status, 422);
  EXPECT_TRUE(HasField(Json(missing), "node")) << missing.body;
}

TEST_F(ApiTest, MutatingCallsNeedTheToken) {
  const std::string token = "s3cret-t0ken-value";
  Start({.token = token});
  fake_.AddCluster("demo");
  auto none = Call("POST", "/api/v1/clusters", SpecJson("new"));
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(ErrorCode(none), "Unauthorized");
  EXPECT_EQ(none.headers["www-authenticate"], "Bearer");
  EXPECT_EQ(Call("POST", "/api/v1/clusters", SpecJson("new"), "application/json", "wrong").status,
            401);
  EXPECT_EQ(
      Call("POST", "/api/v1/clusters", SpecJson("new"), "application/json", token + "x").status,
      401);
  EXPECT_EQ(Call("DELETE", "/api/v1/clusters/demo").status, 401);
  EXPECT_EQ(Call("PATCH", "/api/v1/clusters/demo", "{}").status, 401);
  EXPECT_EQ(Call("POST", "/api/v1/clusters/demo/scale", R"({"masters":4})").status, 401);
  // Reads stay open; the right token works.
  EXPECT_EQ(Call("GET", "/api/v1/clusters/demo").status, 200);
  EXPECT_EQ(Call("POST", "/api/v1/clusters", SpecJson("new"), "application/json", token).status,
            201);
  auto metrics = Call("GET", "/metrics");
  EXPECT_THAT(metrics.body, HasSubstr("code=\"401\""));
  EXPECT_THAT(metrics.body, Not(HasSubstr(token)));
  EXPECT_THAT(metrics.body, Not(HasSubstr("wrong")));
}

TEST_F(ApiTest, BodyOverOneMebibyteIs413) {
  std::string big(rest::kMaxBodyBytes + 1, ' ');
  auto r = Call("POST", "/api/v1/clusters", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(ErrorCode(r), "PayloadTooLarge");
  // Exactly 1 MiB is read (and is then just a malformed document).
  std::string edge(rest::kMaxBodyBytes, ' ');
  edge[0] = '{';
  EXPECT_EQ(Call("POST", "/api/v1/clusters", edge).status, 400);
  EXPECT_THAT(Call("GET", "/metrics").body, HasSubstr("code=\"413\""));
}

}  // namespace
}  // namespace sk::testing
