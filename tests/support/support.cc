// Ports, temp dirs, waits and paths for tests.
#include "tests/support/support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>
#include <thread>

#include "tests/support/spawn.h"

namespace sk::testing {
namespace {

constexpr int kLowestPort = 12000;
constexpr int kHighestPort = 22000;  // + 10000 for the bus stays below 32768 (ephemeral)
constexpr int kBusOffset = 10000;
constexpr int kLeaseTries = 300;
constexpr const char* kLockDir = "/tmp/slotkeeper-test-ports";

// An flock on <kLockDir>/<port>.lock, or -1 when another lease holds it.
int LockPort(int port) {
  std::string path = std::string(kLockDir) + "/" + std::to_string(port) + ".lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return -1;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\n')) s.pop_back();
  return s;
}

// The build directory when SK_BINARY_DIR is unset: the nearest ancestor of the cwd with a
// CMakeCache.txt (ctest runs a test in its own binary subdirectory).
std::string GuessBinaryDir() {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::current_path(ec);
  for (std::filesystem::path d = dir; !d.empty(); d = d.parent_path()) {
    if (std::filesystem::exists(d / "CMakeCache.txt", ec)) return d.string();
    if (d == d.parent_path()) break;
  }
  return dir.string();
}

}  // namespace

// True when 127.0.0.1:port can be bound right now. SO_REUSEADDR stays off on purpose: it
// also rejects ports with connections in TIME_WAIT, which would make a cluster bus fail to
// bind (REDIS-FACTS (e)).
bool CanBind(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

PortLease::PortLease(int count) : count_(count) {
  mkdir(kLockDir, 0777);
  chmod(kLockDir, 01777);  // shared by every user's tests; fails harmlessly if not ours
  std::random_device rd;
  std::mt19937 rng(rd());
  std::uniform_int_distribution<int> pick(kLowestPort, kHighestPort - count);
  for (int attempt = 0; attempt < kLeaseTries && count > 0; ++attempt) {
    int base = pick(rng);
    // Lock first, then probe, so two leases never race for the same port.
    std::vector<int> fds;
    bool ok = true;
    for (int p = base; p < base + count && ok; ++p) {
      int fd = LockPort(p);
      if (fd >= 0) fds.push_back(fd);
      ok = fd >= 0 && CanBind(p) && CanBind(p + kBusOffset);
    }
    if (ok) {
      base_ = base;
      fds_ = std::move(fds);
      return;
    }
    for (int fd : fds) close(fd);
  }
  ADD_FAILURE() << "PortLease: no " << count << " free consecutive ports (and bus ports) in "
                << kLowestPort << ".." << kHighestPort << " after " << kLeaseTries << " tries";
}

PortLease::PortLease(PortLease&& other) noexcept
    : base_(other.base_), count_(other.count_), fds_(std::move(other.fds_)) {
  other.base_ = 0;
  other.count_ = 0;
  other.fds_.clear();
}

PortLease::~PortLease() {
  for (int fd : fds_) close(fd);
}

PortSquatter::PortSquatter(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 1) == 0;
}

PortSquatter::~PortSquatter() {
  if (fd_ >= 0) ::close(fd_);
}

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/slotkeeper-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (std::getenv("SK_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
             const std::string& what, const std::function<std::string()>& state) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (pred()) return true;
  ADD_FAILURE() << "timed out after " << timeout.count() << " ms waiting for " << what
                << (state ? "; last state: " + state() : std::string());
  return false;
}

std::string BinaryPath(const std::string& relative) {
  const char* dir = std::getenv("SK_BINARY_DIR");
  return (dir && *dir ? std::string(dir) : GuessBinaryDir()) + "/" + relative;
}

std::string SourcePath(const std::string& relative) {
  const char* dir = std::getenv("SK_SOURCE_DIR");
  if (dir && *dir) return std::string(dir) + "/" + relative;
  // CMakeCache.txt records the source tree of its build directory.
  std::istringstream cache(internal::ReadFile(GuessBinaryDir() + "/CMakeCache.txt"));
  const std::string key = "CMAKE_HOME_DIRECTORY:INTERNAL=";
  for (std::string line; std::getline(cache, line);) {
    if (line.rfind(key, 0) == 0) return Trim(line.substr(key.size())) + "/" + relative;
  }
  return relative;
}

std::map<std::string, std::string> ParseInfoText(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    out[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return out;
}

}  // namespace sk::testing
