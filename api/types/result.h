// Errors as values (STYLE.md section 3).
//
// A fallible function returns Result<T> or Status. An Error carries a Code that tells the
// reconciler what to do with it (retry, re-observe, stop until the spec changes), a message
// that names the thing (field path, node host:port, slot range) and, for spec problems, the
// list of every field that is wrong. Nothing here throws.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sk {

enum class Code {
  kOk,
  kInvalidArgument,     // bad spec or request: terminal until the spec changes
  kNotFound,            // terminal
  kAlreadyExists,       // terminal
  kFailedPrecondition,  // needs a human (duplicate node ID, foreign cluster): terminal
  kUnavailable,         // network, LOADING, CLUSTERDOWN: back off and retry
  kDeadlineExceeded,    // timeout: back off and retry
  kAborted,             // the world moved under a plan (MOVED, epoch): re-observe now
  kInternal,            // our bug
};

// Abseil-style name of a code ("InvalidArgument", ...).
std::string_view CodeName(Code code);

// The few Redis answers slotkeeper acts on beyond their code. They are told apart in one
// place, controller/redis (ClassifyReply), never by matching message text elsewhere.
enum class Cause {
  kNone,
  kUnknownNode,      // "ERR Unknown node <id>" (FORGET, REPLICATE, SETSLOT ... NODE)
  kImmutableConfig,  // CONFIG SET of a setting that only applies at start
  kSlotBusy,         // ADDSLOTS: "Slot N is already busy"
  kAlreadyOwner,     // SETSLOT IMPORTING on the slot's owner
  kNotMaster,        // SETSLOT on a node that is (now) a replica
  kKnowsOthers,      // SET-CONFIG-EPOCH on a node that met others already
  kBusyKey,          // MIGRATE: the target has the key
  kMigrateIo,        // MIGRATE: IOERR (the target did not answer in time)
  kRedirect,         // MOVED / ASK
  kClusterBusy,      // LOADING, CLUSTERDOWN, TRYAGAIN, MASTERDOWN: clears by itself
  kAuth,             // NOAUTH, WRONGPASS
};

// What the reconciler and the operations do with an error (STYLE.md section 3): the one
// rule, decided by the code alone.
enum class Disposition {
  kRetry,      // Unavailable, DeadlineExceeded, Internal: jittered exponential backoff
  kReobserve,  // Aborted: the world moved under the plan; observe again now
  kStop,       // InvalidArgument, NotFound, AlreadyExists, FailedPrecondition: needs a person
};
Disposition DispositionOf(Code code);

class Error {
 public:
  Error(Code code, std::string message, std::vector<std::string> fields = {})
      : code_(code), message_(std::move(message)), fields_(std::move(fields)) {}
  Error(Code code, Cause cause, std::string message)
      : code_(code), cause_(cause), message_(std::move(message)) {}

  Code code() const { return code_; }
  Cause cause() const { return cause_; }
  const std::string& message() const { return message_; }
  // One entry per problem, each "path: what is wrong" (spec validation).
  const std::vector<std::string>& fields() const { return fields_; }

  // Prefixes context on the way up: "meeting 127.0.0.1:7001: Connection refused".
  Error& Wrap(std::string_view context) & {
    message_ = std::string(context) + ": " + message_;
    return *this;
  }
  Error&& Wrap(std::string_view context) && { return std::move(Wrap(context)); }

  // "Unavailable: message" (fields are not included).
  std::string ToString() const;

 private:
  Code code_;
  Cause cause_ = Cause::kNone;
  std::string message_;
  std::vector<std::string> fields_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : err_(std::move(error)) {}  // NOLINT: implicit by design
  static Status Ok() { return Status(); }
  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { return *err_; }
  Error&& error() && { return std::move(*err_); }

 private:
  std::optional<Error> err_;
};

// Shorthands: return InvalidArgument("...") etc.
inline Error InvalidArgument(std::string m, std::vector<std::string> f = {}) {
  return Error(Code::kInvalidArgument, std::move(m), std::move(f));
}
inline Error NotFound(std::string m) { return Error(Code::kNotFound, std::move(m)); }
inline Error AlreadyExists(std::string m) { return Error(Code::kAlreadyExists, std::move(m)); }
inline Error FailedPrecondition(std::string m) {
  return Error(Code::kFailedPrecondition, std::move(m));
}
inline Error Unavailable(std::string m) { return Error(Code::kUnavailable, std::move(m)); }
inline Error DeadlineExceeded(std::string m) {
  return Error(Code::kDeadlineExceeded, std::move(m));
}
inline Error Aborted(std::string m) { return Error(Code::kAborted, std::move(m)); }
inline Error Internal(std::string m) { return Error(Code::kInternal, std::move(m)); }

// Prints "***" wherever it is formatted or logged; the value is reachable only through get().
template <class T>
class Redacted {
 public:
  Redacted() = default;
  explicit Redacted(T v) : v_(std::move(v)) {}
  const T& get() const { return v_; }
  static constexpr std::string_view kMask = "***";

 private:
  T v_{};
};

}  // namespace sk

#define SK_CONCAT_INNER_(a, b) a##b
#define SK_CONCAT_(a, b) SK_CONCAT_INNER_(a, b)

// Returns the error of a Status or Result early.
#define SK_TRY(expr)                                          \
  do {                                                        \
    auto sk_try_r_ = (expr);                                  \
    if (!sk_try_r_.ok()) return std::move(sk_try_r_).error(); \
  } while (0)

// Unwraps a Result into `lhs` or returns its error.
#define SK_ASSIGN_OR_RETURN(lhs, expr) \
  SK_ASSIGN_OR_RETURN_IMPL_(SK_CONCAT_(sk_aor_, __LINE__), lhs, expr)
#define SK_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).error();   \
  lhs = std::move(tmp).value()

// Always-on invariant check for our own bugs; never for input from specs, peers or Redis.
#define SK_CHECK(cond)                                                                   \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "SK_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
