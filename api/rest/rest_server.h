// The HTTP listener (cpprestsdk behind a plain interface).
#pragma once

#include <memory>
#include <string>

#include "api/rest/http.h"
#include "api/types/result.h"

namespace sk::rest {

inline constexpr size_t kMaxBodyBytes = 1 << 20;  // 413 above this

class Server {
 public:
  // Listens on "HOST:PORT" (127.0.0.1 unless told otherwise) and hands every request to
  // `handler` on cpprest's pool. InvalidArgument for a bad address, kUnavailable when the
  // port cannot be bound (naming it).
  static Result<std::unique_ptr<Server>> Start(const std::string& addr, Handler handler);
  virtual ~Server() = default;
  virtual void Stop() = 0;
  virtual std::string address() const = 0;
};

// Sizes cpprest's thread pool; call once before Start and before other threads exist.
void InitThreadPool(int threads);

}  // namespace sk::rest
