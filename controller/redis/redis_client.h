// RedisClient: the one way slotkeeper talks to Redis (STYLE.md section 4).
//
// A move-only, synchronous hiredis connection with a connect timeout and a per-command
// timeout. Commands go out as argv only (never format strings), so keys and passwords
// cannot change a command. A context that reported an error is dropped and reconnected on
// the next call, never reused. Only redis_client.cc includes hiredis; replies leave this
// module as the owned Reply value below.
//
// Error codes: connection refused/reset/EOF -> kUnavailable; timeout -> kDeadlineExceeded;
// protocol -> kInternal. Error replies: MOVED/ASK -> kAborted; LOADING/CLUSTERDOWN/TRYAGAIN/
// MASTERDOWN -> kUnavailable; "Unknown node" -> kAborted; IOERR -> kDeadlineExceeded;
// NOAUTH/WRONGPASS and others (ERR, BUSYKEY...) -> kFailedPrecondition. The message always
// starts with the endpoint.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/types/endpoint.h"
#include "api/types/result.h"

struct redisContext;

namespace sk::redis {

struct ClientOptions {
  int connect_timeout_ms = 1000;
  int command_timeout_ms = 5000;
  // Sent with AUTH right after connecting; never logged, never in an error message.
  Redacted<std::string> password;
  bool has_password = false;
};

// An owned RESP2 reply.
struct Reply {
  enum class Type { kString, kArray, kInteger, kNil, kStatus, kError };
  Type type = Type::kNil;
  std::string str;        // kString, kStatus, kError
  long long integer = 0;  // kInteger
  std::vector<Reply> elements;

  bool IsError() const { return type == Type::kError; }
  // For an error reply, what it means (ClassifyReply); Cause::kNone otherwise.
  Cause cause() const;
  // The text of a string or status reply; FailedPrecondition otherwise.
  Result<std::string> AsString() const;
  Result<long long> AsInteger() const;
};

// The one place that reads Redis error texts: the code (header comment) and, for the answers
// slotkeeper acts on, the Cause (api/types/result.h). Unit-tested per reply.
struct ReplyClass {
  Code code = Code::kFailedPrecondition;
  Cause cause = Cause::kNone;
};
ReplyClass ClassifyReply(std::string_view reply_text);
// The error a Redis error reply maps to: ClassifyReply's code and cause, the endpoint first.
Error ReplyError(const Endpoint& ep, std::string_view reply_text);

class RedisClient {
 public:
  // Connects (and AUTHs when a password is set). kUnavailable/kDeadlineExceeded on failure;
  // a wrong password gives kFailedPrecondition naming the endpoint, never the password.
  static Result<RedisClient> Connect(const Endpoint& ep, const ClientOptions& opts);

  RedisClient(RedisClient&&) noexcept;
  RedisClient& operator=(RedisClient&&) noexcept;
  ~RedisClient();

  // Runs one command. An error reply becomes an Error (codes above). Reconnects first when
  // the last call broke the connection.
  Result<Reply> Call(const std::vector<std::string>& argv);
  // Sends all commands in one pipeline and reads every reply; error replies stay in the
  // vector as Reply{kError}. Fails as a whole only on a connection error.
  Result<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& cmds);
  // Pipeline in two halves, so that one thread can keep many nodes busy at once: Send
  // writes every command, Receive(n) then reads the n replies. Between them the client
  // must not be used otherwise.
  Status Send(const std::vector<std::vector<std::string>>& cmds);
  Result<std::vector<Reply>> Receive(std::size_t n);
  // Changes the read/write timeout of later calls (e.g. long MIGRATEs).
  void SetCommandTimeout(int ms);

  const Endpoint& endpoint() const { return ep_; }

 private:
  struct CtxFree {
    void operator()(redisContext* c) const noexcept;
  };
  RedisClient(Endpoint ep, ClientOptions opts) : ep_(std::move(ep)), opts_(std::move(opts)) {}
  Status Reconnect();
  Error ContextError(std::string_view what);

  Endpoint ep_;
  ClientOptions opts_;
  std::unique_ptr<redisContext, CtxFree> ctx_;
  bool broken_ = false;
};

}  // namespace sk::redis
