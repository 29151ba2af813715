// RenderRedisConf, QuoteConfigArg and RuntimeSettings, checked by parsing the rendered text
// back the way redis-server does (config.c: split lines, trim, skip comments, sdssplitargs).
#include "agent/render/render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "agent/render/nodes_conf.h"

namespace sk::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Args = std::vector<std::string>;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  return std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
}

// A transcription of Redis's sdssplitargs(); nullopt where Redis reports a syntax error.
std::optional<Args> SplitArgs(const std::string& line) {
  Args out;
  size_t i = 0;
  auto at = [&](size_t k) { return k < line.size() ? line[k] : '\0'; };
  while (true) {
    while (at(i) != '\0' && std::isspace(static_cast<unsigned char>(at(i)))) ++i;
    if (at(i) == '\0') return out;
    bool inq = false, insq = false, done = false;
    std::string cur;
    while (!done) {
      char c = at(i);
      if (inq) {
        if (c == '\\' && at(i + 1) == 'x' && std::isxdigit(static_cast<unsigned char>(at(i + 2))) &&
            std::isxdigit(static_cast<unsigned char>(at(i + 3)))) {
          cur += static_cast<char>(HexValue(at(i + 2)) * 16 + HexValue(at(i + 3)));
          i += 3;
        } else if (c == '\\' && at(i + 1) != '\0') {
          ++i;
          char e = at(i);
          cur += e == 'n'   ? '\n'
                 : e == 'r' ? '\r'
                 : e == 't' ? '\t'
                 : e == 'b' ? '\b'
                 : e == 'a' ? '\a'
                            : e;
        } else if (c == '"') {
          if (at(i + 1) != '\0' && !std::isspace(static_cast<unsigned char>(at(i + 1)))) {
            return std::nullopt;
          }
          done = true;
        } else if (c == '\0') {
          return std::nullopt;
        } else {
          cur += c;
        }
      } else if (insq) {
        if (c == '\\' && at(i + 1) == '\'') {
          ++i;
          cur += '\'';
        } else if (c == '\'') {
          if (at(i + 1) != '\0' && !std::isspace(static_cast<unsigned char>(at(i + 1)))) {
            return std::nullopt;
          }
          done = true;
        } else if (c == '\0') {
          return std::nullopt;
        } else {
          cur += c;
        }
      } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\0') {
        done = true;
      } else if (c == '"') {
        inq = true;
      } else if (c == '\'') {
        insq = true;
      } else {
        cur += c;
      }
      if (at(i) != '\0') ++i;
    }
    out.push_back(cur);
  }
}

// redis.conf as loadServerConfigFromString() sees it: one Args per directive line.
std::vector<Args> ParseConf(const std::string& text) {
  std::vector<Args> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    size_t b = line.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) continue;
    line = line.substr(b, line.find_last_not_of(" \t\r\n") - b + 1);
    if (line[0] == '#') continue;
    std::optional<Args> args = SplitArgs(line);
    EXPECT_TRUE(args.has_value()) << "redis-server would reject the line: " << line;
    if (args && !args->empty()) out.push_back(*args);
  }
  return out;
}

// Every line whose directive is `name`.
std::vector<Args> Directive(const std::vector<Args>& conf, const std::string& name) {
  std::vector<Args> out;
  for (const Args& a : conf) {
    if (a[0] == name) out.push_back(a);
  }
  return out;
}

std::vector<std::string> Names(const std::vector<Args>& conf) {
  std::vector<std::string> out;
  for (const Args& a : conf) out.push_back(a[0]);
  return out;
}

struct Fixture {
  ClusterSpec spec;
  RenderInput in;
  Fixture() {
    spec.name = "demo";
    in.spec = &spec;
    in.name = "demo-1";
    in.ep = Endpoint{"127.0.0.1", 7001};
    in.layout = LayoutFor("/data", "demo", 7001);
    in.version = RedisVersion{7, 0, 15};
  }
  std::vector<Args> Render() { return ParseConf(RenderRedisConf(in)); }
};

TEST(LayoutForTest, EveryNameCarriesThePort) {
  NodeLayout l = LayoutFor("/srv/data", "demo", 7001);
  EXPECT_EQ(l.port, 7001);
  EXPECT_EQ(l.dir, "/srv/data/demo/7001");
  EXPECT_EQ(l.config, "/srv/data/demo/7001/redis.conf");
  EXPECT_EQ(l.nodes_conf_name, "nodes-7001.conf");
  EXPECT_EQ(l.aof_dir_name, "appendonlydir-7001");
  EXPECT_EQ(l.aof_file_name, "appendonly-7001.aof");
  EXPECT_EQ(l.rdb_name, "dump-7001.rdb");
  EXPECT_EQ(l.log, "/srv/data/demo/7001/redis-7001.log");
  EXPECT_EQ(l.pid, "/srv/data/demo/7001/redis-7001.pid");
}

