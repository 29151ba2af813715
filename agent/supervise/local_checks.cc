#include "agent/supervise/local_checks.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "agent/supervise/process.h"
#include "api/types/files.h"

namespace sk::agent {

namespace {

using std::chrono::milliseconds;

constexpr milliseconds kCheckTimeout{5000};
// Printed once the server listens: "Ready to accept connections" (TCP) or "The server is now
// ready to accept connections at <socket>" (unix socket only, our case with port 0).
constexpr const char* kReadyMarker = "to accept connections";

struct AddrInfoFree {
  void operator()(addrinfo* a) const noexcept { ::freeaddrinfo(a); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoFree>;

AddrInfoPtr Resolve(const std::string& host, int port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res) != 0) {
    return nullptr;
  }
  return AddrInfoPtr(res);
}

bool SameDir(const std::string& cwd, const std::string& dir) {
  if (cwd.empty()) return false;
  if (cwd == dir) return true;
  // /proc/<pid>/cwd is resolved; the layout is lexical (dataDir may sit under a symlink).
  char buf[PATH_MAX];
  return ::realpath(dir.c_str(), buf) != nullptr && cwd == buf;
}

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// The password can only show up in redis-server's echo of a config line, where it is
// quoted as we rendered it; short raw strings are left alone so messages stay readable.
std::string Scrub(std::string text, const std::optional<std::string>& password) {
  if (!password || password->empty()) return text;
  ReplaceAll(text, QuoteConfigArg(*password), "***");
  if (password->size() >= 4) ReplaceAll(text, *password, "***");
  return text;
}

std::string FirstToken(const std::string& line) {
  if (line.empty() || line[0] != '"') return line.substr(0, line.find(' '));
  std::string out;
  for (size_t i = 1; i < line.size() && line[i] != '"'; ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) ++i;
    out += line[i];
  }
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Redis prints, on a refused directive:
//   *** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***
//   Reading the configuration file, at line 2
//   >>> 'no-such-directive 1'
//   Bad directive or wrong number of arguments
std::optional<Error> ParseFatalConfigError(const std::string& out) {
  size_t block = out.find("*** FATAL CONFIG FILE ERROR");
  if (block == std::string::npos) return std::nullopt;
  size_t at = out.find("\n>>> '", block);
  if (at == std::string::npos) return std::nullopt;
  size_t eol = out.find('\n', at + 1);
  std::string line =
      out.substr(at + 6, eol == std::string::npos ? std::string::npos : eol - at - 6);
  if (!line.empty() && line.back() == '\'') line.pop_back();
  std::string reason;
  while (eol != std::string::npos && reason.empty()) {
    size_t next = out.find('\n', eol + 1);
    reason = out.substr(eol + 1, next == std::string::npos ? std::string::npos : next - eol - 1);
    eol = next;
  }
  const std::string directive = Lower(FirstToken(line));
  const std::string field = SpecFieldForDirective(directive);
  std::string text;
  if (directive == "requirepass" || directive == "masterauth") {
    text = field + ": redis-server rejects the password: " + reason;
  } else {
    text = field + ": redis-server rejects '" + line + "': " + reason;
  }
  return InvalidArgument(text, {text});
}

std::string LastLines(std::string text, int n) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  size_t at = text.size();
  for (int i = 0; i < n && at != std::string::npos && at > 0; ++i) {
    at = text.rfind('\n', at - 1);
  }
  return at == std::string::npos ? text : text.substr(at + 1);
}

std::string TempRoot() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

}  // namespace

int PortBindError(const std::string& bind, int port) {
  AddrInfoPtr ai = Resolve(bind, port, /*passive=*/true);
  if (!ai) return EADDRNOTAVAIL;
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) return errno;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ai->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  int err = ::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

std::optional<std::pair<int, int>> EphemeralPortRange() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 0, hi = 0;
  if (!(in >> lo >> hi) || lo <= 0 || hi < lo) return std::nullopt;
  return std::make_pair(lo, hi);
}

bool RedisAnswers(const std::string& host, int port, std::chrono::milliseconds timeout) {
  std::string target = host;
  if (target.empty() || target == "0.0.0.0") target = "127.0.0.1";
  if (target == "::") target = "::1";
  AddrInfoPtr ai = Resolve(target, port, /*passive=*/false);
  if (!ai) return false;
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
  if (fd < 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto wait = [&](short events) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{.fd = fd, .events = events, .revents = 0};
    return left.count() > 0 && ::poll(&p, 1, static_cast<int>(left.count())) == 1;
  };
  bool ok = ::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
  if (!ok && errno == EINPROGRESS && wait(POLLOUT)) {
    int err = 0;
    socklen_t len = sizeof err;
    ok = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
  }
  // An inline command: no password needed, since -NOAUTH is an answer too.
  static constexpr char kPing[] = "PING\r\n";
  ok = ok && ::send(fd, kPing, sizeof kPing - 1, MSG_NOSIGNAL) == sizeof kPing - 1;
  char first = 0;
  ok = ok && wait(POLLIN) && ::recv(fd, &first, 1, 0) == 1 && (first == '+' || first == '-');
  ::close(fd);
  return ok;
}

