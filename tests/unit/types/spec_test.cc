#include "api/types/spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

namespace sk {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

ClusterSpec ValidSpec() {
  ClusterSpec spec;
  spec.name = "demo";
  return spec;
}

std::vector<std::string> Problems(const ClusterSpec& spec) {
  Status status = Validate(spec);
  if (status.ok()) return {};
  EXPECT_EQ(status.error().code(), Code::kInvalidArgument);
  return status.error().fields();
}

TEST(ValidateTest, DefaultsWithANameAreValid) {
  Status status = Validate(ValidSpec());
  EXPECT_TRUE(status.ok()) << status.error().message();
}

TEST(ValidateTest, ValidVariants) {
  const std::vector<std::function<void(ClusterSpec&)>> cases = {
      [](ClusterSpec& s) {
        s.slots.weights = {2, 1, 1};
      },
      [](ClusterSpec& s) {
        s.slots.ranges = {{{0, 8191}}, {{8192, 12287}}, {{12288, 16383}}};
      },
      [](ClusterSpec& s) {
        s.slots.ranges = {{{0, 99}, {200, 5460}}, {{100, 199}, {5461, 10922}}, {{10923, 16383}}};
      },
      [](ClusterSpec& s) { s.replicas_per_master = 0; },
      [](ClusterSpec& s) { s.masters = 500; },  // 1000 nodes, the maximum
      [](ClusterSpec& s) { s.redis.maxmemory = "256mb"; },
      [](ClusterSpec& s) { s.redis.maxmemory = "1GB"; },
      [](ClusterSpec& s) { s.redis.maxmemory = "1048576"; },
      [](ClusterSpec& s) {
        s.redis.config = {{"maxmemory-policy", "noeviction"}, {"save", ""}};
      },
      [](ClusterSpec& s) { s.auth = AuthSpec{"./secrets/demo.pass"}; },
      [](ClusterSpec& s) {
        s.local = {"10.1.2.3", 30000, "/var/lib/slotkeeper"};
      },
      [](ClusterSpec& s) { s.local.base_port = 65535 - 10000 - 5; },  // last bus port 65535
      [](ClusterSpec& s) {
        s.hosts = {{"http://10.0.0.1:7071", "a"}, {"https://h2:7071/", ""}};
      },
      [](ClusterSpec& s) { s.name = std::string(40, 'a'); },
      [](ClusterSpec& s) { s.redis.node_timeout_ms = 100; },
      [](ClusterSpec& s) { s.redis.node_timeout_ms = 3600000; },
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    ClusterSpec spec = ValidSpec();
    cases[i](spec);
    Status status = Validate(spec);
    EXPECT_TRUE(status.ok()) << "case " << i << ": " << status.error().message();
  }
}

struct BadCase {
  std::string rule;
  std::function<void(ClusterSpec&)> mutate;
  std::string path;     // the problem must start with "<path>: "
  std::string message;  // and contain this
};

// One case per value rule of CONTRACT.md section 1: each must be refused with a problem that
// names the field.
TEST(ValidateTest, EachRuleNamesTheField) {
  const std::vector<BadCase> cases = {
      {"apiVersion", [](ClusterSpec& s) { s.api_version = "v1"; }, "apiVersion",
       "must be slotkeeper.io/v1alpha1"},
      {"kind", [](ClusterSpec& s) { s.kind = "Deployment"; }, "kind", "must be RedisCluster"},
      {"name required", [](ClusterSpec& s) { s.name = ""; }, "metadata.name", "is required"},
      {"name chars", [](ClusterSpec& s) { s.name = "Demo_1"; }, "metadata.name", "[a-z0-9-]"},
      {"name length", [](ClusterSpec& s) { s.name = std::string(41, 'a'); }, "metadata.name",
       "1..40"},
      {"masters", [](ClusterSpec& s) { s.masters = 2; }, "spec.masters",
       "majority of masters to fail over"},
      {"replicas", [](ClusterSpec& s) { s.replicas_per_master = -1; }, "spec.replicasPerMaster",
       "at least 0"},
      {"node count",
       [](ClusterSpec& s) {
         s.masters = 334;
         s.replicas_per_master = 2;
       },
       "spec.masters", "1002 nodes, more than the maximum of 1000"},
      {"weights and ranges",
       [](ClusterSpec& s) {
         s.slots.weights = {1, 1, 1};
         s.slots.ranges = {{{0, 16383}}, {}, {}};
       },
       "spec.slots", "exclude each other"},
      {"weights count",
       [](ClusterSpec& s) {
         s.slots.weights = {1, 1};
       },
       "spec.slots.weights", "has 2 entries, expected one per master (3)"},
      {"weight positive",
       [](ClusterSpec& s) {
         s.slots.weights = {1, 0, 1};
       },
       "spec.slots.weights[1]", "finite number > 0, got 0"},
      {"weight finite",
       [](ClusterSpec& s) {
         s.slots.weights = {1, 1, std::numeric_limits<double>::infinity()};
       },
       "spec.slots.weights[2]", "finite number > 0"},
      {"weight gives slots",
       [](ClusterSpec& s) {
         s.slots.weights = {1, 1, 1e-9};
       },
       "spec.slots.weights[2]", "gives master 2 no slots"},
      {"ranges count",
       [](ClusterSpec& s) {
         s.slots.ranges = {{{0, 8191}}, {{8192, 16383}}};
       },
       "spec.slots.ranges", "has 2 lists, expected one per master (3)"},
      {"ranges list empty",
       [](ClusterSpec& s) {
         s.slots.ranges = {{{0, 16383}}, {}, {}};
       },
       "spec.slots.ranges[1]", "is empty"},
      {"range bounds",
       [](ClusterSpec& s) {
         s.slots.ranges = {{{0, 8191}}, {{8192, 16383}}, {{16000, 16384}}};
       },
       "spec.slots.ranges[2][0]", "16000-16384 is outside 0..16383"},
      {"range order",
       [](ClusterSpec& s) {
         s.slots.ranges = {{{0, 8191}}, {{8192, 16383}}, {{10, 5}}};
       },
       "spec.slots.ranges[2][0]", "10-5 starts after it ends"},
      {"ranges gap",
       [](ClusterSpec& s) {
         s.slots.ranges = {{{0, 5460}}, {{5471, 10922}}, {{10923, 16383}}};
       },
       "spec.slots.ranges", "slots 5461-5470 are not covered"},
      {"ranges overlap",
       [](ClusterSpec& s) {
         s.slots.ranges = {{{0, 5460}}, {{100, 200}, {5461, 10922}}, {{10923, 16383}}};
       },
       "spec.slots.ranges[1][0]", "slots 100-200 are also assigned by spec.slots.ranges[0][0]"},
      {"nodeTimeoutMs low", [](ClusterSpec& s) { s.redis.node_timeout_ms = 99; },
       "spec.redis.nodeTimeoutMs", "between 100 and 3600000"},
      {"nodeTimeoutMs high", [](ClusterSpec& s) { s.redis.node_timeout_ms = 3600001; },
       "spec.redis.nodeTimeoutMs", "between 100 and 3600000"},
      {"replicaValidityFactor", [](ClusterSpec& s) { s.redis.replica_validity_factor = -1; },
       "spec.redis.replicaValidityFactor", "at least 0"},
      {"migrationBarrier", [](ClusterSpec& s) { s.redis.migration_barrier = -1; },
       "spec.redis.migrationBarrier", "at least 0"},
      {"maxmemory", [](ClusterSpec& s) { s.redis.maxmemory = "lots"; }, "spec.redis.maxmemory",
       "optional unit"},
      {"maxmemory unit", [](ClusterSpec& s) { s.redis.maxmemory = "1tb"; }, "spec.redis.maxmemory",
       "got \"1tb\""},
      {"config key",
       [](ClusterSpec& s) {
         s.redis.config = {{"MaxMemory-Policy", "x"}};
       },
       "spec.redis.config", "\"MaxMemory-Policy\" must be lowercase"},
      {"config value newline",
       [](ClusterSpec& s) {
         s.redis.config = {{"maxmemory-policy", "noeviction\nport 1"}};
       },
       "spec.redis.config.maxmemory-policy", "must not contain a newline"},
      {"config value NUL",
       [](ClusterSpec& s) {
         s.redis.config = {{"loglevel", std::string("a\0b", 3)}};
       },
       "spec.redis.config.loglevel", "NUL"},
      {"config owned",
       [](ClusterSpec& s) {
         s.redis.config = {{"port", "6379"}};
       },
       "spec.redis.config.port", "owned by slotkeeper (node i listens on spec.local.basePort + i)"},
      {"config typed",
       [](ClusterSpec& s) {
         s.redis.config = {{"cluster-node-timeout", "1000"}};
       },
       "spec.redis.config.cluster-node-timeout", "set spec.redis.nodeTimeoutMs instead"},
      {"config duplicate",
       [](ClusterSpec& s) {
         s.redis.config = {{"loglevel", "debug"}, {"loglevel", "warning"}};
       },
       "spec.redis.config.loglevel", "more than once"},
      {"passwordFile", [](ClusterSpec& s) { s.auth = AuthSpec{}; }, "spec.auth.passwordFile",
       "is required"},
      {"local and hosts",
       [](ClusterSpec& s) {
         s.local_given = true;
         s.hosts = {{"http://10.0.0.1:7071", ""}};
       },
       "spec.hosts", "spec.local and spec.hosts exclude each other"},
      {"bind", [](ClusterSpec& s) { s.local.bind = "localhost"; }, "spec.local.bind",
       "IPv4 address"},
      {"bind octet", [](ClusterSpec& s) { s.local.bind = "127.0.0.256"; }, "spec.local.bind",
       "IPv4 address"},
      {"basePort", [](ClusterSpec& s) { s.local.base_port = 0; }, "spec.local.basePort",
       "between 1 and 65535"},
      {"bus port", [](ClusterSpec& s) { s.local.base_port = 60000; }, "spec.local.basePort",
       "70005, is above 65535"},
      {"dataDir", [](ClusterSpec& s) { s.local.data_dir = ""; }, "spec.local.dataDir",
       "is required"},
      {"agent",
       [](ClusterSpec& s) {
         s.hosts = {{"10.0.0.1:7071", ""}};
       },
       "spec.hosts[0].agent", "http://HOST:PORT"},
      {"agent port",
       [](ClusterSpec& s) {
         s.hosts = {{"http://10.0.0.1", ""}};
       },
       "spec.hosts[0].agent", "http://HOST:PORT"},
      {"agent duplicate",
       [](ClusterSpec& s) {
         s.hosts = {{"http://h:1", ""}, {"http://h:1", ""}};
       },
       "spec.hosts[1].agent", "same agent as spec.hosts[0]"},
      {"zone",
       [](ClusterSpec& s) {
         s.hosts = {{"http://h:1", "Zone A"}};
       },
       "spec.hosts[0].zone", "[a-z0-9-]*"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.rule);
    ClusterSpec spec = ValidSpec();
    c.mutate(spec);
    std::vector<std::string> problems = Problems(spec);
    EXPECT_THAT(problems, Contains(AllOf(StartsWith(c.path + ": "), HasSubstr(c.message))));
  }
}

TEST(ValidateTest, CollectsEveryProblemAndSummarises) {
  ClusterSpec spec = ValidSpec();
  spec.masters = 2;
  spec.redis.node_timeout_ms = 1;
  spec.local.bind = "localhost";
  Status status = Validate(spec);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().fields(),
              ElementsAre(StartsWith("spec.masters: "), StartsWith("spec.redis.nodeTimeoutMs: "),
                          StartsWith("spec.local.bind: ")));
  EXPECT_THAT(status.error().message(),
              AllOf(StartsWith("invalid spec demo: 3 problems: spec.masters: "),
                    HasSubstr("; spec.local.bind: ")));
}

