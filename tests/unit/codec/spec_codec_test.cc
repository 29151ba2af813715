#include "api/codec/spec_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace sk::codec {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::StartsWith;

// The spec of CONTRACT.md section 1, with weights.
constexpr std::string_view kFullYaml = R"(apiVersion: slotkeeper.io/v1alpha1
kind: RedisCluster
metadata:
  name: demo
spec:
  masters: 3
  replicasPerMaster: 1
  slots:
    weights: [2, 1, 1]
  redis:
    nodeTimeoutMs: 5000
    appendonly: true
    requireFullCoverage: false
    replicaValidityFactor: 10
    migrationBarrier: 1
    maxmemory: 256mb
    config:
      maxmemory-policy: noeviction
      lazyfree-lazy-eviction: true
      hz: 20
      activedefrag: no
  auth:
    passwordFile: ./secrets/demo.pass
  local:
    bind: 127.0.0.1
    basePort: 7000
    dataDir: ./data
)";

// Parses text that must fail and returns its problems.
std::vector<std::string> Problems(std::string_view text) {
  Result<ClusterSpec> spec = ParseSpec(text);
  if (spec.ok()) {
    ADD_FAILURE() << "parsed but should not have:\n" << text;
    return {};
  }
  EXPECT_EQ(spec.error().code(), Code::kInvalidArgument) << spec.error().message();
  return spec.error().fields();
}

// A valid document whose spec section is `spec_body` (indented by the caller).
std::string WithSpec(std::string_view spec_body) {
  return "apiVersion: slotkeeper.io/v1alpha1\nkind: RedisCluster\nmetadata:\n  name: "
         "demo\nspec:\n" +
         std::string(spec_body);
}

TEST(ParseSpecTest, ReadsEveryField) {
  Result<ClusterSpec> r = ParseSpec(kFullYaml);
  ASSERT_TRUE(r.ok()) << r.error().message();
  const ClusterSpec& s = *r;
  EXPECT_EQ(s.api_version, "slotkeeper.io/v1alpha1");
  EXPECT_EQ(s.kind, "RedisCluster");
  EXPECT_EQ(s.name, "demo");
  EXPECT_EQ(s.masters, 3);
  EXPECT_EQ(s.replicas_per_master, 1);
  EXPECT_THAT(s.slots.weights, ElementsAre(2, 1, 1));
  EXPECT_TRUE(s.slots.ranges.empty());
  EXPECT_EQ(s.redis.node_timeout_ms, 5000);
  EXPECT_TRUE(s.redis.appendonly);
  EXPECT_FALSE(s.redis.require_full_coverage);
  EXPECT_EQ(s.redis.replica_validity_factor, 10);
  EXPECT_EQ(s.redis.migration_barrier, 1);
  EXPECT_EQ(s.redis.maxmemory, "256mb");
  // Document order, booleans as yes/no, numbers as written.
  EXPECT_THAT(s.redis.config, ElementsAre(Pair("maxmemory-policy", "noeviction"),
                                          Pair("lazyfree-lazy-eviction", "yes"), Pair("hz", "20"),
                                          Pair("activedefrag", "no")));
  ASSERT_TRUE(s.auth.has_value());
  EXPECT_EQ(s.auth->password_file, "./secrets/demo.pass");
  EXPECT_TRUE(s.local_given);
  EXPECT_EQ(s.local.bind, "127.0.0.1");
  EXPECT_EQ(s.local.base_port, 7000);
  EXPECT_EQ(s.local.data_dir, "./data");
  EXPECT_TRUE(s.hosts.empty());
}

