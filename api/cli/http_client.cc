#include "api/cli/http_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace sk::cli {

namespace {

using Clock = std::chrono::steady_clock;

// Answers larger than this are not slotkeeper's (a status of 1000 nodes is well under 2 MiB).
constexpr size_t kMaxResponseBytes = 64 << 20;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` until the deadline; kUnavailable on timeout.
Status Wait(int fd, short events, Clock::time_point deadline, std::chrono::milliseconds total) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      const auto ms = total.count();
      return Unavailable("timed out after " + (ms % 1000 == 0 ? std::to_string(ms / 1000) + " s"
                                                              : std::to_string(ms) + " ms"));
    }
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return Status::Ok();
    if (n < 0 && errno != EINTR) return Unavailable(std::strerror(errno));
  }
}

std::string ErrnoText(int err) {
  std::string text = std::strerror(err);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;  // "connection refused"
}

Result<int> Connect(const Url& url, Clock::time_point deadline, std::chrono::milliseconds total) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(url.port);
  if (::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found) != 0 || !found) {
    return Unavailable("cannot resolve " + url.host);
  }
  std::string last = "no address";
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
      Status st = Wait(fd, POLLOUT, deadline, total);
      int err = 0;
      socklen_t len = sizeof(err);
      if (st.ok() && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
        ::freeaddrinfo(found);
        return fd;
      }
      last = st.ok() ? ErrnoText(err) : st.error().message();
    } else {
      last = ErrnoText(errno);
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return Unavailable(last);
}

Status SendAll(int fd, std::string_view data, Clock::time_point deadline,
               std::chrono::milliseconds total) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      SK_TRY(Wait(fd, POLLOUT, deadline, total));
    } else {
      return Unavailable("connection lost while sending: " + ErrnoText(errno));
    }
  }
  return Status::Ok();
}

// Decodes a chunked body; false when it is not complete (yet).
bool Dechunk(std::string_view in, std::string& out) {
  out.clear();
  while (true) {
    size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) return false;
    size_t size = 0;
    std::string_view hex = in.substr(0, in.find_first_of(";\r"));
    auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
    if (ec != std::errc()) return false;
    in.remove_prefix(eol + 2);
    if (size == 0) return true;
    if (in.size() < size + 2) return false;
    out.append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
}

// Parses what was read; true once the response is complete.
Result<bool> Parse(const std::string& raw, bool eof, HttpResponse& out) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    if (eof) return Unavailable("the server closed the connection without an answer");
    return false;
  }
  std::string_view head(raw.data(), head_end);
  size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12) {
    return Unavailable("not an HTTP server (it answered \"" +
                       std::string(status_line.substr(0, 40)) + "\")");
  }
  std::from_chars(status_line.data() + 9, status_line.data() + 12, out.status);
  out.headers.clear();
  while (line_end != std::string_view::npos) {
    head.remove_prefix(line_end + 2);
    line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    out.headers[Lower(std::string(line.substr(0, colon)))] = std::string(value);
  }
  std::string_view body(raw.data() + head_end + 4, raw.size() - head_end - 4);
  if (Lower(out.headers["transfer-encoding"]).find("chunked") != std::string::npos) {
    return Dechunk(body, out.body) || eof;
  }
  if (auto it = out.headers.find("content-length"); it != out.headers.end()) {
    size_t length = 0;
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), length);
    if (body.size() < length) {
      if (eof) return Unavailable("the connection closed in the middle of the answer");
      return false;
    }
    out.body = std::string(body.substr(0, length));
    return true;
  }
  out.body = std::string(body);
  return eof;
}

}  // namespace

std::string Url::ToString() const { return "http://" + host + ":" + std::to_string(port) + prefix; }

Result<Url> ParseUrl(std::string_view text) {
  std::string_view rest = text;
  if (size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    if (Lower(std::string(rest.substr(0, scheme))) != "http") {
      return InvalidArgument("--server " + std::string(text) +
                             ": only http:// is supported (slotkeeper serves plain HTTP)");
    }
    rest.remove_prefix(scheme + 3);
  }
  Url url;
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) url.prefix = std::string(rest.substr(slash));
  while (!url.prefix.empty() && url.prefix.back() == '/') url.prefix.pop_back();
  size_t colon = authority.rfind(':');
  url.host = std::string(authority.substr(0, colon));
  if (colon != std::string_view::npos) {
    std::string_view port = authority.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), url.port);
    if (ec != std::errc() || ptr != port.data() + port.size() || url.port < 1 || url.port > 65535) {
      return InvalidArgument("--server " + std::string(text) + ": bad port");
    }
  }
  if (url.host.empty()) return InvalidArgument("--server " + std::string(text) + ": no host");
  return url;
}

Result<HttpResponse> HttpClient::Send(const std::string& method, const std::string& path,
                                      const std::string& body,
                                      const std::string& content_type) const {
  const auto deadline = Clock::now() + timeout_;
  SK_ASSIGN_OR_RETURN(int raw_fd, Connect(base_, deadline, timeout_));
  Fd fd(raw_fd);
  std::string req = method + " " + base_.prefix + path + " HTTP/1.1\r\nHost: " + base_.host + ":" +
                    std::to_string(base_.port) +
                    "\r\nUser-Agent: slotkeeper-cli\r\nAccept: application/json\r\n"
                    "Connection: close\r\n";
  if (!token_.empty()) req += "Authorization: Bearer " + token_ + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n";
  }
  req += "\r\n";
  req += body;
  // A server may answer before reading everything (413 on a declared length) and close: the
  // send then fails, but its answer is still there to read.
  Status sent = SendAll(fd.get(), req, deadline, timeout_);
  std::string raw;
  HttpResponse out;
  char buf[16384];
  while (true) {
    if (Status st = Wait(fd.get(), POLLIN, deadline, timeout_); !st.ok()) {
      return sent.ok() ? st.error() : sent.error();
    }
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    // A reset after a complete answer is fine (the server may close without reading all).
    const bool eof = n <= 0;
    if (n > 0) raw.append(buf, static_cast<size_t>(n));
    if (raw.size() > kMaxResponseBytes) return Unavailable("the answer is too large");
    Result<bool> done = Parse(raw, eof, out);
    if (!done.ok()) return sent.ok() ? done.error() : sent.error();
    if (*done) return out;
    if (eof) return sent.ok() ? Unavailable("connection lost") : sent.error();
  }
}

}  // namespace sk::cli
