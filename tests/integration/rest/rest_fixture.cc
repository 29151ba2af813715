#include "tests/integration/rest/rest_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

namespace sk::testing {

std::string SpecYaml(const std::string& name, int masters) {
  return "apiVersion: slotkeeper.io/v1alpha1\nkind: RedisCluster\nmetadata:\n  name: " + name +
         "\nspec:\n  masters: " + std::to_string(masters) +
         "\n  replicasPerMaster: 1\n  local:\n    basePort: 17000\n    dataDir: ./data\n";
}

void ApiTest::Start(rest::RouterOptions router_options, rest::ServerOptions server_options) {
  Stop();
  router_ = std::make_unique<rest::Router>(&fake_, std::move(router_options));
  auto server = rest::Serve("127.0.0.1:0", *router_, std::move(server_options));
  ASSERT_TRUE(server.ok()) << server.error().ToString();
  server_ = std::move(server).value();
  port_ = server_->port();
}

void ApiTest::Stop() {
  if (server_) server_->Stop();
  server_.reset();
  router_.reset();
}

cli::HttpResponse ApiTest::Call(const std::string& method, const std::string& path,
                                const std::string& body, const std::string& content_type,
                                const std::string& token) {
  cli::HttpClient client(cli::Url{"127.0.0.1", port_, ""}, token, std::chrono::seconds(10));
  auto r = client.Send(method, path, body, content_type);
  EXPECT_TRUE(r.ok()) << method << " " << path << ": " << r.error().ToString();
  return r.ok() ? *r : cli::HttpResponse{};
}

nlohmann::json ApiTest::Json(const cli::HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.body;
  return j;
}

std::string ApiTest::ErrorCode(const cli::HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return "";
  const auto& e = j["error"];
  if (!e.contains("message") || !e["message"].is_string() || !e.contains("fields") ||
      !e["fields"].is_array()) {
    return "";
  }
  return e.value("code", "");
}

RawConn::RawConn(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) Close();
}

RawConn::~RawConn() { Close(); }

void RawConn::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConn::Send(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string RawConn::Read(std::chrono::milliseconds timeout, std::string_view until) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[8192];
  while (fd_ >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (!until.empty() && out.find(until) != std::string::npos) break;
  }
  return out;
}

bool RawConn::ClosedWithin(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (fd_ >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    if (::recv(fd_, buf, sizeof buf, 0) <= 0) return true;
  }
  return true;
}

long PeakRssKb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

long RaiseFdLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
  ::getrlimit(RLIMIT_NOFILE, &rl);
  return static_cast<long>(rl.rlim_cur);
}

}  // namespace sk::testing
