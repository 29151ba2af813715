// slotkeeper: one binary, every role (CONTRACT.md section 3).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "api/cli/client_commands.h"
#include "api/cli/cluster_setup.h"
#include "api/cli/commands.h"
#include "api/cli/logging.h"

namespace {

constexpr const char* kUsage =
    R"(usage: slotkeeper [--log-format text|json] [--log-level LEVEL] COMMAND ...

  up -f SPEC [--api 127.0.0.1:7070] [--state-dir DIR] [--token-file FILE]
                      agent + controller + API in the foreground: creates or adopts the
                      cluster and keeps it healthy; Ctrl-C leaves the nodes running
  controller [--config FILE] [--api ADDR] [--token-file FILE]
                      the controller and its API alone: manages the config's clusters and
                      those created over the API (kept in the state dir across restarts)
  down -f SPEC [--purge] [--state-dir DIR]
                      stop the cluster's local nodes; --purge also deletes their data
  render -f SPEC --out DIR
                      write the per-node configs only, start nothing
  plan -f SPEC [--state-dir DIR]
                      dry run: the actions a reconcile would take now
  check HOST:PORT... [--password-file FILE] [-o text|json]
                      health report; exit 0 only when healthy ($REDISCLI_AUTH is honoured)
  apply -f SPEC [--server URL] [--token-file FILE]
                      send a spec to a running controller: creates the cluster, or replaces
                      its spec (a file saved from `get cluster -o yaml` works too)
  get clusters|cluster NAME|nodes NAME|slots NAME [-o table|json|yaml] [--server URL]
                      what the controller reports; a table by default
  scale NAME [--masters N] [--replicas R] [--wait] [--server URL] [--token-file FILE]
                      change the shape of a cluster; --wait shows progress until done
  failover NAME --node ID|HOST:PORT [--wait] [--server URL] [--token-file FILE]
                      promote that replica to master
  recover-slots NAME --accept-data-loss [--wait] [--server URL] [--token-file FILE]
                      re-create, EMPTY, the slots whose every copy is gone (status Degraded
                      names them); their keys are lost for good
  keyslot KEY...      CRC16(key) mod 16384, honouring {hash tags}
  version

The client verbs (apply, get, scale, failover) talk to --server, else $SLOTKEEPER_SERVER, else
http://127.0.0.1:7070; the API token comes from --token-file, else $SLOTKEEPER_TOKEN.

Exit codes: 0 success, 1 failure, 2 usage or invalid spec.
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string log_format = "text";
  std::string log_level = "info";
  // Global options may come before or after the verb.
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto take = [&](const std::string& name, std::string& into) {
      if (a == name && i + 1 < args.size()) {
        into = args[++i];
        return true;
      }
      if (a.rfind(name + "=", 0) == 0) {
        into = a.substr(name.size() + 1);
        return true;
      }
      return false;
    };
    if (take("--log-format", log_format) || take("--log-level", log_level)) continue;
    rest.push_back(a);
  }
  if (sk::Status st = sk::cli::SetupLogging(log_format, log_level); !st.ok()) {
    return sk::cli::Fail(st.error());
  }
  if (rest.empty() || rest[0] == "help" || rest[0] == "--help" || rest[0] == "-h") {
    std::fputs(kUsage, rest.empty() ? stderr : stdout);
    return rest.empty() ? 2 : 0;
  }
  std::string verb = rest[0];
  std::vector<std::string> sub(rest.begin() + 1, rest.end());
  if (verb == "up") return sk::cli::RunUp(sub);
  if (verb == "down") return sk::cli::RunDown(sub);
  if (verb == "render") return sk::cli::RunRender(sub);
  if (verb == "plan") return sk::cli::RunPlan(sub);
  if (verb == "check") return sk::cli::RunCheck(sub);
  if (verb == "keyslot") return sk::cli::RunKeyslot(sub);
  if (verb == "version" || verb == "--version") return sk::cli::RunVersion(sub);
  if (verb == "apply") return sk::cli::RunApply(sub);
  if (verb == "get") return sk::cli::RunGet(sub);
  if (verb == "scale") return sk::cli::RunScale(sub);
  if (verb == "failover") return sk::cli::RunFailover(sub);
  if (verb == "recover-slots") return sk::cli::RunRecoverSlots(sub);
  if (verb == "controller") return sk::cli::RunController(sub);
  if (verb == "agent") {
    std::fprintf(stderr, "slotkeeper: '%s' is not available in this version yet\n", verb.c_str());
    return 1;
  }
  std::fprintf(stderr, "slotkeeper: unknown command '%s'\n\n%s", verb.c_str(), kUsage);
  return 2;
}
