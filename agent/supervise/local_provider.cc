#include "agent/supervise/local_provider.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "agent/render/nodes_conf.h"
#include "agent/supervise/local_checks.h"
#include "agent/supervise/process.h"
#include "api/types/files.h"

namespace sk::agent {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr unsigned kDirMode = 0700;   // node dirs hold data and the 0600 config
constexpr unsigned kFileMode = 0600;  // redis.conf carries the password

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// Writes only when the content changed, so an unchanged node's file keeps its mtime; the
// mode is enforced either way.
Status WriteIfChanged(const std::string& path, const std::string& content) {
  Result<std::string> old = ReadFile(path);
  if (old.ok() && *old == content) {
    if (::chmod(path.c_str(), kFileMode) != 0) {
      return Unavailable("cannot chmod " + path + ": " + std::strerror(errno));
    }
    return Status::Ok();
  }
  return WriteFileAtomic(path, content, kFileMode);
}

// "" when `dir` exists (created with its parents) and a file can be created in it, else the
// reason (strerror text).
bool PathExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Why files cannot be created under `dir`, or "" when they can. Changes nothing that lasts:
// it probes the deepest directory that already exists with a temp file it removes again.
std::string DirProblem(const std::string& dir) {
  std::string existing = dir;
  struct stat st {};
  while (::stat(existing.c_str(), &st) != 0) {
    if (errno != ENOENT) return std::strerror(errno);
    size_t slash = existing.find_last_of('/');
    if (slash == std::string::npos || slash == 0) {
      existing = "/";
      break;
    }
    existing.resize(slash);
  }
  if (::stat(existing.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return existing + " is not a directory";
  }
  std::string probe = existing + "/.slotkeeper-probe-XXXXXX";
  int fd = ::mkstemp(probe.data());
  if (fd < 0) return existing + ": " + std::strerror(errno);
  ::close(fd);
  ::unlink(probe.c_str());
  return "";
}

std::string BusPortHint(int bus_port, int node_count) {
  auto range = EphemeralPortRange();
  if (!range || bus_port < range->first || bus_port > range->second) return "";
  const int max_base = range->first - 10000 - node_count;
  return " (it lies in the ephemeral port range " + std::to_string(range->first) + "-" +
         std::to_string(range->second) +
         ", so an outgoing client socket may hold it; choose a basePort of at most " +
         std::to_string(max_base) + " so that every port+10000 stays below " +
         std::to_string(range->first) + ")";
}

std::string PortProblem(const LocalNode& node, const std::string& bind, bool bus, int count) {
  const int port = bus ? node.ep.BusPort() : node.ep.port;
  const int err = PortBindError(bind, port);
  if (err == 0) return "";
  std::string what =
      std::string(bus ? "bus port " : "port ") + std::to_string(port) + " of node " + node.name;
  if (err == EADDRINUSE) {
    what += " is in use by another process";
  } else {
    what += " cannot be bound on " + bind + ": " + std::strerror(err);
  }
  return bus ? what + BusPortHint(port, count) : what;
}

std::string ClockTime() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

RenderInput MakeInput(const ClusterSpec& spec, const LocalNode& node, const std::string& root,
                      const RedisVersion& version, const std::optional<std::string>& password) {
  return RenderInput{.spec = &spec,
                     .name = node.name,
                     .ep = node.ep,
                     .layout = LayoutFor(root, spec.name, node.ep.port),
                     .version = version,
                     .password = password};
}

std::string PlacementPath(const ClusterSpec& spec) {
  return AbsolutePath(spec.local.data_dir) + "/" + spec.name + "/placement.json";
}

std::map<std::string, int> ReadPlacement(const ClusterSpec& spec) {
  std::map<std::string, int> out;
  auto text = ReadFile(PlacementPath(spec));
  if (!text.ok()) return out;
  try {
    const nlohmann::json j = nlohmann::json::parse(*text);
    for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = it.value().get<int>();
  } catch (const std::exception& e) {
    spdlog::warn("{}: ignored ({}); nodes use their spec ports", PlacementPath(spec), e.what());
  }
  return out;
}

// The running nodes of a cluster found on disk: the spec's nodes plus any other port
// directory under <dataDir>/<cluster> (a node left over from a larger spec).
std::vector<RunningNode> ScanRunning(const ClusterSpec& spec, bool include_unknown) {
  const std::string root = AbsolutePath(spec.local.data_dir);
  std::vector<RunningNode> out;
  std::set<int> seen;
  for (const LocalNode& n : PlacedNodes(spec)) {
    seen.insert(n.ep.port);
    if (int pid = RunningNodePid(LayoutFor(root, spec.name, n.ep.port))) {
      out.push_back({.name = n.name, .port = n.ep.port, .pid = pid});
    }
  }
  if (!include_unknown) return out;
  DIR* d = ::opendir((root + "/" + spec.name).c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long port = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535 || seen.count(static_cast<int>(port))) continue;
    if (int pid = RunningNodePid(LayoutFor(root, spec.name, static_cast<int>(port)))) {
      out.push_back({.name = spec.name + "@" + std::to_string(port),
                     .port = static_cast<int>(port),
                     .pid = pid});
    }
  }
  ::closedir(d);
  return out;
}

// True while the node writes its final RDB save (after SIGTERM it writes temp-<pid>.rdb and
// renames it when done) and the file still grows: stopping it then would throw that work
// away. A save that stops growing is not waited for.
std::function<bool()> SavingProgress(const NodeLayout& layout) {
  auto last = std::make_shared<long long>(-1);
  return [layout, last] {
    long long total = 0;
    if (DIR* d = ::opendir(layout.dir.c_str())) {
      while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n.rfind("temp-", 0) != 0) continue;
        struct stat st {};
        if (::stat((layout.dir + "/" + n).c_str(), &st) == 0) total += st.st_size;
      }
      ::closedir(d);
    }
    const bool busy = total > 0 && (*last < 0 || total > *last);
    *last = total;
    return busy;
  };
}

}  // namespace

