// api/openapi.yaml and the router describe the same routes: a route the router serves but
// the document lacks fails this test, and so does a documented route the router does not
// serve.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "api/rest/routes.h"
#include "tests/support/support.h"

namespace sk::testing {
namespace {

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::set<std::string> DocumentedRoutes() {
  YAML::Node doc = YAML::LoadFile(SourcePath("api/openapi.yaml"));
  std::set<std::string> out;
  const std::set<std::string> methods = {"get",   "put",  "post",    "delete",
                                         "patch", "head", "options", "trace"};
  for (const auto& path : doc["paths"]) {
    for (const auto& op : path.second) {
      const std::string key = op.first.as<std::string>();
      if (methods.count(key)) out.insert(Upper(key) + " " + path.first.as<std::string>());
    }
  }
  return out;
}

std::set<std::string> ServedRoutes() {
  std::set<std::string> out;
  for (const auto& r : rest::Router::Routes()) out.insert(r.method + " " + r.pattern);
  return out;
}

TEST(OpenApiTest, DocumentAndRouterAgree) {
  const std::set<std::string> documented = DocumentedRoutes();
  const std::set<std::string> served = ServedRoutes();
  ASSERT_FALSE(documented.empty());
  std::vector<std::string> undocumented;
  std::set_difference(served.begin(), served.end(), documented.begin(), documented.end(),
                      std::back_inserter(undocumented));
  std::vector<std::string> unserved;
  std::set_difference(documented.begin(), documented.end(), served.begin(), served.end(),
                      std::back_inserter(unserved));
  EXPECT_THAT(undocumented, ::testing::IsEmpty()) << "routes missing from api/openapi.yaml";
  EXPECT_THAT(unserved, ::testing::IsEmpty()) << "documented routes the router does not serve";
}

TEST(OpenApiTest, EveryContractRouteIsServed) {
  const std::set<std::string> served = ServedRoutes();
  for (const char* route :
       {"GET /healthz", "GET /readyz", "GET /metrics", "GET /api/v1/clusters",
        "POST /api/v1/clusters", "GET /api/v1/clusters/{name}", "PUT /api/v1/clusters/{name}",
        "PATCH /api/v1/clusters/{name}", "DELETE /api/v1/clusters/{name}",
        "POST /api/v1/clusters/{name}/scale", "POST /api/v1/clusters/{name}/failover",
        "GET /api/v1/clusters/{name}/nodes", "GET /api/v1/clusters/{name}/slots",
        "GET /api/v1/clusters/{name}/events", "GET /api/v1/operations/{id}",
        "GET /api/v1/keyslot/{key}"}) {
    EXPECT_TRUE(served.count(route)) << route;
  }
}

}  // namespace
}  // namespace sk::testing
