#include "api/cli/daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/supervise/local_provider.h"
#include "api/cli/cluster_setup.h"
#include "api/rest/auth.h"
#include "api/types/files.h"

namespace sk::cli {

sigset_t BlockSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  rest::InitThreadPool(4);
  return set;
}

int WaitForSignal(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

reconcile::ManagerHooks LocalHooks(const std::string& owner) {
  reconcile::ManagerHooks h;
  h.make_provider = [owner](const ClusterSpec& spec, const std::optional<std::string>& password) {
    agent::LocalOptions local;
    local.redis_server = RedisServerName();
    local.password = password;
    local.owner = owner;
    return std::unique_ptr<NodeProvider>(std::make_unique<agent::LocalProvider>(spec, local));
  };
  h.desired = DesiredFromSpec;
  h.node_names = [](const ClusterSpec& spec) {
    std::vector<std::string> names;
    for (const LocalNode& n : LocalNodes(spec)) names.push_back(n.name);
    return names;
  };
  h.password = ReadSpecPassword;
  return h;
}

StateDirLock::~StateDirLock() {
  if (fd_ >= 0) ::close(fd_);  // the file stays: unlinking it would race a new holder
}

Status StateDirLock::Acquire(const std::string& state_dir, const std::string& owner) {
  const std::string dir = AbsolutePath(state_dir);
  SK_TRY(MakeDirs(dir, 0700));
  const std::string path = dir + "/lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Unavailable("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    auto holder = ReadFile(path);
    ::close(fd);
    return FailedPrecondition("state dir " + dir + " is in use by another slotkeeper" +
                              (holder.ok() && !holder->empty()
                                   ? " (" + holder->substr(0, holder->find('\n')) + ")"
                                   : "") +
                              "; stop it first, or give this one its own --state-dir");
  }
  std::string me = "pid " + std::to_string(::getpid()) + " " + owner + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    ::close(fd);
    return Unavailable("cannot write " + path);
  }
  fd_ = fd;
  return Status::Ok();
}

void Api::Stop() {
  if (server) server->Stop();
}

Result<Api> ServeApi(const std::string& addr, const std::string& token_file,
                     ClusterService* service) {
  rest::RouterOptions ropts;
  if (!token_file.empty()) {
    auto token = rest::ReadTokenFile(token_file);
    if (!token.ok())
      return InvalidArgument("--token-file " + token_file + ": " + token.error().message());
    ropts.token = *token;
  }
  Api api;
  api.router = std::make_unique<rest::Router>(service, ropts);
  SK_ASSIGN_OR_RETURN(api.server, rest::Serve(addr, *api.router));
  return api;
}

}  // namespace sk::cli
