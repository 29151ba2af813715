// Reading specs. The document is walked against a fixed schema, so every problem (wrong type,
// unknown field, duplicate key) is reported with its path and line; then Validate() adds the
// value problems. yaml-cpp reads YAML and JSON alike (JSON is YAML flow syntax), which keeps
// line numbers for JSON too. nlohmann checks JSON first, strictly, and stands in when
// yaml-cpp refuses valid JSON (surrogate pairs, keys over 1024 characters).
#include "api/codec/spec_codec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/codec/text_util.h"

namespace sk::codec {
namespace {

using json = nlohmann::json;

// Spec files are a few KiB; this only stops a wrong path (a device, a huge log) early.
constexpr std::uintmax_t kMaxSpecFileBytes = 16 << 20;
// Deeper JSON is never a valid spec (the schema is five levels deep, and the walker reports
// the wrong type where it expects a scalar), so the fallback conversion stops there.
constexpr int kMaxFallbackDepth = 32;
// Enough for any real mistake; a generated document with thousands of bad keys should not
// produce a megabyte of error text.
constexpr size_t kMaxListedProblems = 100;

// True when one path is the other or lies under it ("spec.slots" and "spec.slots.ranges[0]").
// "" is the whole document.
bool PathsRelated(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty()) return true;
  if (a.size() > b.size()) std::swap(a, b);
  if (b.substr(0, a.size()) != a) return false;
  return b.size() == a.size() || b[a.size()] == '.' || b[a.size()] == '[';
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// Plain scalars carry YAML's implicit typing (3 is a number, "3" a string); yaml-cpp tags
// plain scalars "?" and quoted ones "!". Explicit core tags (!!int 3) count as plain.
bool IsPlain(const YAML::Node& n) {
  const std::string& tag = n.Tag();
  return tag == "?" || tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" ||
         tag == "tag:yaml.org,2002:bool";
}

// How a value is shown in "expected X, got Y": numbers and booleans as written, strings
// quoted, collections by kind.
std::string Describe(const YAML::Node& n) {
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  if (!n.IsScalar()) return "null";
  const std::string& text = n.Scalar();
  if (IsPlain(n) && (IsIntText(text) || IsFloatText(text) || BoolText(text))) return text;
  return QuoteText(text.size() > 80 ? text.substr(0, 80) + "..." : text);
}

// "line 3, column 5" of a byte offset (0-based) in text.
std::string LineColumn(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  const std::string_view before = text.substr(0, offset);
  const size_t line = 1 + std::count(before.begin(), before.end(), '\n');
  const size_t last_newline = before.rfind('\n');
  const size_t column = last_newline == std::string_view::npos ? offset + 1 : offset - last_newline;
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// Converts nlohmann's tree to yaml-cpp's, tagging strings as quoted so typing stays JSON's.
// Marks are lost, so problems in such a document carry no line numbers.
YAML::Node JsonToYaml(const json& j, int depth) {
  if (depth > kMaxFallbackDepth || j.is_null() || j.is_discarded()) {
    return YAML::Node(YAML::NodeType::Null);
  }
  if (j.is_object()) {
    YAML::Node map(YAML::NodeType::Map);
    for (const auto& [key, value] : j.items()) map[key] = JsonToYaml(value, depth + 1);
    return map;
  }
  if (j.is_array()) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const json& item : j) list.push_back(JsonToYaml(item, depth + 1));
    return list;
  }
  YAML::Node scalar(j.is_string() ? j.get<std::string>() : j.dump());  // numbers as written
  scalar.SetTag(j.is_string() ? "!" : "?");
  return scalar;
}

class SpecReader {
 public:
  // Parses the text into a document; on failure records why and returns nullopt.
  std::optional<YAML::Node> Load(std::string_view text);
  void ReadRoot(const YAML::Node& doc);
  // Validate()'s problems that do not touch a path already reported, then the final result.
  Result<ClusterSpec> Finish();

 private:
  using FieldFn = std::function<void(const YAML::Node& value, const std::string& path)>;
  struct Field {
    std::string_view name;
    FieldFn read;
  };
  using EntryFn = std::function<void(const std::string& name, const YAML::Node& key,
                                     const YAML::Node& value, const std::string& path)>;

