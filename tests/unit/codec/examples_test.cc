// Every manifest in manifests/examples parses and validates (STYLE.md section 1), and the
// ones the docs point at say what the docs say.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "api/codec/spec_codec.h"

namespace sk::codec {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::StartsWith;

std::string SourceDir() {
  // sk_test sets SK_SOURCE_DIR under ctest; the compile-time path covers running the binary
  // by hand.
  const char* env = std::getenv("SK_SOURCE_DIR");
  return env != nullptr && *env != '\0' ? env : SK_TEST_SOURCE_DIR;
}

std::string Example(const std::string& name) { return SourceDir() + "/manifests/examples/" + name; }

ClusterSpec LoadOrFail(const std::string& path) {
  Result<ClusterSpec> r = LoadSpecFile(path);
  if (!r.ok()) {
    ADD_FAILURE() << r.error().message();
    return {};
  }
  return *r;
}

TEST(ExamplesTest, EveryExampleParsesAndValidates) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(Example(""))) {
    const std::string ext = entry.path().extension().string();
    if (ext != ".yaml" && ext != ".yml" && ext != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    Result<ClusterSpec> r = LoadSpecFile(entry.path().string());
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_TRUE(Validate(*r).ok());
    EXPECT_EQ(r->name + ext, entry.path().filename().string()) << "name the file after it";
    ++count;
  }
  EXPECT_GE(count, 4);
}

TEST(ExamplesTest, Local) {
  ClusterSpec s = LoadOrFail(Example("local.yaml"));
  EXPECT_EQ(s.name, "local");
  EXPECT_EQ(s.masters, 3);
  EXPECT_EQ(s.replicas_per_master, 1);
  EXPECT_EQ(s.local.bind, "127.0.0.1");
  EXPECT_EQ(s.local.base_port, 7000);
  EXPECT_EQ(s.local.data_dir, "./data");
  EXPECT_EQ(s.redis.node_timeout_ms, 5000);
  EXPECT_TRUE(s.redis.appendonly);
  EXPECT_THAT(s.redis.config, ElementsAre(Pair("maxmemory-policy", "noeviction")));
  EXPECT_EQ(LocalNodes(s).back().ep.ToString(), "127.0.0.1:7005");
}

TEST(ExamplesTest, Weights) {
  ClusterSpec s = LoadOrFail(Example("weights.yaml"));
  EXPECT_EQ(DesiredSlots(s),
            (std::vector<std::vector<SlotRange>>{{{0, 8191}}, {{8192, 12287}}, {{12288, 16383}}}));
}

TEST(ExamplesTest, Ranges) {
  ClusterSpec s = LoadOrFail(Example("ranges.yaml"));
  EXPECT_EQ(DesiredSlots(s), (std::vector<std::vector<SlotRange>>{
                                 {{0, 4095}}, {{4096, 8191}, {12288, 16383}}, {{8192, 12287}}}));
}

TEST(ExamplesTest, Password) {
  ClusterSpec s = LoadOrFail(Example("password.yaml"));
  ASSERT_TRUE(s.auth.has_value());
  EXPECT_EQ(s.auth->password_file, "./secrets/demo.pass");
}

TEST(LoadSpecFileTest, ProblemsArePrefixedWithThePath) {
  // Any file of the tree that is not a spec will do; no test writes files.
  const std::string path = SourceDir() + "/CMakeLists.txt";
  Result<ClusterSpec> r = LoadSpecFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_THAT(r.error().message(), StartsWith(path + ": invalid spec: 1 problem: spec"));
}

}  // namespace
}  // namespace sk::codec
