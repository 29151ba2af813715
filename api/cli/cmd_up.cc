// `slotkeeper up`: agent + controller + API in the foreground.
//
// Order matters for "nothing started or changed on bad input": the spec, the environment
// (redis-server, data dir, ports, settings accepted by redis-server) and the API address are
// all checked before the first node starts. Nodes that this run started are stopped again
// when the cluster cannot be formed without a person; nodes that were already running are
// never touched by that.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include "agent/supervise/local_provider.h"
#include "api/cli/args.h"
#include "api/cli/cluster_setup.h"
#include "api/cli/commands.h"
#include "api/cli/daemon.h"
#include "api/types/files.h"
#include "controller/reconcile/manager.h"
#include "controller/reconcile/state_store.h"

namespace sk::cli {

namespace {

using Clock = std::chrono::steady_clock;

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The API must not take a port the cluster needs.
Status CheckApiAddress(const std::string& api, const ClusterSpec& spec) {
  auto ep = ParseEndpoint(api);
  if (!ep.ok()) return InvalidArgument("--api " + api + ": " + ep.error().message());
  for (const LocalNode& n : agent::PlacedNodes(spec)) {
    if (ep->port == n.ep.port || ep->port == n.ep.BusPort()) {
      return InvalidArgument("--api " + api + " collides with " +
                             std::string(ep->port == n.ep.port ? "the port" : "the bus port") +
                             " of node " + n.name + "; choose another --api port");
    }
  }
  return Status::Ok();
}

struct UpOptions {
  std::string spec_path;
  std::string api = "127.0.0.1:7070";
  std::string state_dir = "./.slotkeeper";
  std::string token_file;
};

Result<UpOptions> ParseUp(const std::vector<std::string>& argv) {
  ArgSpec spec{{"-f", "--file", "--api", "--state-dir", "--token-file"}, {}};
  SK_ASSIGN_OR_RETURN(Args a, ParseArgs("up", argv, spec));
  UpOptions o;
  o.spec_path = a.Get("-f", a.Get("--file"));
  if (o.spec_path.empty()) return InvalidArgument("up needs -f SPEC");
  if (!a.positional.empty()) return InvalidArgument("up: unexpected argument " + a.positional[0]);
  o.api = a.Get("--api", o.api);
  o.state_dir = a.Get("--state-dir", o.state_dir);
  o.token_file = a.Get("--token-file");
  if (!o.token_file.empty()) {
    auto token = ReadFile(o.token_file);
    if (!token.ok() || token->empty()) {
      return InvalidArgument("--token-file " + o.token_file + ": cannot read a token from it");
    }
  }
  return o;
}

}  // namespace

int RunUp(const std::vector<std::string>& argv) {
  auto opts = ParseUp(argv);
  if (!opts.ok()) return Fail(opts.error());
  auto loaded = LoadSpec(opts->spec_path);
  if (!loaded.ok()) return Fail(loaded.error());
  const ClusterSpec& spec = loaded->spec;
  if (!spec.hosts.empty()) {
    return Fail(
        FailedPrecondition("spec.hosts: multi-host agents are not available in this "
                           "version yet; use spec.local"));
  }
  if (Status st = CheckApiAddress(opts->api, spec); !st.ok()) return Fail(st.error());
  sigset_t signals = BlockSignals();
  // One daemon per state dir, before anything changes; the cluster's data dir is locked by
  // its provider before its first file is written (a second `up` or a `controller` of the
  // same cluster stops there).
  StateDirLock state_lock;
  if (Status st = state_lock.Acquire(opts->state_dir, "up"); !st.ok()) return Fail(st.error());

  std::atomic<int> exit_code{0};
  std::atomic<bool> refused{false};
  auto t0 = Clock::now();
  reconcile::ManagerHooks hooks = LocalHooks("up");
  hooks.on_first_converge = [&](const std::string& name, const Status& st, bool created) {
    if (name != spec.name) return;
    if (st.ok()) {
      double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      std::printf("cluster %s is ready (%.2f s)\n", name.c_str(), secs);
      std::fflush(stdout);
      spdlog::info("cluster={} is ready ({:.2f} s)", name, secs);
    } else if (st.error().code() == Code::kFailedPrecondition && created) {
      // A new cluster that cannot be formed without a person: stop, leaving nothing this run
      // started or wrote.
      spdlog::error("cluster={} cannot be formed: {}", name, st.error().message());
      refused = true;
      exit_code = 1;
      ::kill(::getpid(), SIGTERM);
    } else if (st.error().code() == Code::kFailedPrecondition) {
      // Managed before: keep serving, so that a person can act (recover-slots, a new spec).
      spdlog::error("cluster={} needs a person: {}; the API keeps serving", name,
                    st.error().message());
    } else {
      spdlog::error("cluster={} {}; still trying", name, st.error().message());
    }
  };
  const bool managed_before =
      Exists(reconcile::StateStore::ClusterDir(opts->state_dir, spec.name) + "/spec.json");
  hooks.on_start_failed = [&](const std::string& name, const Status& st) {
    if (name != spec.name) return;
    std::fprintf(stderr, "slotkeeper: %s\n", st.error().message().c_str());
    if (managed_before) return;  // keeps serving; the reconciler reports what is missing
    refused = true;
    exit_code = 1;
    ::kill(::getpid(), SIGTERM);
  };
  reconcile::ManagerOptions mopts;
  mopts.state_dir = opts->state_dir;
  mopts.client = ClientOptionsFor(std::nullopt);
  reconcile::ClusterManager manager(std::move(hooks), mopts);

  auto api = ServeApi(opts->api, opts->token_file, nullptr);
  if (!api.ok()) return Fail(api.error());
  auto created = manager.Apply(spec);
  if (!created.ok()) {
    api->Stop();
    return Fail(created.error());
  }
  api->router->SetService(&manager);
  spdlog::info("cluster={} managed; API on http://{}", spec.name, opts->api);

  int sig = WaitForSignal(signals);
  if (!refused.load()) {
    spdlog::info("cluster={} signal {}: stopping; the redis nodes keep running", spec.name, sig);
  }
  api->Stop();
  if (refused.load()) manager.Abandon(spec.name);
  manager.Shutdown();
  return exit_code.load();
}

}  // namespace sk::cli