TEST(ValidateTest, SingleProblemSummary) {
  ClusterSpec spec = ValidSpec();
  spec.masters = 1;
  Status status = Validate(spec);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().message(), StartsWith("invalid spec demo: 1 problem: spec.masters"));
}

TEST(ValidateTest, NamesEveryGapAndOverlap) {
  ClusterSpec spec = ValidSpec();
  spec.slots.ranges = {
      {{0, 99}, {50, 60}}, {{200, 300}, {55, 250}}, {{302, 16383}, {16383, 16383}}};
  EXPECT_THAT(Problems(spec),
              ElementsAre("spec.slots.ranges[0][1]: slots 50-60 are also assigned by "
                          "spec.slots.ranges[0][0]",
                          "spec.slots.ranges[1][1]: slots 55-99 are also assigned by "
                          "spec.slots.ranges[0][0]",
                          "spec.slots.ranges[1][1]: slots 200-250 are also assigned by "
                          "spec.slots.ranges[1][0]",
                          "spec.slots.ranges[2][1]: slot 16383 is also assigned by "
                          "spec.slots.ranges[2][0]",
                          "spec.slots.ranges: slot 301 is not covered"));
}

TEST(ValidateTest, ManyOverlapsAreBounded) {
  ClusterSpec spec = ValidSpec();
  spec.slots.ranges = {{}, {{0, 16383}}, {{0, 16383}}};
  for (int i = 0; i < 20000; ++i) spec.slots.ranges[0].push_back({0, 16383});
  std::vector<std::string> problems = Problems(spec);
  EXPECT_LT(problems.size(), 50u);
  EXPECT_THAT(problems, Contains("spec.slots.ranges: more overlapping ranges than listed here"));
}