TEST(ParseSpecTest, JsonReadsLikeYaml) {
  constexpr std::string_view kJson = R"(
  {"apiVersion": "slotkeeper.io/v1alpha1", "kind": "RedisCluster",
   "metadata": {"name": "demo", "labels": {"team": "cache"}},
   "spec": {"masters": 4, "replicasPerMaster": 0,
            "slots": {"ranges": [["0-4095"], ["4096-8191"], [8192, "8193-12287"],
                                 ["12288-16383"]]},
            "redis": {"maxmemory": 268435456,
                      "config": {"save": "", "hz": 10, "lazyfree-lazy-user-del": false}},
            "hosts": [{"agent": "http://10.0.0.1:7071", "zone": "a"},
                      {"agent": "https://h2:7071"}]}})";
  Result<ClusterSpec> r = ParseSpec(kJson);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->masters, 4);
  EXPECT_EQ(r->replicas_per_master, 0);
  ASSERT_THAT(r->slots.ranges, SizeIs(4));
  EXPECT_THAT(r->slots.ranges[2], ElementsAre(SlotRange{8192, 8192}, SlotRange{8193, 12287}));
  EXPECT_EQ(r->redis.maxmemory, "268435456");
  EXPECT_THAT(r->redis.config, ElementsAre(Pair("save", ""), Pair("hz", "10"),
                                           Pair("lazyfree-lazy-user-del", "no")));
  EXPECT_FALSE(r->local_given);
  ASSERT_THAT(r->hosts, SizeIs(2));
  EXPECT_EQ(r->hosts[0].agent, "http://10.0.0.1:7071");
  EXPECT_EQ(r->hosts[0].zone, "a");
  EXPECT_EQ(r->hosts[1].zone, "");
}

