// The only translation unit that includes Boost.Beast/Asio. Converts Beast requests into
// plain rest::Request values and back, and defends the process against slow and oversized
// clients (README.md: cpprestsdk's listener measured, and why it was replaced).
//
// One io_context runs on a few threads; every connection is a Session on its own strand, so
// its handlers never run concurrently. Every read and write has a deadline (tcp_stream closes
// the socket when it passes). A Session is "reading" while it waits for its client (request
// head or body): such sessions are the ones evicted, oldest first, when the connection cap is
// reached, and the ones closed at once on Stop().
#include "api/rest/rest_server.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace sk::rest {

namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using beast::error_code;

std::atomic<int> g_default_threads{4};

// Sent before reading a body the client holds back for it (RFC 9110 section 10.1.1).
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// After an early 413 the client may still be sending: read and discard for this long before
// closing, or the kernel answers the unread bytes with a reset that can destroy our 413
// before the client reads it (nginx's "lingering close").
constexpr auto kLingerTime = std::chrono::milliseconds(1000);
constexpr size_t kDrainBytes = 64 * 1024;
// How long Stop() lets requests being handled finish.
constexpr std::chrono::milliseconds kStopGrace{3000};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IEquals(std::string_view a, std::string_view b) { return Lower(a) == Lower(b); }

// Boost 1.74's beast::string_view is boost::string_view, not std::string_view.
std::string_view Std(beast::string_view s) { return {s.data(), s.size()}; }

size_t DefaultMaxConnections() {
  rlimit rl{};
  size_t limit = 4096;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    limit = std::min<size_t>(limit, rl.rlim_cur / 2);
  }
  return std::max<size_t>(limit, 16);
}

Request ToRequest(bhttp::request<bhttp::string_body>& msg) {
  Request r;
  r.method = std::string(msg.method_string());
  std::string_view target = Std(msg.target());
  size_t q = target.find('?');
  r.raw_path = std::string(target.substr(0, q));
  r.path = UrlDecode(r.raw_path);
  if (q != std::string_view::npos) r.query = ParseQuery(target.substr(q + 1));
  for (const auto& field : msg) {
    std::string name = Lower(Std(field.name_string()));
    auto [it, inserted] = r.headers.emplace(name, std::string(field.value()));
    if (!inserted) it->second += ", " + std::string(field.value());  // RFC 9110 5.3
  }
  r.body = std::move(msg.body());
  return r;
}

class BeastServer;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, BeastServer& server) : stream_(std::move(socket)), server_(server) {}
  ~Session();
  void Start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::ReadHeader, shared_from_this()));
  }
  // Any thread: closes the connection if it is (still) waiting for its client; with `force`,
  // whatever it is doing. Returns false when an eviction was already under way.
  bool Evict(bool force);
  bool reading() const { return reading_.load() && !evicting_.load(); }

  std::list<std::weak_ptr<Session>>::iterator slot;  // in the server's registry
  bool registered = false;

 private:
  void ReadHeader();
  void OnHeader(error_code ec, size_t bytes);
  void ReadBody();
  void OnBody(error_code ec, size_t bytes);
  void Handle();
  void Send(Response r, bool keep_alive, unsigned version);
  void OnWrite(bool keep_alive, error_code ec, size_t bytes);
  void Reject(int status, const std::string& code, const std::string& message);
  void Linger();
  void Drain();
  void Close();

  beast::tcp_stream stream_;
  BeastServer& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
  std::unique_ptr<char[]> drain_;  // only while lingering: 1000 idle sessions stay small
  bool linger_ = false;
  std::atomic<bool> reading_{true};
  std::atomic<bool> evicting_{false};
};

class BeastServer : public Server {
 public:
  BeastServer(Handler handler, ServerOptions options)
      : handler_(std::move(handler)), options_(std::move(options)) {
    if (options_.threads <= 0) options_.threads = g_default_threads.load();
    if (options_.max_connections == 0) options_.max_connections = DefaultMaxConnections();
  }
  ~BeastServer() override { Stop(); }

