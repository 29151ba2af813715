// redis-server processes for tests, and RedisCmd: a tiny blocking RESP2 client, so the
// support library does not depend on hiredis or on the code under test.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "tests/support/spawn.h"
#include "tests/support/support.h"

namespace sk::testing {
namespace {

constexpr int kIoTimeoutSec = 10;

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Connects with SO_SNDTIMEO/SO_RCVTIMEO (Linux applies SO_SNDTIMEO to connect too).
int Dial(const std::string& host, int port, std::string& error,
         int timeout_ms = kIoTimeoutSec * 1000) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) {
    error = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  error = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    error = std::strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

bool SendAll(int fd, const std::string& data, std::string& error) {
  std::size_t off = 0;
  while (off < data.size()) {
    // MSG_NOSIGNAL: a closed peer gives EPIPE instead of killing the test with SIGPIPE.
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::string Encode(const std::vector<std::string>& argv) {
  std::string out = "*" + std::to_string(argv.size()) + "\r\n";
  for (const std::string& a : argv) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

// Reads RESP2 replies from a socket and flattens them as RedisCmd documents.
class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}

  // False (with error_ set) on a connection or protocol failure.
  bool Read(std::string& out) {
    std::string line;
    if (!Line(line)) return false;
    if (line.empty()) return Fail("empty reply line");
    char type = line[0];
    std::string rest = line.substr(1);
    switch (type) {
      case '+':
      case ':':
        out = rest;
        return true;
      case '-':
        out = "ERR:" + rest;
        return true;
      case '$': {
        long long len = std::atoll(rest.c_str());
        if (len < 0) {
          out = "(nil)";
          return true;
        }
        std::string body;
        if (!Bytes(static_cast<std::size_t>(len) + 2, body)) return false;
        out = body.substr(0, static_cast<std::size_t>(len));
        return true;
      }
      case '*': {
        long long n = std::atoll(rest.c_str());
        if (n < 0) {
          out = "(nil)";
          return true;
        }
        out.clear();
        for (long long i = 0; i < n; ++i) {
          std::string elem;
          if (!Read(elem)) return false;
          if (i > 0) out += "\n";
          out += elem;
        }
        return true;
      }
      default:
        return Fail("unexpected reply type '" + std::string(1, type) + "'");
    }
  }
  const std::string& error() const { return error_; }

 private:
  bool Fail(std::string e) {
    error_ = std::move(e);
    return false;
  }
  bool Fill() {
    char buf[16384];
    ssize_t n;
    do {
      n = recv(fd_, buf, sizeof buf, 0);
    } while (n < 0 && errno == EINTR);
    if (n == 0) return Fail("connection closed");
    if (n < 0) return Fail(std::string("recv: ") + std::strerror(errno));
    buf_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  bool Line(std::string& line) {
    std::size_t pos;
    while ((pos = buf_.find("\r\n")) == std::string::npos) {
      if (!Fill()) return false;
    }
    line = buf_.substr(0, pos);
    buf_.erase(0, pos + 2);
    return true;
  }
  bool Bytes(std::size_t n, std::string& out) {
    while (buf_.size() < n) {
      if (!Fill()) return false;
    }
    out = buf_.substr(0, n);
    buf_.erase(0, n);
    return true;
  }

  int fd_;
  std::string buf_;
  std::string error_;
};

// The last lines of a redis-server log, for failure messages.
std::string Tail(const std::string& path) {
  std::string text = internal::ReadFile(path);
  if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
  return text;
}

}  // namespace

std::string RedisCmd(int port, const std::vector<std::string>& argv, const std::string& password,
                     const std::string& host) {
  std::string error;
  Socket sock(Dial(host, port, error));
  if (sock.fd() < 0) return "CONNFAIL:" + error;
  Reader reader(sock.fd());
  std::string reply;
  if (!password.empty()) {
    if (!SendAll(sock.fd(), Encode({"AUTH", password}), error)) return "CONNFAIL:" + error;
    if (!reader.Read(reply)) return "CONNFAIL:" + reader.error();
    if (reply.rfind("ERR:", 0) == 0) return reply;
  }
  if (!SendAll(sock.fd(), Encode(argv), error)) return "CONNFAIL:" + error;
  if (!reader.Read(reply)) return "CONNFAIL:" + reader.error();
  return reply;
}

struct RespConnection::Impl {
  int fd = -1;
  std::unique_ptr<Reader> reader;
  ~Impl() {
    if (fd >= 0) close(fd);
  }
};

RespConnection::RespConnection(int port, const std::string& password, const std::string& host,
                               int timeout_ms)
    : impl_(std::make_unique<Impl>()), port_(port) {
  impl_->fd = Dial(host, port, error_, timeout_ms);
  if (impl_->fd < 0) return;
  impl_->reader = std::make_unique<Reader>(impl_->fd);
  if (!password.empty()) {
    std::string reply = Cmd({"AUTH", password});
    if (reply != "OK") {
      error_ = reply;
      Close();
    }
  }
}

RespConnection::~RespConnection() = default;
RespConnection::RespConnection(RespConnection&&) noexcept = default;

void RespConnection::Close() {
  if (impl_ && impl_->fd >= 0) {
    close(impl_->fd);
    impl_->fd = -1;
  }
}

bool RespConnection::ok() const { return impl_ && impl_->fd >= 0; }

std::string RespConnection::Cmd(const std::vector<std::string>& argv) {
  if (!ok()) return "CONNFAIL:" + error_;
  if (!SendAll(impl_->fd, Encode(argv), error_)) {
    Close();
    return "CONNFAIL:" + error_;
  }
  std::string reply;
  if (!impl_->reader->Read(reply)) {
    error_ = impl_->reader->error();
    Close();
    return "CONNFAIL:" + error_;
  }
  return reply;
}

RedisProcess::RedisProcess(int port, const std::string& dir, bool cluster,
                           std::vector<std::string> extra)
    : port_(port) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::string p = std::to_string(port);
  std::string log = dir + "/redis-" + p + ".log";
  std::vector<std::string> argv = {"redis-server", "--port",    p,        "--bind", "127.0.0.1",
                                   "--dir",        dir,         "--save", "",       "--appendonly",
                                   "no",           "--logfile", log};
  if (cluster) {
    argv.insert(argv.end(),
                {"--cluster-enabled", "yes", "--cluster-config-file", "nodes-" + p + ".conf"});
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  // Output before the log file is open (config errors) goes to a file of its own.
  std::string out_path = dir + "/redis-" + p + ".out";
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  std::string error;
  pid_t pid = internal::Spawn({.argv = argv, .stdout_fd = out, .stderr_fd = out}, error);
  if (out >= 0) close(out);
  if (pid < 0) {
    ADD_FAILURE() << "redis-server on port " << port << ": " << error;
    return;
  }
  pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    // Any answer but a refused connection or LOADING means the server serves commands
    // (with requirepass, PING answers NOAUTH).
    last = RedisCmd(port, {"PING"});
    if (last.rfind("CONNFAIL:", 0) != 0 && last.rfind("ERR:LOADING", 0) != 0) return;
    if (!Alive()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "redis-server on port " << port
                << " did not answer PING within 10 s (last: " << last << ")\n"
                << Tail(out_path) << Tail(log);
  Kill(SIGKILL);
  pid_ = 0;
}

RedisProcess::~RedisProcess() {
  if (pid_ > 0) Kill(SIGKILL);
}

void RedisProcess::Kill(int sig) {
  if (pid_ <= 0) return;
  kill(pid_, sig);
  // A stopped or continued process is still running: only reap on signals that end it.
  if (sig == SIGSTOP || sig == SIGCONT || sig == SIGTSTP || sig == 0) return;
  int code = 0;
  if (!internal::ReapWithin(pid_, std::chrono::seconds(10), code)) {
    kill(pid_, SIGKILL);
    internal::Reap(pid_);
  }
  pid_ = 0;  // reaped: the PID may be reused, so it is never signalled again
}

bool RedisProcess::Alive() const {
  if (pid_ <= 0) return false;
  // WNOWAIT: look without reaping, so the destructor still owns the PID.
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return false;
  }
  return info.si_pid == 0;
}

}  // namespace sk::testing
