// The read routes, routing errors and metrics of the REST API (CONTRACT.md section 4),
// through the real server over loopback against a FakeClusterService.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/rest/http.h"
#include "tests/integration/rest/rest_fixture.h"

namespace sk::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

TEST_F(ApiTest, HealthAndReadiness) {
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  EXPECT_EQ(Call("GET", "/readyz").status, 200);
  fake_.SetReady(false);
  auto r = Call("GET", "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Json(r)["status"], "not ready");
}

TEST_F(ApiTest, WithoutAServiceOnlyHealthAnswers) {
  router_->SetService(nullptr);
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  EXPECT_EQ(Call("GET", "/readyz").status, 503);
  auto r = Call("GET", "/api/v1/clusters");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(ErrorCode(r), "Unavailable");
  EXPECT_EQ(r.headers["retry-after"], "1");
}

TEST_F(ApiTest, ListIsABareArrayWithNameAndPhase) {
  EXPECT_EQ(Json(Call("GET", "/api/v1/clusters")), json::array());
  fake_.AddCluster("demo");
  fake_.AddCluster("other");
  auto r = Call("GET", "/api/v1/clusters");
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.headers["content-type"], HasSubstr("application/json"));
  json list = Json(r);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["name"], "demo");
  EXPECT_EQ(list[0]["phase"], "Ready");
  EXPECT_EQ(list[1]["name"], "other");
}

TEST_F(ApiTest, GetClusterHasTheContractShape) {
  fake_.AddCluster("demo");
  auto r = Call("GET", "/api/v1/clusters/demo");
  ASSERT_EQ(r.status, 200) << r.body;
  json c = Json(r);
  EXPECT_EQ(c["apiVersion"], "slotkeeper.io/v1alpha1");
  EXPECT_EQ(c["kind"], "RedisCluster");
  EXPECT_EQ(c["metadata"]["name"], "demo");
  EXPECT_EQ(c["metadata"]["generation"], 1);
  EXPECT_EQ(c["spec"]["masters"], 3);
  EXPECT_EQ(c["spec"]["replicasPerMaster"], 1);
  const json& s = c["status"];
  for (const char* key : {"phase", "clusterState", "slotsAssigned", "slotsOk", "slotsPfail",
                          "slotsFail", "openSlots", "masters", "replicas", "conditions", "nodes",
                          "operation", "observedGeneration", "lastReconcileAt"}) {
    EXPECT_TRUE(s.contains(key)) << key;
  }
  EXPECT_EQ(s["phase"], "Ready");
  EXPECT_EQ(s["slotsOk"], 16384);
  EXPECT_TRUE(s["operation"].is_null());
  EXPECT_EQ(s["conditions"][0]["type"], "Ready");
}

TEST_F(ApiTest, NodesAreStatusNodes) {
  fake_.AddCluster("demo");
  auto r = Call("GET", "/api/v1/clusters/demo/nodes");
  ASSERT_EQ(r.status, 200);
  json nodes = Json(r);
  ASSERT_EQ(nodes.size(), 6u);
  for (const char* key :
       {"id", "host", "port", "role", "masterId", "slots", "flags", "linkState", "zone"}) {
    EXPECT_TRUE(nodes[0].contains(key)) << key;
  }
  EXPECT_EQ(nodes[0]["id"].get<std::string>().size(), 40u);
  EXPECT_EQ(nodes[0]["role"], "master");
  EXPECT_TRUE(nodes[0]["masterId"].is_null());
  EXPECT_EQ(nodes[3]["role"], "replica");
  EXPECT_EQ(nodes[3]["masterId"], nodes[0]["id"]);
}

TEST_F(ApiTest, SlotsAreRangesWithMasterAndReplicas) {
  fake_.AddCluster("demo");
  auto r = Call("GET", "/api/v1/clusters/demo/slots");
  ASSERT_EQ(r.status, 200);
  json slots = Json(r);
  ASSERT_EQ(slots.size(), 3u);
  EXPECT_EQ(slots[0]["start"], 0);
  EXPECT_EQ(slots[0]["end"], 5460);
  EXPECT_EQ(slots[0]["master"]["port"], 7000);
  ASSERT_EQ(slots[0]["replicas"].size(), 1u);
  EXPECT_EQ(slots[0]["replicas"][0]["port"], 7003);
  EXPECT_EQ(slots[2]["end"], 16383);
}

TEST_F(ApiTest, EventsAreNewestFirstAndBounded) {
  fake_.AddCluster("demo", 3, 1, 150);
  json all = Json(Call("GET", "/api/v1/clusters/demo/events"));
  ASSERT_EQ(all.size(), 100u);
  EXPECT_EQ(all[0]["message"], "event 150");
  for (const char* key : {"time", "type", "reason", "message"}) EXPECT_TRUE(all[0].contains(key));
  json two = Json(Call("GET", "/api/v1/clusters/demo/events?limit=2"));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1]["message"], "event 149");
  EXPECT_EQ(Call("GET", "/api/v1/clusters/demo/events?limit=x").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/clusters/nope/events").status, 404);
}