TEST(ParseRedisVersionTest, Table) {
  struct Case {
    std::string text;
    std::optional<std::vector<int>> want;
  };
  const std::vector<Case> cases = {
      {"Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64", {{7, 0, 15}}},
      {"Redis server v=6.2.14 sha=00000000:0", {{6, 2, 14}}},
      {"7.2.4", {{7, 2, 4}}},
      {"  7.0\n", {{7, 0, 0}}},
      {"garbage", std::nullopt},
      {"", std::nullopt},
      {"v=x.y", std::nullopt},
  };
  for (const Case& c : cases) {
    std::optional<RedisVersion> v = ParseRedisVersion(c.text);
    ASSERT_EQ(v.has_value(), c.want.has_value()) << c.text;
    if (!v) continue;
    EXPECT_EQ((std::vector<int>{v->major, v->minor, v->patch}), *c.want) << c.text;
  }
  EXPECT_TRUE((RedisVersion{7, 0, 0}.AtLeast(7, 0)));
  EXPECT_FALSE((RedisVersion{6, 2, 9}.AtLeast(7, 0)));
}

TEST(RenderRedisConfTest, HeaderNamesClusterNodeAndPort) {
  Fixture f;
  std::string text = RenderRedisConf(f.in);
  std::string first = text.substr(0, text.find('\n'));
  EXPECT_THAT(first, HasSubstr("demo"));
  EXPECT_THAT(first, HasSubstr("demo-1"));
  EXPECT_THAT(first, HasSubstr("7001"));
  EXPECT_THAT(text, HasSubstr("# rendered by slotkeeper; edits are overwritten\n"));
}

TEST(RenderRedisConfTest, OwnedDirectivesInOrderWithPortInEveryName) {
  Fixture f;
  f.spec.redis.maxmemory = "256mb";
  std::vector<Args> conf = f.Render();
  EXPECT_THAT(
      Names(conf),
      ElementsAre("port", "bind", "dir", "daemonize", "cluster-enabled", "cluster-config-file",
                  "cluster-announce-ip", "dbfilename", "appendfilename", "appenddirname", "logfile",
                  "pidfile", "cluster-node-timeout", "appendonly", "cluster-require-full-coverage",
                  "cluster-replica-validity-factor", "cluster-migration-barrier", "maxmemory"));
  EXPECT_THAT(conf[0], ElementsAre("port", "7001"));
  EXPECT_THAT(conf[1], ElementsAre("bind", "127.0.0.1"));
  EXPECT_THAT(conf[2], ElementsAre("dir", "/data/demo/7001"));
  EXPECT_THAT(conf[3], ElementsAre("daemonize", "no"));
  EXPECT_THAT(conf[4], ElementsAre("cluster-enabled", "yes"));
  EXPECT_THAT(conf[5], ElementsAre("cluster-config-file", "nodes-7001.conf"));
  EXPECT_THAT(conf[6], ElementsAre("cluster-announce-ip", "127.0.0.1"));
  EXPECT_THAT(conf[7], ElementsAre("dbfilename", "dump-7001.rdb"));
  EXPECT_THAT(conf[8], ElementsAre("appendfilename", "appendonly-7001.aof"));
  EXPECT_THAT(conf[9], ElementsAre("appenddirname", "appendonlydir-7001"));
  EXPECT_THAT(conf[10], ElementsAre("logfile", "/data/demo/7001/redis-7001.log"));
  EXPECT_THAT(conf[11], ElementsAre("pidfile", "/data/demo/7001/redis-7001.pid"));
  EXPECT_THAT(conf[12], ElementsAre("cluster-node-timeout", "5000"));
  EXPECT_THAT(conf[13], ElementsAre("appendonly", "yes"));
  EXPECT_THAT(conf[14], ElementsAre("cluster-require-full-coverage", "yes"));
  EXPECT_THAT(conf[15], ElementsAre("cluster-replica-validity-factor", "10"));
  EXPECT_THAT(conf[16], ElementsAre("cluster-migration-barrier", "1"));
  EXPECT_THAT(conf[17], ElementsAre("maxmemory", "256mb"));
}