  // Adds "path (line N): message" and marks the path as one Validate() may not report on.
  void Add(const std::string& path, const YAML::Mark& mark, const std::string& message);
  void Poison(const std::string& path) { poisoned_.push_back(path); }
  bool IsPoisoned(std::string_view path) const;

  // Calls fn for each entry of a map, refusing non-scalar and duplicate keys (yaml-cpp keeps
  // both copies of a duplicate key, which YAML forbids).
  void ForEachEntry(const YAML::Node& map, const std::string& path, const EntryFn& fn);
  // Walks a map against its fields; unknown keys get a did-you-mean. A null value is skipped:
  // as in Kubernetes, `field:` with nothing after it means "not given".
  void ReadFields(const YAML::Node& map, const std::string& path, const std::vector<Field>& fields);
  bool ExpectMap(const YAML::Node& n, const std::string& path);

  std::optional<int> ReadInt(const YAML::Node& n, const std::string& path);
  std::optional<double> ReadNumber(const YAML::Node& n, const std::string& path);
  std::optional<bool> ReadBool(const YAML::Node& n, const std::string& path);
  std::optional<std::string> ReadString(const YAML::Node& n, const std::string& path);
  template <class T>
  static void Set(std::optional<T> v, T& out) {
    if (v) out = std::move(*v);
  }

  void ReadMetadata(const YAML::Node& n, const std::string& path);
  void ReadStringMap(const YAML::Node& n, const std::string& path);
  void ReadSpec(const YAML::Node& n, const std::string& path);
  void ReadAuth(const YAML::Node& n, const std::string& path);
  void ReadLocal(const YAML::Node& n, const std::string& path);
  void ReadSlots(const YAML::Node& n, const std::string& path);
  void ReadWeights(const YAML::Node& n, const std::string& path);
  void ReadRanges(const YAML::Node& n, const std::string& path);
  void ReadRedis(const YAML::Node& n, const std::string& path);
  void ReadRedisConfig(const YAML::Node& n, const std::string& path);
  void ReadHosts(const YAML::Node& n, const std::string& path);

  ClusterSpec spec_;
  bool name_given_ = false;
  std::vector<std::string> problems_;
  std::vector<std::string> poisoned_;
};

void SpecReader::Add(const std::string& path, const YAML::Mark& mark, const std::string& message) {
  std::string label = path.empty() ? "spec" : path;
  if (!mark.is_null() && mark.line >= 0) label += " (line " + std::to_string(mark.line + 1) + ")";
  problems_.push_back(label + ": " + message);
  poisoned_.push_back(path);
}

bool SpecReader::IsPoisoned(std::string_view path) const {
  return std::any_of(poisoned_.begin(), poisoned_.end(),
                     [&](const std::string& p) { return PathsRelated(p, path); });
}

std::optional<YAML::Node> SpecReader::Load(std::string_view text) {
  // A UTF-8 byte order mark is legal at the start of both formats; it is not content.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  const size_t first = text.find_first_not_of(" \t\r\n");
  const bool is_json = first != std::string_view::npos && text[first] == '{';
  std::optional<json> parsed_json;
  if (is_json) {
    try {
      parsed_json = json::parse(text);
    } catch (const json::parse_error& e) {
      // what() is "[json.exception.parse_error.101] parse error at line 1, column 9: <why>".
      std::string why = e.what();
      const size_t colon = why.find(": ", why.find("parse error"));
      if (colon != std::string::npos) why = why.substr(colon + 2);
      Add("", YAML::Mark::null_mark(),
          "malformed JSON at " + LineColumn(text, e.byte > 0 ? e.byte - 1 : 0) + ": " + why);
      return std::nullopt;
    }
  }
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    if (parsed_json) return JsonToYaml(*parsed_json, 0);
    std::string where;
    if (!e.mark.is_null()) {
      where = " at line " + std::to_string(e.mark.line + 1) + ", column " +
              std::to_string(e.mark.column + 1);
    }
    Add("", YAML::Mark::null_mark(), "malformed YAML" + where + ": " + e.msg);
    return std::nullopt;
  }
  if (docs.size() > 1) {
    Add("", YAML::Mark::null_mark(),
        "expected one document, got " + std::to_string(docs.size()) + " (separated by ---)");
    return std::nullopt;
  }
  if (docs.empty() || docs[0].IsNull()) {
    Add("", YAML::Mark::null_mark(), "the document is empty");
    return std::nullopt;
  }
  return docs[0];
}

