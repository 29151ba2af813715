// The HTTP listener behind a plain interface (http.h). Boost.Beast does the work, in
// rest_server.cc alone; see README.md for why not cpprestsdk (measured).
//
// What it guarantees against slow and oversized clients: a deadline on every read and write
// (a silent or half-sent connection is closed, not held forever), a cap on open connections
// that evicts the oldest connection still waiting for its request instead of refusing new
// clients, a header size limit (431), a body limit enforced while reading (413, the excess is
// discarded, never buffered), and an answer to `Expect: 100-continue` (100, or 413 at once when
// the declared length is over the limit). It does not authenticate or route: that is the
// handler's job (api/rest/routes.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "api/rest/http.h"
#include "api/types/result.h"

namespace sk::rest {

inline constexpr size_t kMaxBodyBytes = 1 << 20;  // 413 above this

struct ServerOptions {
  int threads = 0;             // 0: the InitThreadPool() value (default 4)
  size_t max_connections = 0;  // 0: min(4096, half of RLIMIT_NOFILE)
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = kMaxBodyBytes;
  // A request's header must arrive within this, counted from the first wait; it is also how
  // long an idle keep-alive connection is kept.
  std::chrono::milliseconds header_timeout{15000};
  std::chrono::milliseconds body_timeout{30000};   // the whole body, after the header
  std::chrono::milliseconds write_timeout{30000};  // the whole response
  // Called with the status of every answer the server gives by itself, without the handler
  // (400 unparsable, 408, 413, 431, 503), so that the API's metrics can count them.
  std::function<void(int status)> on_reject;
};

class Server {
 public:
  // Listens on "HOST:PORT" (127.0.0.1 unless told otherwise; port 0 picks a free port, see
  // address()) and hands every request to `handler` on the server's threads. The handler must
  // return promptly and must not throw (what it throws becomes a 500). InvalidArgument for a
  // bad address, kUnavailable when the port cannot be bound (naming it).
  static Result<std::unique_ptr<Server>> Start(const std::string& addr, Handler handler);
  static Result<std::unique_ptr<Server>> Start(const std::string& addr, Handler handler,
                                               ServerOptions options);
  virtual ~Server() = default;
  // Stops accepting, lets requests being handled finish (at most a few seconds), closes every
  // connection and joins the threads. Idempotent; never call it from a handler.
  virtual void Stop() = 0;
  // "HOST:PORT" with the port actually bound.
  virtual std::string address() const = 0;
  virtual int port() const = 0;
  // Connections open right now (for tests and metrics).
  virtual size_t connections() const = 0;
};

// Sets the default number of server threads (4 when never called). Kept from the cpprest
// listener; call it before Start.
void InitThreadPool(int threads);

}  // namespace sk::rest
