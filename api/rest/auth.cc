#include "api/rest/auth.h"

#include <cctype>

#include "api/types/files.h"

namespace sk::rest {

namespace {

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

bool ConstantTimeEquals(std::string_view given, std::string_view expected) {
  // Every byte of `expected` is visited whatever `given` holds; volatile keeps the compiler
  // from turning the loop into an early-exit memcmp.
  volatile unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = diff | (g ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

bool BearerMatches(std::string_view authorization, std::string_view token) {
  if (token.empty()) return false;
  authorization = TrimSpace(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
  }
  if (authorization[kScheme.size()] != ' ') return false;
  return ConstantTimeEquals(TrimSpace(authorization.substr(kScheme.size())), token);
}

Result<std::string> ReadTokenFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return InvalidArgument("token file " + path + ": cannot read it");
  std::string_view content = *text;
  std::string_view first = TrimSpace(content.substr(0, content.find('\n')));
  if (first.empty()) return InvalidArgument("token file " + path + " holds no token");
  return std::string(first);
}

}  // namespace sk::rest