void SpecReader::ForEachEntry(const YAML::Node& map, const std::string& path, const EntryFn& fn) {
  // A hash map, not a scan: a hostile 1 MiB body can hold 100k keys.
  std::unordered_map<std::string, YAML::Mark> seen;
  for (const auto& entry : map) {
    // A copy: yaml-cpp's iterators yield temporary pairs, and a reference into one dangles.
    const YAML::Node key = entry.first;
    if (!key.IsScalar()) {
      Add(path, key.Mark(), "keys must be strings, got " + Describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    const std::string child = Join(path, name);
    auto [dup, inserted] = seen.emplace(name, key.Mark());
    if (!inserted) {
      std::string message = "duplicate key";
      if (!dup->second.is_null()) {
        message += "; first given at line " + std::to_string(dup->second.line + 1);
      }
      Add(child, key.Mark(), message);
      continue;
    }
    fn(name, key, entry.second, child);
  }
}

void SpecReader::ReadFields(const YAML::Node& map, const std::string& path,
                            const std::vector<Field>& fields) {
  ForEachEntry(map, path,
               [&](const std::string& name, const YAML::Node& key, const YAML::Node& value,
                   const std::string& child) {
                 auto field = std::find_if(fields.begin(), fields.end(),
                                           [&](const Field& f) { return f.name == name; });
                 if (field == fields.end()) {
                   std::vector<std::string_view> names;
                   for (const Field& f : fields) names.push_back(f.name);
                   std::string message = "unknown field";
                   if (std::string_view hint = DidYouMean(name, names); !hint.empty()) {
                     message += "; did you mean " + std::string(hint) + "?";
                   }
                   Add(child, key.Mark(), message);
                   // The user meant some value for a field of this map that we did not read,
                   // so Validate()'s view of the whole map is not trustworthy.
                   Poison(path);
                   return;
                 }
                 if (!value.IsNull()) field->read(value, child);
               });
}

bool SpecReader::ExpectMap(const YAML::Node& n, const std::string& path) {
  if (n.IsMap()) return true;
  Add(path, n.Mark(), "expected a map, got " + Describe(n));
  return false;
}

std::optional<int> SpecReader::ReadInt(const YAML::Node& n, const std::string& path) {
  if (!n.IsScalar() || !IsPlain(n) || !IsIntText(n.Scalar())) {
    // 3.5 and "3" are refused alike: a count is never fractional, and a quoted number is a
    // string in YAML and JSON, so accepting it would hide a templating mistake.
    Add(path, n.Mark(), "expected an integer, got " + Describe(n));
    return std::nullopt;
  }
  std::string_view text = n.Scalar();
  if (text.front() == '+') text.remove_prefix(1);
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    Add(path, n.Mark(), "integer " + n.Scalar() + " is out of range");
    return std::nullopt;
  }
  return value;
}

std::optional<double> SpecReader::ReadNumber(const YAML::Node& n, const std::string& path) {
  if (n.IsScalar() && IsPlain(n)) {
    if (std::optional<double> d = ParseNumberText(n.Scalar())) return d;
  }
  Add(path, n.Mark(), "expected a number, got " + Describe(n));
  return std::nullopt;
}

std::optional<bool> SpecReader::ReadBool(const YAML::Node& n, const std::string& path) {
  if (n.IsScalar() && IsPlain(n)) {
    if (std::optional<bool> b = BoolText(n.Scalar())) return b;
  }
  Add(path, n.Mark(), "expected true or false, got " + Describe(n));
  return std::nullopt;
}

// Any scalar reads as a string: `name: 123` or `zone: 1` is what the user means, and
// Validate() checks the characters anyway.
std::optional<std::string> SpecReader::ReadString(const YAML::Node& n, const std::string& path) {
  if (n.IsScalar()) return n.Scalar();
  Add(path, n.Mark(), "expected a string, got " + Describe(n));
  return std::nullopt;
}

void SpecReader::ReadRoot(const YAML::Node& doc) {
  if (!doc.IsMap()) {
    Add("", doc.Mark(),
        "expected a map with apiVersion, kind, metadata and spec, got " + Describe(doc));
    return;
  }
  ReadFields(
      doc, "",
      {
          {"apiVersion", [&](auto& v, auto& p) { Set(ReadString(v, p), spec_.api_version); }},
          {"kind", [&](auto& v, auto& p) { Set(ReadString(v, p), spec_.kind); }},
          {"metadata", [&](auto& v, auto& p) { ReadMetadata(v, p); }},
          {"spec", [&](auto& v, auto& p) { ReadSpec(v, p); }},
      });
  if (!name_given_ && !IsPoisoned("metadata.name")) {
    Add("metadata.name", YAML::Mark::null_mark(), "is required");
  }
}

void SpecReader::ReadMetadata(const YAML::Node& n, const std::string& path) {
  if (!ExpectMap(n, path)) return;
  // labels and annotations are accepted so that Kubernetes-style manifests load unchanged,
  // and ignored: nothing in slotkeeper selects on them.
  ReadFields(n, path,
             {
                 {"name",
                  [&](auto& v, auto& p) {
                    name_given_ = true;
                    Set(ReadString(v, p), spec_.name);
                  }},
                 {"labels", [&](auto& v, auto& p) { ReadStringMap(v, p); }},
                 {"annotations", [&](auto& v, auto& p) { ReadStringMap(v, p); }},
             });
}

void SpecReader::ReadStringMap(const YAML::Node& n, const std::string& path) {
  if (!ExpectMap(n, path)) return;
  ForEachEntry(n, path,
               [&](const std::string&, const YAML::Node&, const YAML::Node& value,
                   const std::string& child) {
                 if (!value.IsNull()) (void)ReadString(value, child);
               });
}

void SpecReader::ReadSpec(const YAML::Node& n, const std::string& path) {
  if (!ExpectMap(n, path)) return;
  // Every other rule (slots, node count, ports) depends on the counts; if one is unreadable,
  // Validate() on the default would only mislead, so it poisons all of spec.
  auto read_count = [&](const YAML::Node& v, const std::string& p, int& out) {
    std::optional<int> count = ReadInt(v, p);
    if (count) out = *count;
    if (!count) Poison(path);
  };
  ReadFields(n, path,
             {
                 {"masters", [&](auto& v, auto& p) { read_count(v, p, spec_.masters); }},
                 {"replicasPerMaster",
                  [&](auto& v, auto& p) { read_count(v, p, spec_.replicas_per_master); }},
                 {"slots", [&](auto& v, auto& p) { ReadSlots(v, p); }},
                 {"redis", [&](auto& v, auto& p) { ReadRedis(v, p); }},
                 {"auth", [&](auto& v, auto& p) { ReadAuth(v, p); }},
                 {"local", [&](auto& v, auto& p) { ReadLocal(v, p); }},
                 {"hosts", [&](auto& v, auto& p) { ReadHosts(v, p); }},
             });
}

void SpecReader::ReadAuth(const YAML::Node& n, const std::string& path) {
  spec_.auth = AuthSpec{};
  if (!ExpectMap(n, path)) return;
  ReadFields(n, path, {{"passwordFile", [&](auto& v, auto& p) {
                          Set(ReadString(v, p), spec_.auth->password_file);
                        }}});
}

void SpecReader::ReadLocal(const YAML::Node& n, const std::string& path) {
  spec_.local_given = true;
  if (!ExpectMap(n, path)) return;
  ReadFields(
      n, path,
      {
          {"bind", [&](auto& v, auto& p) { Set(ReadString(v, p), spec_.local.bind); }},
          {"basePort", [&](auto& v, auto& p) { Set(ReadInt(v, p), spec_.local.base_port); }},
          {"dataDir", [&](auto& v, auto& p) { Set(ReadString(v, p), spec_.local.data_dir); }},
      });
}

void SpecReader::ReadSlots(const YAML::Node& n, const std::string& path) {
  if (!ExpectMap(n, path)) return;
  ReadFields(n, path,
             {
                 {"weights", [&](auto& v, auto& p) { ReadWeights(v, p); }},
                 {"ranges", [&](auto& v, auto& p) { ReadRanges(v, p); }},
             });
}

void SpecReader::ReadWeights(const YAML::Node& n, const std::string& path) {
  if (!n.IsSequence()) {
    Add(path, n.Mark(), "expected a list of numbers, one per master, got " + Describe(n));
    return;
  }
  for (size_t i = 0; i < n.size(); ++i) {
    // A NaN placeholder keeps the indexes of later weights right; Validate()'s complaint about
    // it lands on a poisoned path and is dropped.
    spec_.slots.weights.push_back(
        ReadNumber(n[i], Index(path, i)).value_or(std::numeric_limits<double>::quiet_NaN()));
  }
}

void SpecReader::ReadRanges(const YAML::Node& n, const std::string& path) {
  if (!n.IsSequence()) {
    Add(path, n.Mark(),
        "expected a list with one list of slot ranges per master, got " + Describe(n));
    return;
  }
  for (size_t i = 0; i < n.size(); ++i) {
    const YAML::Node& list = n[i];
    const std::string list_path = Index(path, i);
    std::vector<SlotRange>& out = spec_.slots.ranges.emplace_back();
    if (!list.IsSequence()) {
      Add(list_path, list.Mark(),
          "expected a list of slot ranges for master " + std::to_string(i) +
              " (e.g. [\"0-5460\"]), got " + Describe(list));
      continue;
    }
    for (size_t j = 0; j < list.size(); ++j) {
      const YAML::Node& item = list[j];
      const std::string item_path = Index(list_path, j);
      // Out-of-range placeholder: keeps indexes, and Validate() skips it for coverage.
      SlotRange& range = out.emplace_back(SlotRange{-1, -1});
      if (item.IsScalar() && IsPlain(item) && IsIntText(item.Scalar())) {
        // A bare integer is one slot; Validate() checks 0..16383 and names the range.
        if (std::optional<int> slot = ReadInt(item, item_path)) range = {*slot, *slot};
      } else if (item.IsScalar()) {
        Result<SlotRange> parsed = ParseSlotRange(item.Scalar());
        if (parsed.ok()) {
          range = *parsed;
        } else {
          Add(item_path, item.Mark(), parsed.error().message());
        }
      } else {
        Add(item_path, item.Mark(),
            "expected a slot range such as \"0-5460\" or a slot number, got " + Describe(item));
      }
    }
  }
}

void SpecReader::ReadRedis(const YAML::Node& n, const std::string& path) {
  if (!ExpectMap(n, path)) return;
  RedisSettings& r = spec_.redis;
  ReadFields(
      n, path,
      {
          {"nodeTimeoutMs", [&](auto& v, auto& p) { Set(ReadInt(v, p), r.node_timeout_ms); }},
          {"appendonly", [&](auto& v, auto& p) { Set(ReadBool(v, p), r.appendonly); }},
          {"requireFullCoverage",
           [&](auto& v, auto& p) { Set(ReadBool(v, p), r.require_full_coverage); }},
          {"replicaValidityFactor",
           [&](auto& v, auto& p) { Set(ReadInt(v, p), r.replica_validity_factor); }},
          {"migrationBarrier", [&](auto& v, auto& p) { Set(ReadInt(v, p), r.migration_barrier); }},
          // 268435456 and "256mb" are both fine; Validate() checks the form.
          {"maxmemory",
           [&](auto& v, auto& p) {
             if (std::optional<std::string> m = ReadString(v, p)) r.maxmemory = *m;
           }},
          {"config", [&](auto& v, auto& p) { ReadRedisConfig(v, p); }},
      });
}

void SpecReader::ReadRedisConfig(const YAML::Node& n, const std::string& path) {
  if (!ExpectMap(n, path)) return;
  // Document order is kept: redis.conf is read top to bottom, and some directives (save,
  // client-output-buffer-limit) mean something different when repeated or reordered.
  ForEachEntry(n, path,
               [&](const std::string& name, const YAML::Node& key, const YAML::Node& value,
                   const std::string& child) {
                 if (value.IsNull()) {
                   Add(child, key.Mark(), "expected a value; write \"\" for an empty one");
                   return;
                 }
                 if (!value.IsScalar()) {
                   Add(child, value.Mark(), "expected a single value, got " + Describe(value));
                   return;
                 }
                 std::string text = value.Scalar();
                 // redis.conf booleans are yes/no; a YAML true would otherwise reach Redis as
                 // "true".
                 if (IsPlain(value)) {
                   if (std::optional<bool> b = BoolText(text)) text = *b ? "yes" : "no";
                 }
                 spec_.redis.config.emplace_back(name, std::move(text));
               });
}

void SpecReader::ReadHosts(const YAML::Node& n, const std::string& path) {
  if (!n.IsSequence()) {
    Add(path, n.Mark(), "expected a list of {agent, zone}, got " + Describe(n));
    return;
  }
  if (n.size() == 0) {
    Add(path, n.Mark(), "must list at least one agent; omit spec.hosts to run locally");
    return;
  }
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string item_path = Index(path, i);
    HostSpec& host = spec_.hosts.emplace_back();
    if (!ExpectMap(n[i], item_path)) continue;
    ReadFields(n[i], item_path,
               {
                   {"agent", [&](auto& v, auto& p) { Set(ReadString(v, p), host.agent); }},
                   {"zone", [&](auto& v, auto& p) { Set(ReadString(v, p), host.zone); }},
               });
  }
}

