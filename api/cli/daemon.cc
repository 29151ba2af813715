#include "api/cli/daemon.h"

#include "agent/supervise/local_provider.h"
#include "api/cli/cluster_setup.h"
#include "api/rest/auth.h"

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

reconcile::ManagerHooks LocalHooks() {
  reconcile::ManagerHooks h;
  h.make_provider = [](const ClusterSpec& spec, const std::optional<std::string>& password) {
    agent::LocalOptions local;
    local.redis_server = RedisServerName();
    local.password = password;
    return std::unique_ptr<NodeProvider>(std::make_unique<agent::LocalProvider>(spec, local));
  };
  h.desired = DesiredFromSpec;
  h.password = ReadSpecPassword;
  return h;
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