LocalProvider::LocalProvider(ClusterSpec spec, LocalOptions opts)
    : spec_(std::move(spec)),
      opts_(std::move(opts)),
      root_(AbsolutePath(spec_.local.data_dir)),
      supervisor_(std::make_unique<Supervisor>(opts_.supervisor)) {
  for (const LocalNode& n : PlacedNodes(spec_)) nodes_.push_back(Slot{n});
  supervisor_->OnExit(
      [this](const std::string& name, const Supervisor::State& st) { RecordExit(name, st); });
  // Desired state pushed by the controller (SetHoldOnExit): a held node waits for StartNode.
  supervisor_->SetRestartGate([this](const std::string& name) {
    std::lock_guard lock(mu_);
    return hold_.count(name) == 0;
  });
}

LocalProvider::~LocalProvider() {
  // The exit callback touches our members: stop the supervisor thread before they go.
  supervisor_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // the lock file stays: unlinking it would race
}

std::optional<LocalProvider::Slot> LocalProvider::SlotOf(const std::string& name) const {
  std::lock_guard lock(mu_);
  for (const Slot& s : nodes_) {
    if (s.node.name == name) return s;
  }
  return std::nullopt;
}

std::vector<LocalProvider::Slot> LocalProvider::Slots() const {
  std::lock_guard lock(mu_);
  return nodes_;
}

NodeLayout LocalProvider::Layout(const LocalNode& n) const {
  return LayoutFor(root_, spec_.name, n.ep.port);
}

std::optional<NodeLayout> LocalProvider::LayoutOf(const std::string& name) const {
  auto slot = SlotOf(name);
  if (!slot) return std::nullopt;
  return Layout(slot->node);
}

RenderInput LocalProvider::InputFor(const LocalNode& n, const ClusterSpec& spec) const {
  return MakeInput(spec, n, root_, version_, opts_.password);
}

SpawnSpec LocalProvider::SpawnFor(const LocalNode& n) const {
  NodeLayout l = Layout(n);
  // The log file doubles as stdout/stderr, so errors printed before Redis opens its
  // logfile (a bad config, a bind failure) land in the same place.
  return SpawnSpec{
      .argv = {redis_path_, l.config}, .cwd = l.dir, .output_path = l.log, .stdin_data = ""};
}

