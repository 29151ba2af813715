#include "api/codec/text_util.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

namespace sk::codec {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Levenshtein distance with one row of memory; names are short.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

bool IsIntText(std::string_view s) {
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit);
}

bool IsFloatText(std::string_view s) {
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  if (s == ".inf" || s == ".Inf" || s == ".INF") return true;
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return true;
  // mantissa: digits with an optional '.', at least one digit; then an optional exponent.
  size_t i = 0;
  size_t digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  bool dot = false;
  if (i < s.size() && s[i] == '.') {
    dot = true;
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  bool exponent = false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    exponent = true;
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && IsDigit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size() && (dot || exponent);
}

std::optional<bool> BoolText(std::string_view s) {
  static constexpr std::string_view kTrue[] = {"true", "True", "TRUE", "yes", "Yes",
                                               "YES",  "on",   "On",   "ON"};
  static constexpr std::string_view kFalse[] = {"false", "False", "FALSE", "no", "No",
                                                "NO",    "off",   "Off",   "OFF"};
  if (std::find(std::begin(kTrue), std::end(kTrue), s) != std::end(kTrue)) return true;
  if (std::find(std::begin(kFalse), std::end(kFalse), s) != std::end(kFalse)) return false;
  return std::nullopt;
}

bool IsNullText(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<double> ParseNumberText(std::string_view s) {
  if (!IsIntText(s) && !IsFloatText(s)) return std::nullopt;
  const bool negative = s.front() == '-';
  std::string_view body = s;
  if (body.front() == '-' || body.front() == '+') body.remove_prefix(1);
  if (body.size() == 4 && body[0] == '.') {
    const std::string word = Lower(body);
    if (word == ".inf") {
      return negative ? -std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::infinity();
    }
    return std::numeric_limits<double>::quiet_NaN();
  }
  // strtod over the validated text handles a leading '+' and ".5", which from_chars refuses.
  // Nothing in slotkeeper calls setlocale, so the decimal point is '.'.
  const std::string copy(s);
  return std::strtod(copy.c_str(), nullptr);
}

std::string QuoteText(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\0':
        out += "\\0";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

std::string_view DidYouMean(std::string_view name,
                            const std::vector<std::string_view>& candidates) {
  const std::string lower = Lower(name);
  // Containment catches the common shortening ("replicas" for replicasPerMaster), which edit
  // distance alone would miss; prefer the candidate closest in length.
  std::string_view best;
  size_t best_score = std::numeric_limits<size_t>::max();
  if (lower.size() >= 3) {
    for (std::string_view c : candidates) {
      const std::string lc = Lower(c);
      // One direction only: "namespace" contains "name", but nobody means name by it.
      if (lc.find(lower) != std::string::npos) {
        const size_t score = lc.size() - lower.size();
        if (score < best_score) {
          best = c;
          best_score = score;
        }
      }
    }
    if (!best.empty()) return best;
  }
  for (std::string_view c : candidates) {
    const size_t d = EditDistance(lower, Lower(c));
    const size_t limit = std::max<size_t>(2, c.size() / 3);
    if (d <= limit && d < best_score) {
      best = c;
      best_score = d;
    }
  }
  return best;
}

}  // namespace sk::codec
