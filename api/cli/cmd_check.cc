// `slotkeeper check HOST:PORT...`: health report of any cluster, or of nodes meant to form
// one. Starts from the given nodes and follows every address their views name. Exit 0 only
// when healthy.
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <nlohmann/json.hpp>
#include <set>

#include "api/cli/args.h"
#include "api/cli/cluster_setup.h"
#include "api/cli/commands.h"
#include "api/types/files.h"
#include "controller/observe/observe.h"
#include "controller/plan/health.h"

namespace sk::cli {

namespace {

constexpr size_t kMaxNodes = 1000;

Result<std::optional<std::string>> CheckPassword(const Args& a) {
  std::string file = a.Get("--password-file");
  if (!file.empty()) {
    SK_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return std::optional<std::string>(text);
  }
  // The variable redis-cli reads, so no password ever needs to be on a command line.
  if (const char* env = std::getenv("REDISCLI_AUTH"); env && *env) {
    return std::optional<std::string>(env);
  }
  return std::optional<std::string>();
}

}  // namespace

int RunCheck(const std::vector<std::string>& argv) {
  auto args = ParseArgs("check", argv, {{"--password-file", "-o", "--output"}, {}});
  if (!args.ok()) return Fail(args.error());
  if (args->positional.empty()) return Fail(InvalidArgument("check needs at least one HOST:PORT"));
  std::string format = args->Get("-o", args->Get("--output", "text"));
  if (format != "text" && format != "json")
    return Fail(InvalidArgument("-o " + format + ": use text or json"));
  auto password = CheckPassword(*args);
  if (!password.ok()) return Fail(password.error());

  std::deque<Endpoint> todo;
  for (const std::string& a : args->positional) {
    auto ep = ParseEndpoint(a);
    if (!ep.ok()) return Fail(InvalidArgument("check: " + ep.error().message()));
    todo.push_back(*ep);
  }
  observe::ClientPool pool(ClientOptionsFor(*password));
  model::ObservedCluster observed;
  std::set<Endpoint> seen;
  while (!todo.empty() && seen.size() < kMaxNodes) {
    Endpoint ep = todo.front();
    todo.pop_front();
    if (!seen.insert(ep).second) continue;
    model::ObservedNode n = observe::ObserveNode(pool, {ep.ToString(), ep, ep.host, "", true}, {});
    for (const model::PeerView& p : n.peers) {
      if (!p.myself && !p.noaddr && !p.handshake && !p.ep.host.empty()) todo.push_back(p.ep);
    }
    observed.nodes.push_back(std::move(n));
  }
  std::map<std::string, std::string> probes;
  for (const model::ObservedNode& n : observed.nodes) {
    if (n.reachable) probes[n.name] = observe::ProbeTcp({n.ep.host, n.ep.BusPort()}, 500);
  }
  plan::HealthReport report = plan::CheckHealth(observed, probes);

  if (format == "json") {
    nlohmann::json j = {{"healthy", report.Healthy()},
                        {"nodes", observed.nodes.size()},
                        {"masters", report.masters},
                        {"replicas", report.replicas},
                        {"slotsCovered", report.slots_covered},
                        {"problems", nlohmann::json::array()},
                        {"notes", nlohmann::json::array()}};
    for (const plan::HealthItem& i : report.items)
      j[i.problem ? "problems" : "notes"].push_back(i.what);
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%zu node(s): %d master(s) with slots, %d replica(s), %d/16384 slots covered\n",
                observed.nodes.size(), report.masters, report.replicas, report.slots_covered);
    for (const model::ObservedNode& n : observed.nodes) {
      if (!n.reachable) {
        std::printf("  %-21s unreachable\n", n.ep.ToString().c_str());
        continue;
      }
      std::string role = n.IsMaster() ? "master " + RangesToString(n.OwnSlots())
                                      : "replica of " + n.MasterId().substr(0, 8);
      std::printf("  %-21s %.8s %-5s %s\n", n.ep.ToString().c_str(), n.id.c_str(),
                  n.cluster_state.c_str(), role.c_str());
    }
    int problems = 0;
    for (const plan::HealthItem& i : report.items) {
      std::printf("%s %s\n", i.problem ? "[ERR] " : "[INFO]", i.what.c_str());
      problems += i.problem ? 1 : 0;
    }
    if (report.Healthy()) {
      std::printf("[OK] cluster is healthy\n");
    } else {
      std::printf("%d problem(s) found\n", problems);
    }
  }
  return report.Healthy() ? 0 : 1;
}

}  // namespace sk::cli