Result<ClusterSpec> SpecReader::Finish() {
  // Validate() on what could be read, minus the paths already reported: a wrong type is
  // reported once, yet a bad value elsewhere is not hidden until the next attempt.
  Status status = Validate(spec_);
  if (!status.ok()) {
    for (const std::string& problem : status.error().fields()) {
      const std::string path = problem.substr(0, problem.find(": "));
      if (!IsPoisoned(path)) problems_.push_back(problem);
    }
  }
  if (problems_.empty()) return std::move(spec_);
  if (problems_.size() > kMaxListedProblems) {
    const size_t more = problems_.size() - kMaxListedProblems;
    problems_.resize(kMaxListedProblems);
    problems_.push_back("spec: " + std::to_string(more) + " more problems not listed");
  }
  std::string message = "invalid spec";
  const bool name_ok = name_given_ && !spec_.name.empty() &&
                       std::none_of(problems_.begin(), problems_.end(), [](const std::string& p) {
                         return p.rfind("metadata.name", 0) == 0;
                       });
  if (name_ok) message += " " + spec_.name;
  message += ": " + std::to_string(problems_.size()) +
             (problems_.size() == 1 ? " problem: " : " problems: ");
  for (size_t i = 0; i < problems_.size(); ++i) {
    if (i > 0) message += "; ";
    message += problems_[i];
  }
  return InvalidArgument(std::move(message), std::move(problems_));
}

}  // namespace