TEST(RenderRedisConfTest, TypedSettingsFollowTheSpec) {
  Fixture f;
  f.spec.redis.node_timeout_ms = 2000;
  f.spec.redis.appendonly = false;
  f.spec.redis.require_full_coverage = false;
  f.spec.redis.replica_validity_factor = 0;
  f.spec.redis.migration_barrier = 3;
  std::vector<Args> conf = f.Render();
  EXPECT_THAT(Directive(conf, "cluster-node-timeout"),
              ElementsAre(Args{"cluster-node-timeout", "2000"}));
  EXPECT_THAT(Directive(conf, "appendonly"), ElementsAre(Args{"appendonly", "no"}));
  EXPECT_THAT(Directive(conf, "cluster-require-full-coverage"),
              ElementsAre(Args{"cluster-require-full-coverage", "no"}));
  EXPECT_THAT(Directive(conf, "cluster-replica-validity-factor"),
              ElementsAre(Args{"cluster-replica-validity-factor", "0"}));
  EXPECT_THAT(Directive(conf, "cluster-migration-barrier"),
              ElementsAre(Args{"cluster-migration-barrier", "3"}));
  EXPECT_TRUE(Directive(conf, "maxmemory").empty()) << "maxmemory only when set";
}

TEST(RenderRedisConfTest, AppendDirNameOnlyFromRedis7) {
  Fixture f;
  f.in.version = RedisVersion{6, 2, 14};
  EXPECT_TRUE(Directive(f.Render(), "appenddirname").empty());
  f.in.version = RedisVersion{7, 0, 0};
  EXPECT_THAT(Directive(f.Render(), "appenddirname"),
              ElementsAre(Args{"appenddirname", "appendonlydir-7001"}));
}

TEST(RenderRedisConfTest, PasswordIsQuotedAndRoundTrips) {
  Fixture f;
  const std::string password = "s3cr\"et pass\\word\nport 1";
  f.in.password = password;
  std::string text = RenderRedisConf(f.in);
  std::vector<Args> conf = ParseConf(text);
  EXPECT_THAT(Directive(conf, "requirepass"), ElementsAre(Args{"requirepass", password}));
  EXPECT_THAT(Directive(conf, "masterauth"), ElementsAre(Args{"masterauth", password}));
  EXPECT_EQ(Directive(conf, "port").size(), 1u);
  // Quoted even when nothing in it needs quoting.
  f.in.password = "plain";
  EXPECT_THAT(RenderRedisConf(f.in), HasSubstr("\nrequirepass \"plain\"\nmasterauth \"plain\"\n"));
}

TEST(RenderRedisConfTest, NoPasswordNoAuthDirectives) {
  Fixture f;
  std::vector<Args> conf = f.Render();
  EXPECT_TRUE(Directive(conf, "requirepass").empty());
  EXPECT_TRUE(Directive(conf, "masterauth").empty());
}

TEST(RenderRedisConfTest, PassthroughComesLastInOrder) {
  Fixture f;
  f.in.password = "pw";
  f.spec.redis.config = {
      {"maxmemory-policy", "noeviction"}, {"save", "900 1 300 10"}, {"notify-keyspace-events", ""}};
  std::vector<Args> conf = f.Render();
  ASSERT_GE(conf.size(), 5u);
  size_t n = conf.size();
  EXPECT_THAT(conf[n - 5], ElementsAre("requirepass", "pw"));
  EXPECT_THAT(conf[n - 4], ElementsAre("masterauth", "pw"));
  EXPECT_THAT(conf[n - 3], ElementsAre("maxmemory-policy", "noeviction"));
  EXPECT_THAT(conf[n - 2], ElementsAre("save", "900 1 300 10"));
  EXPECT_THAT(conf[n - 1], ElementsAre("notify-keyspace-events", ""));
}

TEST(RenderRedisConfTest, NoValueOrNameCanInjectADirective) {
  const std::vector<std::string> evil = {"x\nport 6379",
                                         "x\r\nport 6379",
                                         "x\" \nport 6379",
                                         "\"",
                                         "'",
                                         "x' port 6379",
                                         "a\\",
                                         "\\\"\nport 6379",
                                         std::string("nul\0byte\nport 1", 15),
                                         "\x7f\xff\n#"};
  for (const std::string& v : evil) {
    Fixture f;
    f.spec.redis.maxmemory = v;
    f.spec.redis.config = {{"maxmemory-policy", v}, {v, "1"}};
    f.in.password = v;
    f.spec.name = v;  // goes into the header comment
    f.in.name = v;
    std::vector<Args> conf = f.Render();
    EXPECT_EQ(Directive(conf, "port").size(), 1u) << v;
    EXPECT_THAT(Directive(conf, "maxmemory"), ElementsAre(Args{"maxmemory", v}));
    EXPECT_THAT(Directive(conf, "maxmemory-policy"), ElementsAre(Args{"maxmemory-policy", v}));
    EXPECT_THAT(Directive(conf, "requirepass"), ElementsAre(Args{"requirepass", v}));
    EXPECT_THAT(Directive(conf, v), ElementsAre(Args{v, "1"}));
    for (const Args& a : conf) EXPECT_EQ(a.size(), 2u) << a[0];
  }
}