int RunningNodePid(const NodeLayout& layout) {
  Result<std::string> text = ReadFile(layout.pid);
  if (!text.ok()) return 0;
  const std::string& s = *text;
  size_t start = s.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return 0;
  int pid = 0;
  auto [ptr, ec] = std::from_chars(s.data() + start, s.data() + s.size(), pid);
  if (ec != std::errc() || pid <= 0) return 0;
  if (!ProcessAlive(pid) || !SameDir(ProcessCwd(pid), layout.dir)) return 0;
  return pid;
}

std::string TailLines(const std::string& path, int n) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff kMaxTail = 64 * 1024;
  std::streamoff size = in.tellg();
  std::streamoff from = size > kMaxTail ? size - kMaxTail : 0;
  in.seekg(from);
  std::string text(static_cast<size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return LastLines(std::move(text), n);
}

std::string SpecFieldForDirective(const std::string& directive) {
  static const std::vector<std::pair<std::string, std::string>> kTyped = {
      {"cluster-node-timeout", "spec.redis.nodeTimeoutMs"},
      {"appendonly", "spec.redis.appendonly"},
      {"cluster-require-full-coverage", "spec.redis.requireFullCoverage"},
      {"cluster-replica-validity-factor", "spec.redis.replicaValidityFactor"},
      {"cluster-migration-barrier", "spec.redis.migrationBarrier"},
      {"maxmemory", "spec.redis.maxmemory"},
      {"requirepass", "spec.auth.passwordFile"},
      {"masterauth", "spec.auth.passwordFile"},
      {"bind", "spec.local.bind"},
      {"port", "spec.local.basePort"},
      {"dir", "spec.local.dataDir"},
  };
  for (const auto& [name, field] : kTyped) {
    if (directive == name) return field;
  }
  return "spec.redis.config." + directive;
}

Status CheckConfigWithRedis(const std::string& redis_server, const std::string& conf,
                            const std::optional<std::string>& password) {
  std::string tmp = TempRoot() + "/slotkeeper-check-XXXXXX";
  if (::mkdtemp(tmp.data()) == nullptr) {
    return FailedPrecondition("cannot create a temp dir under " + TempRoot() + ": " +
                              std::strerror(errno));
  }
  // Later lines override earlier ones. port 0 + a unix socket keeps the check off the
  // network; cluster-enabled no because with port 0 the cluster bus would still listen on
  // port 10000 (0 + 10000). The cluster-* directives are parsed and checked either way.
  // The node's own `dir` may not exist yet (nothing is created before the checks pass), and
  // Redis changes into it while parsing: drop it; the temp dir below takes its place.
  std::string input;
  std::istringstream lines(conf);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("dir ", 0) != 0) input += line + "\n";
  }
  input += "port 0\n";
  input += "unixsocket " + QuoteConfigArg(tmp + "/check.sock") + "\n";
  input += "cluster-enabled no\n";
  input += "dir " + QuoteConfigArg(tmp) + "\n";
  input += "cluster-config-file " + QuoteConfigArg(tmp + "/nodes-check.conf") + "\n";
  input += "logfile \"\"\npidfile \"\"\nappendonly no\nsave \"\"\n";

  SpawnSpec spec{.argv = {redis_server, "-"}, .cwd = tmp, .output_path = "", .stdin_data = input};
  Result<CaptureResult> run = RunCapture(spec, kCheckTimeout, kReadyMarker);
  Status removed = RemoveTree(tmp);
  (void)removed;  // a leftover empty temp dir is harmless; the check result matters
  if (!run.ok()) return FailedPrecondition(run.error().message());
  if (run->matched) return Status::Ok();
  const std::string out = Scrub(run->output, password);
  if (auto err = ParseFatalConfigError(out)) return *err;
  const std::string tail = LastLines(out, 5);
  if (run->exit_status == -1) {
    return FailedPrecondition(
        "redis-server did not finish checking the rendered configuration "
        "within 5 s: " +
        tail);
  }
  return FailedPrecondition("redis-server refused the rendered configuration (exit status " +
                            std::to_string(run->exit_status) + "): " + tail);
}

}  // namespace sk::agent
