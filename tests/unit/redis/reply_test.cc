// ReplyError's prefix table and Reply's accessors: pure, no sockets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/redis/redis_client.h"

namespace sk::redis {
namespace {

struct ErrorCase {
  const char* name;
  const char* reply;
  Code code;
  Cause cause = Cause::kNone;
};

// ctest shows this (CMake 3.25 puts the printed parameter into the test name).
void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class ReplyErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ReplyErrorTest, MapsPrefixAndNamesEndpoint) {
  const ErrorCase& c = GetParam();
  Error e = ReplyError(Endpoint{"10.0.0.5", 7003}, c.reply);
  EXPECT_EQ(e.code(), c.code) << c.reply << " gave code " << static_cast<int>(e.code());
  EXPECT_EQ(e.message(), std::string("10.0.0.5:7003: ") + c.reply);
  EXPECT_EQ(e.cause(), c.cause) << c.reply;
  Reply reply{.type = Reply::Type::kError, .str = c.reply};
  EXPECT_EQ(reply.cause(), c.cause);
}

INSTANTIATE_TEST_SUITE_P(
    Prefixes, ReplyErrorTest,
    ::testing::Values(
        ErrorCase{"Moved", "MOVED 3999 127.0.0.1:6381", Code::kAborted, Cause::kRedirect},
        ErrorCase{"Ask", "ASK 3999 127.0.0.1:6381", Code::kAborted, Cause::kRedirect},
        ErrorCase{"Loading", "LOADING Redis is loading the dataset in memory", Code::kUnavailable,
                  Cause::kClusterBusy},
        ErrorCase{"ClusterdownSlot", "CLUSTERDOWN Hash slot not served", Code::kUnavailable,
                  Cause::kClusterBusy},
        ErrorCase{"ClusterdownState", "CLUSTERDOWN The cluster is down", Code::kUnavailable,
                  Cause::kClusterBusy},
        ErrorCase{"Tryagain", "TRYAGAIN Multiple keys request during rehashing of slot",
                  Code::kUnavailable, Cause::kClusterBusy},
        ErrorCase{"Masterdown",
                  "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to "
                  "'no'.",
                  Code::kUnavailable, Cause::kClusterBusy},
        ErrorCase{"Noauth", "NOAUTH Authentication required.", Code::kFailedPrecondition,
                  Cause::kAuth},
        ErrorCase{"Wrongpass", "WRONGPASS invalid username-password pair or user is disabled.",
                  Code::kFailedPrecondition, Cause::kAuth},
        ErrorCase{"Err", "ERR unknown command 'FOO'", Code::kFailedPrecondition},
        ErrorCase{"Wrongtype", "WRONGTYPE Operation against a key holding the wrong kind of value",
                  Code::kFailedPrecondition},
        ErrorCase{"Busykey", "BUSYKEY Target key name already exists.", Code::kFailedPrecondition,
                  Cause::kBusyKey},
        ErrorCase{"MigrateBusykey",
                  "ERR Target instance replied with error: BUSYKEY Target key name already "
                  "exists.",
                  Code::kFailedPrecondition, Cause::kBusyKey},
        // The ERR texts of Redis 7.0 that slotkeeper acts on.
        ErrorCase{"UnknownNode", "ERR Unknown node 0123456789abcdef0123456789abcdef01234567",
                  Code::kAborted, Cause::kUnknownNode},
        ErrorCase{"Immutable",
                  "ERR CONFIG SET failed (possibly related to argument 'appendfilename') - can't "
                  "set immutable config",
                  Code::kFailedPrecondition, Cause::kImmutableConfig},
        ErrorCase{"SlotBusy", "ERR Slot 42 is already busy", Code::kFailedPrecondition,
                  Cause::kSlotBusy},
        ErrorCase{"AlreadyOwner", "ERR I'm already the owner of hash slot 42",
                  Code::kFailedPrecondition, Cause::kAlreadyOwner},
        ErrorCase{"OnlyMasters", "ERR Please use SETSLOT only with masters.",
                  Code::kFailedPrecondition, Cause::kNotMaster},
        ErrorCase{"ConfigEpoch",
                  "ERR The user can assign a config epoch only when the node does not know any "
                  "other node.",
                  Code::kFailedPrecondition, Cause::kKnowsOthers},
        ErrorCase{"MigrateIo", "IOERR error or timeout reading to target instance",
                  Code::kDeadlineExceeded, Cause::kMigrateIo},
        // Only the first word counts: these merely start with the same letters.
        ErrorCase{"MovedxIsNotMoved", "MOVEDX 1 2", Code::kFailedPrecondition},
        ErrorCase{"AskingIsNotAsk", "ASKING is not an error", Code::kFailedPrecondition},
        ErrorCase{"ClusterdownNotFirstWord", "ERR CLUSTERDOWN mentioned later",
                  Code::kFailedPrecondition},
        ErrorCase{"Empty", "", Code::kFailedPrecondition}));

TEST(ReplyTest, AsStringAcceptsStringAndStatusOnly) {
  Reply s{.type = Reply::Type::kString, .str = "abc"};
  Reply st{.type = Reply::Type::kStatus, .str = "OK"};
  Reply i{.type = Reply::Type::kInteger, .integer = 7};
  Reply nil;
  Reply err{.type = Reply::Type::kError, .str = "ERR x"};
  EXPECT_EQ(s.AsString().value(), "abc");
  EXPECT_EQ(st.AsString().value(), "OK");
  EXPECT_EQ(i.AsString().error().code(), Code::kFailedPrecondition);
  EXPECT_EQ(nil.AsString().error().code(), Code::kFailedPrecondition);
  EXPECT_THAT(err.AsString().error().message(), ::testing::HasSubstr("ERR x"));
  EXPECT_TRUE(err.IsError());
  EXPECT_FALSE(s.IsError());
}

TEST(ReplyTest, AsIntegerAcceptsIntegerOnly) {
  Reply i{.type = Reply::Type::kInteger, .integer = -42};
  Reply s{.type = Reply::Type::kString, .str = "42"};
  EXPECT_EQ(i.AsInteger().value(), -42);
  EXPECT_EQ(s.AsInteger().error().code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace sk::redis
