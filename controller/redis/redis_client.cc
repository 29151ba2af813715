// The one file that includes hiredis (STYLE.md section 4). hiredis 0.14 is synchronous here:
// a blocking context with SO_RCVTIMEO/SO_SNDTIMEO set by redisSetTimeout.
#include "controller/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace sk::redis {
namespace {

struct ReplyFree {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

timeval ToTimeval(int ms) {
  ms = std::max(ms, 1);  // a zero timeval means "block forever" to redisSetTimeout
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

// Converts a hiredis reply tree into the owned Reply; the caller frees `r`.
Reply Convert(const redisReply& r) {
  Reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(Convert(*r.element[i]));
      break;
    default:  // REDIS_REPLY_NIL
      out.type = Reply::Type::kNil;
      break;
  }
  return out;
}

// hiredis fills errstr with strerror(errno) for REDIS_ERR_IO, optionally after a prefix, so
// errstr is exact where errno may have been overwritten since. A read or write that hits
// SO_RCVTIMEO/SO_SNDTIMEO fails with EAGAIN; a connect that outlives its poll() gets ETIMEDOUT.
bool IsTimeout(const char* errstr, int saved_errno) {
  std::string_view s(errstr);
  for (int e : {EAGAIN, EWOULDBLOCK, ETIMEDOUT}) {
    if (s.empty() && saved_errno == e) return true;
    std::string_view text(std::strerror(e));
    if (!s.empty() && s.ends_with(text)) return true;
  }
  return false;
}

Error MapContextError(const Endpoint& ep, const redisContext& ctx, int saved_errno,
                      std::string_view what, int timeout_ms) {
  std::string prefix = ep.ToString() + ": " + std::string(what) + ": ";
  switch (ctx.err) {
    case REDIS_ERR_IO:
      if (IsTimeout(ctx.errstr, saved_errno)) {
        return DeadlineExceeded(prefix + "timed out after " + std::to_string(timeout_ms) + " ms");
      }
      return Unavailable(prefix + ctx.errstr);
    case REDIS_ERR_EOF:
      return Unavailable(prefix + ctx.errstr);
    case REDIS_ERR_PROTOCOL:
      return Internal(prefix + "protocol error: " + ctx.errstr);
    case REDIS_ERR_OOM:
      return Internal(prefix + "out of memory");
    default:  // REDIS_ERR_OTHER: e.g. a name that does not resolve
      return Unavailable(prefix + ctx.errstr);
  }
}

// The name used in error messages: the command word only, never its arguments (which may
// hold a password or user data).
std::string_view CommandName(const std::vector<std::string>& argv) {
  std::string_view name = argv.empty() ? std::string_view("command") : argv[0];
  return name.substr(0, 32);
}

// True when the server already closed (or wrote unasked to) an idle connection: with no
// command outstanding a RESP2 connection is readable only after EOF or an error. Checked
// before sending, so a connection killed by CLIENT KILL, a server timeout or a restart is
// replaced without losing the next command, and nothing sent is ever retried.
bool StaleConnection(const redisContext& ctx) {
  pollfd p{};
  p.fd = ctx.fd;
  p.events = POLLIN | POLLRDHUP;
  return poll(&p, 1, 0) != 0;
}

// hiredis writes with write(2), so a write to a connection the server has reset raises
// SIGPIPE, whose default action kills the whole process. Block it in this thread for the
// duration of one call and swallow one it raised (the EPIPE still reaches hiredis), so that
// no caller has to remember to ignore SIGPIPE process-wide.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    if (sigismember(&old_, SIGPIPE) == 1) return;  // blocked already: not ours to touch
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      timespec zero{};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

std::string Scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (std::size_t pos = text.find(secret); pos != std::string::npos;
       pos = text.find(secret, pos)) {
    text.replace(pos, secret.size(), Redacted<std::string>::kMask);
  }
  return text;
}

// First word of an error reply: "MOVED 3999 127.0.0.1:6381" -> "MOVED".
bool HasPrefix(std::string_view text, std::string_view word) {
  return text.substr(0, text.find(' ')) == word;
}

}  // namespace

