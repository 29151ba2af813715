#include "api/cli/cluster_setup.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

#include "agent/render/render.h"
#include "api/codec/spec_codec.h"
#include "api/types/files.h"

namespace sk::cli {

namespace {

Result<std::string> ReadPassword(const std::string& path) {
  const std::string field = "spec.auth.passwordFile";
  auto text = ReadFile(path);
  if (!text.ok()) {
    return InvalidArgument(field + ": cannot read " + path + ": " + text.error().message(),
                           {field + ": cannot read " + path});
  }
  std::string pw = *text;
  if (!pw.empty() && pw.back() == '\n') pw.pop_back();
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  if (pw.empty())
    return InvalidArgument(field + ": " + path + " is empty", {field + ": " + path + " is empty"});
  if (pw.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
    return InvalidArgument(field + ": " + path + " must hold the password on one line",
                           {field + ": " + path + " must hold one line"});
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    spdlog::warn("password file {} can be read by other users (mode {:o}); chmod 600 it", path,
                 st.st_mode & 0777);
  }
  return pw;
}

}  // namespace

Result<std::optional<std::string>> ReadSpecPassword(const ClusterSpec& spec) {
  if (!spec.auth) return std::optional<std::string>();
  SK_ASSIGN_OR_RETURN(std::string pw, ReadPassword(AbsolutePath(spec.auth->password_file)));
  return std::optional<std::string>(std::move(pw));
}

Result<LoadedSpec> LoadSpec(const std::string& path) {
  LoadedSpec out;
  SK_ASSIGN_OR_RETURN(out.spec, codec::LoadSpecFile(path));
  SK_ASSIGN_OR_RETURN(out.password, ReadSpecPassword(out.spec));
  return out;
}

int ExitCodeFor(const Error& e) { return e.code() == Code::kInvalidArgument ? 2 : 1; }

int Fail(const Error& e) {
  std::fprintf(stderr, "slotkeeper: %s\n", e.message().c_str());
  if (e.fields().size() > 1) {
    for (const std::string& f : e.fields()) std::fprintf(stderr, "  - %s\n", f.c_str());
  }
  return ExitCodeFor(e);
}

std::string RedisServerName() {
  const char* env = std::getenv("SLOTKEEPER_REDIS_SERVER");
  return env && *env ? env : "redis-server";
}

model::DesiredCluster DesiredFromSpec(const ClusterSpec& spec,
                                      const std::vector<NodeRuntime>& nodes) {
  model::DesiredCluster d;
  d.name = spec.name;
  d.masters = spec.masters;
  d.replicas_per_master = spec.replicas_per_master;
  d.shard_slots = DesiredSlots(spec);
  for (const NodeRuntime& n : nodes) d.nodes.push_back({n.name, n.ep, n.host, n.zone});
  d.runtime_config = agent::RuntimeSettings(spec);
  // Managed so that the planner can lower it for a new replica's first sync and restore it.
  bool has_delay = false;
  for (const auto& [k, v] : d.runtime_config) has_delay |= k == "repl-diskless-sync-delay";
  if (!has_delay) d.runtime_config.emplace_back("repl-diskless-sync-delay", "5");
  return d;
}

redis::ClientOptions ClientOptionsFor(const std::optional<std::string>& password) {
  redis::ClientOptions o;
  o.connect_timeout_ms = 1000;
  o.command_timeout_ms = 2000;
  if (password) {
    o.password = Redacted<std::string>(*password);
    o.has_password = true;
  }
  return o;
}

std::string ClusterDataDir(const ClusterSpec& spec) {
  return AbsolutePath(spec.local.data_dir) + "/" + spec.name;
}

}  // namespace sk::cli
