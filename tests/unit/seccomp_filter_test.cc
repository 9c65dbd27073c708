// LoadSeccompFilter's verdict on whether a held pooled task may load its filter before it waits for
// kGo (allows_held_wait): true only when the wait's recvfrom, its step stamp's clock_gettime and a
// failing exit_group are allowed for any arguments, and kept across the BPF cache. A wrong "true" would hang a task on a denial
// nobody answers yet (docs/setup-sequence.md).
#include "supervisor/seccomp/filter.h"
#include "supervisor/seccomp/groups.h"
#include "supervisor/sha256.h"
#include "common/fs_util.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace cordon {
namespace {

class SeccompFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cordon-filter-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    opts_.data_dir = std::string(CORDON_BUILD_DIR) + "/share/cordon";
    opts_.cache_dir = dir_ + "/cache";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<SeccompFilter> LoadText(const std::string& name, const std::string& json) {
    const std::string path = dir_ + "/" + name + ".json";
    FILE* f = std::fopen(path.c_str(), "w");
    EXPECT_NE(f, nullptr);
    std::fputs(json.c_str(), f);
    std::fclose(f);
    return LoadSeccompFilter(path, opts_);
  }

  std::string dir_;
  FilterOptions opts_;
};

TEST_F(SeccompFilterTest, ShippedProfilesAllowTheHeldWait) {
  for (const char* name : {"default", "strict"}) {
    auto f = LoadSeccompFilter(name, opts_);
    ASSERT_TRUE(f) << f.error().Message();
    EXPECT_TRUE(f->allows_held_wait) << name;
    EXPECT_TRUE(f->allows_clock) << name;
  }
}

// Without clock_gettime allowed, the shim stamps its exec step before the filter (where the vDSO
// falls back to the system call, a stamp after it would be a denial nobody answers).
TEST_F(SeccompFilterTest, ClockVerdict) {
  auto denied = LoadText("clock-denied", R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["clock_gettime"], "action": "SCMP_ACT_ERRNO"}]})");
  ASSERT_TRUE(denied) << denied.error().Message();
  EXPECT_FALSE(denied->allows_clock);
  EXPECT_FALSE(denied->allows_held_wait);
  auto recv_only = LoadText("recv-denied", R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["recvfrom"], "action": "SCMP_ACT_ERRNO"}]})");
  ASSERT_TRUE(recv_only) << recv_only.error().Message();
  EXPECT_TRUE(recv_only->allows_clock);
  EXPECT_FALSE(recv_only->allows_held_wait);
}

TEST_F(SeccompFilterTest, ADeniedOrConditionalRecvfromOrExitGroupKeepsTheFilterLast) {
  const struct {
    const char* name;
    const char* json;
  } cases[] = {
      {"recvfrom-denied", R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
         {"names": ["recvfrom"], "action": "SCMP_ACT_ERRNO"}]})"},
      {"recvfrom-conditional", R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
         {"names": ["recvfrom"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 3, "value": 1, "op": "SCMP_CMP_EQ"}]}]})"},
      {"recvfrom-allowed-conditionally", R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
         {"names": ["execve", "exit_group"], "action": "SCMP_ACT_ALLOW"},
         {"names": ["recvfrom"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 3, "value": 0, "op": "SCMP_CMP_EQ"}]}]})"},
      {"clock-gettime-denied", R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
         {"names": ["clock_gettime"], "action": "SCMP_ACT_ERRNO"}]})"},
      {"exit-group-conditional", R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
         {"names": ["exit_group"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 77, "op": "SCMP_CMP_EQ"}]}]})"},
      {"not-listed", R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
         {"names": ["execve", "exit_group"], "action": "SCMP_ACT_ALLOW"}]})"},
  };
  for (const auto& c : cases) {
    auto f = LoadText(c.name, c.json);
    ASSERT_TRUE(f) << c.name << ": " << f.error().Message();
    EXPECT_FALSE(f->allows_held_wait) << c.name;
  }
  auto ok = LoadText("allowed", R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
      {"names": ["execve", "exit_group", "recvfrom", "clock_gettime"], "action": "SCMP_ACT_ALLOW"}]})");
  ASSERT_TRUE(ok) << ok.error().Message();
  EXPECT_TRUE(ok->allows_held_wait);
}

TEST_F(SeccompFilterTest, TheVerdictSurvivesTheCache) {
  for (bool allowed : {true, false}) {
    const std::string json = allowed ? R"({"defaultAction": "SCMP_ACT_ALLOW"})"
                                     : R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                                          {"names": ["recvfrom"], "action": "SCMP_ACT_ERRNO"}]})";
    const std::string name = allowed ? "cached-allowed" : "cached-denied";
    auto first = LoadText(name, json);
    ASSERT_TRUE(first) << first.error().Message();
    EXPECT_FALSE(first->from_cache);
    auto second = LoadText(name, json);
    ASSERT_TRUE(second) << second.error().Message();
    EXPECT_TRUE(second->from_cache) << "the second load should come from " << opts_.cache_dir;
    EXPECT_EQ(second->allows_held_wait, allowed) << name;
    EXPECT_TRUE(second->allows_clock) << name;
    EXPECT_EQ(second->bpf_sha256, first->bpf_sha256);
  }
}

// The BPF cache key's group digest is the table source's SHA-256, taken at build time (no table
// is built to hash it): a change to the table changes the key.
TEST(SeccompGroupDigest, IsTheTableSourcesSha256) {
  auto src = ReadFileToString(std::string(CORDON_SOURCE_DIR) + "/supervisor/seccomp/groups_table.cc", 1 << 22);
  ASSERT_TRUE(src) << src.error().Message();
  EXPECT_EQ(seccomp::GroupTableDigest(), Sha256Hex(*src));
}

}  // namespace
}  // namespace cordon
