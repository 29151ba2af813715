// RedisClient against real redis-server processes: replies, binary safety, pipelining,
// error-code mapping, timeouts, reconnects and AUTH; and ParseClusterNodes on real output.
#include "controller/redis/redis_client.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "controller/redis/cluster_nodes.h"
#include "tests/support/support.h"

namespace sk::redis {
namespace {

using ::sk::testing::PortLease;
using ::sk::testing::RedisCmd;
using ::sk::testing::RedisProcess;
using ::sk::testing::TempDir;
using ::sk::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace std::chrono_literals;

// Local: api/types may not implement CodeName yet, and failure output needs a name.
const char* CodeStr(Code c) {
  switch (c) {
    case Code::kOk:
      return "Ok";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kNotFound:
      return "NotFound";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kFailedPrecondition:
      return "FailedPrecondition";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kDeadlineExceeded:
      return "DeadlineExceeded";
    case Code::kAborted:
      return "Aborted";
    case Code::kInternal:
      return "Internal";
  }
  return "?";
}

template <class T>
std::string Describe(const Result<T>& r) {
  return r.ok() ? std::string("ok")
                : std::string(CodeStr(r.error().code())) + ": " + r.error().message();
}

Endpoint Local(int port) { return Endpoint{"127.0.0.1", port}; }

// One redis-server on a leased port, with its own directory.
class RedisClientTest : public ::testing::Test {
 protected:
  void Start(bool cluster = false, std::vector<std::string> extra = {}) {
    server_ = std::make_unique<RedisProcess>(port(), dir_.path(), cluster, std::move(extra));
    ASSERT_GT(server_->pid(), 0);
  }
  RedisClient Connect(ClientOptions opts = {}) {
    Result<RedisClient> c = RedisClient::Connect(Local(port()), opts);
    EXPECT_TRUE(c.ok()) << Describe(c);
    return std::move(c).value();
  }
  int port() const { return lease_.base(); }
  std::string prefix() const { return "127.0.0.1:" + std::to_string(port()) + ": "; }

  PortLease lease_{1};
  TempDir dir_;
  std::unique_ptr<RedisProcess> server_;
};

TEST_F(RedisClientTest, Ping) {
  Start();
  RedisClient c = Connect();
  Result<Reply> r = c.Call({"PING"});
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(r->type, Reply::Type::kStatus);
  EXPECT_EQ(r->AsString().value(), "PONG");
  EXPECT_EQ(c.endpoint(), Local(port()));
}

TEST_F(RedisClientTest, BinarySafeSetGet) {
  Start();
  RedisClient c = Connect();
  const std::string key("key with spaces\0and nul", 23);
  const std::string value("a\0b\r\nc\r\n\0*1\r\n$3\r\nend", 20);
  ASSERT_TRUE(c.Call({"SET", key, value}).ok());
  Result<Reply> got = c.Call({"GET", key});
  ASSERT_TRUE(got.ok()) << Describe(got);
  EXPECT_EQ(got->type, Reply::Type::kString);
  EXPECT_EQ(got->str, value);
  EXPECT_EQ(c.Call({"STRLEN", key})->AsInteger().value(), 20);
  Result<Reply> nil = c.Call({"GET", "missing"});
  ASSERT_TRUE(nil.ok());
  EXPECT_EQ(nil->type, Reply::Type::kNil);
  EXPECT_FALSE(nil->AsString().ok());
}

TEST_F(RedisClientTest, NestedArrayReply) {
  Start();
  RedisClient c = Connect();
  ASSERT_TRUE(c.Call({"RPUSH", "l", "x", "y"}).ok());
  Result<Reply> r =
      c.Call({"EVAL", "return {1, 'two', {3, redis.call('LRANGE', 'l', 0, -1)}}", "0"});
  ASSERT_TRUE(r.ok()) << Describe(r);
  ASSERT_EQ(r->type, Reply::Type::kArray);
  ASSERT_EQ(r->elements.size(), 3u);
  EXPECT_EQ(r->elements[0].integer, 1);
  EXPECT_EQ(r->elements[1].str, "two");
  ASSERT_EQ(r->elements[2].elements.size(), 2u);
  EXPECT_EQ(r->elements[2].elements[1].elements[1].str, "y");
}

TEST_F(RedisClientTest, PipelineOfThousandCommands) {
  Start();
  RedisClient c = Connect();
  std::vector<std::vector<std::string>> cmds;
  for (int i = 0; i < 500; ++i) {
    cmds.push_back({"SET", "k" + std::to_string(i), "v" + std::to_string(i)});
  }
  for (int i = 0; i < 500; ++i) cmds.push_back({"GET", "k" + std::to_string(i)});
  Result<std::vector<Reply>> r = c.Pipeline(cmds);
  ASSERT_TRUE(r.ok()) << Describe(r);
  ASSERT_EQ(r->size(), 1000u);
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ((*r)[i].str, "OK");
    EXPECT_EQ((*r)[500 + i].str, "v" + std::to_string(i));
  }
  EXPECT_EQ(RedisCmd(port(), {"DBSIZE"}), "500");
}

TEST_F(RedisClientTest, PipelineKeepsErrorRepliesInPlace) {
  Start();
  RedisClient c = Connect();
  Result<std::vector<Reply>> r =
      c.Pipeline({{"SET", "s", "text"}, {"INCR", "s"}, {"INCR", "n"}, {"NOSUCHCOMMAND"}});
  ASSERT_TRUE(r.ok()) << Describe(r);
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[1].type, Reply::Type::kError);
  EXPECT_THAT((*r)[1].str, StartsWith("ERR value is not an integer"));
  EXPECT_EQ((*r)[2].integer, 1);
  EXPECT_TRUE((*r)[3].IsError());
  // The connection is still good afterwards.
  EXPECT_TRUE(c.Call({"PING"}).ok());
  EXPECT_TRUE(c.Pipeline({})->empty());
}