Result<std::string> Reply::AsString() const {
  if (type == Type::kString || type == Type::kStatus) return str;
  if (type == Type::kError) return FailedPrecondition("expected a string reply, got error: " + str);
  return FailedPrecondition("expected a string reply, got another type");
}

Result<long long> Reply::AsInteger() const {
  if (type == Type::kInteger) return integer;
  if (type == Type::kError)
    return FailedPrecondition("expected an integer reply, got error: " + str);
  return FailedPrecondition("expected an integer reply, got another type");
}

ReplyClass ClassifyReply(std::string_view text) {
  auto has = [&](std::string_view part) { return text.find(part) != std::string_view::npos; };
  // Cluster redirections: the slot map changed under us (redis-plus-plus splits them the same).
  if (HasPrefix(text, "MOVED") || HasPrefix(text, "ASK")) return {Code::kAborted, Cause::kRedirect};
  for (std::string_view w : {"LOADING", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN"}) {
    if (HasPrefix(text, w)) return {Code::kUnavailable, Cause::kClusterBusy};
  }
  if (HasPrefix(text, "NOAUTH") || HasPrefix(text, "WRONGPASS")) {
    return {Code::kFailedPrecondition, Cause::kAuth};
  }
  // MIGRATE relays the target's error inside its own: "ERR Target instance replied with
  // error: BUSYKEY ...".
  if (HasPrefix(text, "BUSYKEY") || has("replied with error: BUSYKEY")) {
    return {Code::kFailedPrecondition, Cause::kBusyKey};
  }
  if (HasPrefix(text, "IOERR")) return {Code::kDeadlineExceeded, Cause::kMigrateIo};
  // ERR texts of Redis 7.0 (cluster.c, config.c) that slotkeeper acts on.
  if (has("Unknown node")) return {Code::kAborted, Cause::kUnknownNode};
  if (has("immutable config")) return {Code::kFailedPrecondition, Cause::kImmutableConfig};
  if (has("is already busy")) return {Code::kFailedPrecondition, Cause::kSlotBusy};
  if (has("already the owner")) return {Code::kFailedPrecondition, Cause::kAlreadyOwner};
  if (has("only with masters")) return {Code::kFailedPrecondition, Cause::kNotMaster};
  if (has("does not know any other node") || has("knows other nodes")) {
    return {Code::kFailedPrecondition, Cause::kKnowsOthers};
  }
  // ERR, WRONGTYPE, OOM, ...: retrying the same command cannot help.
  return {Code::kFailedPrecondition, Cause::kNone};
}

Error ReplyError(const Endpoint& ep, std::string_view reply_text) {
  ReplyClass c = ClassifyReply(reply_text);
  return Error(c.code, c.cause, ep.ToString() + ": " + std::string(reply_text));
}

Cause Reply::cause() const { return IsError() ? ClassifyReply(str).cause : Cause::kNone; }

void RedisClient::CtxFree::operator()(redisContext* c) const noexcept { redisFree(c); }

RedisClient::RedisClient(RedisClient&&) noexcept = default;
RedisClient& RedisClient::operator=(RedisClient&&) noexcept = default;
RedisClient::~RedisClient() = default;

Result<RedisClient> RedisClient::Connect(const Endpoint& ep, const ClientOptions& opts) {
  RedisClient client(ep, opts);
  SigpipeGuard guard;  // AUTH writes too
  SK_TRY(client.Reconnect());
  return client;
}

Status RedisClient::Reconnect() {
  ctx_.reset();
  broken_ = true;
  ctx_.reset(
      redisConnectWithTimeout(ep_.host.c_str(), ep_.port, ToTimeval(opts_.connect_timeout_ms)));
  int saved_errno = errno;
  if (!ctx_) return Internal(ep_.ToString() + ": connect: out of memory");
  if (ctx_->err) {
    Error e = MapContextError(ep_, *ctx_, saved_errno, "connect", opts_.connect_timeout_ms);
    ctx_.reset();
    return e;
  }
  if (redisSetTimeout(ctx_.get(), ToTimeval(opts_.command_timeout_ms)) != REDIS_OK ||
      redisEnableKeepAlive(ctx_.get()) != REDIS_OK) {
    return ContextError("connect");
  }
  broken_ = false;
  if (opts_.has_password) {
    const std::string& pw = opts_.password.get();
    const char* argv[] = {"AUTH", pw.data()};
    const std::size_t lens[] = {4, pw.size()};
    ReplyPtr reply(static_cast<redisReply*>(redisCommandArgv(ctx_.get(), 2, argv, lens)));
    if (!reply) return ContextError("AUTH");
    if (reply->type == REDIS_REPLY_ERROR) {
      // Redis does not echo the password, but scrub anyway: it must never reach a log.
      std::string text = Scrub(std::string(reply->str, reply->len), pw);
      Error mapped = ReplyError(ep_, text);
      ctx_.reset();  // an unauthenticated connection is of no use; redo all on the next call
      broken_ = true;
      return Error(mapped.code(), ep_.ToString() + ": AUTH: " + text);
    }
  }
  return Status::Ok();
}

Error RedisClient::ContextError(std::string_view what) {
  int saved_errno = errno;
  Error e = ctx_ ? MapContextError(ep_, *ctx_, saved_errno, what, opts_.command_timeout_ms)
                 : Internal(ep_.ToString() + ": " + std::string(what) + ": no connection");
  // hiredis: a context that reported an error must not be used again.
  ctx_.reset();
  broken_ = true;
  return e;
}

Result<Reply> RedisClient::Call(const std::vector<std::string>& argv) {
  if (argv.empty()) return InvalidArgument(ep_.ToString() + ": empty command");
  SigpipeGuard guard;
  if (broken_ || !ctx_ || StaleConnection(*ctx_)) SK_TRY(Reconnect());
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  ReplyPtr reply(static_cast<redisReply*>(
      redisCommandArgv(ctx_.get(), static_cast<int>(args.size()), args.data(), lens.data())));
  if (!reply) return ContextError(CommandName(argv));
  if (reply->type == REDIS_REPLY_ERROR) {
    return ReplyError(ep_, std::string_view(reply->str, reply->len));
  }
  return Convert(*reply);
}

Result<std::vector<Reply>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& cmds) {
  if (cmds.empty()) return std::vector<Reply>{};
  SK_TRY(Send(cmds));
  return Receive(cmds.size());
}

