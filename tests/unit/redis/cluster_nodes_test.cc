#include "controller/redis/cluster_nodes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sk::redis {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr const char* kA = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca";
constexpr const char* kB = "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1";
constexpr const char* kC = "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f";

// Printed next to a failed comparison of ranges.
std::string Str(const std::vector<SlotRange>& rs) {
  std::string out;
  for (const SlotRange& r : rs) out += std::to_string(r.start) + "-" + std::to_string(r.end) + " ";
  return out;
}

// CLUSTER NODES of a 3+3 cluster as Redis 7.0 prints it (cluster.c clusterGenNodesDescription),
// seen from node A, with hostnames announced.
constexpr const char* kSixNodes =
    "07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host4 slave "
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected\n"
    "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002,host2 master - 0 "
    "1426238316232 2 connected 5461-10922\n"
    "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003,host3 master - 0 "
    "1426238318243 3 connected 10923-16383\n"
    "6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005,host5 slave "
    "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 0 1426238316232 5 connected\n"
    "824fe116063bc5fcf9f4ffd895bc17aee7731ac3 127.0.0.1:30006@31006,host6 slave "
    "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 0 1426238317741 6 connected\n"
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001,host1 myself,master - 0 0 1 "
    "connected 0-5460\n";

TEST(ParseClusterNodesTest, SixNodeCluster) {
  Result<NodeTable> t = ParseClusterNodes(kSixNodes);
  ASSERT_TRUE(t.ok()) << t.error().message();
  ASSERT_EQ(t->nodes.size(), 6u);
  EXPECT_EQ(t->current_epoch, -1);
  EXPECT_EQ(t->last_vote_epoch, -1);

  const NodeEntry* me = t->Myself();
  ASSERT_NE(me, nullptr);
  EXPECT_EQ(me->id, kA);
  EXPECT_EQ(me->host, "127.0.0.1");
  EXPECT_EQ(me->port, 30001);
  EXPECT_EQ(me->bus_port, 31001);
  EXPECT_EQ(me->hostname, "host1");
  EXPECT_THAT(me->flags, ElementsAre("myself", "master"));
  EXPECT_TRUE(me->IsMaster());
  EXPECT_FALSE(me->IsReplica());
  EXPECT_EQ(me->master_id, "");
  EXPECT_EQ(me->config_epoch, 1);
  EXPECT_TRUE(me->link_connected);
  EXPECT_EQ(me->slots, (std::vector<SlotRange>{{0, 5460}})) << Str(me->slots);

  const NodeEntry* replica = t->Find("07c37dfeb235213a872192d90877d0cd55635b91");
  ASSERT_NE(replica, nullptr);
  EXPECT_TRUE(replica->IsReplica());
  EXPECT_FALSE(replica->IsMyself());
  EXPECT_EQ(replica->master_id, kA);
  EXPECT_EQ(replica->pong_recv, 1426238317239);
  EXPECT_THAT(replica->slots, IsEmpty());

  EXPECT_EQ(t->Find(kC)->slots, (std::vector<SlotRange>{{10923, 16383}}));
  EXPECT_EQ(t->Find("0000000000000000000000000000000000000000"), nullptr);
}

// Everything a NodeEntry holds except id and ping/pong times, on one line, so that a table
// row states its expectation compactly and a failure shows the whole difference.
std::string Summary(const NodeEntry& n) {
  std::string out = "host=" + n.host + " port=" + std::to_string(n.port) +
                    " bus=" + std::to_string(n.bus_port) + " hostname=" + n.hostname + " flags=";
  for (std::size_t i = 0; i < n.flags.size(); ++i) out += (i ? "," : "") + n.flags[i];
  out += " master=" + n.master_id.substr(0, 4) + " epoch=" + std::to_string(n.config_epoch) +
         (n.link_connected ? " connected" : " disconnected") + " slots=";
  for (const SlotRange& r : n.slots) {
    out += std::to_string(r.start) + (r.end != r.start ? "-" + std::to_string(r.end) : "") + ",";
  }
  for (const auto& [slot, id] : n.migrating) {
    out += " [" + std::to_string(slot) + "->" + id.substr(0, 4) + "]";
  }
  for (const auto& [slot, id] : n.importing) {
    out += " [" + std::to_string(slot) + "<-" + id.substr(0, 4) + "]";
  }
  return out;
}

std::string Id(const char* id) { return id; }

// One line in, its summary out. Ids in the summary are shortened to 4 characters.
struct LineCase {
  const char* name;
  std::string line;
  std::string want;
};

