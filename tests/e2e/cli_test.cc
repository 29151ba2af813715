// The small verbs end to end: keyslot, version, render, check, usage errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"

namespace sk::e2e {
namespace {

using ::testing::HasSubstr;
using testing::PortLease;
using testing::RedisCmd;
using testing::RedisProcess;
using testing::TempDir;

TEST(CliTest, KeyslotHonoursHashTags) {
  auto one = Slotkeeper({"keyslot", "foo"});
  EXPECT_EQ(one.exit_code, 0);
  EXPECT_EQ(one.out, "12182\n");
  auto many = Slotkeeper({"keyslot", "{user1000}.following", "{user1000}.followers"});
  EXPECT_EQ(many.out, "{user1000}.following 3443\n{user1000}.followers 3443\n");
  EXPECT_EQ(Slotkeeper({"keyslot"}).exit_code, 2);
}

TEST(CliTest, VersionAndUsage) {
  auto v = Slotkeeper({"version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_THAT(v.out, HasSubstr("slotkeeper "));
  EXPECT_EQ(Slotkeeper({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Slotkeeper({}).exit_code, 2);
  auto bad_opt = Slotkeeper({"up", "--no-such-option"});
  EXPECT_EQ(bad_opt.exit_code, 2);
  EXPECT_THAT(bad_opt.err, HasSubstr("--no-such-option"));
}

TEST(CliTest, RenderWritesConfigsOnly) {
  TempDir dir;
  PortLease ports(6);
  SpecOptions o;
  o.base_port = ports.base();
  o.data_dir = dir.Sub("data");
  std::string spec = WriteSpec(dir.path(), o);
  auto r = Slotkeeper({"render", "-f", spec, "--out", dir.Sub("out")}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int i = 0; i < 6; ++i) {
    std::string port = std::to_string(ports.base() + i);
    std::string conf = dir.Sub("out") + "/t/" + port + "/redis.conf";
    EXPECT_EQ(FileMode(conf), 0600) << conf;
    std::string text = ReadAll(conf);
    EXPECT_THAT(text, HasSubstr("port " + port));
    EXPECT_THAT(text, HasSubstr("cluster-config-file nodes-" + port + ".conf"));
    EXPECT_THAT(text, HasSubstr("dbfilename dump-" + port + ".rdb"));
  }
  EXPECT_FALSE(Exists(o.data_dir));
  EXPECT_EQ(RedisCmd(ports.base(), {"PING"}).rfind("CONNFAIL", 0), 0u);
}

TEST(CliTest, CheckJudgesNodesThatDoNotFormACluster) {
  TempDir dir;
  PortLease ports(3);
  std::vector<std::unique_ptr<RedisProcess>> nodes;
  std::vector<std::string> args = {"check"};
  for (int i = 0; i < 3; ++i) {
    nodes.push_back(std::make_unique<RedisProcess>(ports.base() + i, dir.Sub(std::to_string(i))));
    args.push_back("127.0.0.1:" + std::to_string(ports.base() + i));
  }
  auto r = Slotkeeper(args);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("knows no other node"));
  EXPECT_THAT(r.out, HasSubstr("not covered"));
  // A hand-made healthy 3-master cluster passes.
  RedisCmd(ports.base(), {"CLUSTER", "ADDSLOTSRANGE", "0", "5460"});
  RedisCmd(ports.base() + 1, {"CLUSTER", "ADDSLOTSRANGE", "5461", "10922"});
  RedisCmd(ports.base() + 2, {"CLUSTER", "ADDSLOTSRANGE", "10923", "16383"});
  RedisCmd(ports.base(), {"CLUSTER", "MEET", "127.0.0.1", std::to_string(ports.base() + 1)});
  RedisCmd(ports.base(), {"CLUSTER", "MEET", "127.0.0.1", std::to_string(ports.base() + 2)});
  testing::CommandResult last;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        last = Slotkeeper({"check", "127.0.0.1:" + std::to_string(ports.base())});
        return last.exit_code == 0;
      },
      std::chrono::seconds(30), "check healthy", [&] { return last.out; }));
  EXPECT_THAT(last.out, HasSubstr("3 node(s)"));
  // An open slot makes it unhealthy again.
  std::string id1 = RedisCmd(ports.base() + 1, {"CLUSTER", "MYID"});
  RedisCmd(ports.base(), {"CLUSTER", "SETSLOT", "7", "MIGRATING", id1});
  auto open = Slotkeeper({"check", "127.0.0.1:" + std::to_string(ports.base()), "-o", "json"});
  EXPECT_EQ(open.exit_code, 1);
  EXPECT_THAT(open.out, HasSubstr("slot 7 is MIGRATING"));
  // A node that does not answer at all.
  PortLease empty(1);
  auto gone = Slotkeeper({"check", "127.0.0.1:" + std::to_string(empty.base())});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_THAT(gone.out, HasSubstr("does not answer"));
}

}  // namespace
}  // namespace sk::e2e