TEST(ParseSpecTest, OmittedFieldsTakeTheirDefaults) {
  Result<ClusterSpec> r = ParseSpec("metadata:\n  name: small\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ClusterSpec want;
  want.name = "small";
  EXPECT_EQ(SpecToJson(*r), SpecToJson(want));
  EXPECT_FALSE(r->local_given);
  EXPECT_FALSE(r->auth.has_value());
  EXPECT_FALSE(r->redis.maxmemory.has_value());
  // `field:` with no value is "not given", as in Kubernetes.
  Result<ClusterSpec> nulls = ParseSpec(WithSpec("  masters:\n  redis:\n  local: ~\n"));
  ASSERT_TRUE(nulls.ok()) << nulls.error().message();
  EXPECT_EQ(nulls->masters, 3);
  EXPECT_FALSE(nulls->local_given);
}

TEST(ParseSpecTest, BooleanWordsAndExplicitTags) {
  Result<ClusterSpec> r =
      ParseSpec(WithSpec("  masters: !!int 5\n  redis:\n    appendonly: no\n"
                         "    requireFullCoverage: Yes\n"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->masters, 5);
  EXPECT_FALSE(r->redis.appendonly);
  EXPECT_TRUE(r->redis.require_full_coverage);
}

TEST(ParseSpecTest, MalformedYamlHasLineAndColumn) {
  std::vector<std::string> p = Problems("metadata:\n  name: demo\nspec:\n  masters: [3\n  x: 1\n");
  ASSERT_THAT(p, SizeIs(1));
  EXPECT_THAT(p[0], AllOf(StartsWith("spec: malformed YAML at line "), HasSubstr(", column ")));
}

TEST(ParseSpecTest, MalformedJsonHasLineAndColumn) {
  std::vector<std::string> p =
      Problems("{\n  \"metadata\": {\"name\": \"demo\"},\n  \"spec\": }\n");
  ASSERT_THAT(p, SizeIs(1));
  EXPECT_THAT(p[0], StartsWith("spec: malformed JSON at line 3, column 11: "));
}

TEST(ParseSpecTest, DocumentShapeProblems) {
  EXPECT_THAT(Problems(""), ElementsAre("spec: the document is empty"));
  EXPECT_THAT(Problems("  \n# only a comment\n"), ElementsAre("spec: the document is empty"));
  EXPECT_THAT(Problems("- a\n- b\n"),
              ElementsAre(StartsWith("spec (line 1): expected a map with apiVersion")));
  EXPECT_THAT(Problems("just text"), ElementsAre(HasSubstr("got \"just text\"")));
  EXPECT_THAT(Problems("metadata: {name: a}\n---\nmetadata: {name: b}\n"),
              ElementsAre(HasSubstr("expected one document, got 2")));
}

TEST(ParseSpecTest, WrongTypesNameFieldAndLine) {
  struct Case {
    std::string body;
    std::string problem;
  };
  const Case cases[] = {
      {"  masters: three\n", "spec.masters (line 6): expected an integer, got \"three\""},
      {"  masters: 3.5\n", "spec.masters (line 6): expected an integer, got 3.5"},
      {"  masters: \"3\"\n", "spec.masters (line 6): expected an integer, got \"3\""},
      {"  masters: [3]\n", "spec.masters (line 6): expected an integer, got a list"},
      {"  masters: 99999999999\n", "spec.masters (line 6): integer 99999999999 is out of range"},
      {"  replicasPerMaster: true\n",
       "spec.replicasPerMaster (line 6): expected an integer, got true"},
      {"  redis:\n    appendonly: maybe\n",
       "spec.redis.appendonly (line 7): expected true or false, got \"maybe\""},
      {"  redis:\n    requireFullCoverage: \"true\"\n",
       "spec.redis.requireFullCoverage (line 7): expected true or false, got \"true\""},
      {"  redis:\n    nodeTimeoutMs: {a: 1}\n",
       "spec.redis.nodeTimeoutMs (line 7): expected an integer, got a map"},
      {"  redis:\n    maxmemory: [1]\n",
       "spec.redis.maxmemory (line 7): expected a string, got a list"},
      {"  redis: 5\n", "spec.redis (line 6): expected a map, got 5"},
      {"  slots:\n    weights: 2,1,1\n",
       "spec.slots.weights (line 7): expected a list of numbers, one per master, got \"2,1,1\""},
      {"  slots:\n    weights: [2, x, 1]\n",
       "spec.slots.weights[1] (line 7): expected a number, got \"x\""},
      {"  slots:\n    ranges: [\"0-16383\"]\n",
       "spec.slots.ranges[0] (line 7): expected a list of slot ranges for master 0"},
      {"  slots:\n    ranges: [[\"0-5460\"], [\"5461-x\"], [\"10923-16383\"]]\n",
       "spec.slots.ranges[1][0] (line 7): invalid slot range \"5461-x\""},
      {"  slots:\n    ranges: [[\"0-5460\"], [{a: 1}], [\"10923-16383\"]]\n",
       "spec.slots.ranges[1][0] (line 7): expected a slot range"},
      {"  auth: ./pass\n", "spec.auth (line 6): expected a map, got \"./pass\""},
      {"  local:\n    basePort: \"7000\"\n",
       "spec.local.basePort (line 7): expected an integer, got \"7000\""},
      {"  local:\n    dataDir: [a]\n",
       "spec.local.dataDir (line 7): expected a string, got a list"},
      {"  hosts: http://h:1\n", "spec.hosts (line 6): expected a list of {agent, zone}"},
      {"  hosts: []\n", "spec.hosts (line 6): must list at least one agent"},
      {"  hosts:\n    - http://h:1\n",
       "spec.hosts[0] (line 7): expected a map, got \"http://h:1\""},
      {"  redis:\n    config:\n      save: [900, 1]\n",
       "spec.redis.config.save (line 8): expected a single value, got a list"},
      {"  redis:\n    config:\n      notify-keyspace-events:\n",
       "spec.redis.config.notify-keyspace-events (line 8): expected a value; write \"\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    EXPECT_THAT(Problems(WithSpec(c.body)), ElementsAre(StartsWith(c.problem)));
  }
}

TEST(ParseSpecTest, WrongTypesInJsonHaveLines) {
  std::vector<std::string> p = Problems(
      "{\n  \"metadata\": {\"name\": \"demo\"},\n  \"spec\": {\n    \"masters\": \"3\",\n"
      "    \"redis\": {\"appendonly\": 1}\n  }\n}\n");
  EXPECT_THAT(p, ElementsAre("spec.masters (line 4): expected an integer, got \"3\"",
                             "spec.redis.appendonly (line 5): expected true or false, got 1"));
}

TEST(ParseSpecTest, UnknownFieldsSuggestTheClosestName) {
  struct Case {
    std::string text;
    std::string problem;
  };
  const Case cases[] = {
      {WithSpec("  masters: 3\n  replicas: 1\n"),
       "spec.replicas (line 7): unknown field; did you mean replicasPerMaster?"},
      {WithSpec("  mastrs: 3\n"), "spec.mastrs (line 6): unknown field; did you mean masters?"},
      {WithSpec("  redis:\n    nodeTimeout: 100\n"),
       "spec.redis.nodeTimeout (line 7): unknown field; did you mean nodeTimeoutMs?"},
      {WithSpec("  local:\n    datadir: /tmp\n"),
       "spec.local.datadir (line 7): unknown field; did you mean dataDir?"},
      {WithSpec("  slots:\n    weight: [1, 1, 1]\n"),
       "spec.slots.weight (line 7): unknown field; did you mean weights?"},
      {"metdata:\n  name: demo\n", "metdata (line 1): unknown field; did you mean metadata?"},
      {"metadata:\n  name: demo\n  namespace: prod\n",
       "metadata.namespace (line 3): unknown field"},
      {WithSpec("  zookeeper: true\n"), "spec.zookeeper (line 6): unknown field"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    std::vector<std::string> p = Problems(c.text);
    EXPECT_THAT(p, Contains(c.problem));
  }
  EXPECT_THAT(Problems(WithSpec("  zookeeper: true\n")),
              ElementsAre("spec.zookeeper (line 6): unknown field"));
}

TEST(ParseSpecTest, DuplicateKeys) {
  EXPECT_THAT(Problems(WithSpec("  masters: 3\n  replicasPerMaster: 1\n  masters: 4\n")),
              ElementsAre("spec.masters (line 8): duplicate key; first given at line 6"));
  EXPECT_THAT(Problems(WithSpec("  redis:\n    config:\n      hz: 10\n      hz: 20\n")),
              ElementsAre(StartsWith("spec.redis.config.hz (line 9): duplicate key")));
  EXPECT_THAT(Problems(R"({"metadata": {"name": "a", "name": "b"}})"),
              ElementsAre(StartsWith("metadata.name (line 1): duplicate key")));
}

TEST(ParseSpecTest, NameIsRequired) {
  EXPECT_THAT(Problems("spec:\n  masters: 3\n"), ElementsAre("metadata.name: is required"));
  EXPECT_THAT(Problems("metadata:\n  labels: {a: b}\n"), ElementsAre("metadata.name: is required"));
  // A metadata of the wrong type is reported once, not also as a missing name.
  EXPECT_THAT(Problems("metadata: demo\n"),
              ElementsAre("metadata (line 1): expected a map, got \"demo\""));
}

TEST(ParseSpecTest, LabelsAndAnnotationsAreAcceptedAndIgnored) {
  Result<ClusterSpec> r = ParseSpec(
      "metadata:\n  name: demo\n  labels:\n    team: cache\n  annotations:\n    note: \"x: y\"\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_THAT(Problems("metadata:\n  name: demo\n  labels:\n    team: [a]\n"),
              ElementsAre("metadata.labels.team (line 4): expected a string, got a list"));
}

TEST(ParseSpecTest, ValueProblemsComeFromValidate) {
  std::vector<std::string> p =
      Problems(WithSpec("  masters: 2\n  local:\n    bind: localhost\n    basePort: 0\n"));
  EXPECT_THAT(p, ElementsAre(StartsWith("spec.masters: must be at least 3, got 2"),
                             StartsWith("spec.local.bind: must be an IPv4 address"),
                             StartsWith("spec.local.basePort: must be between 1 and 65535")));
  EXPECT_THAT(Problems("metadata:\n  name: Demo\n"),
              ElementsAre(StartsWith("metadata.name: must be 1..40 characters")));
  EXPECT_THAT(Problems(WithSpec("  redis:\n    config:\n      port: 6379\n")),
              ElementsAre("spec.redis.config.port: owned by slotkeeper (node i listens on "
                          "spec.local.basePort + i)"));
  EXPECT_THAT(Problems(WithSpec("  local: {}\n  hosts:\n    - agent: http://h:1\n")),
              ElementsAre(StartsWith("spec.hosts: spec.local and spec.hosts exclude each other")));
  EXPECT_THAT(Problems(WithSpec("  slots:\n    ranges: [[\"0-5460\"], [\"5471-10922\"], "
                                "[\"10923-16383\"]]\n")),
              ElementsAre("spec.slots.ranges: slots 5461-5470 are not covered"));
  EXPECT_THAT(Problems(WithSpec("  auth: {}\n")),
              ElementsAre(StartsWith("spec.auth.passwordFile: is required")));
}

TEST(ParseSpecTest, TypeAndValueProblemsTogetherWithoutRepeats) {
  // nodeTimeoutMs is unreadable: reported once, by type. bind is readable but invalid.
  std::vector<std::string> p =
      Problems(WithSpec("  redis:\n    nodeTimeoutMs: soon\n  local:\n    bind: localhost\n"));
  EXPECT_THAT(p, ElementsAre(StartsWith("spec.redis.nodeTimeoutMs (line 7): expected an integer"),
                             StartsWith("spec.local.bind: must be an IPv4 address")));
  // A bad range item is not reported again as a gap.
  EXPECT_THAT(Problems(WithSpec("  slots:\n    ranges: [[\"0-5460\"], [\"5461-99999\"], "
                                "[\"10923-16383\"]]\n")),
              ElementsAre(StartsWith("spec.slots.ranges[1][0] (line 7): invalid slot range")));
  // An unreadable master count would make every count-based check lie; only it is reported.
  EXPECT_THAT(Problems(WithSpec("  masters: four\n  slots:\n    weights: [1, 1, 1, 1]\n")),
              ElementsAre(StartsWith("spec.masters (line 6)")));
}

TEST(ParseSpecTest, ErrorMessageSummarisesAllProblems) {
  Result<ClusterSpec> r = ParseSpec(WithSpec("  masters: 2\n  replicas: 1\n  mastrs: 1\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_THAT(r.error().fields(), SizeIs(2));
  EXPECT_EQ(r.error().message(),
            "invalid spec demo: 2 problems: spec.replicas (line 7): unknown field; did you mean "
            "replicasPerMaster?; spec.mastrs (line 8): unknown field; did you mean masters?");
  Result<ClusterSpec> one = ParseSpec("spec: {}\n");
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.error().message(), "invalid spec: 1 problem: metadata.name: is required");
}

TEST(ParseSpecTest, RangesAcceptStringsAndIntegers) {
  Result<ClusterSpec> r = ParseSpec(
      WithSpec("  slots:\n    ranges:\n      - [\"0-5460\"]\n      - [5461, \"5462-10922\"]\n"
               "      - [\"10923-16383\"]\n"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_THAT(r->slots.ranges[1], ElementsAre(SlotRange{5461, 5461}, SlotRange{5462, 10922}));
  EXPECT_THAT(DesiredSlots(*r)[1], ElementsAre(SlotRange{5461, 10922}));
}

TEST(ParseSpecTest, JsonThatYamlCppRefusesStillParses) {
  // yaml-cpp rejects surrogate-pair escapes and keys over 1024 characters; both are valid JSON.
  Result<ClusterSpec> r = ParseSpec(R"({"metadata": {"name": "demo",
                                                    "annotations": {"note": "\ud83d\ude00"}},
                                       "spec": {"masters": 4}})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->masters, 4);
  const std::string long_key(2000, 'k');
  std::vector<std::string> p =
      Problems(R"({"metadata": {"name": "demo"}, "spec": {")" + long_key + R"(": 1}})");
  EXPECT_THAT(p, ElementsAre("spec." + long_key + ": unknown field"));
  // Types stay JSON's: a string is never a number.
  EXPECT_THAT(Problems(R"({"metadata": {"name": "demo", "annotations": {"a": "\ud83d\ude00"}},
                           "spec": {"masters": "4"}})"),
              ElementsAre("spec.masters: expected an integer, got \"4\""));
}

TEST(ParseSpecTest, HostileInputDoesNotCrash) {
  const std::string deep_json =
      "{\"spec\": " + std::string(5000, '[') + std::string(5000, ']') + "}";
  EXPECT_FALSE(ParseSpec(deep_json).ok());
  const std::string deep_yaml = "spec: " + std::string(5000, '[') + std::string(5000, ']');
  EXPECT_FALSE(ParseSpec(deep_yaml).ok());
  EXPECT_FALSE(ParseSpec(std::string("metadata:\n  name: a\0b\n", 22)).ok());
  EXPECT_FALSE(ParseSpec("a: &x [*x]").ok());
  EXPECT_FALSE(ParseSpec("{").ok());
  EXPECT_FALSE(ParseSpec("\xff\xfe").ok());
}

TEST(ParseSpecTest, ManyKeysStayFastAndBounded) {
  std::string doc = WithSpec("  redis:\n    config:\n");
  for (int i = 0; i < 50000; ++i) doc += "      k" + std::to_string(i % 25000) + ": v\n";
  std::vector<std::string> p = Problems(doc);
  ASSERT_THAT(p, SizeIs(101));
  EXPECT_THAT(p[0], StartsWith("spec.redis.config.k0 (line 25008): duplicate key; first given at "
                               "line 8"));
  EXPECT_EQ(p.back(), "spec: 24900 more problems not listed");
}

ClusterSpec RichSpec() {
  ClusterSpec s;
  s.name = "rich";
  s.masters = 4;
  s.replicas_per_master = 2;
  s.slots.weights = {0.5, 1, 1.25, 3};
  s.redis.node_timeout_ms = 1500;
  s.redis.appendonly = false;
  s.redis.require_full_coverage = false;
  s.redis.replica_validity_factor = 0;
  s.redis.migration_barrier = 2;
  s.redis.maxmemory = "1073741824";
  // Values a plain YAML scalar would retype; the writer must keep them strings.
  s.redis.config = {{"maxmemory-policy", "allkeys-lru"},
                    {"save", ""},
                    {"hz", "10"},
                    {"lazyfree-lazy-eviction", "yes"},
                    {"notify-keyspace-events", "null"},
                    {"active-defrag-threshold-lower", "1.5"},
                    {"client-output-buffer-limit", "pubsub 32mb 8mb 60"}};
  s.auth = AuthSpec{"/etc/slotkeeper/rich.pass"};
  s.hosts = {{"http://10.0.0.1:7071", "a"}, {"https://10.0.0.2:7071", ""}};
  return s;
}

TEST(SpecToTextTest, RoundTripsThroughParseSpec) {
  ClusterSpec ranges_spec;
  ranges_spec.name = "ranges";
  ranges_spec.slots.ranges = {
      {{0, 99}, {5000, 5000}}, {{100, 4999}, {5001, 10922}}, {{10923, 16383}}};
  ranges_spec.local = {"10.0.0.5", 30000, "/srv/data"};
  ranges_spec.local_given = true;
  for (const ClusterSpec& original : {RichSpec(), ranges_spec}) {
    SCOPED_TRACE(original.name);
    ASSERT_TRUE(Validate(original).ok()) << Validate(original).error().message();
    const std::string json = SpecToJson(original);
    const std::string yaml = SpecToYaml(original);
    for (const std::string& text : {json, yaml, SpecToJson(original, -1)}) {
      Result<ClusterSpec> back = ParseSpec(text);
      ASSERT_TRUE(back.ok()) << back.error().message() << "\n" << text;
      EXPECT_EQ(SpecToJson(*back), json) << text;
      EXPECT_EQ(back->redis.config, original.redis.config);
      EXPECT_EQ(back->slots.ranges, original.slots.ranges);
      EXPECT_EQ(back->slots.weights, original.slots.weights);
      EXPECT_EQ(back->hosts.size(), original.hosts.size());
    }
  }
}

TEST(SpecToTextTest, FillsDefaultsAndOmitsWhatIsNotSet) {
  ClusterSpec s;
  s.name = "demo";
  const std::string json = SpecToJson(s);
  EXPECT_THAT(json,
              AllOf(HasSubstr("\"apiVersion\": \"slotkeeper.io/v1alpha1\""),
                    HasSubstr("\"kind\": \"RedisCluster\""), HasSubstr("\"nodeTimeoutMs\": 5000"),
                    HasSubstr("\"replicaValidityFactor\": 10"), HasSubstr("\"basePort\": 7000"),
                    HasSubstr("\"dataDir\": \"./data\"")));
  EXPECT_THAT(json, AllOf(Not(HasSubstr("auth")), Not(HasSubstr("slots")), Not(HasSubstr("hosts")),
                          Not(HasSubstr("maxmemory"))));
  // Envelope order is the documented one.
  EXPECT_LT(json.find("apiVersion"), json.find("kind"));
  EXPECT_LT(json.find("kind"), json.find("metadata"));
  EXPECT_LT(json.find("metadata"), json.find("\"spec\""));
  EXPECT_THAT(SpecToJson(RichSpec()), AllOf(HasSubstr("\"hosts\""), Not(HasSubstr("\"local\""))));
  const std::string yaml = SpecToYaml(RichSpec());
  EXPECT_THAT(yaml, AllOf(StartsWith("apiVersion: slotkeeper.io/v1alpha1\nkind: RedisCluster\n"),
                          HasSubstr("weights: [0.5, 1, 1.25, 3]"),
                          HasSubstr("lazyfree-lazy-eviction: \"yes\""), HasSubstr("save: \"\"")));
}

TEST(LoadSpecFileTest, MissingFileIsNotFound) {
  Result<ClusterSpec> r = LoadSpecFile("/nonexistent/slotkeeper/spec.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_EQ(r.error().message(), "spec file /nonexistent/slotkeeper/spec.yaml does not exist");
}

TEST(LoadSpecFileTest, DirectoryIsUnavailable) {
  Result<ClusterSpec> r = LoadSpecFile("/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_THAT(r.error().message(), HasSubstr("spec file /"));
}

}  // namespace
}  // namespace sk::codec
