#include "api/rest/document.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <vector>

// The spec codec's scalar typing, reused so that a YAML body converted here reads exactly as
// the codec would read the same YAML (3 a number, "3" a string, yes a boolean).
#include "api/codec/text_util.h"
#include "api/codec/yaml_emit.h"

namespace sk::rest {

namespace {

using json = nlohmann::json;

constexpr int kMaxDepth = 64;
constexpr size_t kMaxValues = 200000;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Deepest [ / { nesting outside quoted strings, found before any recursive parser sees the
// text: a megabyte of '[' would otherwise overflow the stack of yaml-cpp (and of dump()).
int FlowDepth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    } else if (c == '\n') {
      quote = 0;  // a YAML apostrophe in plain text ("don't") must not swallow the rest
    }
  }
  return deepest;
}

// Plain scalars carry YAML's implicit typing; quoted ones ("!" tag) are strings.
bool IsPlain(const YAML::Node& n) {
  const std::string& tag = n.Tag();
  return tag == "?" || tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" ||
         tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:null";
}

json ScalarToJson(const YAML::Node& n) {
  const std::string& text = n.Scalar();
  if (!IsPlain(n)) return text;
  if (codec::IsNullText(text)) return nullptr;
  if (std::optional<bool> b = codec::BoolText(text)) return *b;
  if (codec::IsIntText(text)) {
    std::string_view digits = text;
    if (digits.front() == '+') digits.remove_prefix(1);
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec == std::errc() && ptr == digits.data() + digits.size()) return v;
  }
  if (std::optional<double> d = codec::ParseNumberText(text); d && std::isfinite(*d)) return *d;
  return text;  // 256mb, .inf (JSON has no infinity): left as text for the codec to judge
}

class YamlConverter {
 public:
  Result<json> Convert(const YAML::Node& n, int depth) {
    if (++values_ > kMaxValues) return InvalidArgument("the document has too many values");
    if (depth > kMaxDepth) return InvalidArgument("the document is nested too deeply");
    if (n.IsMap()) {
      json out = json::object();
      for (const auto& entry : n) {
        const YAML::Node key = entry.first;  // a copy: yaml-cpp yields temporary pairs
        if (!key.IsScalar()) return InvalidArgument("map keys must be strings");
        SK_ASSIGN_OR_RETURN(out[key.Scalar()], Convert(entry.second, depth + 1));
      }
      return out;
    }
    if (n.IsSequence()) {
      json out = json::array();
      for (const auto& item : n) {
        SK_ASSIGN_OR_RETURN(json v, Convert(item, depth + 1));
        out.push_back(std::move(v));
      }
      return out;
    }
    if (n.IsScalar()) return ScalarToJson(n);
    return json(nullptr);
  }

 private:
  size_t values_ = 0;
};

Result<json> ParseYaml(std::string_view text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string where;
    if (!e.mark.is_null()) {
      where = " at line " + std::to_string(e.mark.line + 1) + ", column " +
              std::to_string(e.mark.column + 1);
    }
    return InvalidArgument("malformed YAML" + where + ": " + e.msg);
  }
  if (docs.size() > 1) {
    return InvalidArgument("expected one YAML document, got " + std::to_string(docs.size()));
  }
  if (docs.empty() || docs[0].IsNull()) return InvalidArgument("the document is empty");
  try {
    return YamlConverter().Convert(docs[0], 0);
  } catch (const YAML::Exception& e) {
    return InvalidArgument("malformed YAML: " + e.msg);
  }
}

Result<json> ParseJson(std::string_view text) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 9: <why>".
    std::string why = e.what();
    const size_t at = why.find("parse error");
    if (at != std::string::npos) why = why.substr(at);
    return InvalidArgument("malformed JSON: " + why);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("malformed JSON: ") + e.what());
  }
}

}  // namespace

BodyFormat FormatOf(std::string_view content_type, std::string_view body) {
  std::string type = Lower(content_type.substr(0, content_type.find(';')));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  if (type == "application/json" || (type.size() > 5 && type.ends_with("+json"))) {
    return BodyFormat::kJson;
  }
  if (type == "application/yaml" || type == "application/x-yaml" || type == "text/yaml" ||
      type == "text/x-yaml") {
    return BodyFormat::kYaml;
  }
  const size_t first = body.find_first_not_of(" \t\r\n");
  const bool json_like =
      first != std::string_view::npos && (body[first] == '{' || body[first] == '[');
  return json_like ? BodyFormat::kJson : BodyFormat::kYaml;
}

Result<json> ParseDocument(std::string_view text, BodyFormat format) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 BOM is not content
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return InvalidArgument("the request needs a body");
  }
  if (FlowDepth(text) > kMaxDepth) return InvalidArgument("the document is nested too deeply");
  return format == BodyFormat::kJson ? ParseJson(text) : ParseYaml(text);
}

bool StripReadOnly(json& doc) {
  if (!doc.is_object()) return false;
  bool changed = doc.erase("status") > 0;
  auto meta = doc.find("metadata");
  if (meta != doc.end() && meta->is_object()) {
    for (auto it = meta->begin(); it != meta->end();) {
      if (it.key() == "name" || it.key() == "labels" || it.key() == "annotations") {
        ++it;
      } else {
        it = meta->erase(it);
        changed = true;
      }
    }
  }
  return changed;
}

std::string ToYaml(const nlohmann::ordered_json& doc) {
  try {
    YAML::Emitter out;
    out.SetNullFormat(YAML::LowerNull);  // "null", as in the JSON, rather than "~"
    codec::EmitYaml(out, doc);
    return std::string(out.c_str()) + "\n";
  } catch (const std::exception&) {
    return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) +
           "\n";  // JSON is YAML
  }
}

}  // namespace sk::rest