  Status Open(const std::string& addr);
  void Stop() override;
  std::string address() const override { return host_ + ":" + std::to_string(port_); }
  int port() const override { return port_; }
  size_t connections() const override {
    std::lock_guard lock(mu_);
    return sessions_.size();
  }

  const ServerOptions& options() const { return options_; }
  const Handler& handler() const { return handler_; }
  bool stopping() const { return stopping_.load(); }
  void Rejected(int status) const {
    if (options_.on_reject) options_.on_reject(status);
  }
  void Unregister(Session& s) {
    std::lock_guard lock(mu_);
    if (!s.registered) return;
    sessions_.erase(s.slot);
    if (sessions_.empty()) drained_.notify_all();
  }

 private:
  void Accept();
  void OnAccept(error_code ec, tcp::socket socket);
  bool EvictOldest();
  std::vector<std::shared_ptr<Session>> Sessions() const;
  void RefuseBusy(tcp::socket socket);

  // Declared before the io_context: sessions still queued in it at destruction unregister
  // themselves from here while it is destroyed.
  Handler handler_;
  ServerOptions options_;
  mutable std::mutex mu_;
  std::condition_variable drained_;
  std::list<std::weak_ptr<Session>> sessions_;  // oldest first
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;
  std::string host_;
  int port_ = 0;

  net::io_context ioc_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  tcp::acceptor acceptor_{net::make_strand(ioc_)};
  net::steady_timer accept_retry_{acceptor_.get_executor()};
  std::vector<std::thread> threads_;
};

Session::~Session() { server_.Unregister(*this); }

bool Session::Evict(bool force) {
  if (!force && evicting_.exchange(true)) return false;
  net::post(stream_.get_executor(), [self = shared_from_this(), force] {
    if (force || self->reading_.load()) {
      self->Close();
    } else {
      self->evicting_ = false;  // it got its request meanwhile; another may be evicted later
    }
  });
  return true;
}

void Session::ReadHeader() {
  if (server_.stopping()) return Close();
  const ServerOptions& o = server_.options();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
  parser_->body_limit(o.max_body_bytes);
  reading_ = true;
  // One deadline for the whole head: a client trickling a byte a second is closed too.
  stream_.expires_after(o.header_timeout);
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
}

void Session::OnHeader(error_code ec, size_t) {
  reading_ = false;
  if (ec == bhttp::error::header_limit) {
    return Reject(
        431, "HeaderTooLarge",
        "request header over " + std::to_string(server_.options().max_header_bytes) + " bytes");
  }
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
      ec == beast::error::timeout || ec == net::error::operation_aborted ||
      ec == net::error::connection_reset || ec == net::error::eof) {
    return Close();  // the client left, was too slow, or was evicted: nobody to answer
  }
  // Beast checks a declared Content-Length against the body limit while parsing the head.
  if (ec == bhttp::error::body_limit) {
    return Reject(413, "PayloadTooLarge", "request body over 1 MiB");
  }
  if (ec) return Reject(400, "BadRequest", "malformed HTTP request: " + ec.message());
  const size_t limit = server_.options().max_body_bytes;
  if (auto length = parser_->content_length(); length && *length > limit) {
    // Refused on the declared length, before a byte of the body is read.
    return Reject(413, "PayloadTooLarge", "request body over 1 MiB");
  }
  if (parser_->is_done()) return Handle();
  const auto& req = parser_->get();
  if (req.version() >= 11 && IEquals(Std(req[bhttp::field::expect]), "100-continue")) {
    stream_.expires_after(server_.options().write_timeout);
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared_from_this()](error_code wec, size_t) {
                       if (wec) return self->Close();
                       self->ReadBody();
                     });
    return;
  }
  ReadBody();
}

void Session::ReadBody() {
  reading_ = true;  // a slow body is as evictable as a slow head
  stream_.expires_after(server_.options().body_timeout);
  bhttp::async_read(stream_, buffer_, *parser_,
                    beast::bind_front_handler(&Session::OnBody, shared_from_this()));
}

