// rest::Server against slow and oversized clients: idle and half-sent connections, bodies
// over the limit (declared and chunked), Expect: 100-continue, oversized headers, the
// connection cap, and Stop() with clients still attached.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/rest/rest_fixture.h"
#include "tests/support/support.h"

namespace sk::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kHealthz = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// How many slow connections of each kind this process can afford (the server shares our
// file-descriptor table: two descriptors per connection).
int SlowCount() {
  const long fds = RaiseFdLimit();
  return static_cast<int>(std::min<long>(500, (fds - 200) / 4));
}

TEST_F(ApiTest, HundredsOfIdleAndHalfSentConnectionsDoNotStopOthers) {
  const int n = SlowCount();
  ASSERT_GT(n, 50);
  std::vector<std::unique_ptr<RawConn>> slow;
  for (int i = 0; i < n; ++i) {
    slow.push_back(std::make_unique<RawConn>(port_));  // idle
    auto half = std::make_unique<RawConn>(port_);
    half->Send("POST /api/v1/clusters HTTP/1.1\r\nHost: t\r\nContent-Le");  // half a header
    slow.push_back(std::move(half));
    auto body = std::make_unique<RawConn>(port_);
    body->Send("POST /api/v1/clusters HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{");
    slow.push_back(std::move(body));  // half a body
  }
  for (const auto& c : slow) ASSERT_TRUE(c->ok());
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    auto r = Call("GET", "/healthz");
    EXPECT_EQ(r.status, 200);
    // A bound far above the few milliseconds this takes, to stay clear of a busy CI machine;
    // without the fix the request is not answered at all.
    EXPECT_LT(Seconds(t0), 2.0);
  }
  EXPECT_GE(server_->connections(), static_cast<size_t>(n));
}

TEST_F(ApiTest, SilentConnectionsAreClosedAfterTheHeaderTimeout) {
  rest::ServerOptions o;
  o.header_timeout = Ms(300);
  o.body_timeout = Ms(300);
  Start({}, o);
  RawConn idle(port_);
  RawConn trickle(port_);
  trickle.Send("GET /healthz HTTP/1.1\r\n");
  RawConn body(port_);
  body.Send("POST /api/v1/clusters HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n{");
  EXPECT_TRUE(idle.ClosedWithin(Ms(3000)));
  EXPECT_TRUE(trickle.ClosedWithin(Ms(3000)));
  EXPECT_TRUE(body.ClosedWithin(Ms(3000)));
  EXPECT_TRUE(WaitFor([&] { return server_->connections() == 0; }, Ms(3000), "sessions gone"));
}

TEST_F(ApiTest, AtTheCapTheOldestWaitingConnectionMakesRoom) {
  rest::ServerOptions o;
  o.max_connections = 20;
  Start({}, o);
  std::vector<std::unique_ptr<RawConn>> idle;
  for (int i = 0; i < 60; ++i) idle.push_back(std::make_unique<RawConn>(port_));
  EXPECT_TRUE(WaitFor([&] { return server_->connections() <= 20; }, Ms(3000), "cap held"));
  auto t0 = Clock::now();
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  EXPECT_LT(Seconds(t0), 2.0);
  EXPECT_TRUE(idle.front()->ClosedWithin(Ms(2000)));  // the oldest went first
  EXPECT_LE(server_->connections(), 21u);
}

TEST_F(ApiTest, DeclaredOversizedBodyIs413AtOnceAndNotRead) {
  const long before = PeakRssKb();
  RawConn c(port_);
  auto t0 = Clock::now();
  c.Send("POST /api/v1/clusters HTTP/1.1\r\nHost: t\r\nContent-Length: 104857600\r\n\r\n");
  // The answer comes before a byte of the body is sent.
  std::string head = c.Read(Ms(2000), "\r\n\r\n");
  EXPECT_THAT(head, StartsWith("HTTP/1.1 413"));
  EXPECT_LT(Seconds(t0), 1.0);
  // Sending the 100 MB anyway: the server discards it, or closes.
  std::string block(1 << 20, 'x');
  for (int i = 0; i < 100 && c.Send(block); ++i) {
  }
  EXPECT_LT(PeakRssKb() - before, 32 * 1024)
      << "peak RSS grew by " << PeakRssKb() - before << " KiB";
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
}

