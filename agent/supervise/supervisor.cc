#include "agent/supervise/supervisor.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>
// glibc 2.36 declares these without extern "C" (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace sk::agent {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How an exited process ended, from waitid() on its pidfd. Only a child of ours can be
// waited for; for an adopted process the status is lost with its real parent.
std::string DescribeExit(int pidfd) {
  siginfo_t info{};
  int rc;
  do {
    rc = ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0 || info.si_pid == 0) return "exited (not our child; status unknown)";
  if (info.si_code == CLD_EXITED) return "exited with status " + std::to_string(info.si_status);
  std::string out = "killed by signal " + std::to_string(info.si_status);
  if (info.si_code == CLD_DUMPED) out += " (core dumped)";
  return out;
}

bool Readable(int fd) {
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  return ::poll(&p, 1, 0) > 0;
}

}  // namespace

struct Supervisor::Impl {
  struct Entry {
    SpawnSpec spec;
    State state;
    int pidfd = -1;
    Clock::time_point started{};
    milliseconds delay{0};  // the backoff used for the last restart
    std::optional<Clock::time_point> restart_at;
  };

  explicit Impl(Options o) : opts(o) {
    wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    SK_CHECK(wake_fd >= 0);
    thread = std::thread([this] { Loop(); });
  }
  ~Impl() {
    {
      std::lock_guard lock(mu);
      quit = true;
    }
    Wake();
    thread.join();
    for (auto& [name, e] : entries) {
      if (e.pidfd >= 0) ::close(e.pidfd);
    }
    ::close(wake_fd);
  }

  void Wake() const {
    uint64_t one = 1;
    ssize_t n = ::write(wake_fd, &one, sizeof one);
    (void)n;  // EAGAIN means a wakeup is already pending
  }

  // Watches `pid` from now on; the entry keeps running=false when it is already gone.
  void Watch(Entry& e, int pid) {
    e.state.pid = pid;
    e.state.running = true;
    e.started = Clock::now();
    e.restart_at.reset();
    e.pidfd = ::pidfd_open(pid, 0);
    if (e.pidfd < 0) {
      // Gone before we could watch it (only possible for a process we did not start).
      e.state.running = false;
      e.state.pid = 0;
      e.state.last_exit = "gone (not our child)";
    }
  }

  void Loop();
  void CollectExits(std::unique_lock<std::mutex>& lock);
  void HandleExit(std::unique_lock<std::mutex>& lock, const std::string& name);
  void RunRestarts();
  int PollTimeoutMs() const;

  const Options opts;
  int wake_fd = -1;
  mutable std::mutex mu;
  std::map<std::string, Entry> entries;
  std::vector<ExitCallback> on_exit;
  RestartGate gate;
  bool quit = false;
  std::thread thread;
};

void Supervisor::Impl::Loop() {
  std::unique_lock lock(mu);
  while (!quit) {
    std::vector<pollfd> fds = {{.fd = wake_fd, .events = POLLIN, .revents = 0}};
    for (const auto& [name, e] : entries) {
      if (e.pidfd >= 0) fds.push_back({.fd = e.pidfd, .events = POLLIN, .revents = 0});
    }
    int timeout = PollTimeoutMs();
    lock.unlock();
    // Stop()/Release() may close a pidfd we poll on; poll keeps its own reference, and the
    // eventfd wakes us to rebuild the set. Readiness is re-checked below under the lock.
    int rc = ::poll(fds.data(), fds.size(), timeout);
    lock.lock();
    if (quit) break;
    if (rc < 0 && errno != EINTR) {
      spdlog::error("supervisor: poll failed: {}", std::strerror(errno));
    }
    uint64_t drained = 0;
    while (::read(wake_fd, &drained, sizeof drained) > 0) {
    }
    CollectExits(lock);
    RunRestarts();
  }
}

int Supervisor::Impl::PollTimeoutMs() const {
  std::optional<Clock::time_point> next;
  for (const auto& [name, e] : entries) {
    if (e.restart_at && (!next || *e.restart_at < *next)) next = e.restart_at;
  }
  if (!next) return -1;
  auto ms = std::chrono::ceil<milliseconds>(*next - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 60000));
}

void Supervisor::Impl::CollectExits(std::unique_lock<std::mutex>& lock) {
  std::vector<std::string> exited;
  for (const auto& [name, e] : entries) {
    if (e.pidfd >= 0 && Readable(e.pidfd)) exited.push_back(name);
  }
  for (const std::string& name : exited) HandleExit(lock, name);
}

void Supervisor::Impl::HandleExit(std::unique_lock<std::mutex>& lock, const std::string& name) {
  auto it = entries.find(name);
  if (it == entries.end() || it->second.pidfd < 0) return;
  Entry& e = it->second;
  const int pid = e.state.pid;
  e.state.last_exit = DescribeExit(e.pidfd);  // reaps it when it is our child
  ::close(e.pidfd);
  e.pidfd = -1;
  e.state.running = false;
  e.state.pid = 0;
  spdlog::warn("supervisor: {} (pid {}) {}", name, pid, e.state.last_exit);

  // The callback runs unlocked so that it may call Get()/Snapshot().
  if (!on_exit.empty()) {
    std::vector<ExitCallback> callbacks = on_exit;
    State copy = e.state;
    lock.unlock();
    for (const ExitCallback& cb : callbacks) cb(name, copy);
    lock.lock();
  }
  // The controller may hold a master down until its replica has taken over: restarting it
  // first would let it serve again with an AOF up to a second behind its replica.
  if (gate) {
    RestartGate g = gate;
    lock.unlock();
    bool now = g(name);
    lock.lock();
    it = entries.find(name);
    if (!now && it != entries.end() && !it->second.state.running) {
      it->second.state.held = true;
      spdlog::info("supervisor: {} held down until the controller restarts it", name);
      return;
    }
  }
  // Stop() or Release() may have run meanwhile: a name that left the map is not restarted.
  it = entries.find(name);
  if (it == entries.end() || it->second.state.running || it->second.restart_at) return;
  Entry& cur = it->second;
  const bool stable = Clock::now() - cur.started >= opts.stable_after;
  if (stable || cur.delay.count() == 0) {
    cur.delay = opts.min_backoff;
  } else {
    cur.delay = std::min(cur.delay * 2, opts.max_backoff);
  }
  cur.restart_at = Clock::now() + cur.delay;
}

