#include "tests/e2e/e2e_util.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace sk::e2e {

using testing::RedisCmd;

std::string WriteSpec(const std::string& dir, const SpecOptions& o, const std::string& file) {
  std::ostringstream y;
  y << "apiVersion: slotkeeper.io/v1alpha1\nkind: RedisCluster\nmetadata:\n  name: " << o.name
    << "\nspec:\n  masters: " << o.masters << "\n  replicasPerMaster: " << o.replicas << "\n";
  if (!o.slots_yaml.empty()) y << "  slots:\n" << o.slots_yaml;
  y << "  redis:\n    nodeTimeoutMs: 5000\n    appendonly: true\n" << o.redis_yaml;
  if (!o.config_yaml.empty()) y << "    config:\n" << o.config_yaml;
  if (!o.password_file.empty()) y << "  auth:\n    passwordFile: " << o.password_file << "\n";
  y << "  local:\n    bind: " << o.bind << "\n    basePort: " << o.base_port
    << "\n    dataDir: " << o.data_dir << "\n";
  std::string path = dir + "/" + file;
  std::ofstream(path) << y.str();
  return path;
}

Probe ProbeCluster(int base, int n, const std::string& password, const std::string& host) {
  Probe p;
  int covered = 0;
  for (int i = 0; i < n; ++i) {
    int port = base + i;
    auto info = testing::ParseInfoText(RedisCmd(port, {"CLUSTER", "INFO"}, password, host));
    if (info["cluster_state"] != "ok") {
      p.why = "port " + std::to_string(port) + " cluster_state=" + info["cluster_state"];
      return p;
    }
    covered = std::stoi(info["cluster_slots_ok"].empty() ? "0" : info["cluster_slots_ok"]);
    if (covered != 16384) {
      p.why = "port " + std::to_string(port) + " slots_ok=" + std::to_string(covered);
      return p;
    }
    auto repl = testing::ParseInfoText(RedisCmd(port, {"INFO", "replication"}, password, host));
    if (repl["role"] == "slave") {
      if (repl["master_link_status"] != "up" || repl["master_sync_in_progress"] != "0") {
        p.why = "replica " + std::to_string(port) + " link=" + repl["master_link_status"];
        return p;
      }
      p.replicas++;
    } else {
      p.masters++;
    }
    p.ids.push_back(RedisCmd(port, {"CLUSTER", "MYID"}, password, host));
  }
  p.healthy = true;
  return p;
}

bool WaitHealthy(int base, int n, std::chrono::milliseconds timeout, const std::string& password,
                 const std::string& host) {
  Probe last;
  return testing::WaitFor(
      [&] {
        last = ProbeCluster(base, n, password, host);
        return last.healthy;
      },
      timeout, "cluster on ports " + std::to_string(base) + ".. healthy", [&] { return last.why; });
}

std::string ClusterCmd(int base, const std::vector<std::string>& argv, const std::string& password,
                       const std::string& host) {
  int port = base;
  std::string reply;
  for (int hop = 0; hop < 3; ++hop) {
    reply = RedisCmd(port, argv, password, host);
    if (reply.rfind("ERR:MOVED ", 0) != 0) return reply;
    port = std::stoi(reply.substr(reply.rfind(':') + 1));  // "ERR:MOVED 866 127.0.0.1:7001"
  }
  return reply;
}

int NodePid(const std::string& data_dir, const std::string& name, int port) {
  std::string path = data_dir + "/" + name + "/" + std::to_string(port) + "/redis-" +
                     std::to_string(port) + ".pid";
  std::ifstream f(path);
  int pid = 0;
  f >> pid;
  return pid;
}

void KillNodes(const std::string& data_dir, const std::string& name, int base, int n) {
  std::set<int> ports;
  for (int i = 0; i < n; ++i) ports.insert(base + i);
  // Nodes the test's cluster started elsewhere too (a replacement on a free port, a scale-out):
  // every port directory of the cluster.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(data_dir + "/" + name, ec)) {
    const std::string port = e.path().filename().string();
    if (!port.empty() && port.find_first_not_of("0123456789") == std::string::npos) {
      ports.insert(std::atoi(port.c_str()));
    }
  }
  for (int port : ports) {
    int pid = NodePid(data_dir, name, port);
    if (pid <= 1) continue;
    // Only the process working in that node's directory: never a recycled PID.
    std::error_code cwd_ec;
    auto cwd = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/cwd", cwd_ec);
    if (!cwd_ec && cwd.filename().string() == std::to_string(port)) ::kill(pid, SIGKILL);
  }
}

Up::Up(const std::string& spec, const std::string& workdir, int api_port,
       std::vector<std::string> extra)
    : proc_(
          [&] {
            std::vector<std::string> argv = {testing::BinaryPath("slotkeeper"),
                                             "up",
                                             "-f",
                                             spec,
                                             "--api",
                                             "127.0.0.1:" + std::to_string(api_port),
                                             "--state-dir",
                                             workdir + "/state"};
            argv.insert(argv.end(), extra.begin(), extra.end());
            return argv;
          }(),
          [&] {
            static std::atomic<int> seq{0};
            return workdir + "/up-" + std::to_string(++seq) + ".log";
          }(),
          workdir) {}

Up::~Up() = default;

int Up::Stop() { return proc_.Stop(std::chrono::seconds(15)); }

testing::CommandResult Slotkeeper(const std::vector<std::string>& args, const std::string& cwd,
                                  std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {testing::BinaryPath("slotkeeper")};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunCommand(argv, timeout, cwd);
}

std::string HttpRequest(int port, const std::string& method, const std::string& path,
                        const std::string& body, const std::string& content_type,
                        const std::string& token) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!content_type.empty()) req += "Content-Type: " + content_type + "\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  if (::write(fd, req.data(), req.size()) < 0) {
    ::close(fd);
    return "";
  }
  std::string resp;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) resp.append(buf, n);
  ::close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  auto sp = resp.find(' ');
  auto hdr_end = resp.find("\r\n\r\n");
  if (sp == std::string::npos || hdr_end == std::string::npos) return "";
  return resp.substr(sp + 1, 3) + " " + resp.substr(hdr_end + 4);
}

bool Running(int pid) {
  if (pid <= 1) return false;
  std::string stat = ReadAll("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

int FileMode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace sk::e2e