void LocalProvider::RecordExit(const std::string& name, const Supervisor::State& st) {
  auto layout = LayoutOf(name);
  std::string line = layout ? TailLines(layout->log, 1) : "";
  std::string text = st.last_exit + " at " + ClockTime() + (line.empty() ? "" : ": " + line);
  std::function<void(const std::string&)> listener;
  {
    std::lock_guard lock(mu_);
    last_exit_[name] = std::move(text);
    auto& times = exits_[name];
    const auto now = std::chrono::steady_clock::now();
    times.push_back(now);
    std::erase_if(times, [&](auto t) { return now - t > std::chrono::seconds(60); });
    listener = listener_;
  }
  if (listener) listener(name);
}

void LocalProvider::SetHoldOnExit(std::set<std::string> names) {
  std::lock_guard lock(mu_);
  hold_ = std::move(names);
}

void LocalProvider::SetExitListener(std::function<void(const std::string& name)> listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

// The cluster's data dir is ours alone while this provider lives: a second `up`, a
// `controller` or a `down` of the same cluster sees the lock and stops before it changes
// anything. The pid file stays in place (unlinking it would let a second process lock a new
// file of the same name while the first still holds the old one).
Status LocalProvider::LockDataDir() {
  if (lock_fd_ >= 0) return Status::Ok();
  const std::string dir = root_ + "/" + spec_.name;
  SK_TRY(MakeDirs(dir, 0755));
  const std::string path = dir + "/slotkeeper.pid";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return Unavailable("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    auto pid = ReadFile(path);
    ::close(fd);
    return FailedPrecondition(
        "cluster " + spec_.name + " is already managed by a running slotkeeper" +
        (pid.ok() && !pid->empty() ? " (pid " + pid->substr(0, pid->find('\n')) + ")" : "") + " (" +
        path + " is locked); stop that one first (Ctrl-C, or DELETE it through its API)");
  }
  std::string me = std::to_string(::getpid()) + " " + opts_.owner + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    ::close(fd);
    return Unavailable("cannot write " + path);
  }
  lock_fd_ = fd;
  return Status::Ok();
}

Status LocalProvider::Prepare() {
  if (!spec_.hosts.empty()) {
    return FailedPrecondition("spec.hosts is set: the local provider runs spec.local only");
  }
  Result<std::string> exe = FindExecutable(opts_.redis_server);
  if (!exe.ok()) return FailedPrecondition(exe.error().message());
  redis_path_ = *exe;

  SpawnSpec version_cmd{
      .argv = {redis_path_, "--version"}, .cwd = "", .output_path = "", .stdin_data = ""};
  Result<CaptureResult> ver = RunCapture(version_cmd, milliseconds(5000));
  std::optional<RedisVersion> parsed;
  if (ver.ok()) parsed = ParseRedisVersion(ver->output);
  if (!parsed) {
    return FailedPrecondition("cannot read the version of " + redis_path_ + ": " +
                              (ver.ok() ? ver->output : ver.error().message()));
  }
  version_ = *parsed;

  // Everything is checked before the first directory is made: a refused `up` leaves no trace.
  std::vector<Slot> slots = Slots();
  SK_TRY(CheckPorts(slots, spec_));
  // Nodes with nothing of a cluster node in their dir, and not running: they will come up
  // empty, which the controller may count on while they start.
  for (Slot& slot : slots) {
    const NodeLayout layout = Layout(slot.node);
    // Start() comes next (on its own thread): until it has launched or adopted a node, the
    // node counts as about to run, so that the controller does not start it a second time.
    slot.queued = true;
    slot.fresh = slot.adoptable == 0 && !PathExists(layout.dir + "/" + layout.nodes_conf_name) &&
                 !PathExists(layout.dir + "/" + layout.rdb_name) &&
                 !PathExists(layout.dir + "/" + layout.aof_dir_name);
  }
  if (std::string why = DirProblem(root_ + "/" + spec_.name); !why.empty()) {
    return FailedPrecondition("data dir " + root_ + " is not writable: " + why);
  }
  std::vector<std::string> confs;
  for (const Slot& slot : slots) confs.push_back(RenderRedisConf(InputFor(slot.node, spec_)));
  // One node suffices: the nodes' files differ only in port and paths.
  if (!confs.empty()) SK_TRY(CheckConfigWithRedis(redis_path_, confs[0], opts_.password));
  if (Status locked = LockDataDir(); !locked.ok()) return locked;
  for (size_t i = 0; i < slots.size(); ++i) {
    const NodeLayout layout = Layout(slots[i].node);
    if (Status made = MakeDirs(layout.dir, kDirMode); !made.ok()) {
      return FailedPrecondition("data dir " + root_ +
                                " is not writable: " + made.error().message());
    }
    SK_TRY(WriteIfChanged(layout.config, confs[i]));
  }
  {
    std::lock_guard lock(mu_);
    nodes_ = slots;
  }
  SK_TRY(RewritePeerAddresses());
  prepared_ = true;
  return Status::Ok();
}

