#include "api/types/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace sk {

namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

std::string ParentDir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// fsync of the directory makes the rename itself durable (the new name survives a crash).
int SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

}  // namespace

Status WriteFileAtomic(const std::string& path, std::string_view content, unsigned mode) {
  const std::string dir = ParentDir(path);
  std::string tmp = path + ".tmp.XXXXXX";
  // mkstemp creates the file 0600, so a secret is never readable by others, not even briefly.
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return Unavailable("cannot write " + path + ": " + ErrnoText(errno));
  int err = 0;
  if (!WriteAll(fd, content)) err = errno;
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (err == 0 && ::fchmod(fd, static_cast<mode_t>(mode)) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return Unavailable("cannot write " + path + ": " + ErrnoText(err));
  }
  if (int derr = SyncDir(dir); derr != 0) {
    return Unavailable("cannot sync directory " + dir + ": " + ErrnoText(derr));
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(path + " does not exist");
    return Unavailable("cannot read " + path + ": " + ErrnoText(errno));
  }
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Unavailable("cannot read " + path + ": " + ErrnoText(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status MakeDirs(const std::string& path, unsigned mode) {
  std::string abs = AbsolutePath(path);
  // Walk down from the root, creating each missing component with `mode`.
  size_t pos = 1;
  while (pos <= abs.size()) {
    size_t next = abs.find('/', pos);
    if (next == std::string::npos) next = abs.size();
    std::string part = abs.substr(0, next);
    pos = next + 1;
    if (::mkdir(part.c_str(), static_cast<mode_t>(mode)) == 0) continue;
    int err = errno;
    struct stat st {};
    if (err == EEXIST && ::stat(part.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
    if (err == EEXIST) err = ENOTDIR;
    return Unavailable("cannot create directory " + part + ": " + ErrnoText(err));
  }
  return Status::Ok();
}

std::string AbsolutePath(const std::string& path) {
  std::filesystem::path p(path.empty() ? "." : path);
  if (p.is_relative()) {
    std::error_code ec;
    std::filesystem::path cwd = std::filesystem::current_path(ec);
    if (!ec) p = cwd / p;
  }
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Unavailable("cannot remove " + path + ": " + ec.message());
  }
  return Status::Ok();
}

}  // namespace sk