Result<ClusterSpec> ParseSpec(std::string_view text) {
  // yaml-cpp and nlohmann throw; nothing may escape this module (STYLE.md section 3). The
  // readers above catch parse errors themselves, so anything landing here is our bug.
  try {
    SpecReader reader;
    std::optional<YAML::Node> doc = reader.Load(text);
    if (doc) reader.ReadRoot(*doc);
    return reader.Finish();
  } catch (const std::exception& e) {
    return Internal(std::string("parsing spec: ") + e.what());
  }
}

Result<ClusterSpec> LoadSpecFile(const std::string& path) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (st.type() == std::filesystem::file_type::not_found) {
    return NotFound("spec file " + path + " does not exist");
  }
  if (ec) return Unavailable("cannot read spec file " + path + ": " + ec.message());
  if (std::filesystem::is_directory(st)) {
    return Unavailable("cannot read spec file " + path + ": it is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unavailable("cannot read spec file " + path + ": " + std::strerror(errno));
  std::string text;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxSpecFileBytes) {
      return Unavailable("cannot read spec file " + path + ": larger than 16 MiB");
    }
  }
  if (in.bad()) return Unavailable("cannot read spec file " + path + ": " + std::strerror(errno));
  Result<ClusterSpec> spec = ParseSpec(text);
  if (!spec.ok()) return std::move(spec).error().Wrap(path);
  return spec;
}

}  // namespace sk::codec
