// The real rest::Server + Router on a free loopback port, over a FakeClusterService, and the
// small clients the REST and CLI-client tests use against it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "api/cli/http_client.h"
#include "api/rest/rest_server.h"
#include "api/rest/routes.h"
#include "tests/integration/rest/fake_cluster_service.h"

namespace sk::testing {

// A valid spec document named `name`, in YAML.
std::string SpecYaml(const std::string& name, int masters = 3);

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }
  void TearDown() override { Stop(); }

  // (Re)starts the router and server with these options.
  void Start(rest::RouterOptions router_options = {}, rest::ServerOptions server_options = {});
  void Stop();

  cli::HttpResponse Call(const std::string& method, const std::string& path,
                         const std::string& body = "",
                         const std::string& content_type = "application/json",
                         const std::string& token = "");
  static nlohmann::json Json(const cli::HttpResponse& r);
  // The error code of an error answer ("" when the body is not the contract's error shape).
  static std::string ErrorCode(const cli::HttpResponse& r);
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  FakeClusterService fake_;
  std::unique_ptr<rest::Router> router_;
  std::unique_ptr<rest::Server> server_;
  int port_ = 0;
};

// A raw TCP connection to 127.0.0.1:port, for what no well-behaved client does.
class RawConn {
 public:
  explicit RawConn(int port);
  ~RawConn();
  RawConn(const RawConn&) = delete;
  bool ok() const { return fd_ >= 0; }
  bool Send(std::string_view data);
  // Reads until `until` appears, the peer closes, or the timeout; returns what was read.
  std::string Read(std::chrono::milliseconds timeout, std::string_view until = "");
  // True when the peer closed the connection within the timeout.
  bool ClosedWithin(std::chrono::milliseconds timeout);
  void Close();

 private:
  int fd_ = -1;
};

// Peak resident memory of this process (VmHWM), in KiB.
long PeakRssKb();
// Raises the soft open-file limit to the hard one; returns the new soft limit.
long RaiseFdLimit();

}  // namespace sk::testing