TEST_F(RedisClientTest, ClusterDownIsUnavailable) {
  Start(/*cluster=*/true);
  RedisClient c = Connect();
  Result<Reply> r = c.Call({"SET", "foo", "bar"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnavailable) << Describe(r);
  EXPECT_THAT(r.error().message(), StartsWith(prefix() + "CLUSTERDOWN"));
}

TEST_F(RedisClientTest, WrongTypeIsFailedPrecondition) {
  Start();
  RedisClient c = Connect();
  ASSERT_TRUE(c.Call({"SET", "s", "x"}).ok());
  Result<Reply> r = c.Call({"LPUSH", "s", "y"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kFailedPrecondition) << Describe(r);
  EXPECT_THAT(r.error().message(), StartsWith(prefix() + "WRONGTYPE"));
  // An error reply does not break the connection.
  EXPECT_TRUE(c.Call({"PING"}).ok());
}

TEST_F(RedisClientTest, ConnectionRefusedIsUnavailable) {
  Result<RedisClient> c = RedisClient::Connect(Local(port()), {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), Code::kUnavailable) << Describe(c);
  EXPECT_THAT(c.error().message(), StartsWith(prefix()));
  EXPECT_THAT(c.error().message(), HasSubstr("refused"));
}

// A listener that never accepts, with its one-entry accept queue filled: Linux then drops
// further SYNs, so a connect neither succeeds nor fails until the client gives up.
TEST_F(RedisClientTest, ConnectTimeoutIsDeadlineExceeded) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lfd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(lfd, 0), 0);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // EINPROGRESS is fine
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(50ms);
  auto t0 = std::chrono::steady_clock::now();
  Result<RedisClient> c = RedisClient::Connect(Local(port()), {.connect_timeout_ms = 200});
  auto took = std::chrono::steady_clock::now() - t0;
  for (int fd : fillers) close(fd);
  close(lfd);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), Code::kDeadlineExceeded) << Describe(c);
  EXPECT_EQ(c.error().message(), prefix() + "connect: timed out after 200 ms");
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 2s);
}