Status RedisClient::Send(const std::vector<std::vector<std::string>>& cmds) {
  for (const auto& argv : cmds) {
    if (argv.empty()) return InvalidArgument(ep_.ToString() + ": empty command in pipeline");
  }
  SigpipeGuard guard;
  if (broken_ || !ctx_ || StaleConnection(*ctx_)) SK_TRY(Reconnect());
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  for (const auto& argv : cmds) {
    args.clear();
    lens.clear();
    for (const std::string& a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    // Appending only formats into the output buffer; it fails only on OOM.
    if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(args.size()), args.data(),
                               lens.data()) != REDIS_OK) {
      return ContextError("pipeline");
    }
  }
  // Flush now, so that the server works on these while we talk to other nodes.
  int done = 0;
  while (!done) {
    if (redisBufferWrite(ctx_.get(), &done) != REDIS_OK) return ContextError("pipeline");
  }
  return Status::Ok();
}

Result<std::vector<Reply>> RedisClient::Receive(std::size_t n) {
  SigpipeGuard guard;
  if (broken_ || !ctx_) return Unavailable(ep_.ToString() + ": pipeline: connection lost");
  std::vector<Reply> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr) {
      // Unread replies are left on the dropped connection, so it is never reused.
      return ContextError("pipeline");
    }
    ReplyPtr reply(static_cast<redisReply*>(raw));
    out.push_back(Convert(*reply));
  }
  return out;
}

void RedisClient::SetCommandTimeout(int ms) {
  opts_.command_timeout_ms = ms;
  if (ctx_ && !broken_ && redisSetTimeout(ctx_.get(), ToTimeval(ms)) != REDIS_OK) {
    ctx_.reset();  // reconnected (with the new timeout) on the next call
    broken_ = true;
  }
}

}  // namespace sk::redis