Status LocalProvider::Reconfigure(const ClusterSpec& spec) {
  std::vector<Slot> slots = Slots();
  std::vector<Slot> added;
  for (const LocalNode& n : PlacedNodes(spec)) {
    bool known = std::any_of(slots.begin(), slots.end(),
                             [&](const Slot& s) { return s.node.name == n.name; });
    if (!known) added.push_back(Slot{n});
  }
  if (!prepared_) {
    std::lock_guard lock(mu_);
    spec_ = spec;
    for (Slot& s : added) nodes_.push_back(std::move(s));
    return Status::Ok();
  }
  // Everything is checked before any file changes: the settings by redis-server itself, the
  // ports of the new nodes.
  SK_TRY(CheckPorts(added, spec));
  std::vector<Slot> all = slots;
  for (Slot& s : added) {
    const NodeLayout layout = Layout(s.node);
    s.fresh = s.adoptable == 0 && !PathExists(layout.dir + "/" + layout.nodes_conf_name);
    all.push_back(s);
  }
  std::vector<std::string> confs;
  for (const Slot& s : all) confs.push_back(RenderRedisConf(InputFor(s.node, spec)));
  if (!confs.empty()) SK_TRY(CheckConfigWithRedis(redis_path_, confs[0], opts_.password));
  for (size_t i = 0; i < all.size(); ++i) {
    const NodeLayout layout = Layout(all[i].node);
    SK_TRY(MakeDirs(layout.dir, kDirMode));
    SK_TRY(WriteIfChanged(layout.config, confs[i]));
  }
  {
    std::lock_guard lock(mu_);
    spec_ = spec;
    for (Slot& s : added) nodes_.push_back(s);
  }
  for (const Slot& s : added) SK_TRY(LaunchNode(s.node.name));
  return Status::Ok();
}

// Every node's nodes-<port>.conf names its own ID on its "myself" line, and the spec says
// where each node lives now: before stopped nodes start, every line of every file gets the
// current address of its ID. Without this, nodes moved to new addresses (a new bind) all
// point at the old ones and the cluster never comes back (REDIS-FACTS pain point 1).
Status LocalProvider::RewritePeerAddresses() {
  std::vector<Slot> slots = Slots();
  std::map<std::string, Endpoint> by_id;
  std::vector<std::string> texts(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    const NodeLayout layout = Layout(slots[i].node);
    auto text = ReadFile(layout.dir + "/" + layout.nodes_conf_name);
    if (!text.ok()) continue;
    texts[i] = *text;
    std::string id = NodesConfMyId(*text);
    if (!id.empty()) by_id[id] = slots[i].node.ep;
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    if (texts[i].empty() || slots[i].adoptable > 0) continue;  // a running node owns its file
    Rewritten r = RewriteAddresses(texts[i], by_id);
    if (r.changed == 0) continue;
    const NodeLayout layout = Layout(slots[i].node);
    SK_TRY(WriteFileAtomic(layout.dir + "/" + layout.nodes_conf_name, r.text, 0644));
    spdlog::info("{}: {} address(es) in {} updated to the nodes' current addresses",
                 slots[i].node.name, r.changed, layout.nodes_conf_name);
  }
  return Status::Ok();
}

