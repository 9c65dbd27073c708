// `@group` names in a profile's `names`: the loader expands them (supervisor/seccomp/groups.h), so
// compile, check, explain, lint and `cordon run` all see the members; an unknown group is refused
// with its JSON path; `export --format oci` writes the expanded profile for runc and crun.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/host.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

RunResult Seccomp(const std::vector<std::string>& args) { return CordonCommand("seccomp", args); }

// The shipped strict profile (which denies the keyring calls and mount) with one more rule.
std::string StrictPlus(const std::string& file, const json& rule) {
  std::ifstream in(BuildPath("share/cordon/seccomp-profiles/strict.json"));
  json p = json::parse(in);
  p["syscalls"].push_back(rule);
  return WriteTempFile(file, p.dump(2));
}

std::string PolicyFor(const std::string& profile) {
  return WriteTempFile("group-policy.json", R"({"name": "group-test", "version": 1, "seccomp_profile": ")" + profile +
                                                R"(", "mounts": [{"source": ")" + BuildPath("tests/helpers") +
                                                R"(", "target": "/opt/cordon-test"}]})");
}

TEST(SeccompGroupNames, ExpandForCheckCompileAndExplain) {
  std::string plain = BuildPath("share/cordon/seccomp-profiles/strict.json");
  std::string keyring = StrictPlus("strict-keyring.json", {{"names", {"@keyring"}}, {"action", "SCMP_ACT_ALLOW"}});
  // strict alone denies keyctl; with @keyring every member runs, and nothing outside the group changes.
  auto before = Seccomp({"explain", plain, "keyctl", "--json"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_EQ(json::parse(before.out)["abis"][0]["cordon"]["action"], "SCMP_ACT_ERRNO") << before.out;
  for (const char* member : {"keyctl", "add_key", "request_key"}) {
    auto e = Seccomp({"explain", keyring, member, "--json"});
    ASSERT_EQ(e.exit_code, 0) << e.err;
    json v = json::parse(e.out)["abis"][0]["cordon"];
    EXPECT_EQ(v["action"], "SCMP_ACT_ALLOW") << member << ": " << e.out;
  }
  auto mount = Seccomp({"explain", keyring, "mount", "--json"});
  EXPECT_EQ(json::parse(mount.out)["abis"][0]["cordon"]["action"], "SCMP_ACT_ERRNO") << mount.out;
  // compile sees the members: the summary counts three more rules than strict's.
  auto c = Seccomp({"compile", keyring});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto diff = Seccomp({"diff", plain, keyring, "--json"});
  EXPECT_EQ(diff.exit_code, 1) << diff.out << diff.err;
  EXPECT_NE(diff.out.find("\"keyctl\""), std::string::npos) << diff.out;
  EXPECT_EQ(diff.out.find("\"mount\""), std::string::npos) << diff.out;
  // lint sees it too: keyctl is a dangerous allow.
  auto lint = Seccomp({"lint", keyring, "--json", "--fail-on", "none"});
  ASSERT_EQ(lint.exit_code, 0) << lint.err;
  EXPECT_NE(lint.out.find("keyctl"), std::string::npos) << lint.out;
}

TEST(SeccompGroupNames, UnknownGroupIsRefusedWithItsPath) {
  std::string bad = StrictPlus("strict-badgroup.json", {{"names", {"getpid", "@no-such-set"}}, {"action", "SCMP_ACT_ALLOW"}});
  size_t index = json::parse(std::ifstream(bad))["syscalls"].size() - 1;
  for (const char* cmd : {"compile", "lint", "explain"}) {
    auto r = Seccomp({cmd, bad});
    EXPECT_EQ(r.exit_code, 125) << cmd << ": " << r.out;
    std::string path = "syscalls[" + std::to_string(index) + "].names[1]";
    EXPECT_NE(r.err.find(path + ": unknown syscall group \"@no-such-set\""), std::string::npos) << cmd << ": " << r.err;
    EXPECT_NE(r.err.find("known groups: @default @aio @basic-io"), std::string::npos) << r.err;
  }
}

TEST(SeccompGroupNames, ExportOciWritesTheMembersForOtherRuntimes) {
  std::string keyring = StrictPlus("strict-keyring-oci.json",
                                   {{"names", {"keyctl", "@keyring", "@aio"}}, {"action", "SCMP_ACT_ALLOW"}});
  std::string out = WriteTempFile("expanded.json", "");
  auto r = Seccomp({"export", keyring, "--format", "oci", "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json p = json::parse(std::ifstream(out));
  const json& names = p["syscalls"].back()["names"];
  EXPECT_EQ(names, json({"keyctl", "add_key", "request_key", "io_cancel", "io_destroy", "io_getevents",
                         "io_pgetevents", "io_setup", "io_submit"}))
      << names.dump();
  for (const auto& rule : p["syscalls"])
    for (const auto& n : rule["names"]) EXPECT_FALSE(n.get<std::string>().starts_with("@")) << n;
  // The expanded profile decides every call as the grouped one does.
  auto d = Seccomp({"diff", keyring, out});
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
}

// The real sandbox: strict + @keyring lets keyctl reach the kernel (an unknown operation fails with
// EOPNOTSUPP there) while mount, outside the group, is still denied by the profile (EPERM).
TEST(SeccompGroupNames, CordonRunEnforcesTheExpansion) {
  REQUIRE_SANDBOX();
  std::string keyring = StrictPlus("strict-keyring-run.json", {{"names", {"@keyring"}}, {"action", "SCMP_ACT_ALLOW"}});
  std::string script =
      "/opt/cordon-test/try_syscall keyctl 0xffff\n"
      "/opt/cordon-test/try_syscall mount 0 0 0 0 0\n";
  auto r = CordonRun({"/bin/sh", "-c", script}, {"--policy", PolicyFor(keyring)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "err EOPNOTSUPP\nerr EPERM\n") << r.err;
  // Without the group the same keyctl is denied: the difference above is the group's doing.
  auto base = CordonRun({"/bin/sh", "-c", script},
                        {"--policy", PolicyFor(BuildPath("share/cordon/seccomp-profiles/strict.json"))});
  ASSERT_EQ(base.exit_code, 0) << base.err;
  EXPECT_EQ(base.out, "err EPERM\nerr EPERM\n") << base.err;
}

}  // namespace
}  // namespace cordon::test