TEST_F(RedisClientTest, TimeoutIsDeadlineExceededThenReconnects) {
  Start(false, {"--enable-debug-command", "local"});
  RedisClient c = Connect({.command_timeout_ms = 200});
  long long first_id = c.Call({"CLIENT", "ID"})->integer;
  auto t0 = std::chrono::steady_clock::now();
  Result<Reply> r = c.Call({"DEBUG", "SLEEP", "1"});
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kDeadlineExceeded) << Describe(r);
  EXPECT_EQ(r.error().message(), prefix() + "DEBUG: timed out after 200 ms");
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 900ms);
  // The server is still asleep; a longer timeout lets the reconnected call wait it out.
  c.SetCommandTimeout(5000);
  Result<Reply> id = c.Call({"CLIENT", "ID"});
  ASSERT_TRUE(id.ok()) << Describe(id);
  EXPECT_NE(id->integer, first_id) << "a timed-out connection must not be reused";
}

TEST_F(RedisClientTest, SetCommandTimeoutAppliesToLiveConnection) {
  Start(false, {"--enable-debug-command", "local"});
  RedisClient c = Connect({.command_timeout_ms = 5000});
  EXPECT_TRUE(c.Call({"DEBUG", "SLEEP", "0.3"}).ok());
  c.SetCommandTimeout(100);
  Result<Reply> r = c.Call({"DEBUG", "SLEEP", "0.3"});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kDeadlineExceeded) << Describe(r);
}

TEST_F(RedisClientTest, ClientKillFromElsewhereThenCallReconnects) {
  Start();
  RedisClient c = Connect();
  long long id = c.Call({"CLIENT", "ID"})->integer;
  ASSERT_EQ(RedisCmd(port(), {"CLIENT", "KILL", "ID", std::to_string(id)}), "1");
  // The close is seen before sending, so not even this first call fails.
  Result<Reply> r = c.Call({"CLIENT", "ID"});
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_NE(r->integer, id);
}

TEST_F(RedisClientTest, ClientKillOfItselfThenCallReconnects) {
  Start();
  RedisClient c = Connect();
  long long id = c.Call({"CLIENT", "ID"})->integer;
  // SKIPME defaults to yes: without "SKIPME no" Redis refuses to kill the caller.
  Result<Reply> killed = c.Call({"CLIENT", "KILL", "ID", std::to_string(id), "SKIPME", "no"});
  ASSERT_TRUE(killed.ok()) << Describe(killed);
  EXPECT_EQ(killed->integer, 1);
  // Redis closes its side after the reply, asynchronously: wait until it is gone.
  std::string needle = "id=" + std::to_string(id) + " ";
  WaitFor(
      [&] {
        return RedisCmd(port(), {"CLIENT", "LIST"}).find(needle) == std::string::npos;
      },
      5s, "client " + std::to_string(id) + " to be closed");
  Result<Reply> r = c.Call({"PING"});
  EXPECT_TRUE(r.ok()) << Describe(r);
}

TEST_F(RedisClientTest, ServerRestartIsUnavailableThenReconnects) {
  Start();
  RedisClient c = Connect();
  ASSERT_TRUE(c.Call({"PING"}).ok());
  server_->Kill();
  Result<Reply> down = c.Call({"PING"});
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code(), Code::kUnavailable) << Describe(down);
  EXPECT_THAT(down.error().message(), StartsWith(prefix()));
  server_.reset();
  Start();
  Result<Reply> up = c.Call({"PING"});
  EXPECT_TRUE(up.ok()) << Describe(up);
}

// The server drops the connection while a big pipeline is still being written: the write
// fails with EPIPE/ECONNRESET, which must be an error, not a SIGPIPE that kills the process.
TEST_F(RedisClientTest, ConnectionDroppedMidPipelineIsAnErrorNotSigpipe) {
  Start();
  RedisClient c = Connect();
  long long id = c.Call({"CLIENT", "ID"})->integer;
  std::vector<std::vector<std::string>> cmds = {
      {"CLIENT", "KILL", "ID", std::to_string(id), "SKIPME", "no"}};
  for (int i = 0; i < 16; ++i) cmds.push_back({"SET", "big", std::string(4 << 20, 'x')});
  Result<std::vector<Reply>> r = c.Pipeline(cmds);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnavailable) << Describe(r);
  EXPECT_TRUE(c.Call({"PING"}).ok());
}

