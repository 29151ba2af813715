// Plain HTTP request/response values: everything outside rest_server.cc sees only these, so
// cpprest (slow to compile, throws) stays in one translation unit (TOOLCHAIN.md section 6).
#pragma once

#include <functional>
#include <map>
#include <string>

namespace sk::rest {

struct Request {
  std::string method;  // "GET", ...
  std::string path;    // decoded, without the query: "/api/v1/clusters/demo"
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
};

using Handler = std::function<Response(const Request&)>;

// {"error":{"code":...,"message":...}} with the given status.
Response JsonError(int status, const std::string& code, const std::string& message);

}  // namespace sk::rest
