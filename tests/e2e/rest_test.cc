// The REST API end to end: `slotkeeper controller` with real redis nodes, driven only over
// HTTP as CONTRACT.md section 4 says.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"

namespace sk::e2e {
namespace {

using ::testing::HasSubstr;
using testing::PortLease;
using testing::RedisCmd;
using testing::TempDir;

struct Reply {
  int code = 0;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

class RestTest : public ::testing::Test {
 protected:
  void StartController(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {testing::BinaryPath("slotkeeper"), "controller", "--api",
                                     "127.0.0.1:" + std::to_string(api_.base())};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ctl_ = std::make_unique<testing::Background>(
        argv, dir_.Sub("controller-" + std::to_string(++runs_) + ".log"), dir_.path());
    ASSERT_TRUE(testing::WaitFor([&] { return Call("GET", "/api/v1/clusters").code == 200; },
                                 std::chrono::seconds(10), "controller serving"));
  }
  void TearDown() override {
    ctl_.reset();
    KillNodes(dir_.Sub("data"), "t", nodes_.base(), 6);
  }
  Reply Call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::string& type = "application/json", const std::string& token = "") {
    std::string r = HttpRequest(api_.base(), method, path, body, body.empty() ? "" : type, token);
    if (r.size() < 3) return {};
    return {std::atoi(r.substr(0, 3).c_str()), r.size() > 4 ? r.substr(4) : ""};
  }
  std::string SpecYaml() const {
    return "apiVersion: slotkeeper.io/v1alpha1\nkind: RedisCluster\nmetadata:\n  name: t\nspec:\n"
           "  masters: 3\n  replicasPerMaster: 1\n  local:\n    bind: 127.0.0.1\n    basePort: " +
           std::to_string(nodes_.base()) + "\n    dataDir: " + dir_.Sub("data") + "\n";
  }
  bool WaitPhase(const std::string& phase) {
    std::string last;
    return testing::WaitFor(
        [&] {
          Reply r = Call("GET", "/api/v1/clusters/t");
          last = r.body;
          auto j = r.json();
          return r.code == 200 && j.is_object() && j["status"]["phase"] == phase;
        },
        std::chrono::seconds(40), "phase " + phase, [&] { return last; });
  }
  bool WaitOperation(const std::string& id) {
    std::string last;
    return testing::WaitFor(
        [&] {
          Reply r = Call("GET", "/api/v1/operations/" + id);
          last = r.body;
          return r.json().is_object() && r.json()["state"] == "succeeded";
        },
        std::chrono::seconds(30), "operation " + id, [&] { return last; });
  }