TEST_F(ApiTest, OperationHasTheContractShape) {
  fake_.AddCluster("demo");
  json op = Json(Call("POST", "/api/v1/clusters/demo/scale", R"({"masters":4})"));
  const std::string id = op["id"];
  auto r = Call("GET", "/api/v1/operations/" + id);
  ASSERT_EQ(r.status, 200);
  json got = Json(r);
  for (const char* key : {"id", "kind", "state", "progress", "slotsMoved", "keysMoved", "startedAt",
                          "finishedAt", "error"}) {
    EXPECT_TRUE(got.contains(key)) << key;
  }
  EXPECT_EQ(got["id"], id);
  EXPECT_EQ(got["kind"], "scale");
  EXPECT_EQ(got["state"], "running");
  EXPECT_DOUBLE_EQ(got["progress"].get<double>(), 0.25);
  EXPECT_TRUE(got["finishedAt"].is_null());
  EXPECT_EQ(ErrorCode(Call("GET", "/api/v1/operations/op-999999")), "NotFound");
  EXPECT_EQ(Call("GET", "/api/v1/operations/op%20x").status, 400);
}

TEST_F(ApiTest, KeyslotDecodesTheKey) {
  json foo = Json(Call("GET", "/api/v1/keyslot/foo"));
  EXPECT_EQ(foo["key"], "foo");
  EXPECT_EQ(foo["slot"], 12182);
  json tagged = Json(Call("GET", "/api/v1/keyslot/" + rest::UrlEncode("{user1000}.following")));
  EXPECT_EQ(tagged["key"], "{user1000}.following");
  EXPECT_EQ(tagged["slot"], 3443);
  json slash = Json(Call("GET", "/api/v1/keyslot/a%2Fb"));
  EXPECT_EQ(slash["key"], "a/b");
}

TEST_F(ApiTest, InvalidNamesAreRefusedBeforeTheService) {
  fake_.AddCluster("demo");
  for (const std::string& bad : std::vector<std::string>{
           "..%2F..%2Fetc", "..%2F", "Demo", std::string(41, 'a'), "a%00b", "demo%2Fnodes"}) {
    auto r = Call("GET", "/api/v1/clusters/" + bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(ErrorCode(r), "InvalidName") << bad;
    EXPECT_EQ(Call("DELETE", "/api/v1/clusters/" + bad).status, 400) << bad;
  }
  EXPECT_EQ(Call("GET", "/api/v1/clusters/" + std::string(40, 'a')).status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/clusters/../etc").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/clusters/demo/nodes/x").status, 404);
}

TEST_F(ApiTest, UnknownClusterIs404) {
  for (const char* path :
       {"/api/v1/clusters/nope", "/api/v1/clusters/nope/nodes", "/api/v1/clusters/nope/slots"}) {
    auto r = Call("GET", path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(ErrorCode(r), "NotFound") << path;
  }
}

TEST_F(ApiTest, UnknownRouteIs404AndWrongMethod405AsJson) {
  auto r = Call("GET", "/api/v2/clusters");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "NotFound");
  EXPECT_EQ(Call("GET", "/").status, 404);
  auto m = Call("DELETE", "/api/v1/clusters");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(ErrorCode(m), "MethodNotAllowed");
  EXPECT_EQ(m.headers["allow"], "GET, POST");
  auto h = Call("POST", "/healthz");
  EXPECT_EQ(h.status, 405);
  EXPECT_EQ(h.headers["allow"], "GET");
  EXPECT_EQ(Call("PUT", "/api/v1/clusters/demo/scale", "{}").status, 405);
}

TEST_F(ApiTest, ServiceErrorsMapToStatusCodes) {
  fake_.AddCluster("demo");
  fake_.FailNext(Unavailable("redis is loading"));
  auto r = Call("POST", "/api/v1/clusters/demo/scale", R"({"masters":4})");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(ErrorCode(r), "Unavailable");
  EXPECT_FALSE(r.headers["retry-after"].empty());
  fake_.FailNext(Internal("bug"));
  EXPECT_EQ(Call("POST", "/api/v1/clusters/demo/scale", R"({"masters":4})").status, 500);
  fake_.FailNext(FailedPrecondition("duplicate node id"));
  EXPECT_EQ(Call("POST", "/api/v1/clusters/demo/scale", R"({"masters":4})").status, 409);
}

TEST_F(ApiTest, MetricsCountRequestsByRouteAndCode) {
  fake_.AddCluster("demo");
  Call("GET", "/api/v1/clusters/demo");
  Call("GET", "/api/v1/clusters/nope");
  Call("GET", "/no/such/route");
  auto r = Call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.headers["content-type"], HasSubstr("text/plain"));
  EXPECT_THAT(r.body, HasSubstr("slotkeeper_api_requests_total{route=\"/api/v1/clusters/{name}\","
                                "method=\"GET\",code=\"200\"} 1"));
  EXPECT_THAT(r.body, HasSubstr("slotkeeper_api_requests_total{route=\"/api/v1/clusters/{name}\","
                                "method=\"GET\",code=\"404\"} 1"));
  EXPECT_THAT(r.body, HasSubstr("route=\"unmatched\",method=\"GET\",code=\"404\"} 1"));
  EXPECT_THAT(r.body, HasSubstr("# TYPE slotkeeper_api_request_duration_seconds histogram"));
  EXPECT_THAT(r.body, HasSubstr("slotkeeper_api_request_duration_seconds_bucket{route=\"/api/v1/"
                                "clusters/{name}\",le=\"+Inf\"} 2"));
  EXPECT_THAT(r.body, HasSubstr("slotkeeper_cluster_phase{cluster=\"demo\",phase=\"Ready\"} 1"));
  // Client-chosen text never becomes a label.
  EXPECT_THAT(r.body, Not(HasSubstr("/no/such/route")));
}

}  // namespace
}  // namespace sk::testing