TEST_F(ApiTest, ChunkedOversizedBodyIs413WithoutBeingHeld) {
  const long before = PeakRssKb();
  RawConn c(port_);
  auto t0 = Clock::now();
  c.Send("POST /api/v1/clusters HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string chunk = "100000\r\n" + std::string(1 << 20, 'x') + "\r\n";
  int sent = 0;
  std::thread reader;
  std::string answer;
  reader = std::thread([&] { answer = c.Read(Ms(20000), "\r\n\r\n"); });
  for (; sent < 100 && c.Send(chunk); ++sent) {
  }
  reader.join();
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 413"));
  EXPECT_THAT(answer, HasSubstr("Connection: close"));
  EXPECT_LT(Seconds(t0), 10.0);
  EXPECT_LT(PeakRssKb() - before, 32 * 1024)
      << "peak RSS grew by " << PeakRssKb() - before << " KiB";
}

TEST_F(ApiTest, ExpectContinueIsAnswered) {
  RawConn c(port_);
  const std::string body = SpecYaml("demo");
  auto t0 = Clock::now();
  c.Send(
      "POST /api/v1/clusters HTTP/1.1\r\nHost: t\r\nContent-Type: application/yaml\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n");
  std::string interim = c.Read(Ms(2000), "\r\n\r\n");
  EXPECT_THAT(interim, StartsWith("HTTP/1.1 100 Continue"));
  EXPECT_LT(Seconds(t0), 0.5);
  c.Send(body);
  EXPECT_THAT(c.Read(Ms(2000), "}"), StartsWith("HTTP/1.1 201"));

  // Over the limit: 413 instead of 100, and the client never has to send the body.
  RawConn big(port_);
  big.Send(
      "POST /api/v1/clusters HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
      "Content-Length: 5000000\r\n\r\n");
  EXPECT_THAT(big.Read(Ms(2000), "\r\n\r\n"), StartsWith("HTTP/1.1 413"));
}

TEST_F(ApiTest, OversizedHeaderIs431AndGarbageIs400) {
  RawConn c(port_);
  c.Send("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n");
  EXPECT_THAT(c.Read(Ms(2000), "\r\n\r\n"), StartsWith("HTTP/1.1 431"));
  RawConn g(port_);
  g.Send("\x01\x02 garbage\r\n\r\n");
  EXPECT_THAT(g.Read(Ms(2000), "\r\n\r\n"), StartsWith("HTTP/1.1 400"));
  RawConn neg(port_);
  neg.Send("POST /api/v1/clusters HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n");
  EXPECT_THAT(neg.Read(Ms(2000), "\r\n\r\n"), StartsWith("HTTP/1.1 400"));
}

TEST_F(ApiTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  RawConn c(port_);
  for (int i = 0; i < 3; ++i) {
    c.Send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_THAT(c.Read(Ms(2000), "{\"status\":\"ok\"}"), StartsWith("HTTP/1.1 200")) << i;
  }
  // Pipelined.
  c.Send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /readyz HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_THAT(c.Read(Ms(2000), "ready\"}"), HasSubstr("\"ready\""));
  c.Send(kHealthz);
  EXPECT_THAT(c.Read(Ms(2000)), HasSubstr("Connection: close"));
  EXPECT_TRUE(c.ClosedWithin(Ms(1000)));
}

TEST_F(ApiTest, StopReturnsPromptlyWithClientsAttached) {
  std::vector<std::unique_ptr<RawConn>> idle;
  for (int i = 0; i < 50; ++i) idle.push_back(std::make_unique<RawConn>(port_));
  RawConn half(port_);
  half.Send("GET /healthz HTTP/1.1\r\n");
  auto t0 = Clock::now();
  server_->Stop();
  EXPECT_LT(Seconds(t0), 2.0);
  EXPECT_TRUE(half.ClosedWithin(Ms(1000)));
  RawConn after(port_);
  EXPECT_FALSE(after.ok());  // the port is released
}

TEST(ServerTest, BadAddressesAreRefused) {
  auto handler = [](const rest::Request&) { return rest::Response{}; };
  auto bad = rest::Server::Start("nonsense", handler);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  auto a = rest::Server::Start("127.0.0.1:0", handler);
  ASSERT_TRUE(a.ok());
  auto taken = rest::Server::Start("127.0.0.1:" + std::to_string((*a)->port()), handler);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code(), Code::kUnavailable);
  EXPECT_THAT(taken.error().message(), HasSubstr(std::to_string((*a)->port())));
}

TEST(ServerTest, AHandlerThatThrowsIsA500) {
  auto s = rest::Server::Start("127.0.0.1:0", [](const rest::Request&) -> rest::Response {
    throw std::runtime_error("boom");
  });
  ASSERT_TRUE(s.ok());
  cli::HttpClient client(cli::Url{"127.0.0.1", (*s)->port(), ""});
  auto r = client.Send("GET", "/x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 500);
  EXPECT_THAT(r->body, Not(HasSubstr("boom")));
}

}  // namespace
}  // namespace sk::testing
