// `cordon seccomp diff A B`: profiles compared by meaning, through the real binary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

const char* kBase = R"("defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1)";

std::string Profile(const std::string& name, const std::string& body, const std::string& extra = "") {
  return WriteTempFile(name, std::string("{") + kBase + extra + R"(, "syscalls": [)" + body + "]}");
}

struct Diff {
  int exit_code;
  json j;
  std::string text;
};

Diff RunDiff(const std::string& a, const std::string& b) {
  auto r = RunProgram({BuildPath("bin/cordon"), "seccomp", "diff", a, b, "--json"});
  auto t = RunProgram({BuildPath("bin/cordon"), "seccomp", "diff", a, b});
  EXPECT_EQ(r.exit_code, t.exit_code);
  return {r.exit_code, json::parse(r.out, nullptr, false), t.out + t.err};
}

std::vector<json> For(const Diff& d, const std::string& syscall) {
  std::vector<json> v;
  for (const auto& c : d.j["changes"])
    if (c["syscall"] == syscall) v.push_back(c);
  return v;
}

TEST(SeccompDiff, SameMeaningDifferentTextIsNoDifference) {
  std::string a = Profile("same-a.json", R"({"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LE"}]})");
  std::string b = Profile("same-b.json", R"({"names": ["write"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_LT"}]},
      {"names": ["read"], "action": "SCMP_ACT_ALLOW"})");
  Diff d = RunDiff(a, b);
  EXPECT_EQ(d.exit_code, 0) << d.text;
  EXPECT_EQ(d.j["changes"].size(), 0u) << d.text;
  EXPECT_EQ(d.j["differ"], false);
  EXPECT_EQ(RunDiff("default", "default").exit_code, 0);
}

TEST(SeccompDiff, OpeningsNarrowingsAndErrnoChangesAreEachReported) {
  std::string a = Profile("a.json", R"({"names": ["read"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["socket"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 21505, "op": "SCMP_CMP_EQ"}]},
      {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})");
  std::string b = Profile("b.json", R"({"names": ["read", "ioctl", "clone3"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 17, "op": "SCMP_CMP_NE"}]})");
  Diff d = RunDiff(a, b);
  EXPECT_EQ(d.exit_code, 1) << d.text;
  EXPECT_EQ(d.j["differ"], true);
  // clone3: ENOSYS -> allowed, for every argument.
  auto c3 = For(d, "clone3");
  ASSERT_EQ(c3.size(), 1u) << d.text;
  EXPECT_EQ(c3[0]["was"], "SCMP_ACT_ERRNO(ENOSYS)");
  EXPECT_EQ(c3[0]["now"], "SCMP_ACT_ALLOW");
  EXPECT_EQ(c3[0]["kind"], "opens");
  EXPECT_EQ(c3[0]["all_args"], true);
  // ioctl widened: allowed before only for TCGETS (0x5401); now for everything else too.
  auto io = For(d, "ioctl");
  ASSERT_EQ(io.size(), 1u) << d.text;
  EXPECT_EQ(io[0]["kind"], "opens");
  EXPECT_EQ(io[0]["all_args"], false);
  for (const auto& ex : io[0]["examples"]) EXPECT_NE(ex["args[1]"], 21505) << d.text;
  // socket narrowed: AF_PACKET (17) was allowed and is not any more; nothing else changed.
  auto so = For(d, "socket");
  ASSERT_EQ(so.size(), 1u) << d.text;
  EXPECT_EQ(so[0]["kind"], "closes");
  EXPECT_EQ(so[0]["regions"], 1);
  EXPECT_EQ(so[0]["examples"][0]["args[0]"], 17);
  EXPECT_EQ(so[0]["now_rule"], "defaultAction");
  EXPECT_TRUE(For(d, "read").empty());
  EXPECT_NE(d.text.find("+ clone3 [x86_64]: SCMP_ACT_ERRNO(ENOSYS) (syscalls[3]) -> SCMP_ACT_ALLOW (syscalls[0])"),
            std::string::npos) << d.text;
}

TEST(SeccompDiff, ListingAForeignArchitectureIsAChangeOnThatAbi) {
  std::string a = Profile("arch-a.json", R"({"names": ["getpid"], "action": "SCMP_ACT_ALLOW"})");
  std::string b = Profile("arch-b.json", R"({"names": ["getpid"], "action": "SCMP_ACT_ALLOW"})",
                          R"(, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])");
  Diff d = RunDiff(a, b);
  EXPECT_EQ(d.exit_code, 1);
  auto g = For(d, "getpid");
  ASSERT_EQ(g.size(), 1u) << d.text;
  EXPECT_EQ(g[0]["abis"], json::array({"i386"}));
  EXPECT_EQ(g[0]["was"], "SCMP_ACT_KILL_PROCESS (architecture)");
  EXPECT_EQ(g[0]["now"], "SCMP_ACT_ALLOW");
}

TEST(SeccompDiff, BadInputIsRefused) {
  auto one = RunProgram({BuildPath("bin/cordon"), "seccomp", "diff", "default"});
  EXPECT_EQ(one.exit_code, 125);
  EXPECT_NE(one.err.find("needs exactly two profiles"), std::string::npos) << one.err;
  auto missing = RunProgram({BuildPath("bin/cordon"), "seccomp", "diff", "default", "/nonexistent.json"});
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_NE(missing.err.find("/nonexistent.json"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace cordon::test
