#include "api/types/endpoint.h"

#include <gtest/gtest.h>

namespace sk {
namespace {

TEST(ParseEndpointTest, AcceptsHostAndPort) {
  const std::pair<std::string_view, Endpoint> cases[] = {
      {"127.0.0.1:7000", {"127.0.0.1", 7000}},
      {"localhost:1", {"localhost", 1}},
      {"redis-0.redis.svc:65535", {"redis-0.redis.svc", 65535}},
      {"my_service:6379", {"my_service", 6379}},
  };
  for (const auto& [text, want] : cases) {
    Result<Endpoint> ep = ParseEndpoint(text);
    ASSERT_TRUE(ep.ok()) << text << ": " << ep.error().message();
    EXPECT_EQ(*ep, want);
    EXPECT_EQ(ep->ToString(), text);
  }
}

TEST(ParseEndpointTest, RefusesBadInput) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"127.0.0.1", "expected HOST:PORT"},
      {":7000", "host is empty"},
      {"127.0.0.1:", "port \"\""},
      {"127.0.0.1:0", "port \"0\""},
      {"127.0.0.1:65536", "port \"65536\""},
      {"127.0.0.1:-1", "port \"-1\""},
      {"127.0.0.1:70a", "port \"70a\""},
      {"127.0.0.1:99999999999999", "port \"99999999999999\""},
      {"::1:7000", "host \"::1\""},
      {"bad host:7000", "host \"bad host\""},
  };
  for (const auto& [text, want] : cases) {
    Result<Endpoint> ep = ParseEndpoint(text);
    ASSERT_FALSE(ep.ok()) << text;
    EXPECT_EQ(ep.error().code(), Code::kInvalidArgument);
    EXPECT_NE(ep.error().message().find(want), std::string::npos) << ep.error().message();
  }
}

TEST(EndpointTest, BusPortIsPortPlus10000) {
  EXPECT_EQ((Endpoint{"127.0.0.1", 7000}).BusPort(), 17000);
}

}  // namespace
}  // namespace sk