Status LocalProvider::CheckPorts(std::vector<Slot>& slots, const ClusterSpec& spec) {
  std::vector<std::string> problems;
  const int count = static_cast<int>(slots.size());
  for (Slot& s : slots) {
    // This cluster's own node already running: it holds its ports and will be adopted.
    s.adoptable = RunningNodePid(Layout(s.node));
    if (s.adoptable > 0) continue;
    for (bool bus : {false, true}) {
      std::string p = PortProblem(s.node, spec.local.bind, bus, count);
      if (!p.empty()) problems.push_back(std::move(p));
    }
  }
  if (problems.empty()) return Status::Ok();
  return FailedPrecondition(Join(problems, "; "));
}

Status LocalProvider::LaunchNode(const std::string& name) {
  // Start() may run on one thread while the controller asks StartNode() on another.
  std::lock_guard launching(launch_mu_);
  auto slot = SlotOf(name);
  if (!slot) return NotFound("node " + name + " is not part of cluster " + spec_.name);
  const LocalNode& n = slot->node;
  if (auto st = supervisor_->Get(n.name); st && st->running) return Status::Ok();
  supervisor_->Release(n.name);  // drops a pending restart; Start below replaces it
  const NodeLayout layout = Layout(n);
  // Re-check: a node seen by Prepare() may have exited since, and one may have appeared.
  int pid = RunningNodePid(layout);
  if (pid > 0 && supervisor_->Adopt(n.name, pid, SpawnFor(n)).ok()) {
    spdlog::info("adopted {} (port {}, pid {})", n.name, n.ep.port, pid);
    std::lock_guard lock(mu_);
    for (Slot& s : nodes_) {
      if (s.node.name == name) s.adopted = true;
    }
    return Status::Ok();
  }
  // A node whose directory is gone (a disk replaced, a person's rm -r): it comes back with
  // its config and no data, as a new node; the controller forgets its old ID as a ghost.
  if (!PathExists(layout.dir) || !PathExists(layout.config)) {
    ClusterSpec spec;
    {
      std::lock_guard lock(mu_);
      spec = spec_;
    }
    SK_TRY(MakeDirs(layout.dir, kDirMode));
    SK_TRY(WriteIfChanged(layout.config, RenderRedisConf(InputFor(n, spec))));
    spdlog::warn("{}: its directory {} was gone; made it again, the node starts empty", n.name,
                 layout.dir);
    std::lock_guard lock(mu_);
    for (Slot& s : nodes_) {
      if (s.node.name == name) s.fresh = true;
    }
  }
  Status st = supervisor_->Start(n.name, SpawnFor(n));
  if (!st.ok()) {
    return Unavailable("cannot start node " + n.name + " (" + n.ep.ToString() +
                       "): " + st.error().message());
  }
  auto state = supervisor_->Get(n.name);
  spdlog::info("started {} (port {}, pid {})", n.name, n.ep.port, state ? state->pid : 0);
  std::lock_guard lock(mu_);
  for (Slot& s : nodes_) {
    if (s.node.name == name) s.adopted = false;
  }
  if (std::find(started_.begin(), started_.end(), n.name) == started_.end()) {
    started_.push_back(n.name);
  }
  return Status::Ok();
}

void LocalProvider::AdoptRunning() {
  for (const Slot& s : Slots()) {
    // Adopts it (or starts it again if it exited since Prepare()).
    if (s.adoptable > 0) (void)LaunchNode(s.node.name);
  }
}

Status LocalProvider::Start() {
  if (!prepared_) return FailedPrecondition("Start() needs a successful Prepare() first");
  std::vector<std::string> names;
  {
    std::lock_guard lock(mu_);
    for (Slot& s : nodes_) {
      s.queued = true;
      names.push_back(s.node.name);
    }
  }
  auto unqueue = [&](const std::string& name) {
    std::lock_guard lock(mu_);
    for (Slot& s : nodes_) {
      if (name.empty() || s.node.name == name) s.queued = false;
    }
  };
  // Lowest index first: a fresh cluster's masters are the lowest indexes on one host, and the
  // controller gives each its slots as soon as it answers, inside Redis's 2 s writable delay
  // (a master that gets slots later stays "fail" for a further rejoin delay of up to 5 s).
  // Starting a redis-server costs 30-50 ms of CPU here, so 100 nodes take seconds to start.
  for (const std::string& name : names) {
    if (cancel_) break;
    Status st = LaunchNode(name);
    unqueue(name);
    if (!st.ok()) {
      unqueue("");
      return st;
    }
  }
  unqueue("");
  if (cancel_) return Aborted("start of cluster " + spec_.name + " cancelled");
  return Status::Ok();
}

