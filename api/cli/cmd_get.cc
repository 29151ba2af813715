// get clusters|cluster NAME|nodes NAME|slots NAME [-o table|json|yaml]. Tables follow
// kubectl: upper-case headers, columns padded with three spaces, "-" for an empty cell, and
// "No clusters found." on stderr for an empty list.
#include <cstdio>
#include <string>
#include <vector>

#include "api/cli/api_client.h"
#include "api/cli/args.h"
#include "api/cli/client_commands.h"
#include "api/cli/cluster_setup.h"
#include "api/rest/document.h"
#include "api/rest/http.h"

namespace sk::cli {

namespace {

using ojson = nlohmann::ordered_json;
using Row = std::vector<std::string>;

void PrintTable(const Row& header, const std::vector<Row>& rows) {
  std::vector<size_t> width(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const Row& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  }
  auto print = [&](const Row& r) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 3, ' ');
    }
    std::printf("%s\n", line.c_str());
  };
  print(header);
  for (const Row& r : rows) print(r);
}

// A JSON value as a table cell: strings as they are, numbers as written, null as "-".
std::string Cell(const ojson& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  return v.dump();
}

std::string Join(const ojson& list, const std::string& sep = ",") {
  std::string out;
  if (!list.is_array()) return "-";
  for (const ojson& item : list) out += (out.empty() ? "" : sep) + Cell(item);
  return out.empty() ? "-" : out;
}

std::string Address(const ojson& node) {
  return node.value("host", "?") + ":" + std::to_string(node.value("port", 0));
}

Row ClusterRow(const ojson& c) {
  const ojson& st = c.contains("status") ? c["status"] : ojson::object();
  return {c["metadata"].value("name", "?"),
          Cell(st.value("phase", ojson())),
          Cell(st.value("clusterState", ojson())),
          Cell(st.value("masters", ojson())),
          Cell(st.value("replicas", ojson())),
          Cell(st.value("slotsOk", ojson())),
          Cell(c["metadata"].value("generation", ojson())),
          Cell(st.value("operation", ojson()))};
}

const Row kClusterHeader = {"NAME",     "PHASE",    "STATE",      "MASTERS",
                            "REPLICAS", "SLOTS-OK", "GENERATION", "OPERATION"};

void PrintNodes(const ojson& nodes) {
  std::map<std::string, std::string> address_of;
  for (const ojson& n : nodes) address_of[n.value("id", "")] = Address(n);
  std::vector<Row> rows;
  for (const ojson& n : nodes) {
    std::string master = "-";
    if (n["masterId"].is_string()) {
      auto it = address_of.find(n["masterId"].get<std::string>());
      master = it != address_of.end() ? it->second : n["masterId"].get<std::string>();
    }
    rows.push_back({Cell(n.value("id", ojson())), Address(n), Cell(n.value("role", ojson())),
                    master, Join(n.value("slots", ojson::array())),
                    Cell(n.value("linkState", ojson())), Join(n.value("flags", ojson::array())),
                    Cell(n.value("keys", ojson()))});
  }
  PrintTable({"ID", "ADDRESS", "ROLE", "MASTER", "SLOTS", "LINK", "FLAGS", "KEYS"}, rows);
}

void PrintSlots(const ojson& slots) {
  std::vector<Row> rows;
  for (const ojson& s : slots) {
    const int start = s.value("start", 0);
    const int end = s.value("end", 0);
    std::string replicas;
    for (const ojson& r : s.value("replicas", ojson::array())) {
      replicas += (replicas.empty() ? "" : ",") + Address(r);
    }
    rows.push_back({std::to_string(start), std::to_string(end), std::to_string(end - start + 1),
                    Address(s.value("master", ojson::object())),
                    Cell(s["master"].value("id", ojson())), replicas.empty() ? "-" : replicas});
  }
  PrintTable({"START", "END", "SLOTS", "MASTER", "MASTER-ID", "REPLICAS"}, rows);
}

int PrintAs(const std::string& format, const ojson& doc) {
  if (format == "json") {
    std::printf("%s\n", doc.dump(2, ' ', false, ojson::error_handler_t::replace).c_str());
  } else {
    std::fputs(rest::ToYaml(doc).c_str(), stdout);
  }
  return 0;
}

int GetClusters(const ApiClient& client, const std::string& format) {
  Result<ojson> list = client.Call("GET", "/api/v1/clusters");
  if (!list.ok()) return Fail(list.error());
  if (format != "table") return PrintAs(format, *list);
  if (!list->is_array() || list->empty()) {
    std::fprintf(stderr, "No clusters found.\n");
    return 0;
  }
  std::vector<Row> rows;
  for (const ojson& item : *list) {
    const std::string name = item.value("name", "");
    Result<ojson> c = client.Call("GET", "/api/v1/clusters/" + rest::UrlEncode(name));
    if (c.ok()) {
      rows.push_back(ClusterRow(*c));
    } else {  // deleted meanwhile: still listed, as the list said
      rows.push_back({name, Cell(item.value("phase", ojson())), "-", "-", "-", "-",
                      Cell(item.value("generation", ojson())), "-"});
    }
  }
  PrintTable(kClusterHeader, rows);
  return 0;
}

}  // namespace

int RunGet(const std::vector<std::string>& argv) {
  auto args = ParseArgs("get", argv, {{"-o", "--output", kServerFlag, kTokenFileFlag}, {}});
  if (!args.ok()) return Fail(args.error());
  const std::string format = args->Get("-o", args->Get("--output", "table"));
  if (format != "table" && format != "json" && format != "yaml") {
    return Fail(InvalidArgument("-o must be table, json or yaml, not \"" + format + "\""));
  }
  const std::vector<std::string>& pos = args->positional;
  const std::string what = pos.empty() ? "" : pos[0];
  const bool list = what == "clusters" && pos.size() == 1;
  const bool one =
      (what == "cluster" || what == "clusters" || what == "nodes" || what == "slots") &&
      pos.size() == 2;
  if (!list && !one) {
    return Fail(InvalidArgument(
        "usage: slotkeeper get clusters|cluster NAME|nodes NAME|slots NAME [-o table|json|yaml]"));
  }
  auto cfg = ClientConfigFrom(*args);
  if (!cfg.ok()) return Fail(cfg.error());
  ApiClient client(std::move(*cfg));
  if (list) return GetClusters(client, format);

  std::string path = "/api/v1/clusters/" + rest::UrlEncode(pos[1]);
  if (what == "nodes" || what == "slots") path += "/" + what;
  Result<ojson> doc = client.Call("GET", path);
  if (!doc.ok()) return Fail(doc.error());
  if (format != "table") return PrintAs(format, *doc);
  if (what == "nodes") {
    PrintNodes(*doc);
  } else if (what == "slots") {
    PrintSlots(*doc);
  } else {
    PrintTable(kClusterHeader, {ClusterRow(*doc)});
  }
  return 0;
}

}  // namespace sk::cli