  TempDir dir_;
  PortLease api_{1};
  PortLease nodes_{6};
  std::unique_ptr<testing::Background> ctl_;
  int runs_ = 0;
};

TEST_F(RestTest, CreateReadPatchFailoverRestartAndDelete) {
  StartController();
  EXPECT_EQ(Call("GET", "/readyz").code, 200) << "no cluster yet: every (zero) cluster is Ready";
  // Create from YAML.
  Reply created = Call("POST", "/api/v1/clusters", SpecYaml(), "application/yaml");
  ASSERT_EQ(created.code, 201) << created.body;
  EXPECT_EQ(Call("POST", "/api/v1/clusters", SpecYaml(), "application/yaml").code, 409);
  ASSERT_TRUE(WaitPhase("Ready"));
  EXPECT_EQ(Call("GET", "/readyz").code, 200);
  ASSERT_TRUE(WaitHealthy(nodes_.base(), 6, std::chrono::seconds(20)));

  auto list = Call("GET", "/api/v1/clusters").json();
  ASSERT_TRUE(list.is_array());
  EXPECT_EQ(list[0]["name"], "t");
  auto cluster = Call("GET", "/api/v1/clusters/t").json();
  EXPECT_EQ(cluster["apiVersion"], "slotkeeper.io/v1alpha1");
  EXPECT_EQ(cluster["kind"], "RedisCluster");
  EXPECT_EQ(cluster["spec"]["masters"], 3);
  EXPECT_EQ(cluster["status"]["slotsOk"], 16384);
  auto nodes = Call("GET", "/api/v1/clusters/t/nodes").json();
  ASSERT_TRUE(nodes.is_array());
  EXPECT_EQ(nodes.size(), 6u);
  auto slots = Call("GET", "/api/v1/clusters/t/slots").json();
  ASSERT_TRUE(slots.is_array());
  ASSERT_EQ(slots.size(), 3u);
  EXPECT_EQ(slots[0]["start"], 0);
  EXPECT_EQ(slots[0]["end"], 5460);
  EXPECT_EQ(slots[0]["replicas"].size(), 1u);
  EXPECT_EQ(Call("GET", "/api/v1/keyslot/foo").json()["slot"], 12182);
  EXPECT_THAT(Call("GET", "/metrics").body, HasSubstr("slotkeeper_cluster_state{cluster=\"t\"} 1"));

  // A settings change through PATCH, followed to success.
  Reply patched = Call("PATCH", "/api/v1/clusters/t", R"({"spec":{"redis":{"maxmemory":"64mb"}}})",
                       "application/merge-patch+json");
  ASSERT_EQ(patched.code, 202) << patched.body;
  ASSERT_TRUE(WaitOperation(patched.json()["id"]));
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return RedisCmd(nodes_.base() + 1, {"CONFIG", "GET", "maxmemory"}) == "maxmemory\n67108864";
      },
      std::chrono::seconds(10), "maxmemory applied"));
  EXPECT_EQ(Call("GET", "/api/v1/clusters/t").json()["metadata"]["generation"], 2);

  // Failover of a replica, followed to success.
  std::string replica;
  for (const auto& n : Call("GET", "/api/v1/clusters/t/nodes").json()) {
    if (n["role"] == "replica")
      replica = n["host"].get<std::string>() + ":" + std::to_string(n["port"].get<int>());
  }
  ASSERT_FALSE(replica.empty());
  Reply fo = Call("POST", "/api/v1/clusters/t/failover", R"({"node":")" + replica + R"("})");
  ASSERT_EQ(fo.code, 202) << fo.body;
  ASSERT_TRUE(WaitOperation(fo.json()["id"]));
  int port = std::atoi(replica.substr(replica.find(':') + 1).c_str());
  EXPECT_EQ(RedisCmd(port, {"ROLE"}).rfind("master", 0), 0u);
  EXPECT_THAT(Call("GET", "/api/v1/clusters/t/events").body, HasSubstr("Failover"));

  // A restarted controller still manages the cluster (the spec was persisted).
  EXPECT_EQ(ctl_->Stop(), 0);
  StartController();
  ASSERT_TRUE(WaitPhase("Ready"));
  EXPECT_EQ(Call("GET", "/api/v1/clusters/t").json()["metadata"]["generation"], 2);

  // Delete with purge stops the nodes and deletes their data.
  EXPECT_LT(Call("DELETE", "/api/v1/clusters/t?purge=true").code, 300);
  EXPECT_EQ(Call("GET", "/api/v1/clusters/t").code, 404);
  EXPECT_EQ(RedisCmd(nodes_.base(), {"PING"}).rfind("CONNFAIL", 0), 0u);
  EXPECT_FALSE(Exists(dir_.Sub("data") + "/t"));
}

TEST_F(RestTest, TokenGuardsMutatingCallsAndNeverLeaks) {
  std::string token_file = dir_.Sub("api.token");
  std::ofstream(token_file) << "s3cret-token\n";
  StartController({"--token-file", token_file});
  EXPECT_EQ(Call("POST", "/api/v1/clusters", SpecYaml(), "application/yaml").code, 401);
  EXPECT_EQ(Call("POST", "/api/v1/clusters", SpecYaml(), "application/yaml", "wrong").code, 401);
  EXPECT_EQ(Call("GET", "/api/v1/clusters").code, 200) << "reads need no token";
  EXPECT_EQ(Call("POST", "/api/v1/clusters", SpecYaml(), "application/yaml", "s3cret-token").code,
            201);
  ASSERT_TRUE(WaitPhase("Ready"));
  EXPECT_EQ(Call("GET", "/metrics").body.find("s3cret"), std::string::npos);
  EXPECT_EQ(ctl_->Log().find("s3cret"), std::string::npos);
  EXPECT_LT(Call("DELETE", "/api/v1/clusters/t?purge=true", "", "", "s3cret-token").code, 300);
}

TEST_F(RestTest, BadRequestsGetTheRightCodeAndTheDaemonKeepsServing) {
  StartController();
  EXPECT_EQ(Call("POST", "/api/v1/clusters", "{not json", "application/json").code, 400);
  Reply invalid = Call(
      "POST", "/api/v1/clusters",
      R"({"apiVersion":"slotkeeper.io/v1alpha1","kind":"RedisCluster","metadata":{"name":"t"},"spec":{"masters":2}})");
  EXPECT_EQ(invalid.code, 422);
  EXPECT_THAT(invalid.body, HasSubstr("spec.masters"));
  EXPECT_EQ(Call("GET", "/api/v1/clusters/nope").code, 404);
  EXPECT_EQ(Call("GET", "/api/v1/nothing-here").code, 404);
  EXPECT_EQ(Call("PUT", "/healthz").code, 405);
  EXPECT_EQ(Call("GET", "/healthz").code, 200);
}

}  // namespace
}  // namespace sk::e2e