// ctest shows this (CMake 3.25 puts the printed parameter into the test name).
void PrintTo(const LineCase& c, std::ostream* os) { *os << c.name; }

class LineTest : public ::testing::TestWithParam<LineCase> {};

TEST_P(LineTest, Parses) {
  const LineCase& c = GetParam();
  Result<NodeTable> t = ParseClusterNodes(c.line);
  ASSERT_TRUE(t.ok()) << t.error().message();
  ASSERT_EQ(t->nodes.size(), 1u);
  EXPECT_EQ(t->nodes[0].id, c.line.substr(0, 40));
  EXPECT_EQ(Summary(t->nodes[0]), c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Redis70, LineTest,
    ::testing::Values(
        LineCase{"PlainMasterNoHostname",
                 Id(kA) + " 10.0.0.1:7000@17000 master - 0 1700000000000 3 connected 0-5460",
                 "host=10.0.0.1 port=7000 bus=17000 hostname= flags=master master= epoch=3 "
                 "connected slots=0-5460,"},
        // A fresh node alone: Redis does not know its own IP yet.
        LineCase{"FreshNodeOwnAddressUnknown",
                 Id(kA) + " :17999@27999 myself,master - 0 0 0 connected",
                 "host= port=17999 bus=27999 hostname= flags=myself,master master= epoch=0 "
                 "connected slots="},
        LineCase{"EmptyHostnameAfterComma",
                 Id(kA) + " 10.0.0.1:7000@17000, master - 0 0 3 connected 7",
                 "host=10.0.0.1 port=7000 bus=17000 hostname= flags=master master= epoch=3 "
                 "connected slots=7,"},
        LineCase{"HostnameSuffix",
                 Id(kB) + " 10.0.0.2:7001@17001,redis-1.example.com slave " + kA +
                     " 0 1700000000000 3 connected",
                 "host=10.0.0.2 port=7001 bus=17001 hostname=redis-1.example.com flags=slave "
                 "master=e7d1 epoch=3 connected slots="},
        LineCase{"LaterAuxFieldsIgnored",
                 Id(kB) + " 10.0.0.2:7001@17001,,shard-id=abc master - 0 0 3 connected",
                 "host=10.0.0.2 port=7001 bus=17001 hostname= flags=master master= epoch=3 "
                 "connected slots="},
        LineCase{"NoAddrHandshakeNoSlots",
                 Id(kC) + " :0@0 handshake,noaddr - 1700000000000 0 0 disconnected",
                 "host= port=0 bus=0 hostname= flags=handshake,noaddr master= epoch=0 "
                 "disconnected slots="},
        LineCase{"PfailMaster",
                 Id(kB) + " 127.0.0.1:7002@17002 master,fail? - 1700000000000 1699999990000 2 "
                          "connected 5461-10922",
                 "host=127.0.0.1 port=7002 bus=17002 hostname= flags=master,fail? master= "
                 "epoch=2 connected slots=5461-10922,"},
        LineCase{"FailedDisconnectedMaster",
                 Id(kB) + " 127.0.0.1:7002@17002 master,fail - 1700000000000 1699999990000 2 "
                          "disconnected",
                 "host=127.0.0.1 port=7002 bus=17002 hostname= flags=master,fail master= "
                 "epoch=2 disconnected slots="},
        LineCase{"NofailoverReplica",
                 Id(kC) + " 127.0.0.1:7005@17005 slave,nofailover " + kB + " 0 1 2 connected",
                 "host=127.0.0.1 port=7005 bus=17005 hostname= flags=slave,nofailover "
                 "master=67ed epoch=2 connected slots="},
        LineCase{"Noflags", Id(kC) + " 127.0.0.1:7006@17006 noflags - 0 0 0 connected",
                 "host=127.0.0.1 port=7006 bus=17006 hostname= flags=noflags master= epoch=0 "
                 "connected slots="},
        LineCase{"SingleSlotsAndRanges",
                 Id(kA) + " 127.0.0.1:7000@17000 myself,master - 0 0 7 connected 0 2-4 9 "
                          "100-200 16383",
                 "host=127.0.0.1 port=7000 bus=17000 hostname= flags=myself,master master= "
                 "epoch=7 connected slots=0,2-4,9,100-200,16383,"},
        LineCase{"Migrating",
                 Id(kA) + " 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460 [5->-" +
                     kB + "] [42->-" + kC + "]",
                 "host=127.0.0.1 port=7000 bus=17000 hostname= flags=myself,master master= "
                 "epoch=1 connected slots=0-5460, [5->67ed] [42->292f]"},
        LineCase{"Importing",
                 Id(kB) +
                     " 127.0.0.1:7001@17001 myself,master - 0 0 2 connected 5461-10922 "
                     "[5-<-" +
                     kA + "]",
                 "host=127.0.0.1 port=7001 bus=17001 hostname= flags=myself,master master= "
                 "epoch=2 connected slots=5461-10922, [5<-e7d1]"},
        LineCase{"OnlyOpenSlots",
                 Id(kB) + " 127.0.0.1:7001@17001 master - 0 0 2 connected [7-<-" + kA + "] [8->-" +
                     kC + "]",
                 "host=127.0.0.1 port=7001 bus=17001 hostname= flags=master master= epoch=2 "
                 "connected slots= [8->292f] [7<-e7d1]"},
        LineCase{"Ipv6WithoutBrackets", Id(kA) + " ::1:7000@17000 master - 0 0 1 connected 1",
                 "host=::1 port=7000 bus=17000 hostname= flags=master master= epoch=1 "
                 "connected slots=1,"},
        LineCase{"Ipv6Full", Id(kA) + " fe80::1:2:3:4:6379@16379,h master - 0 0 1 connected",
                 "host=fe80::1:2:3:4 port=6379 bus=16379 hostname=h flags=master master= "
                 "epoch=1 connected slots="},
        LineCase{"Ipv6Bracketed", Id(kA) + " [::1]:7000@17000 master - 0 0 1 connected",
                 "host=::1 port=7000 bus=17000 hostname= flags=master master= epoch=1 "
                 "connected slots="},
        LineCase{"TrailingCrAndSpaces",
                 Id(kA) + " 127.0.0.1:7000@17000 master - 0 0 1 connected 0-10  \r",
                 "host=127.0.0.1 port=7000 bus=17000 hostname= flags=master master= epoch=1 "
                 "connected slots=0-10,"},
        LineCase{"TabsBetweenFields",
                 Id(kA) + "\t127.0.0.1:7000@17000\tmaster\t-\t0\t0\t1\tconnected\t3",
                 "host=127.0.0.1 port=7000 bus=17000 hostname= flags=master master= epoch=1 "
                 "connected slots=3,"},
        LineCase{"PreRedis4NoBusPort", Id(kA) + " 127.0.0.1:7000 master - 0 0 1 connected",
                 "host=127.0.0.1 port=7000 bus=0 hostname= flags=master master= epoch=1 "
                 "connected slots="}));

TEST(ParseClusterNodesTest, NodesConfWithVarsLine) {
  // nodes-7000.conf as clusterSaveConfig() writes it.
  std::string conf = Id(kB) + " 127.0.0.1:7001@17001 master - 0 1700000000000 2 connected " +
                     "5461-10922\n" + Id(kA) +
                     " 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n" +
                     "vars currentEpoch 6 lastVoteEpoch 4\n";
  Result<NodeTable> t = ParseClusterNodes(conf);
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ(t->nodes.size(), 2u);
  EXPECT_EQ(t->current_epoch, 6);
  EXPECT_EQ(t->last_vote_epoch, 4);
  ASSERT_NE(t->Myself(), nullptr);
  EXPECT_EQ(t->Myself()->id, kA);
}

TEST(ParseClusterNodesTest, EmptyAndBlankTextGiveEmptyTable) {
  for (const char* text : {"", "\n", "\r\n\r\n", "   \n"}) {
    Result<NodeTable> t = ParseClusterNodes(text);
    ASSERT_TRUE(t.ok()) << t.error().message();
    EXPECT_THAT(t->nodes, IsEmpty());
    EXPECT_EQ(t->Myself(), nullptr);
  }
}

TEST(ParseClusterNodesTest, CrlfLinesAndNoFinalNewline) {
  std::string text = Id(kA) + " 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\r\n" +
                     Id(kB) + " 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-16383";
  Result<NodeTable> t = ParseClusterNodes(text);
  ASSERT_TRUE(t.ok()) << t.error().message();
  ASSERT_EQ(t->nodes.size(), 2u);
  EXPECT_EQ(t->nodes[1].slots, (std::vector<SlotRange>{{5461, 16383}}));
}

struct BadCase {
  const char* name;
  std::string text;
  std::string message;  // expected substring of the error
};

// ctest shows this (CMake 3.25 puts the printed parameter into the test name).
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class MalformedTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(MalformedTest, IsInvalidArgumentNamingLineAndProblem) {
  const BadCase& c = GetParam();
  Result<NodeTable> t = ParseClusterNodes(c.text);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code(), Code::kInvalidArgument);
  EXPECT_THAT(t.error().message(), HasSubstr(c.message));
}

