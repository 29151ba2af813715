// apply, scale and failover: the client verbs that change something, and --wait, which
// follows an operation to its end with a progress bar on a terminal and plain lines otherwise.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <thread>

#include "api/cli/api_client.h"
#include "api/cli/args.h"
#include "api/cli/client_commands.h"
#include "api/cli/cluster_setup.h"
#include "api/codec/spec_codec.h"
#include "api/rest/document.h"
#include "api/rest/http.h"
#include "api/types/files.h"

namespace sk::cli {

namespace {

using ojson = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(250);
// Polling survives a controller restart or a moment of overload, not a controller that is
// gone for good.
constexpr int kMaxPollFailures = 20;
constexpr int kBarWidth = 30;

Result<ApiClient> ClientFor(const Args& args) {
  SK_ASSIGN_OR_RETURN(ClientConfig cfg, ClientConfigFrom(args));
  return ApiClient(std::move(cfg));
}

std::string OperationPath(const std::string& id) {
  return "/api/v1/operations/" + rest::UrlEncode(id);
}

std::string Eta(double progress, double elapsed) {
  if (progress < 0.01 || progress >= 1) return "--";
  const double left = elapsed * (1 - progress) / progress;
  const auto secs = static_cast<long long>(std::lround(left));
  if (secs >= 3600)
    return std::to_string(secs / 3600) + "h" + std::to_string(secs % 3600 / 60) + "m";
  if (secs >= 60) return std::to_string(secs / 60) + "m" + std::to_string(secs % 60) + "s";
  return std::to_string(secs) + "s";
}

// "7372/16384 slots, 1234 keys" (slots only when the operation moves any).
std::string Counts(const ojson& op) {
  std::string out;
  const long long total = op.value("slotsTotal", 0LL);
  if (total > 0)
    out = std::to_string(op.value("slotsMoved", 0LL)) + "/" + std::to_string(total) + " slots, ";
  return out + std::to_string(op.value("keysMoved", 0LL)) + " keys";
}

void PrintProgress(const ojson& op, double elapsed, bool tty, std::string& last_line) {
  const double p = std::clamp(op.value("progress", 0.0), 0.0, 1.0);
  const int percent = static_cast<int>(std::floor(p * 100 + 1e-9));  // 0.9 is 90%, not 89%
  if (tty) {
    const int filled = static_cast<int>(std::lround(p * kBarWidth));
    std::string bar = std::string(filled, '#') + std::string(kBarWidth - filled, '.');
    std::printf("\r[%s] %3d%%  %s  ETA %s   ", bar.c_str(), percent, Counts(op).c_str(),
                Eta(p, elapsed).c_str());
    std::fflush(stdout);
    return;
  }
  // Not a terminal (a log, a pipe): one line per change while it runs; the outcome is
  // printed by the caller.
  if (op.value("state", "") != "running") return;
  std::string line = op.value("kind", "operation") + " " + op.value("id", "") + ": " + "running " +
                     std::to_string(percent) + "% (" + Counts(op) + ")";
  if (line == last_line) return;
  last_line = line;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// Follows /api/v1/operations/{id} until it is no longer running.
Status WaitOperation(const ApiClient& client, const std::string& id) {
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  const auto start = Clock::now();
  std::string last_line;
  int failures = 0;
  while (true) {
    Result<ojson> op = client.Call("GET", OperationPath(id));
    if (!op.ok()) {
      if (op.error().code() != Code::kUnavailable || ++failures > kMaxPollFailures) {
        if (tty) std::printf("\n");
        return std::move(op).error().Wrap("following operation " + id);
      }
      std::this_thread::sleep_for(kPollInterval * 4);
      continue;
    }
    failures = 0;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    PrintProgress(*op, elapsed, tty, last_line);
    const std::string state = op->value("state", "");
    if (state != "running") {
      if (tty) std::printf("\n");
      const std::string what = op->value("kind", "operation") + " " + id;
      if (state == "succeeded") {
        std::printf("%s succeeded in %.1f s (%s)\n", what.c_str(), elapsed, Counts(*op).c_str());
        return Status::Ok();
      }
      const ojson& err = (*op)["error"];
      return Error(Code::kAborted,
                   what + " " + state + (err.is_string() ? ": " + err.get<std::string>() : ""));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

// Prints that an operation started and, with --wait, follows it.
int Started(const ApiClient& client, const ojson& op, const std::string& what, bool wait) {
  const std::string id = op.value("id", "");
  std::printf("%s: operation %s started\n", what.c_str(), id.c_str());
  std::fflush(stdout);
  if (!wait || id.empty()) return 0;
  Status st = WaitOperation(client, id);
  return st.ok() ? 0 : Fail(st.error());
}

Result<int> IntOption(const Args& a, const std::string& name) {
  const std::string text = a.Get(name);
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 0 || v > 100000) {
    return InvalidArgument(name + " needs a non-negative integer, got \"" + text + "\"");
  }
  return static_cast<int>(v);
}

}  // namespace

int RunApply(const std::vector<std::string>& argv) {
  auto args = ParseArgs("apply", argv, {{"-f", "--file", kServerFlag, kTokenFileFlag}, {}});
  if (!args.ok()) return Fail(args.error());
  const std::string path = args->Get("-f", args->Get("--file"));
  if (path.empty() || !args->positional.empty()) {
    return Fail(InvalidArgument("usage: slotkeeper apply -f SPEC [--server URL]"));
  }
  auto text = ReadFile(path);
  if (!text.ok()) return Fail(std::move(text).error().Wrap("-f " + path));
  // Checked here first, so that a bad spec is reported the same way with or without a server;
  // a document saved from `get cluster` loses its status and generation.
  auto doc = rest::ParseDocument(*text, rest::FormatOf("", *text));
  if (!doc.ok()) return Fail(std::move(doc).error().Wrap(path));
  std::string body = *text;
  if (rest::StripReadOnly(*doc)) body = doc->dump(2);
  auto spec = codec::ParseSpec(body);
  if (!spec.ok()) return Fail(spec.error());
  const bool is_json = rest::FormatOf("", body) == rest::BodyFormat::kJson;
  const std::string type = is_json ? "application/json" : "application/yaml";

  auto client = ClientFor(*args);
  if (!client.ok()) return Fail(client.error());
  Result<ojson> created = client->Call("POST", "/api/v1/clusters", body, type);
  if (created.ok()) {
    std::printf("cluster %s created\n", spec->name.c_str());
    return 0;
  }
  if (created.error().code() != Code::kAlreadyExists) return Fail(created.error());
  Result<ojson> op = client->Call("PUT", "/api/v1/clusters/" + spec->name, body, type);
  if (!op.ok()) return Fail(op.error());
  std::printf("cluster %s configured: operation %s\n", spec->name.c_str(),
              op->value("id", "").c_str());
  return 0;
}

int RunScale(const std::vector<std::string>& argv) {
  auto args = ParseArgs("scale", argv,
                        {{"--masters", "--replicas", kServerFlag, kTokenFileFlag}, {"--wait"}});
  if (!args.ok()) return Fail(args.error());
  if (args->positional.size() != 1 || (!args->Has("--masters") && !args->Has("--replicas"))) {
    return Fail(InvalidArgument(
        "usage: slotkeeper scale NAME [--masters N] [--replicas R] [--wait] (one of them at "
        "least)"));
  }
  ojson body = ojson::object();
  for (const auto& [flag, field] :
       {std::pair{"--masters", "masters"}, std::pair{"--replicas", "replicasPerMaster"}}) {
    if (!args->Has(flag)) continue;
    auto n = IntOption(*args, flag);
    if (!n.ok()) return Fail(n.error());
    body[field] = *n;
  }
  auto client = ClientFor(*args);
  if (!client.ok()) return Fail(client.error());
  const std::string& name = args->positional[0];
  Result<ojson> op =
      client->Call("POST", "/api/v1/clusters/" + rest::UrlEncode(name) + "/scale", body.dump());
  if (!op.ok()) return Fail(op.error());
  return Started(*client, *op, "scaling " + name, args->flags.count("--wait") > 0);
}

int RunFailover(const std::vector<std::string>& argv) {
  auto args = ParseArgs("failover", argv, {{"--node", kServerFlag, kTokenFileFlag}, {"--wait"}});
  if (!args.ok()) return Fail(args.error());
  if (args->positional.size() != 1 || args->Get("--node").empty()) {
    return Fail(InvalidArgument("usage: slotkeeper failover NAME --node ID|HOST:PORT [--wait]"));
  }
  auto client = ClientFor(*args);
  if (!client.ok()) return Fail(client.error());
  const std::string& name = args->positional[0];
  ojson body = {{"node", args->Get("--node")}};
  Result<ojson> op =
      client->Call("POST", "/api/v1/clusters/" + rest::UrlEncode(name) + "/failover", body.dump());
  if (!op.ok()) return Fail(op.error());
  return Started(*client, *op, "failover of " + name + " to " + args->Get("--node"),
                 args->flags.count("--wait") > 0);
}

int RunRecoverSlots(const std::vector<std::string>& argv) {
  auto args = ParseArgs("recover-slots", argv,
                        {{kServerFlag, kTokenFileFlag}, {"--accept-data-loss", "--wait"}});
  if (!args.ok()) return Fail(args.error());
  if (args->positional.size() != 1) {
    return Fail(
        InvalidArgument("usage: slotkeeper recover-slots NAME --accept-data-loss [--wait]"));
  }
  if (!args->flags.count("--accept-data-loss")) {
    return Fail(InvalidArgument(
        "recover-slots re-creates lost slots EMPTY: the keys they held are gone for good. Run it "
        "only when no node that held them can come back, with --accept-data-loss"));
  }
  auto client = ClientFor(*args);
  if (!client.ok()) return Fail(client.error());
  const std::string& name = args->positional[0];
  ojson body = {{"acceptDataLoss", true}};
  Result<ojson> op = client->Call(
      "POST", "/api/v1/clusters/" + rest::UrlEncode(name) + "/recover-slots", body.dump());
  if (!op.ok()) return Fail(op.error());
  return Started(*client, *op, "recovering the lost slots of " + name + " (empty)",
                 args->flags.count("--wait") > 0);
}

}  // namespace sk::cli
