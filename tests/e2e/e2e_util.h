// Helpers for end-to-end tests: they drive the slotkeeper binary only through its CLI (and
// REST), exactly as CONTRACT.md says, against real redis-server processes.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/support.h"

namespace sk::e2e {

struct SpecOptions {
  std::string name = "t";
  int masters = 3;
  int replicas = 1;
  int base_port = 0;
  std::string data_dir;       // absolute
  std::string slots_yaml;     // e.g. "    weights: [2, 1, 1]\n" (under spec.slots)
  std::string redis_yaml;     // lines under spec.redis (4-space indent)
  std::string config_yaml;    // lines under spec.redis.config (6-space indent)
  std::string password_file;  // spec.auth.passwordFile when set
  std::string bind = "127.0.0.1";
};

// Writes a spec file into `dir` and returns its path.
std::string WriteSpec(const std::string& dir, const SpecOptions& o,
                      const std::string& file = "spec.yaml");

// The cluster as Redis reports it, over ports base..base+n-1.
struct Probe {
  bool healthy = false;  // every node ok, every replica linked and in sync, coverage 16384
  std::string why;       // first reason it is not
  int masters = 0;       // masters with slots
  int replicas = 0;
  std::vector<std::string> ids;
};
Probe ProbeCluster(int base, int n, const std::string& password = "",
                   const std::string& host = "127.0.0.1");
// Waits (bounded) until ProbeCluster is healthy; fails the test with the last reason.
bool WaitHealthy(int base, int n, std::chrono::milliseconds timeout,
                 const std::string& password = "", const std::string& host = "127.0.0.1");

// SET/GET through the cluster: follows MOVED from the node at `base`.
std::string ClusterCmd(int base, const std::vector<std::string>& argv,
                       const std::string& password = "", const std::string& host = "127.0.0.1");

// PID recorded in <data>/<name>/<port>/redis-<port>.pid (0 when absent).
int NodePid(const std::string& data_dir, const std::string& name, int port);
// Kills every node PID found in the spec's pid files (cleanup for tests that fail midway).
void KillNodes(const std::string& data_dir, const std::string& name, int base, int n);

// `slotkeeper up` in the background with its own API port and state dir.
class Up {
 public:
  Up(const std::string& spec, const std::string& workdir, int api_port,
     std::vector<std::string> extra = {});
  ~Up();
  int Stop();  // SIGTERM; returns the exit code
  int Pid() const { return proc_.pid(); }
  bool Alive() { return proc_.Alive(); }
  std::optional<int> ExitCode() { return proc_.ExitCode(); }
  std::string Log() const { return proc_.Log(); }

 private:
  testing::Background proc_;
};

testing::CommandResult Slotkeeper(const std::vector<std::string>& args, const std::string& cwd = "",
                                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A minimal HTTP/1.1 request to 127.0.0.1:port; returns "<status> <body>" ("" on failure).
std::string HttpRequest(int port, const std::string& method, const std::string& path,
                        const std::string& body = "", const std::string& content_type = "",
                        const std::string& token = "");

// The process exists and is not a zombie (an exited node waits for init to reap it).
bool Running(int pid);

// Mode bits of a file, or -1.
int FileMode(const std::string& path);
bool Exists(const std::string& path);
std::string ReadAll(const std::string& path);

}  // namespace sk::e2e
