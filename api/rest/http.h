// Plain HTTP request/response values: everything outside rest_server.cc sees only these, so
// the listener's library (Boost.Beast, slow to compile) stays in one translation unit
// (TOOLCHAIN.md section 6). Also the small URL helpers that the router and the CLI share.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sk::rest {

struct Request {
  std::string method;    // "GET", ...
  std::string path;      // percent-decoded, without the query: "/api/v1/clusters/demo"
  std::string raw_path;  // as sent (still percent-encoded), without the query
  std::map<std::string, std::string> query;    // decoded
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

// {"error":{"code":...,"message":...,"fields":[...]}} with the given status (CONTRACT.md 4).
Response JsonError(int status, const std::string& code, const std::string& message,
                   const std::vector<std::string>& fields = {});

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as in query strings).
// Malformed escapes are kept as written.
std::string UrlDecode(std::string_view text, bool plus_is_space = false);
// Encodes every byte outside RFC 3986's unreserved set.
std::string UrlEncode(std::string_view text);
// "a=1&b=x%20y" -> {a: 1, b: "x y"}; a key without '=' maps to "".
std::map<std::string, std::string> ParseQuery(std::string_view query);

}  // namespace sk::rest
