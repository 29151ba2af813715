#include "agent/render/nodes_conf.h"

#include <sstream>

namespace sk::agent {

std::string NodesConfMyId(std::string_view nodes_conf) {
  std::istringstream in{std::string(nodes_conf)};
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, addr, flags;
    if (!(f >> id >> addr >> flags)) continue;
    if (flags.find("myself") != std::string::npos) return id;
  }
  return "";
}

Rewritten RewriteAddresses(std::string_view nodes_conf,
                           const std::map<std::string, Endpoint>& by_id) {
  Rewritten out;
  size_t pos = 0;
  while (pos < nodes_conf.size()) {
    size_t eol = nodes_conf.find('\n', pos);
    std::string_view line = nodes_conf.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? nodes_conf.size() : eol + 1;
    std::string result(line);
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 != std::string_view::npos) {
      auto it = by_id.find(std::string(line.substr(0, sp1)));
      if (it != by_id.end()) {
        std::string_view addr = line.substr(sp1 + 1, sp2 - sp1 - 1);
        size_t comma = addr.find(',');
        std::string suffix = comma == std::string_view::npos ? "" : std::string(addr.substr(comma));
        std::string fresh =
            it->second.ToString() + "@" + std::to_string(it->second.BusPort()) + suffix;
        // With an address again, "noaddr" must go, or Redis never connects to it.
        std::string tail(line.substr(sp2));
        size_t flags_end = tail.find(' ', 1);
        std::string flags =
            tail.substr(1, flags_end == std::string::npos ? std::string::npos : flags_end - 1);
        std::string kept;
        std::istringstream f(flags);
        for (std::string flag; std::getline(f, flag, ',');) {
          if (flag != "noaddr") kept += (kept.empty() ? "" : ",") + flag;
        }
        if (kept.empty()) kept = "noflags";
        std::string rest = flags_end == std::string::npos ? "" : tail.substr(flags_end);
        std::string rewritten = std::string(line.substr(0, sp1 + 1)) + fresh + " " + kept + rest;
        if (rewritten != line) {
          result = rewritten;
          out.changed++;
        }
      }
    }
    out.text += result;
    if (eol != std::string_view::npos) out.text += '\n';
  }
  return out;
}

}  // namespace sk::agent
