// The CLI's client verbs (apply, get, scale, failover) as a user runs them: the built
// slotkeeper binary against the real REST server over a FakeClusterService.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/integration/rest/rest_fixture.h"
#include "tests/support/support.h"

namespace sk::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using json = nlohmann::json;

class CliClientTest : public ApiTest {
 protected:
  // Runs `slotkeeper args...` with --server pointing at the test server unless `server` says
  // otherwise; the ambient $SLOTKEEPER_* never leak in.
  CommandResult Run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv = {BinaryPath("slotkeeper")};
    argv.insert(argv.end(), args.begin(), args.end());
    env.emplace("SLOTKEEPER_SERVER", Url());
    env.emplace("SLOTKEEPER_TOKEN", "");
    return RunCommand(argv, std::chrono::seconds(30), dir_.path(), env);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_.Sub(name)) << text;
    return dir_.Sub(name);
  }
  TempDir dir_;
};

TEST_F(CliClientTest, GetClustersTableJsonYaml) {
  auto empty = Run({"get", "clusters"});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_THAT(empty.err, HasSubstr("No clusters found"));
  fake_.AddCluster("demo");
  auto table = Run({"get", "clusters"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, StartsWith("NAME "));
  EXPECT_THAT(table.out, HasSubstr("PHASE"));
  EXPECT_THAT(table.out, HasSubstr("\ndemo "));
  EXPECT_THAT(table.out, HasSubstr("Ready"));
  auto j = Run({"get", "clusters", "-o", "json"});
  ASSERT_EQ(j.exit_code, 0);
  EXPECT_EQ(json::parse(j.out)[0]["name"], "demo");
  auto y = Run({"get", "cluster", "demo", "-o", "yaml"});
  ASSERT_EQ(y.exit_code, 0);
  EXPECT_THAT(y.out, StartsWith("apiVersion: slotkeeper.io/v1alpha1\nkind: RedisCluster\n"));
  EXPECT_THAT(y.out, HasSubstr("phase: Ready"));
}

TEST_F(CliClientTest, GetClusterNodesSlots) {
  fake_.AddCluster("demo");
  auto c = Run({"get", "cluster", "demo", "-o", "json"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  json doc = json::parse(c.out);
  EXPECT_EQ(doc["metadata"]["name"], "demo");
  EXPECT_EQ(doc["status"]["slotsOk"], 16384);
  auto one = Run({"get", "cluster", "demo"});
  EXPECT_THAT(one.out, HasSubstr("SLOTS-OK"));
  EXPECT_THAT(one.out, HasSubstr("16384"));
  auto nodes = Run({"get", "nodes", "demo"});
  ASSERT_EQ(nodes.exit_code, 0) << nodes.err;
  EXPECT_THAT(nodes.out, StartsWith("ID "));
  EXPECT_THAT(nodes.out, HasSubstr("127.0.0.1:7003"));
  EXPECT_THAT(nodes.out, HasSubstr("replica"));
  EXPECT_THAT(nodes.out, HasSubstr("0-5460"));
  auto slots = Run({"get", "slots", "demo"});
  ASSERT_EQ(slots.exit_code, 0) << slots.err;
  EXPECT_THAT(slots.out, StartsWith("START "));
  EXPECT_THAT(slots.out, HasSubstr("5460"));
  auto slots_json = Run({"get", "slots", "demo", "-o", "json"});
  EXPECT_EQ(json::parse(slots_json.out).size(), 3u);
  auto missing = Run({"get", "cluster", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("nope"));
  EXPECT_EQ(Run({"get", "pods"}).exit_code, 2);
  EXPECT_EQ(Run({"get", "clusters", "-o", "xml"}).exit_code, 2);
}

TEST_F(CliClientTest, ApplyCreatesThenReplaces) {
  const std::string spec = Write("demo.yaml", SpecYaml("demo"));
  auto created = Run({"apply", "-f", spec});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(created.out, HasSubstr("demo created"));
  const std::string bigger = Write("demo4.yaml", SpecYaml("demo", 4));
  auto replaced = Run({"apply", "-f", bigger});
  ASSERT_EQ(replaced.exit_code, 0) << replaced.err;
  EXPECT_THAT(replaced.out, HasSubstr("demo configured"));
  EXPECT_EQ(fake_.last_spec()->masters, 4);
}

TEST_F(CliClientTest, ApplyTakesAFileSavedFromGet) {
  fake_.AddCluster("demo");
  auto saved = Run({"get", "cluster", "demo", "-o", "yaml"});
  ASSERT_EQ(saved.exit_code, 0);
  std::string text = saved.out;
  const std::string from = "masters: 3";
  text.replace(text.find(from), from.size(), "masters: 5");
  auto r = Run({"apply", "-f", Write("saved.yaml", text)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(fake_.last_spec()->masters, 5);
}

TEST_F(CliClientTest, ApplyOfAnInvalidSpecExits2) {
  auto r = Run({"apply", "-f", Write("bad.yaml", SpecYaml("demo", 2))});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("spec.masters"));
  auto typo = Run({"apply", "-f", Write("typo.yaml", SpecYaml("demo") + "  mastres: 1\n")});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_THAT(typo.err, HasSubstr("spec.mastres"));
  EXPECT_FALSE(fake_.last_spec().has_value());  // refused before anything was sent
  EXPECT_EQ(Run({"apply"}).exit_code, 2);
  EXPECT_EQ(Run({"apply", "-f", dir_.Sub("missing.yaml")}).exit_code, 1);
}

TEST_F(CliClientTest, ScaleWaitPrintsPlainProgressWhenNotATerminal) {
  fake_.AddCluster("demo");
  auto r = Run({"scale", "demo", "--masters", "4", "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("operation op-000001 started"));
  EXPECT_THAT(r.out, HasSubstr("25% (1024/4096 slots"));
  EXPECT_THAT(r.out, HasSubstr("succeeded"));
  EXPECT_THAT(r.out, Not(HasSubstr("\r")));  // no bar in a pipe
  EXPECT_EQ(fake_.last_scale()->masters, 4);
  EXPECT_FALSE(fake_.last_scale()->replicas_per_master.has_value());
  // Without --wait it returns at once; a second one conflicts with the first.
  fake_.AddCluster("two");
  EXPECT_EQ(Run({"scale", "two", "--replicas", "2"}).exit_code, 0);
  auto busy = Run({"scale", "two", "--replicas", "3"});
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_THAT(busy.err, HasSubstr("running"));
  EXPECT_EQ(Run({"scale", "two"}).exit_code, 2);
  EXPECT_EQ(Run({"scale", "two", "--masters", "x"}).exit_code, 2);
  auto small = Run({"scale", "demo", "--masters", "2"});
  EXPECT_EQ(small.exit_code, 2);
  EXPECT_THAT(small.err, HasSubstr("at least 3"));
}

TEST_F(CliClientTest, Failover) {
  fake_.AddCluster("demo");
  auto r = Run({"failover", "demo", "--node", "127.0.0.1:7003"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("operation op-"));
  fake_.AddCluster("two");
  auto unknown = Run({"failover", "two", "--node", "10.9.9.9:1"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("no node 10.9.9.9:1"));
  EXPECT_EQ(Run({"failover", "two"}).exit_code, 2);
}

TEST_F(CliClientTest, UnreachableServerSaysSo) {
  const std::string url = Url();
  Stop();
  auto r = Run({"get", "clusters"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot reach slotkeeper at " + url +
                               ": connection refused; is "
                               "`slotkeeper up` running?"));
  auto https = Run({"get", "clusters", "--server", "https://127.0.0.1:1"});
  EXPECT_EQ(https.exit_code, 2);
  EXPECT_THAT(https.err, HasSubstr("only http://"));
}

TEST_F(CliClientTest, TokenFromFileOrEnvironment) {
  const std::string token = "t0ken-for-the-cli";
  Start({.token = token});
  fake_.AddCluster("demo");
  auto none = Run({"scale", "demo", "--masters", "4"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("the server wants a token: --token-file or $SLOTKEEPER_TOKEN"));
  auto wrong = Run({"scale", "demo", "--masters", "4"}, {{"SLOTKEEPER_TOKEN", "nope"}});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_THAT(wrong.err, HasSubstr("refused the token from $SLOTKEEPER_TOKEN"));
  EXPECT_THAT(wrong.err, Not(HasSubstr("nope")));
  EXPECT_EQ(Run({"scale", "demo", "--masters", "4"}, {{"SLOTKEEPER_TOKEN", token}}).exit_code, 0);
  fake_.AddCluster("two");
  const std::string file = Write("token", token + "\n");
  EXPECT_EQ(Run({"scale", "two", "--masters", "4", "--token-file", file}).exit_code, 0);
  // Reads need no token.
  EXPECT_EQ(Run({"get", "clusters"}).exit_code, 0);
}

TEST_F(CliClientTest, ServerFlagWinsOverTheEnvironment) {
  fake_.AddCluster("demo");
  auto r =
      Run({"get", "clusters", "--server", Url()}, {{"SLOTKEEPER_SERVER", "http://127.0.0.1:1"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto env_only = Run({"get", "clusters"}, {{"SLOTKEEPER_SERVER", "http://127.0.0.1:1"}});
  EXPECT_EQ(env_only.exit_code, 1);
  EXPECT_THAT(env_only.err, HasSubstr("http://127.0.0.1:1"));
}

}  // namespace
}  // namespace sk::testing
