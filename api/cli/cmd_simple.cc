// Small subcommands: down, render, keyslot, version.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "agent/render/render.h"
#include "agent/supervise/local_provider.h"
#include "agent/supervise/process.h"
#include "api/cli/args.h"
#include "api/cli/cluster_setup.h"
#include "api/cli/commands.h"
#include "api/types/files.h"
#include "api/types/keyslot.h"
#include "controller/reconcile/state_store.h"

#ifndef SK_VERSION
#define SK_VERSION "0.0.0"
#endif
#ifndef SK_GIT
#define SK_GIT "unknown"
#endif

namespace sk::cli {

namespace {

std::string SpecPath(const Args& a) { return a.Get("-f", a.Get("--file")); }

// Stops a running `slotkeeper up` of this cluster first, or it would restart the nodes we
// stop. It holds an flock on <dataDir>/<name>/slotkeeper.pid for as long as it runs. A
// `slotkeeper controller` manages other clusters too: it is never stopped from here.
Status StopDaemon(const ClusterSpec& spec) {
  agent::LockHolder holder = agent::DataDirLockHolder(spec);
  if (holder.pid == 0) return Status::Ok();
  if (holder.owner != "up" || holder.pid <= 1) {
    return FailedPrecondition(
        "cluster " + spec.name + " is managed by a running slotkeeper " + holder.owner +
        (holder.pid > 1 ? " (pid " + std::to_string(holder.pid) + ")" : "") +
        "; delete it through that controller's API (DELETE /api/v1/clusters/" + spec.name +
        "?purge=true) instead");
  }
  const int pid = holder.pid;
  spdlog::info("stopping the slotkeeper daemon of this cluster (pid {})", pid);
  ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (agent::DataDirLockHolder(spec).pid != 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Unavailable("the slotkeeper daemon (pid " + std::to_string(pid) +
                         ") did not stop within 15 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Ok();
}

}  // namespace

int RunDown(const std::vector<std::string>& argv) {
  auto args = ParseArgs("down", argv, {{"-f", "--file", "--state-dir"}, {"--purge"}});
  if (!args.ok()) return Fail(args.error());
  if (SpecPath(*args).empty()) return Fail(InvalidArgument("down needs -f SPEC"));
  auto loaded = LoadSpec(SpecPath(*args));
  if (!loaded.ok()) return Fail(loaded.error());
  const ClusterSpec& spec = loaded->spec;
  bool purge = args->flags.count("--purge") > 0;
  if (Status st = StopDaemon(spec); !st.ok()) return Fail(st.error());
  auto running = agent::FindRunningNodes(spec);
  if (Status st = agent::StopLocalCluster(spec, purge, std::chrono::seconds(10)); !st.ok()) {
    return Fail(st.error());
  }
  std::printf("cluster %s: stopped %zu node(s)\n", spec.name.c_str(), running.size());
  if (purge) {
    // The data is gone on purpose: forget that the cluster ever formed, or the next `up`
    // would rightly report its slots as lost.
    std::string state =
        reconcile::StateStore::ClusterDir(args->Get("--state-dir", "./.slotkeeper"), spec.name);
    if (Status st = RemoveTree(state); !st.ok()) return Fail(st.error());
    std::printf("cluster %s: deleted %s and %s\n", spec.name.c_str(), ClusterDataDir(spec).c_str(),
                state.c_str());
  }
  return 0;
}

int RunRender(const std::vector<std::string>& argv) {
  auto args = ParseArgs("render", argv, {{"-f", "--file", "--out"}, {}});
  if (!args.ok()) return Fail(args.error());
  if (SpecPath(*args).empty() || args->Get("--out").empty()) {
    return Fail(InvalidArgument("render needs -f SPEC and --out DIR"));
  }
  auto loaded = LoadSpec(SpecPath(*args));
  if (!loaded.ok()) return Fail(loaded.error());
  agent::RedisVersion version;  // 7.0 unless an installed redis-server says otherwise
  if (auto path = agent::FindExecutable(RedisServerName()); path.ok()) {
    agent::SpawnSpec s{{*path, "--version"}, "", "", ""};
    if (auto out = agent::RunCapture(s, std::chrono::seconds(5)); out.ok()) {
      if (auto v = agent::ParseRedisVersion(out->output)) version = *v;
    }
  }
  auto written = agent::RenderLocalCluster(loaded->spec, AbsolutePath(args->Get("--out")), version,
                                           loaded->password);
  if (!written.ok()) return Fail(written.error());
  for (const std::string& p : *written) std::printf("%s\n", p.c_str());
  return 0;
}

int RunKeyslot(const std::vector<std::string>& argv) {
  if (argv.empty()) return Fail(InvalidArgument("keyslot needs at least one KEY"));
  if (argv.size() == 1) {
    std::printf("%d\n", KeySlot(argv[0]));
    return 0;
  }
  for (const std::string& key : argv) std::printf("%s %d\n", key.c_str(), KeySlot(key));
  return 0;
}

int RunVersion(const std::vector<std::string>&) {
  std::printf("slotkeeper %s (git %s)\n", SK_VERSION, SK_GIT);
  return 0;
}

}  // namespace sk::cli