const std::string kGood = Id(kA) + " 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n";
const std::string kPrefix = Id(kB) + " 127.0.0.1:7001@17001 master - 0 0 2 connected ";

INSTANTIATE_TEST_SUITE_P(
    Inputs, MalformedTest,
    ::testing::Values(
        BadCase{"TooFewFields", kGood + kGood + Id(kB) + " 127.0.0.1:7001@17001 master - 0\n",
                "line 3: expected at least 8 fields, got 5"},
        BadCase{"SlotTooBig", kGood + kPrefix + "99999\n", "line 2: bad slot range '99999'"},
        BadCase{"Slot16384", kPrefix + "16384", "line 1: bad slot range '16384'"},
        BadCase{"ReversedRange", kPrefix + "10-5", "line 1: bad slot range '10-5'"},
        BadCase{"NegativeSlot", kPrefix + "-5", "line 1: bad slot range '-5'"},
        BadCase{"GarbageSlot", kPrefix + "abc", "line 1: bad slot range 'abc'"},
        BadCase{"RangeMissingEnd", kPrefix + "5-", "line 1: bad slot range '5-'"},
        BadCase{"OpenSlotNoBracket", kPrefix + "[5->-" + kA, "line 1: bad open slot"},
        BadCase{"OpenSlotBadArrow", kPrefix + "[5-x-" + kA + "]", "line 1: bad open slot"},
        BadCase{"OpenSlotShortId", kPrefix + "[5->-abc]", "line 1: bad open slot '[5->-abc]'"},
        BadCase{"ShortNodeId", "abc 127.0.0.1:7000@17000 master - 0 0 1 connected",
                "line 1: bad node id 'abc'"},
        BadCase{"BadMasterId", Id(kA) + " 127.0.0.1:7000@17000 slave xyz 0 0 1 connected",
                "line 1: bad master id 'xyz'"},
        BadCase{"NoPort", Id(kA) + " 127.0.0.1 master - 0 0 1 connected",
                "line 1: missing ':port' in address '127.0.0.1'"},
        BadCase{"PortTooBig", Id(kA) + " 127.0.0.1:70000@17000 master - 0 0 1 connected",
                "line 1: bad port in address"},
        BadCase{"BadBusPort", Id(kA) + " 127.0.0.1:7000@x master - 0 0 1 connected",
                "line 1: bad bus port in address"},
        BadCase{"EmptyFlag", Id(kA) + " 127.0.0.1:7000@17000 master,,slave - 0 0 1 connected",
                "line 1: bad flags 'master,,slave'"},
        BadCase{"BadPingSent", Id(kA) + " 127.0.0.1:7000@17000 master - x 0 1 connected",
                "line 1: bad ping-sent 'x'"},
        BadCase{"BadConfigEpoch", Id(kA) + " 127.0.0.1:7000@17000 master - 0 0 -1 connected",
                "line 1: bad config-epoch '-1'"},
        BadCase{"BadLinkState", Id(kA) + " 127.0.0.1:7000@17000 master - 0 0 1 up 0-5",
                "line 1: bad link state 'up'"},
        BadCase{"BadVarsValue", kGood + "vars currentEpoch x lastVoteEpoch 0",
                "line 2: bad currentEpoch 'x'"},
        BadCase{"OddVars", kGood + "\nvars currentEpoch", "line 3: vars line needs name/value"}));

TEST(ParseInfoTest, ClusterInfo) {
  auto info = ParseInfo(
      "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n"
      "cluster_slots_pfail:0\r\ncluster_known_nodes:6\r\ncluster_current_epoch:6\r\n");
  EXPECT_EQ(info.size(), 6u);
  EXPECT_EQ(info["cluster_state"], "ok");
  EXPECT_EQ(info["cluster_current_epoch"], "6");
}

TEST(ParseInfoTest, SkipsSectionsAndBlanksKeepsColonsInValues) {
  auto info = ParseInfo(
      "# Server\r\nredis_version:7.0.15\r\n\r\n# Replication\r\nrole:slave\r\n"
      "master_host:::1\r\nslave0:ip=127.0.0.1,port=7001,state=online,offset=42,lag=0\r\n"
      "garbage line without colon\r\n");
  EXPECT_THAT(info,
              ElementsAre(Pair("master_host", "::1"), Pair("redis_version", "7.0.15"),
                          Pair("role", "slave"),
                          Pair("slave0", "ip=127.0.0.1,port=7001,state=online,offset=42,lag=0")));
}

TEST(ParseInfoTest, Empty) { EXPECT_THAT(ParseInfo(""), IsEmpty()); }

}  // namespace
}  // namespace sk::redis