void Session::OnBody(error_code ec, size_t) {
  reading_ = false;
  // A chunked body has no declared length: the parser stops at the limit, having kept at
  // most the limit in memory.
  if (ec == bhttp::error::body_limit) {
    return Reject(413, "PayloadTooLarge", "request body over 1 MiB");
  }
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
      ec == beast::error::timeout || ec == net::error::operation_aborted ||
      ec == net::error::connection_reset || ec == net::error::eof) {
    return Close();
  }
  if (ec) return Reject(400, "BadRequest", "malformed HTTP request body: " + ec.message());
  Handle();
}

void Session::Handle() {
  bhttp::request<bhttp::string_body> msg = parser_->release();
  const bool keep_alive = msg.keep_alive();
  const unsigned version = msg.version();
  Request req = ToRequest(msg);
  Response out;
  try {
    out = server_.handler()(req);
  } catch (const std::exception& e) {
    spdlog::error("api: {} {}: handler threw: {}", req.method, req.raw_path, e.what());
    out = JsonError(500, "Internal", "internal error");
  } catch (...) {
    spdlog::error("api: {} {}: handler threw", req.method, req.raw_path);
    out = JsonError(500, "Internal", "internal error");
  }
  Send(std::move(out), keep_alive && !server_.stopping(), version);
}

void Session::Send(Response r, bool keep_alive, unsigned version) {
  res_ = {};
  res_.result(static_cast<unsigned>(r.status));
  res_.version(version);
  res_.set(bhttp::field::server, "slotkeeper");
  res_.set(bhttp::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers) res_.set(name, value);
  res_.body() = std::move(r.body);
  res_.keep_alive(keep_alive);
  res_.prepare_payload();
  stream_.expires_after(server_.options().write_timeout);
  bhttp::async_write(stream_, res_,
                     beast::bind_front_handler(&Session::OnWrite, shared_from_this(), keep_alive));
}

void Session::OnWrite(bool keep_alive, error_code ec, size_t) {
  if (ec) return Close();
  if (linger_) return Linger();
  if (!keep_alive) return Close();
  ReadHeader();
}

void Session::Reject(int status, const std::string& code, const std::string& message) {
  server_.Rejected(status);
  linger_ = true;
  Send(JsonError(status, code, message), false, 11);
}

void Session::Linger() {
  error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  drain_ = std::make_unique<char[]>(kDrainBytes);
  reading_ = true;
  stream_.expires_after(kLingerTime);
  Drain();
}

void Session::Drain() {
  // Discarded as it arrives: an oversized body never accumulates anywhere.
  stream_.async_read_some(net::buffer(drain_.get(), kDrainBytes),
                          [self = shared_from_this()](error_code ec, size_t) {
                            if (ec) return self->Close();
                            self->Drain();
                          });
}

void Session::Close() {
  reading_ = false;
  error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
}

Status BeastServer::Open(const std::string& addr) {
  const size_t colon = addr.rfind(':');
  const std::string host = colon == std::string::npos ? "" : addr.substr(0, colon);
  const std::string port_text = colon == std::string::npos ? "" : addr.substr(colon + 1);
  int port = -1;
  auto [ptr, perr] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || port_text.empty() || perr != std::errc() ||
      ptr != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return InvalidArgument("--api " + addr + ": expected HOST:PORT (e.g. 127.0.0.1:7070)");
  }
  error_code ec;
  net::ip::address ip = net::ip::make_address(host, ec);
  if (ec) {
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(tcp::v4(), host, port_text, ec);
    if (ec || results.empty()) {
      return InvalidArgument("--api " + addr + ": cannot resolve " + host);
    }
    ip = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(ip, static_cast<unsigned short>(port));
  auto fail = [&](const char* what) {
    return Unavailable("cannot listen on " + addr + ": " + what + ": " + ec.message());
  };
  if (acceptor_.open(ep.protocol(), ec); ec) return fail("open");
  if (acceptor_.set_option(net::socket_base::reuse_address(true), ec); ec) return fail("option");
  if (acceptor_.bind(ep, ec); ec) return fail("bind");
  if (acceptor_.listen(net::socket_base::max_listen_connections, ec); ec) return fail("listen");
  host_ = ip.to_string();
  port_ = acceptor_.local_endpoint(ec).port();
  work_.emplace(ioc_.get_executor());
  Accept();
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
  return Status::Ok();
}