void Supervisor::Impl::RunRestarts() {
  const auto now = Clock::now();
  for (auto& [name, e] : entries) {
    if (!e.restart_at || *e.restart_at > now) continue;
    e.restart_at.reset();
    // Spawned under the lock: a concurrent Stop() waits and then sees the new PID.
    Result<int> pid = Spawn(e.spec);
    ++e.state.restarts;
    e.state.adopted = false;
    if (!pid.ok()) {
      e.state.last_exit = "restart failed: " + pid.error().message();
      e.delay = std::min(std::max(e.delay * 2, opts.min_backoff), opts.max_backoff);
      e.restart_at = now + e.delay;
      spdlog::warn("supervisor: {}: {}", name, e.state.last_exit);
      continue;
    }
    Watch(e, *pid);
    e.state.held = false;
    spdlog::info("supervisor: restarted {} as pid {} (restart {})", name, *pid, e.state.restarts);
  }
}

Supervisor::Supervisor(Options opts) : impl_(std::make_unique<Impl>(opts)) {}

Supervisor::~Supervisor() = default;

Status Supervisor::Start(const std::string& name, const SpawnSpec& spec) {
  std::lock_guard lock(impl_->mu);
  if (impl_->entries.count(name)) return AlreadyExists(name + " is already supervised");
  SK_ASSIGN_OR_RETURN(int pid, Spawn(spec));
  Impl::Entry& e = impl_->entries[name];
  e.spec = spec;
  impl_->Watch(e, pid);
  if (!e.state.running) e.restart_at = Clock::now() + impl_->opts.min_backoff;
  impl_->Wake();
  return Status::Ok();
}

Status Supervisor::Adopt(const std::string& name, int pid, const SpawnSpec& spec) {
  std::lock_guard lock(impl_->mu);
  if (impl_->entries.count(name)) return AlreadyExists(name + " is already supervised");
  Impl::Entry e;
  e.spec = spec;
  e.state.adopted = true;
  // ProcessAlive also rules out a zombie, which pidfd_open would accept.
  if (ProcessAlive(pid)) impl_->Watch(e, pid);
  if (!e.state.running) {
    if (e.pidfd >= 0) ::close(e.pidfd);
    return NotFound(name + ": process " + std::to_string(pid) + " is not running");
  }
  impl_->entries[name] = std::move(e);
  impl_->Wake();
  return Status::Ok();
}

Status Supervisor::Stop(const std::string& name, std::chrono::milliseconds grace) {
  int pid = 0;
  int pidfd = -1;
  {
    // Leaving the map first means no pending or future restart can bring it back.
    std::lock_guard lock(impl_->mu);
    auto it = impl_->entries.find(name);
    if (it == impl_->entries.end()) return NotFound(name + " is not supervised");
    pid = it->second.state.running ? it->second.state.pid : 0;
    pidfd = it->second.pidfd;
    impl_->entries.erase(it);
  }
  impl_->Wake();
  // Signalled through the pidfd the supervisor holds, never by PID: a PID can be reused.
  Status st = Status::Ok();
  if (pid > 0 && pidfd >= 0) {
    st = TerminatePidfd(pidfd, pid, grace);
    (void)DescribeExit(pidfd);  // reaps it when it is our child
  } else if (pid > 0) {
    st = TerminateProcess(pid, grace);
  }
  if (pidfd >= 0) ::close(pidfd);
  if (!st.ok()) return std::move(st).error().Wrap("stopping " + name);
  return Status::Ok();
}

void Supervisor::Release(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->entries.find(name);
  if (it == impl_->entries.end()) return;
  if (it->second.pidfd >= 0) ::close(it->second.pidfd);
  impl_->entries.erase(it);
  impl_->Wake();
}

std::optional<Supervisor::State> Supervisor::Get(const std::string& name) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->entries.find(name);
  if (it == impl_->entries.end()) return std::nullopt;
  return it->second.state;
}

std::map<std::string, Supervisor::State> Supervisor::Snapshot() const {
  std::lock_guard lock(impl_->mu);
  std::map<std::string, State> out;
  for (const auto& [name, e] : impl_->entries) out[name] = e.state;
  return out;
}

void Supervisor::SetRestartGate(RestartGate gate) {
  std::lock_guard lock(impl_->mu);
  impl_->gate = std::move(gate);
}

Status Supervisor::Resume(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->entries.find(name);
  if (it == impl_->entries.end()) return NotFound(name + " is not supervised");
  Impl::Entry& e = it->second;
  if (e.state.running || e.restart_at) return Status::Ok();
  e.restart_at = Clock::now();
  impl_->Wake();
  return Status::Ok();
}

void Supervisor::OnExit(ExitCallback cb) {
  std::lock_guard lock(impl_->mu);
  if (cb) impl_->on_exit.push_back(std::move(cb));
}

}  // namespace sk::agent
