// Fixtures shared by integration and e2e tests: ports, temp dirs, real redis-server
// processes, and bounded waits. Every test takes its own ports and directory and kills only
// the processes it started, by PID, so tests run in parallel.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sk::testing {

// `count` consecutive TCP ports P..P+count-1 whose bus ports (P+10000..) are free too and lie
// below Linux's ephemeral range (REDIS-FACTS (e)): P is drawn from 12000..22000. Each port is
// held by an flock on /tmp/slotkeeper-test-ports/<port>.lock until the lease is destroyed, so
// parallel test processes never get the same port.
// True when 127.0.0.1:port can be bound right now. SO_REUSEADDR stays off on purpose: it
// also rejects ports with connections in TIME_WAIT, which would make a cluster bus fail to
// bind (REDIS-FACTS (e)).
bool CanBind(int port);

// A listener on 127.0.0.1:port held by this process: a stranger that took a node's port. It
// accepts connections (backlog) and never answers.
class PortSquatter {
 public:
  explicit PortSquatter(int port);
  ~PortSquatter();
  PortSquatter(const PortSquatter&) = delete;
  PortSquatter& operator=(const PortSquatter&) = delete;
  bool bound() const { return bound_; }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

class PortLease {
 public:
  explicit PortLease(int count);
  ~PortLease();
  PortLease(PortLease&&) noexcept;
  PortLease& operator=(PortLease&&) = delete;
  PortLease(const PortLease&) = delete;
  int base() const { return base_; }
  int count() const { return count_; }

 private:
  int base_ = 0;
  int count_ = 0;
  std::vector<int> fds_;
};

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction unless
// SK_KEEP_TEST_DIRS is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A redis-server started by the test (argv only), killed by PID in the destructor.
class RedisProcess {
 public:
  // Starts redis-server on 127.0.0.1:port with its files in `dir` (created) and waits until
  // it answers PING. `cluster` adds cluster-enabled with nodes-<port>.conf. `extra` are
  // further "--name value" arguments. Aborts the test (ADD_FAILURE + returns pid 0) on failure.
  RedisProcess(int port, const std::string& dir, bool cluster = true,
               std::vector<std::string> extra = {});
  ~RedisProcess();
  RedisProcess(const RedisProcess&) = delete;
  int pid() const { return pid_; }
  int port() const { return port_; }
  void Kill(int sig = 9);  // sends sig and reaps
  bool Alive() const;

 private:
  int pid_ = 0;
  int port_ = 0;
};

// Runs one command over a fresh connection (hiredis-free: a tiny RESP client) and returns the
// reply flattened to text: bulk/status as is, integers in decimal, arrays newline-joined,
// errors prefixed with "ERR:" (e.g. "ERR:MOVED 1 127.0.0.1:7000"), nil as "(nil)",
// connection failure as "CONNFAIL:<reason>".
std::string RedisCmd(int port, const std::vector<std::string>& argv,
                     const std::string& password = "", const std::string& host = "127.0.0.1");

// A persistent RESP connection with short timeouts (the load client's). Replies are
// flattened like RedisCmd's; after an I/O error the connection is closed and every later
// call answers "CONNFAIL:<reason>".
class RespConnection {
 public:
  RespConnection(int port, const std::string& password = "", const std::string& host = "127.0.0.1",
                 int timeout_ms = 1000);
  ~RespConnection();
  RespConnection(RespConnection&&) noexcept;
  bool ok() const;
  int port() const { return port_; }
  std::string Cmd(const std::vector<std::string>& argv);

 private:
  void Close();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::string error_;
};

// Polls pred every 20 ms until true or `timeout`; on timeout ADD_FAILUREs with `what` and
// the last string `state()` returned (when given). Returns pred's final value.
bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
             const std::string& what, const std::function<std::string()>& state = nullptr);

// A child process of the test with captured output.
struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  std::string out;     // stdout
  std::string err;     // stderr
};
// Runs argv (argv[0] a path), waits at most `timeout`, kills it by PID if it overruns.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60),
                         const std::string& cwd = "",
                         const std::map<std::string, std::string>& env = {});

// A long-running child (e.g. `slotkeeper up`), stdout+stderr to a file; SIGTERM then SIGKILL
// by PID on destruction.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::string& log_path,
             const std::string& cwd = "");
  ~Background();
  Background(const Background&) = delete;
  int pid() const { return pid_; }
  bool Alive();                   // reaps if it exited
  std::optional<int> ExitCode();  // once exited
  // SIGTERM, wait up to `grace`, then SIGKILL; returns the exit code (-1 if killed).
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  std::string Log() const;  // the log file's content

 private:
  int pid_ = 0;
  std::string log_path_;
  std::optional<int> code_;
};

// Path of a built binary: $SK_BINARY_DIR/<relative> (set by sk_test), e.g. "api/cli/slotkeeper".
std::string BinaryPath(const std::string& relative);
// Path in the source tree: $SK_SOURCE_DIR/<relative>.
std::string SourcePath(const std::string& relative);

// Parses "key:value" lines of INFO / CLUSTER INFO.
std::map<std::string, std::string> ParseInfoText(const std::string& text);

}  // namespace sk::testing
