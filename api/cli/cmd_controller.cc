// `slotkeeper controller --config FILE [--api ADDR] [--token-file FILE]`: the controller and
// its API alone, managing every cluster of the config file and every cluster created over
// the API (persisted in the state dir, so a restart picks them up again).
#include <spdlog/spdlog.h>

#include "api/cli/args.h"
#include "api/cli/cluster_setup.h"
#include "api/cli/commands.h"
#include "api/cli/daemon.h"
#include "api/codec/controller_config.h"

namespace sk::cli {

int RunController(const std::vector<std::string>& argv) {
  auto args = ParseArgs("controller", argv, {{"--config", "--api", "--token-file"}, {}});
  if (!args.ok()) return Fail(args.error());
  if (!args->positional.empty()) {
    return Fail(InvalidArgument("controller: unexpected argument " + args->positional[0]));
  }
  codec::ControllerConfig cfg;
  if (!args->Get("--config").empty()) {
    auto loaded = codec::LoadControllerConfig(args->Get("--config"));
    if (!loaded.ok()) return Fail(loaded.error());
    cfg = std::move(loaded).value();
  }
  cfg.api = args->Get("--api", cfg.api);
  cfg.token_file = args->Get("--token-file", cfg.token_file);

  sigset_t signals = BlockSignals();
  StateDirLock state_lock;
  if (Status st = state_lock.Acquire(cfg.state_dir, "controller"); !st.ok())
    return Fail(st.error());
  reconcile::ManagerOptions mopts;
  mopts.state_dir = cfg.state_dir;
  mopts.client = ClientOptionsFor(std::nullopt);
  reconcile::ClusterManager manager(LocalHooks("controller"), mopts);
  auto api = ServeApi(cfg.api, cfg.token_file, &manager);
  if (!api.ok()) return Fail(api.error());

  // Clusters created over the API before a restart, then the config file's.
  for (const Error& e : manager.Load()) spdlog::error("{}", e.message());
  for (const ClusterSpec& spec : cfg.clusters) {
    if (manager.Get(spec.name).ok()) {
      auto op = manager.Replace(spec);
      if (!op.ok() && op.error().code() != Code::kNotFound) {
        spdlog::error("cluster={} {}", spec.name, op.error().message());
      }
      continue;
    }
    auto created = manager.Create(spec);
    if (!created.ok()) spdlog::error("cluster={} {}", spec.name, created.error().message());
  }
  spdlog::info("controller: {} cluster(s); API on http://{}", manager.List().size(), cfg.api);
  int sig = WaitForSignal(signals);
  spdlog::info("controller: signal {}: stopping; the redis nodes keep running", sig);
  api->Stop();
  manager.Shutdown();
  return 0;
}

}  // namespace sk::cli
