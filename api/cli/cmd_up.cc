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
#include "api/rest/rest_server.h"
#include "api/types/files.h"
#include "controller/reconcile/reconciler.h"

namespace sk::cli {

namespace {

using Clock = std::chrono::steady_clock;

// The daemon's lock + pid file, <dataDir>/<name>/slotkeeper.pid: one `up` per cluster, and
// `down` finds the daemon from the spec alone.
class DaemonLock {
 public:
  ~DaemonLock() {
    if (fd_ >= 0) {
      ::unlink(path_.c_str());
      ::close(fd_);
    }
  }
  Status Acquire(const std::string& dir) {
    SK_TRY(MakeDirs(dir, 0755));
    path_ = dir + "/slotkeeper.pid";
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Unavailable("cannot open " + path_);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      auto pid = ReadFile(path_);
      ::close(fd_);
      fd_ = -1;
      return FailedPrecondition(
          "this cluster is already managed by a running `slotkeeper up`" +
          std::string(pid.ok() && !pid->empty() ? " (pid " + *pid + ")" : "") +
          "; stop it first (Ctrl-C, or `slotkeeper down`)");
    }
    std::string pid = std::to_string(::getpid());
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
      return Unavailable("cannot write " + path_);
    }
    return Status::Ok();
  }

 private:
  std::string path_;
  int fd_ = -1;
};

rest::Response HandleApi(const rest::Request& req, reconcile::Reconciler* rec) {
  if (req.path == "/healthz") {
    if (req.method != "GET")
      return rest::JsonError(405, "MethodNotAllowed", req.method + " " + req.path);
    return {200, "application/json", R"({"status":"ok"})", {}};
  }
  if (req.path == "/readyz") {
    if (req.method != "GET")
      return rest::JsonError(405, "MethodNotAllowed", req.method + " " + req.path);
    bool ready = rec && rec->Snapshot().phase == "Ready";
    return {ready ? 200 : 503,
            "application/json",
            ready ? R"({"status":"ready"})" : R"({"status":"not ready"})",
            {}};
  }
  return rest::JsonError(404, "NotFound", "no route for " + req.method + " " + req.path);
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The API must not take a port the cluster needs.
Status CheckApiAddress(const std::string& api, const ClusterSpec& spec) {
  auto ep = ParseEndpoint(api);
  if (!ep.ok()) return InvalidArgument("--api " + api + ": " + ep.error().message());
  for (const LocalNode& n : LocalNodes(spec)) {
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

  // Signals are blocked before any thread exists, so only sigwait below sees them and every
  // thread (cpprest's pool, the supervisor) inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  rest::InitThreadPool(4);

  // One daemon per cluster. A cluster dir that does not exist yet has no daemon: then the lock
  // is taken after Prepare() made it, so that a refused `up` creates nothing.
  DaemonLock lock;
  bool locked = false;
  if (Exists(ClusterDataDir(spec))) {
    if (Status st = lock.Acquire(ClusterDataDir(spec)); !st.ok()) return Fail(st.error());
    locked = true;
  }
  if (Status st = CheckApiAddress(opts->api, spec); !st.ok()) return Fail(st.error());

  std::atomic<reconcile::Reconciler*> rec_ptr{nullptr};
  auto server = rest::Server::Start(
      opts->api, [&rec_ptr](const rest::Request& r) { return HandleApi(r, rec_ptr.load()); });
  if (!server.ok()) return Fail(server.error());

  // Declared before the provider so that it outlives the provider's supervisor thread, whose
  // exit callback wakes it.
  std::optional<reconcile::Reconciler> rec;
  agent::LocalOptions local;
  local.redis_server = RedisServerName();
  local.password = loaded->password;
  agent::LocalProvider provider(spec, local);
  auto t0 = Clock::now();
  if (Status st = provider.Prepare(); !st.ok()) return Fail(st.error());
  if (!locked) {
    if (Status st = lock.Acquire(ClusterDataDir(spec)); !st.ok()) return Fail(st.error());
  }

  reconcile::Options ropts;
  ropts.client = ClientOptionsFor(loaded->password);
  ropts.state_dir = reconcile::StateStore::ClusterDir(opts->state_dir, spec.name);
  rec.emplace(DesiredFromSpec(spec, provider.Nodes()), provider, ropts);
  rec_ptr = &*rec;
  provider.supervisor().OnExit(
      [&rec, &spec](const std::string& name, const agent::Supervisor::State& s) {
        spdlog::warn("cluster={} node {} {}", spec.name, name, s.last_exit);
        rec->Wake();
      });

  provider.AdoptRunning();  // before the first pass, so that it sees them running
  std::atomic<bool> stop{false};
  std::atomic<int> exit_code{0};
  std::atomic<bool> launch_failed{false};
  std::atomic<bool> blocked{false};
  // Nodes are still starting: the reconciler already works with those that answer (a
  // master's slots must come within 2 s of its start), while this watches that every node
  // comes up, and gives up naming the node and its log if one dies instead.
  std::thread ready([&] {
    Status st = provider.Start();
    if (st.ok()) {
      st = provider.WaitReady(std::chrono::milliseconds(10000 + 100 * spec.NodeCount()));
    }
    if (st.ok()) {
      auto started = provider.StartedThisRun();
      spdlog::info("cluster={} {} nodes: {} started, {} adopted; API on http://{}", spec.name,
                   spec.NodeCount(), started.size(), spec.NodeCount() - started.size(), opts->api);
    }
    if (st.ok() || stop.load()) return;
    spdlog::error("cluster={} {}", spec.name, st.error().message());
    std::fprintf(stderr, "slotkeeper: %s\n", st.error().message().c_str());
    launch_failed = true;
    exit_code = 1;
    ::kill(::getpid(), SIGTERM);
  });
  std::thread worker([&] {
    Status st = rec->Converge(stop);
    if (stop.load()) return;
    if (st.ok()) {
      double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      ClusterStatus s = rec->Snapshot();
      spdlog::info("cluster={} is ready: {} masters, {} replicas, {} slots ok ({:.2f} s)",
                   spec.name, s.masters, s.replicas, s.slots_ok, secs);
      std::printf("cluster %s is ready: %d masters, %d replicas (%.2f s)\n", spec.name.c_str(),
                  s.masters, s.replicas, secs);
      std::fflush(stdout);
    } else if (st.error().code() == Code::kFailedPrecondition) {
      spdlog::error("cluster={} cannot be formed: {}", spec.name, st.error().message());
      blocked = true;
      exit_code = 1;
      provider.Cancel();            // no further node starts
      ::kill(::getpid(), SIGTERM);  // wakes the sigwait below
      return;
    } else {
      spdlog::error("cluster={} {}; still trying", spec.name, st.error().message());
    }
    rec->Run(stop);
  });

  int sig = 0;
  sigwait(&signals, &sig);
  if (exit_code.load() == 0)
    spdlog::info("cluster={} signal {}: stopping; the redis nodes keep running", spec.name, sig);
  stop = true;
  rec->Wake();
  worker.join();
  provider.Cancel();
  ready.join();
  // A cluster that cannot be formed leaves nothing behind that this run started.
  if (launch_failed.load() || blocked.load()) {
    auto started = provider.StartedThisRun();
    if (!started.empty()) {
      spdlog::info("cluster={} stopping the {} nodes this run started", spec.name, started.size());
      provider.StopStartedThisRun();
    }
  }
  (*server)->Stop();
  rec_ptr = nullptr;
  return exit_code.load();
}

}  // namespace sk::cli