TEST(ValidateTest, ProblemListIsBounded) {
  ClusterSpec spec = ValidSpec();
  for (int i = 0; i < 50000; ++i) spec.redis.config.emplace_back("Key" + std::to_string(i), "v");
  std::vector<std::string> problems = Problems(spec);
  ASSERT_THAT(problems, SizeIs(101));
  EXPECT_EQ(problems.back(), "spec: 49900 more problems not listed");
}

TEST(ValidateTest, EveryOwnedDirectiveIsRefusedWithItsReason) {
  for (const auto& [key, reason] : OwnedRedisDirectives()) {
    ClusterSpec spec = ValidSpec();
    spec.redis.config = {{key, "x"}};
    EXPECT_THAT(Problems(spec), ElementsAre("spec.redis.config." + key + ": " + reason));
  }
  const auto& owned = OwnedRedisDirectives();
  for (const char* key : {"port", "bind", "dir", "cluster-config-file", "requirepass", "masterauth",
                          "rename-command", "cluster-announce-ip", "include", "appendonly",
                          "maxmemory", "cluster-slave-validity-factor"}) {
    EXPECT_TRUE(owned.count(key)) << key;
  }
  EXPECT_EQ(owned.at("cluster-node-timeout"), "set spec.redis.nodeTimeoutMs instead");
  EXPECT_THAT(owned.at("rename-command"), HasSubstr("CLUSTER, CONFIG, INFO, MIGRATE"));
  EXPECT_FALSE(owned.count("maxmemory-policy"));
}