TEST_F(RedisClientTest, AuthWithRequirepass) {
  const std::string pw = "s3cr3t-Pass-42";
  Start(false, {"--requirepass", pw});
  ClientOptions right{.password = Redacted<std::string>(pw), .has_password = true};
  RedisClient c = Connect(right);
  EXPECT_TRUE(c.Call({"PING"}).ok());

  const std::string wrong_pw = "wrong-Pass-99";
  Result<RedisClient> bad = RedisClient::Connect(
      Local(port()), {.password = Redacted<std::string>(wrong_pw), .has_password = true});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Code::kFailedPrecondition) << Describe(bad);
  EXPECT_THAT(bad.error().message(), StartsWith(prefix() + "AUTH: WRONGPASS"));
  EXPECT_THAT(bad.error().message(), Not(HasSubstr(wrong_pw)));
  EXPECT_THAT(bad.error().message(), Not(HasSubstr(pw)));

  RedisClient anon = Connect();
  Result<Reply> noauth = anon.Call({"PING"});
  ASSERT_FALSE(noauth.ok());
  EXPECT_EQ(noauth.error().code(), Code::kFailedPrecondition);
  EXPECT_THAT(noauth.error().message(), StartsWith(prefix() + "NOAUTH"));
}

TEST_F(RedisClientTest, AuthAfterReconnect) {
  const std::string pw = "another-Secret";
  Start(false, {"--requirepass", pw});
  RedisClient c = Connect({.password = Redacted<std::string>(pw), .has_password = true});
  long long id = c.Call({"CLIENT", "ID"})->integer;
  ASSERT_EQ(RedisCmd(port(), {"CLIENT", "KILL", "ID", std::to_string(id)}, pw), "1");
  Result<Reply> r = c.Call({"GET", "x"});
  EXPECT_TRUE(r.ok()) << Describe(r);  // NOAUTH here would mean AUTH was skipped
}