TEST(QuoteConfigArgTest, Table) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"abc", "abc"},
      {"256mb", "256mb"},
      {"/data/demo/7001", "/data/demo/7001"},
      {"", "\"\""},
      {"a b", "\"a b\""},
      {"a\"b", "\"a\\\"b\""},
      {"a\\b", "\"a\\\\b\""},
      {"a'b", "\"a'b\""},
      {"l1\nl2", "\"l1\\nl2\""},
      {"\r\t", "\"\\r\\t\""},
      {std::string("\x01", 1), "\"\\x01\""},
      {"\xc3\xa9", "\"\\xc3\\xa9\""},
  };
  for (const auto& [in, want] : cases) {
    EXPECT_EQ(QuoteConfigArg(in), want) << in;
    std::optional<Args> back = SplitArgs("x " + QuoteConfigArg(in));
    ASSERT_TRUE(back.has_value()) << in;
    EXPECT_THAT(*back, ElementsAre("x", in));
  }
}

TEST(RuntimeSettingsTest, TypedThenPassthroughAsConfigGetPrintsThem) {
  ClusterSpec spec;
  spec.redis.node_timeout_ms = 2500;
  spec.redis.appendonly = false;
  spec.redis.require_full_coverage = true;
  spec.redis.replica_validity_factor = 0;
  spec.redis.migration_barrier = 2;
  spec.redis.maxmemory = "256mb";
  spec.redis.config = {{"maxmemory-policy", "allkeys-lru"}, {"save", ""}};
  using P = std::pair<std::string, std::string>;
  EXPECT_THAT(RuntimeSettings(spec),
              ElementsAre(P{"cluster-node-timeout", "2500"}, P{"appendonly", "no"},
                          P{"cluster-require-full-coverage", "yes"},
                          P{"cluster-replica-validity-factor", "0"},
                          P{"cluster-migration-barrier", "2"}, P{"maxmemory", "268435456"},
                          P{"maxmemory-policy", "allkeys-lru"}, P{"save", ""}));
}

TEST(RuntimeSettingsTest, MaxmemoryInBytesLikeRedis) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"256mb", "268435456"}, {"1gb", "1073741824"},
      {"1GB", "1073741824"},  {"1k", "1000"},
      {"1kb", "1024"},        {"2m", "2000000"},
      {"3g", "3000000000"},   {"100", "100"},
      {"100b", "100"},        {"0", "0"},
      {"lots", "lots"},       {"1tb", "1tb"},
  };
  for (const auto& [in, want] : cases) {
    ClusterSpec spec;
    spec.redis.maxmemory = in;
    std::string got;
    for (const auto& [k, v] : RuntimeSettings(spec)) {
      if (k == "maxmemory") got = v;
    }
    EXPECT_EQ(got, want) << in;
  }
  ClusterSpec unset;
  bool found = false;
  for (const auto& [k, v] : RuntimeSettings(unset)) {
    if (k == "maxmemory") {
      found = true;
      EXPECT_EQ(v, "0") << "unset maxmemory is Redis's default, no limit";
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace sk::agent

namespace sk::agent {
namespace {

TEST(NodesConfTest, RewritesEveryKnownAddressAndKeepsTheRest) {
  const std::string conf =
      "aaaa 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n"
      "bbbb 127.0.0.1:7001@17001,host-b master - 0 1700 2 connected 5461-10922\n"
      "cccc :0@0 master,noaddr - 0 0 3 disconnected\n"
      "vars currentEpoch 3 lastVoteEpoch 0\n";
  EXPECT_EQ(NodesConfMyId(conf), "aaaa");
  Rewritten r = RewriteAddresses(conf, {{"aaaa", {"127.0.0.2", 7000}},
                                        {"bbbb", {"127.0.0.2", 7001}},
                                        {"cccc", {"127.0.0.2", 7002}}});
  EXPECT_EQ(r.changed, 3);
  EXPECT_EQ(r.text,
            "aaaa 127.0.0.2:7000@17000 myself,master - 0 0 1 connected 0-5460\n"
            "bbbb 127.0.0.2:7001@17001,host-b master - 0 1700 2 connected 5461-10922\n"
            "cccc 127.0.0.2:7002@17002 master - 0 0 3 disconnected\n"
            "vars currentEpoch 3 lastVoteEpoch 0\n");
  // Unknown IDs and addresses already right stay as they are.
  Rewritten same =
      RewriteAddresses(r.text, {{"aaaa", {"127.0.0.2", 7000}}, {"zzzz", {"1.2.3.4", 1}}});
  EXPECT_EQ(same.changed, 0);
  EXPECT_EQ(same.text, r.text);
}

}  // namespace
}  // namespace sk::agent