TEST(ValidateTest, HugeCountsDoNotOverflow) {
  ClusterSpec spec = ValidSpec();
  spec.masters = std::numeric_limits<int>::max();
  spec.replicas_per_master = std::numeric_limits<int>::max();
  EXPECT_THAT(Problems(spec), Contains(HasSubstr("more than the maximum of 1000")));
  EXPECT_TRUE(LocalNodes(spec).empty());
}

TEST(ValidateTest, LocalIsNotCheckedWhenOnlyHostsAreGiven) {
  ClusterSpec spec = ValidSpec();
  spec.local.bind = "not-an-ip";  // left over from defaults handling; unused with hosts
  spec.hosts = {{"http://10.0.0.1:7071", "a"}};
  EXPECT_THAT(Problems(spec), SizeIs(0));
}

TEST(LocalNodesTest, OneNodePerIndex) {
  ClusterSpec spec = ValidSpec();
  spec.local.base_port = 7000;
  std::vector<LocalNode> nodes = LocalNodes(spec);
  ASSERT_THAT(nodes, SizeIs(6));
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(nodes[i].index, i);
    EXPECT_EQ(nodes[i].name, "demo-" + std::to_string(i));
    EXPECT_EQ(nodes[i].ep, (Endpoint{"127.0.0.1", 7000 + i}));
  }
  spec.replicas_per_master = 0;
  EXPECT_THAT(LocalNodes(spec), SizeIs(3));
}

TEST(DesiredSlotsTest, EvenSplitByDefault) { EXPECT_EQ(DesiredSlots(ValidSpec()), EvenSplit(3)); }

TEST(DesiredSlotsTest, WeightsThenRanges) {
  ClusterSpec spec = ValidSpec();
  spec.slots.weights = {2, 1, 1};
  EXPECT_EQ(DesiredSlots(spec), WeightedSplit({2, 1, 1}));
  spec.slots.weights.clear();
  spec.slots.ranges = {{{5461, 10922}}, {{100, 5460}, {0, 99}}, {{10923, 16383}}};
  EXPECT_EQ(DesiredSlots(spec),
            (std::vector<std::vector<SlotRange>>{{{5461, 10922}}, {{0, 5460}}, {{10923, 16383}}}));
}

}  // namespace
}  // namespace sk