// Two cluster nodes met and given slots, one slot open between them: the real CLUSTER NODES
// text parses, and MOVED/ASK redirections map to kAborted.
TEST(RedisClusterTest, ClusterNodesOfRealNodesParseAndRedirectsAreAborted) {
  PortLease lease(2);
  TempDir dir;
  const int pa = lease.base();
  const int pb = lease.base() + 1;
  RedisProcess a(pa, dir.Sub("a"));
  RedisProcess b(pb, dir.Sub("b"));
  ASSERT_GT(a.pid(), 0);
  ASSERT_GT(b.pid(), 0);
  const std::string id_a = RedisCmd(pa, {"CLUSTER", "MYID"});
  const std::string id_b = RedisCmd(pb, {"CLUSTER", "MYID"});
  ASSERT_EQ(RedisCmd(pa, {"CLUSTER", "MEET", "127.0.0.1", std::to_string(pb)}), "OK");
  ASSERT_EQ(RedisCmd(pa, {"CLUSTER", "ADDSLOTSRANGE", "0", "8191"}), "OK");
  ASSERT_EQ(RedisCmd(pb, {"CLUSTER", "ADDSLOTSRANGE", "8192", "16383"}), "OK");
  ASSERT_EQ(RedisCmd(pa, {"CONFIG", "SET", "cluster-announce-hostname", "node-a.test"}), "OK");

  RedisClient ca = RedisClient::Connect(Local(pa), {}).value();
  auto nodes_of = [](RedisClient& c) -> NodeTable {
    Result<Reply> text = c.Call({"CLUSTER", "NODES"});
    if (!text.ok()) return {};
    Result<NodeTable> t = ParseClusterNodes(text->str);
    EXPECT_TRUE(t.ok()) << t.error().message() << "\n" << text->str;
    return t.ok() ? t.value() : NodeTable{};
  };
  WaitFor(
      [&] {
        NodeTable t = nodes_of(ca);
        const NodeEntry* nb = t.Find(id_b);
        return nb && !nb->InHandshake() && nb->link_connected &&
               nb->slots == std::vector<SlotRange>{{8192, 16383}};
      },
      10s, "node A to see node B with its slots",
      [&] {
        Result<Reply> r = ca.Call({"CLUSTER", "NODES"});
        return r.ok() ? r->str : Describe(r);
      });

  // Redirections come only once A's cluster_state is ok (2 s writable delay after start).
  WaitFor(
      [&] {
        Result<Reply> info = ca.Call({"CLUSTER", "INFO"});
        return info.ok() && ParseInfo(info->str)["cluster_state"] == "ok";
      },
      10s, "cluster_state:ok on node A",
      [&] {
        return ca.Call({"CLUSTER", "INFO"})->str;
      });

  // MOVED: "foo" hashes to 12182, which B serves.
  Result<Reply> moved = ca.Call({"SET", "foo", "1"});
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().code(), Code::kAborted) << Describe(moved);
  EXPECT_THAT(moved.error().message(), HasSubstr("MOVED 12182 127.0.0.1:" + std::to_string(pb)));

  // ASK: a missing key in a slot A is migrating to B.
  const std::string slot = std::to_string(ca.Call({"CLUSTER", "KEYSLOT", "bar"})->integer);
  ASSERT_EQ(RedisCmd(pb, {"CLUSTER", "SETSLOT", slot, "IMPORTING", id_a}), "OK");
  ASSERT_EQ(RedisCmd(pa, {"CLUSTER", "SETSLOT", slot, "MIGRATING", id_b}), "OK");
  Result<Reply> ask = ca.Call({"GET", "bar"});
  ASSERT_FALSE(ask.ok());
  EXPECT_EQ(ask.error().code(), Code::kAborted) << Describe(ask);
  EXPECT_THAT(ask.error().message(), HasSubstr("ASK " + slot));

  NodeTable ta = nodes_of(ca);
  ASSERT_EQ(ta.nodes.size(), 2u);
  const NodeEntry* me = ta.Myself();
  ASSERT_NE(me, nullptr);
  EXPECT_EQ(me->id, id_a);
  EXPECT_EQ(me->port, pa);
  EXPECT_EQ(me->bus_port, pa + 10000);
  EXPECT_EQ(me->hostname, "node-a.test");
  EXPECT_TRUE(me->IsMaster());
  EXPECT_EQ(me->slots, (std::vector<SlotRange>{{0, 8191}}));
  EXPECT_EQ(me->migrating, (std::map<int, std::string>{{std::stoi(slot), id_b}}));
  const NodeEntry* nb = ta.Find(id_b);
  ASSERT_NE(nb, nullptr);
  EXPECT_EQ(nb->host, "127.0.0.1");
  EXPECT_EQ(nb->port, pb);
  EXPECT_FALSE(nb->IsMyself());

  RedisClient cb = RedisClient::Connect(Local(pb), {}).value();
  NodeTable tb = nodes_of(cb);
  ASSERT_NE(tb.Myself(), nullptr);
  EXPECT_EQ(tb.Myself()->importing, (std::map<int, std::string>{{std::stoi(slot), id_a}}));

  // nodes-<port>.conf is written on every config change (SETSLOT saves it).
  std::ifstream file(dir.Sub("a") + "/nodes-" + std::to_string(pa) + ".conf");
  std::stringstream text;
  text << file.rdbuf();
  Result<NodeTable> conf = ParseClusterNodes(text.str());
  ASSERT_TRUE(conf.ok()) << conf.error().message();
  EXPECT_EQ(conf->nodes.size(), 2u);
  EXPECT_GE(conf->current_epoch, 0);
  EXPECT_GE(conf->last_vote_epoch, 0);
  ASSERT_NE(conf->Myself(), nullptr);
  EXPECT_EQ(conf->Myself()->id, id_a);
}

}  // namespace
}  // namespace sk::redis
