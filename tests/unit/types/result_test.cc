#include "api/types/result.h"

#include <gtest/gtest.h>

namespace sk {
namespace {

TEST(CodeNameTest, NamesEveryCode) {
  const std::pair<Code, std::string_view> cases[] = {
      {Code::kOk, "Ok"},
      {Code::kInvalidArgument, "InvalidArgument"},
      {Code::kNotFound, "NotFound"},
      {Code::kAlreadyExists, "AlreadyExists"},
      {Code::kFailedPrecondition, "FailedPrecondition"},
      {Code::kUnavailable, "Unavailable"},
      {Code::kDeadlineExceeded, "DeadlineExceeded"},
      {Code::kAborted, "Aborted"},
      {Code::kInternal, "Internal"},
  };
  for (const auto& [code, name] : cases) EXPECT_EQ(CodeName(code), name);
}

TEST(ErrorTest, ToStringHasCodeAndMessageButNotFields) {
  Error e = InvalidArgument("bad spec", {"spec.masters: too few"});
  EXPECT_EQ(e.ToString(), "InvalidArgument: bad spec");
  EXPECT_EQ(e.fields().size(), 1u);
}

TEST(ErrorTest, WrapPrefixesContext) {
  Error e = Unavailable("Connection refused");
  e.Wrap("meeting 127.0.0.1:7001");
  EXPECT_EQ(e.ToString(), "Unavailable: meeting 127.0.0.1:7001: Connection refused");
  EXPECT_EQ(Unavailable("x").Wrap("a").Wrap("b").message(), "b: a: x");
}

Result<int> Half(int v) {
  if (v % 2 != 0) return InvalidArgument(std::to_string(v) + " is odd");
  return v / 2;
}

Result<int> Quarter(int v) {
  SK_ASSIGN_OR_RETURN(int half, Half(v));
  SK_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int v) {
  SK_TRY(Half(v));
  return Status::Ok();
}

TEST(ResultTest, MacrosPropagateErrorsAndValues) {
  Result<int> ok = Quarter(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  Result<int> bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "3 is odd");
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_FALSE(CheckEven(3).ok());
}

TEST(ResultTest, TransientCodes) {
  EXPECT_EQ(DispositionOf(Code::kUnavailable), Disposition::kRetry);
  EXPECT_EQ(DispositionOf(Code::kDeadlineExceeded), Disposition::kRetry);
  EXPECT_EQ(DispositionOf(Code::kInternal), Disposition::kRetry);
  EXPECT_EQ(DispositionOf(Code::kAborted), Disposition::kReobserve);
  EXPECT_EQ(DispositionOf(Code::kInvalidArgument), Disposition::kStop);
  EXPECT_EQ(DispositionOf(Code::kFailedPrecondition), Disposition::kStop);
  EXPECT_EQ(DispositionOf(Code::kNotFound), Disposition::kStop);
  EXPECT_EQ(DispositionOf(Code::kAlreadyExists), Disposition::kStop);
}

}  // namespace
}  // namespace sk