void BeastServer::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_),
                         beast::bind_front_handler(&BeastServer::OnAccept, this));
}

void BeastServer::OnAccept(error_code ec, tcp::socket socket) {
  if (stopping_.load() || ec == net::error::operation_aborted) return;
  if (ec) {
    // Out of file descriptors: make room, and retry shortly instead of spinning.
    if (ec == net::error::no_descriptors) EvictOldest();
    spdlog::debug("api: accept: {}", ec.message());
    accept_retry_.expires_after(std::chrono::milliseconds(20));
    accept_retry_.async_wait([this](error_code tec) {
      if (!tec && !stopping_.load()) Accept();
    });
    return;
  }
  size_t open = connections();
  if (open >= options_.max_connections && !EvictOldest()) {
    RefuseBusy(std::move(socket));
  } else {
    auto session = std::make_shared<Session>(std::move(socket), *this);
    {
      std::lock_guard lock(mu_);
      sessions_.push_back(session);
      session->slot = std::prev(sessions_.end());
      session->registered = true;
    }
    session->Start();
  }
  Accept();
}

// At the cap, the oldest connection still waiting for its client makes room: idle and
// half-sent connections cannot lock out a client that actually sends a request.
bool BeastServer::EvictOldest() {
  for (const auto& s : Sessions()) {
    if (s->reading() && s->Evict(false)) return true;
  }
  return false;
}

// Strong references taken under the lock and used after it: the last reference to a session
// may drop here, and its destructor takes the lock.
std::vector<std::shared_ptr<Session>> BeastServer::Sessions() const {
  std::vector<std::shared_ptr<Session>> out;
  std::lock_guard lock(mu_);
  out.reserve(sessions_.size());
  for (const auto& weak : sessions_) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

// Every connection is busy handling a request: a short answer without a session.
void BeastServer::RefuseBusy(tcp::socket socket) {
  Rejected(503);
  Response r = JsonError(503, "Unavailable", "too many connections; retry shortly");
  std::string text =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
      std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
  error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(net::buffer(text), ec);  // fits the socket buffer; never waits
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

void BeastServer::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_ || threads_.empty()) {
      stopped_ = true;
      return;
    }
    stopped_ = true;
  }
  stopping_ = true;
  net::post(acceptor_.get_executor(), [this] {
    error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
  });
  for (const auto& s : Sessions()) {
    if (s->reading()) s->Evict(true);
  }
  // Requests being handled finish and are answered (with Connection: close).
  auto drained = [this](std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    return drained_.wait_for(lock, wait, [this] { return sessions_.empty(); });
  };
  if (!drained(kStopGrace)) {
    for (const auto& s : Sessions()) s->Evict(true);
    (void)drained(std::chrono::milliseconds(500));
  }
  work_.reset();
  ioc_.stop();
  for (std::thread& t : threads_) t.join();
  error_code ec;
  acceptor_.close(ec);  // no thread runs now: releases the port before Stop() returns
}

}  // namespace

void InitThreadPool(int threads) { g_default_threads = std::max(1, threads); }

Result<std::unique_ptr<Server>> Server::Start(const std::string& addr, Handler handler) {
  return Start(addr, std::move(handler), ServerOptions{});
}

Result<std::unique_ptr<Server>> Server::Start(const std::string& addr, Handler handler,
                                              ServerOptions options) {
  auto server = std::make_unique<BeastServer>(std::move(handler), std::move(options));
  SK_TRY(server->Open(addr));
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace sk::rest
