// Scalar helpers shared by the spec reader and writer: YAML's implicit typing of plain
// scalars, quoting for messages, and the did-you-mean for unknown fields. Internal to
// api/codec.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sk::codec {

// [-+]?[0-9]+
bool IsIntText(std::string_view s);
// A YAML 1.2 core-schema float that is not an integer: 3.5, -1e3, .5, .inf, .nan.
bool IsFloatText(std::string_view s);
// The value of a YAML boolean word (true/false, and YAML 1.1's yes/no/on/off that Kubernetes
// also reads), in lower, Title or UPPER case; nullopt for anything else.
std::optional<bool> BoolText(std::string_view s);
// Words a plain scalar would read as null: "", ~, null, Null, NULL.
bool IsNullText(std::string_view s);
// An integer or float text as a double (.inf and .nan included); nullopt otherwise.
std::optional<double> ParseNumberText(std::string_view s);
// JSON-style double-quoted text, so that control characters cannot break a message.
std::string QuoteText(std::string_view s);
// The candidate the user most likely meant by `name` (a candidate containing it,
// case-insensitively, first, then edit distance), or "" when none is close.
std::string_view DidYouMean(std::string_view name, const std::vector<std::string_view>& candidates);

}  // namespace sk::codec
