// Bearer tokens for the API's mutating calls (CONTRACT.md section 4). The token is a secret:
// nothing here logs it, and callers must not put it in errors, events, status or metrics.
#pragma once

#include <string>
#include <string_view>

#include "api/types/result.h"

namespace sk::rest {

// Equality whose running time depends only on the lengths, never on where the bytes differ.
bool ConstantTimeEquals(std::string_view given, std::string_view expected);

// True when an Authorization header value is "Bearer <token>" (the scheme in any case, as
// RFC 9110 says), compared in constant time. False for an empty `token`.
bool BearerMatches(std::string_view authorization, std::string_view token);

// The token in a file: its first line with surrounding whitespace removed. InvalidArgument
// naming the path (never the content) when it cannot be read or holds no token.
Result<std::string> ReadTokenFile(const std::string& path);

}  // namespace sk::rest
