// `cordon seccomp lint` against the kernel's syscall history (seccomp/audit/kernel_syscalls.cc): a
// name newer than the kernel the profile is checked for, a name Linux has but this libseccomp does
// not, and a name Linux never had.
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

// close_range came in Linux 5.9 and every libseccomp since 2.5.0 knows it; open_tree_attr (6.15) and
// file_getattr (6.17) are newer than every libseccomp release up to 2.6.0, so the loader skips them.
std::string Profile() {
  return WriteTempFile("kernel-names.json", R"({"defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [
      {"names": ["getpid", "close_range", "open_tree_attr"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["execve", "exit_group", "file_getattr", "frobnicate_at"], "action": "SCMP_ACT_ALLOW"}]})");
}

json Lint(const std::vector<std::string>& extra) {
  std::vector<std::string> argv{BuildPath("bin/cordon"), "seccomp", "lint", Profile(), "--json", "--fail-on", "none"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto r = RunProgram(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out, nullptr, false);
}

// rule -> {"syscall@path": message}
std::map<std::string, std::string> Of(const json& report, const std::string& rule) {
  std::map<std::string, std::string> m;
  for (const auto& f : report["findings"])
    if (f["rule"] == rule) m[f["syscall"].get<std::string>() + "@" + f["path"].get<std::string>()] = f["message"];
  return m;
}

TEST(SeccompLintKernel, NamesNewerThanTheKernelHaveNoEffect) {
  json j = Lint({"--kernel", "5.4"});
  auto newer = Of(j, "names/newer-than-kernel");
  ASSERT_EQ(newer.size(), 3u) << j.dump(1);
  EXPECT_EQ(newer["close_range@syscalls[0]"],
            "the running kernel 5.4 does not know close_range (added in 5.9); the rule has no effect here");
  EXPECT_EQ(newer["open_tree_attr@syscalls[0].names[2]"],
            "the running kernel 5.4 does not know open_tree_attr (added in 6.15); the rule has no effect here");
  EXPECT_TRUE(newer.contains("file_getattr@syscalls[1].names[2]")) << j.dump(1);
  // A kernel between the two: only the newer one is flagged.
  auto mid = Of(Lint({"--kernel", "6.16"}), "names/newer-than-kernel");
  EXPECT_EQ(mid.size(), 1u);
  EXPECT_TRUE(mid.contains("file_getattr@syscalls[1].names[2]"));
}

TEST(SeccompLintKernel, DefaultIsTheRunningKernel) {
  utsname u{};
  ASSERT_EQ(::uname(&u), 0);
  int major = 0, minor = 0;
  ASSERT_EQ(std::sscanf(u.release, "%d.%d", &major, &minor), 2);
  auto newer = Of(Lint({}), "names/newer-than-kernel");
  auto flagged = [&](int a, int b) { return std::make_pair(major, minor) < std::make_pair(a, b); };
  EXPECT_EQ(newer.contains("close_range@syscalls[0]"), flagged(5, 9)) << u.release;
  EXPECT_EQ(newer.contains("file_getattr@syscalls[1].names[2]"), flagged(6, 17)) << u.release;
  for (const auto& [k, msg] : newer)
    EXPECT_NE(msg.find("the running kernel " + std::to_string(major) + "." + std::to_string(minor) + " "), std::string::npos);
}

TEST(SeccompLintKernel, KnownToLinuxButNotToLibseccompIsInfoWithTheVersion) {
  json j = Lint({});
  auto lib = Of(j, "names/unknown-to-libseccomp");
  ASSERT_EQ(lib.size(), 2u) << j.dump(1);
  const std::string& m = lib["file_getattr@syscalls[1].names[2]"];
  EXPECT_NE(m.find("file_getattr was added in Linux 6.17 but this libseccomp ("), std::string::npos) << m;
  EXPECT_TRUE(lib.contains("open_tree_attr@syscalls[0].names[2]"));
  for (const auto& f : j["findings"]) {
    if (f["rule"] == "names/unknown-to-libseccomp") {
      EXPECT_EQ(f["severity"], "info");
    }
  }
  // A name Linux never had stays the plain "unknown syscall" finding, and only it.
  std::map<std::string, int> unknown;
  for (const auto& f : j["findings"])
    if (f["rule"] == "names/unknown") ++unknown[f["path"].get<std::string>()];
  EXPECT_EQ(unknown, (std::map<std::string, int>{{"syscalls[1].names[3]", 1}})) << j.dump(1);
}

TEST(SeccompLintKernel, BadKernelIsRefused) {
  auto r = RunProgram({BuildPath("bin/cordon"), "seccomp", "lint", Profile(), "--kernel", "five"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("--kernel 'five' is not a kernel release"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cordon::test
