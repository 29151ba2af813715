#include "api/types/result.h"

namespace sk {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "Ok";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kNotFound:
      return "NotFound";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kFailedPrecondition:
      return "FailedPrecondition";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kDeadlineExceeded:
      return "DeadlineExceeded";
    case Code::kAborted:
      return "Aborted";
    case Code::kInternal:
      return "Internal";
  }
  // Only reachable through a cast of an out-of-range integer; name it rather than crash.
  return "Unknown";
}

std::string Error::ToString() const {
  std::string out(CodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace sk