Status LocalProvider::Launch(std::chrono::milliseconds ready_timeout) {
  SK_TRY(Start());
  return WaitReady(ready_timeout);
}

Status LocalProvider::WaitReady(std::chrono::milliseconds ready_timeout) {
  const auto deadline = Clock::now() + ready_timeout;
  std::vector<Slot> slots = Slots();
  std::vector<int> first_pid(slots.size(), 0);
  std::vector<bool> ready(slots.size(), false);
  for (size_t i = 0; i < slots.size(); ++i) {
    if (auto st = supervisor_->Get(slots[i].node.name)) first_pid[i] = st->pid;
  }
  while (true) {
    if (cancel_) return Aborted("waiting for cluster " + spec_.name + " cancelled");
    std::vector<std::string> waiting;
    for (size_t i = 0; i < slots.size(); ++i) {
      if (ready[i]) continue;
      const LocalNode& n = slots[i].node;
      auto st = supervisor_->Get(n.name);
      if (!st || !st->running || st->pid != first_pid[i]) {
        if (!SlotOf(n.name)) {  // retired meanwhile
          ready[i] = true;
          continue;
        }
        const std::string log = Layout(n).log;
        return Unavailable("node " + n.name + " (port " + std::to_string(n.ep.port) + ") " +
                           (st && !st->last_exit.empty() ? st->last_exit : "exited") +
                           " while starting; last lines of " + log + ":\n" + TailLines(log, 5));
      }
      ready[i] = RedisAnswers(n.ep.host, n.ep.port, milliseconds(200));
      if (!ready[i]) waiting.push_back(n.name + " (" + n.ep.ToString() + ")");
    }
    if (waiting.empty()) return Status::Ok();
    if (Clock::now() >= deadline) {
      return DeadlineExceeded("nodes not accepting connections after " +
                              std::to_string(ready_timeout.count()) +
                              " ms: " + Join(waiting, ", "));
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
}

std::vector<std::string> LocalProvider::StartedThisRun() const {
  std::lock_guard lock(mu_);
  return started_;
}

void LocalProvider::StopStartedThisRun() {
  std::vector<std::string> names;
  {
    std::lock_guard lock(mu_);
    names.swap(started_);
  }
  for (const std::string& name : names) {
    Status st = supervisor_->Stop(name, opts_.stop_grace);
    if (!st.ok() && st.error().code() != Code::kNotFound) {
      spdlog::warn("stopping {}: {}", name, st.error().message());
    }
  }
}

std::vector<NodeRuntime> LocalProvider::Nodes() const {
  std::vector<NodeRuntime> out;
  std::string bind;
  std::vector<Slot> slots;
  {
    std::lock_guard lock(mu_);
    slots = nodes_;
    bind = spec_.local.bind;
  }
  for (const Slot& s : slots) {
    const LocalNode& n = s.node;
    NodeRuntime r{.name = n.name, .ep = n.ep, .host = bind, .zone = ""};
    if (auto st = supervisor_->Get(n.name)) {
      r.pid = st->running ? st->pid : 0;
      r.running = st->running;
      r.adopted = st->adopted;
      r.restarts = st->restarts;
      r.held = st->held;
      r.last_exit = st->last_exit;
    }
    std::lock_guard lock(mu_);
    if (auto it = last_exit_.find(n.name); it != last_exit_.end()) r.last_exit = it->second;
    r.fresh = s.fresh;
    // Three exits within a minute (restarts come after 0.1, 0.2, 0.4 s...): a crash loop.
    if (auto it = exits_.find(n.name); it != exits_.end())
      r.failing = !r.running && it->second.size() >= 3;
    r.queued = !r.running && s.queued;
    out.push_back(std::move(r));
  }
  return out;
}

Status LocalProvider::Destroy(bool purge) {
  Cancel();
  for (const Slot& s : Slots()) supervisor_->Release(s.node.name);  // no restarts from here on
  ClusterSpec spec;
  {
    std::lock_guard lock(mu_);
    spec = spec_;
  }
  // Our own lock does not stop our own purge: StopLocalCluster refuses only other holders.
  return StopLocalCluster(spec, purge, opts_.stop_grace);
}

Status LocalProvider::StartNode(const std::string& name) {
  if (!SlotOf(name)) return NotFound("node " + name + " is not part of cluster " + spec_.name);
  if (!prepared_) return FailedPrecondition("StartNode() needs a successful Prepare() first");
  return LaunchNode(name);
}

Status LocalProvider::StopNode(const std::string& name) {
  auto slot = SlotOf(name);
  if (!slot) return NotFound("node " + name + " is not part of cluster " + spec_.name);
  if (supervisor_->Get(name)) {
    Status st = supervisor_->Stop(name, opts_.stop_grace);
    if (!st.ok()) return std::move(st).error();
  } else if (int pid = RunningNodePid(Layout(slot->node)); pid > 0) {
    // Running but not supervised (e.g. before Launch): still stop it, by PID, after the
    // cwd check in RunningNodePid proved it is this node.
    SK_TRY(TerminateProcess(pid, opts_.stop_grace));
  }
  std::lock_guard lock(mu_);
  started_.erase(std::remove(started_.begin(), started_.end(), name), started_.end());
  return Status::Ok();
}

Status LocalProvider::RetireNode(const std::string& name) {
  auto slot = SlotOf(name);
  if (!slot) return Status::Ok();  // retired already: the goal holds
  SK_TRY(StopNode(name));
  supervisor_->Release(name);
  const NodeLayout layout = Layout(slot->node);
  // Stopped for certain (by PID, after the cwd check) before anything is deleted.
  if (RunningNodePid(layout) > 0) {
    return FailedPrecondition("node " + name + " still runs; its files are kept");
  }
  {
    std::lock_guard lock(mu_);
    std::erase_if(nodes_, [&](const Slot& s) { return s.node.name == name; });
    hold_.erase(name);
  }
  return RemoveTree(layout.dir);
}

Status LocalProvider::ReplaceNode(const std::string& name) {
  auto slot = SlotOf(name);
  if (!slot) return NotFound("node " + name + " is not part of cluster " + spec_.name);
  if (!prepared_) return FailedPrecondition("ReplaceNode() needs a successful Prepare() first");
  const NodeLayout old = Layout(slot->node);
  supervisor_->Release(name);
  if (int pid = RunningNodePid(old); pid > 0) SK_TRY(TerminateProcess(pid, opts_.stop_grace));
  ClusterSpec spec;
  std::set<int> used;
  {
    std::lock_guard lock(mu_);
    spec = spec_;
    for (const Slot& s : nodes_) used.insert(s.node.ep.port);
  }
  int port = 0;
  for (int p = spec.local.base_port + kReplacementPortOffset;
       p < spec.local.base_port + kReplacementPortOffset + 200 && p + 10000 <= 65535; ++p) {
    if (used.count(p) || PathExists(LayoutFor(root_, spec.name, p).dir)) continue;
    if (PortBindError(spec.local.bind, p) == 0 && PortBindError(spec.local.bind, p + 10000) == 0) {
      port = p;
      break;
    }
  }
  if (port == 0) {
    return Unavailable("no free port (with its bus port) from " +
                       std::to_string(spec.local.base_port + kReplacementPortOffset) +
                       " for a node to replace " + name);
  }
  auto placement = ReadPlacement(spec);
  placement[name] = port;
  SK_TRY(WriteFileAtomic(PlacementPath(spec), nlohmann::json(placement).dump(2) + "\n", 0644));
  LocalNode moved = slot->node;
  moved.ep.port = port;
  {
    std::lock_guard lock(mu_);
    for (Slot& s : nodes_) {
      if (s.node.name != name) continue;
      s.node = moved;
      s.fresh = true;
    }
    exits_.erase(name);
    last_exit_.erase(name);
  }
  const NodeLayout now = Layout(moved);
  SK_TRY(MakeDirs(now.dir, kDirMode));
  SK_TRY(WriteIfChanged(now.config, RenderRedisConf(InputFor(moved, spec))));
  spdlog::warn(
      "{} cannot come back on port {}: replaced by a new empty node on port {} "
      "(the old files stay in {})",
      name, old.port, port, old.dir);
  return LaunchNode(name);
}

std::vector<LocalNode> PlacedNodes(const ClusterSpec& spec) {
  std::vector<LocalNode> nodes = LocalNodes(spec);
  auto placement = ReadPlacement(spec);
  for (LocalNode& n : nodes) {
    if (auto it = placement.find(n.name); it != placement.end()) n.ep.port = it->second;
  }
  return nodes;
}

std::vector<RunningNode> FindRunningNodes(const ClusterSpec& spec) {
  return ScanRunning(spec, /*include_unknown=*/false);
}

LockHolder DataDirLockHolder(const ClusterSpec& spec) {
  const std::string path = AbsolutePath(spec.local.data_dir) + "/" + spec.name + "/slotkeeper.pid";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return {};
  LockHolder holder;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    auto text = ReadFile(path);
    holder.pid = text.ok() ? std::atoi(text->c_str()) : 0;
    if (holder.pid <= 0) holder.pid = -1;
    if (text.ok()) {
      size_t sp = text->find(' ');
      if (sp != std::string::npos) holder.owner = text->substr(sp + 1, text->find('\n') - sp - 1);
    }
  } else {
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
  return holder;
}

Status StopLocalCluster(const ClusterSpec& spec, bool purge, std::chrono::milliseconds grace) {
  // A running controller would restart what this stops (and fight over the files): refused,
  // unless that controller is this very process (DELETE ?purge=true).
  if (LockHolder h = DataDirLockHolder(spec); h.pid != 0 && h.pid != ::getpid()) {
    return FailedPrecondition("cluster " + spec.name + " is managed by a running slotkeeper " +
                              (h.owner.empty() ? "" : h.owner + " ") +
                              (h.pid > 0 ? "(pid " + std::to_string(h.pid) + ")" : "") +
                              "; stop it first, or DELETE the cluster through its API");
  }
  const std::vector<RunningNode> running = ScanRunning(spec, /*include_unknown=*/true);
  const std::string root = AbsolutePath(spec.local.data_dir);
  // Stopped in parallel: each one may need up to `grace` to save its data.
  std::vector<std::string> problems(running.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < running.size(); ++i) {
    threads.emplace_back([&, i] {
      const RunningNode& n = running[i];
      Status st =
          TerminateProcess(n.pid, grace, SavingProgress(LayoutFor(root, spec.name, n.port)));
      if (!st.ok()) {
        problems[i] = "node " + n.name + " (port " + std::to_string(n.port) + ", pid " +
                      std::to_string(n.pid) + ") would not stop: " + st.error().message();
      } else {
        spdlog::info("stopped {} (port {}, pid {})", n.name, n.port, n.pid);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<std::string> failed;
  for (std::string& p : problems) {
    if (!p.empty()) failed.push_back(std::move(p));
  }
  if (!failed.empty()) return Unavailable(Join(failed, "; "));
  // Only now, with every node gone, is it safe to delete their files.
  if (purge) SK_TRY(RemoveTree(root + "/" + spec.name));
  return Status::Ok();
}

Result<std::vector<std::string>> RenderLocalCluster(const ClusterSpec& spec,
                                                    const std::string& root,
                                                    const RedisVersion& version,
                                                    const std::optional<std::string>& password) {
  std::vector<std::string> written;
  const std::string abs_root = AbsolutePath(root);  // redis.conf wants an absolute dir
  for (const LocalNode& n : PlacedNodes(spec)) {
    RenderInput in = MakeInput(spec, n, abs_root, version, password);
    SK_TRY(MakeDirs(in.layout.dir, kDirMode));
    SK_TRY(WriteIfChanged(in.layout.config, RenderRedisConf(in)));
    written.push_back(in.layout.config);
  }
  return written;
}

}  // namespace sk::agent
