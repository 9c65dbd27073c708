// `cordon seccomp lint`, run as a user runs it: the real binary on real profiles (Cordon's own, the
// public Docker and Podman defaults, and small profiles with one known problem each).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

RunResult Cordon(const std::vector<std::string>& args) { return CordonCommand("seccomp", args); }

json LintJson(const std::string& profile, int* exit_code = nullptr) {
  auto r = Cordon({"lint", profile, "--json"});
  if (exit_code) *exit_code = r.exit_code;
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << profile << ": " << r.exit_code << " " << r.err;
  return json::parse(r.out, nullptr, false);
}

// Findings of one check (rule id) about one syscall ("" = any).
std::vector<json> Find(const json& report, const std::string& rule, const std::string& syscall = "") {
  std::vector<json> v;
  for (const auto& f : report["findings"])
    if (f["rule"] == rule && (syscall.empty() || f["syscall"] == syscall)) v.push_back(f);
  return v;
}

// Every OCI profile a runtime accepts must be accepted by lint: the shipped ones and the public ones.
std::vector<std::string> AllProfiles() {
  std::vector<std::string> out;
  for (const auto& dir : {SourcePath("seccomp-profiles"), SourcePath("../shared/profiles")}) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (e.path().extension() != ".json") continue;
      std::ifstream in(e.path());
      json j = json::parse(in, nullptr, false);
      if (j.is_object() && j.contains("defaultAction")) out.push_back(e.path().string());  // not systemd's group list
    }
  }
  return out;
}

TEST(SeccompLint, AcceptsEveryShippedAndPublicProfile) {
  auto profiles = AllProfiles();
  ASSERT_GE(profiles.size(), 2u);
  bool saw_public = false;
  for (const auto& p : profiles) {
    saw_public = saw_public || p.find("moby-default") != std::string::npos;
    json r = LintJson(p);
    ASSERT_TRUE(r.is_object()) << p;
    for (const auto& f : r["findings"]) {
      EXPECT_FALSE(f["path"].get<std::string>().empty()) << p << ": " << f.dump();
      EXPECT_FALSE(f["message"].get<std::string>().empty()) << p << ": " << f.dump();
      std::set<std::string> sev{"info", "low", "medium", "high", "critical"};
      EXPECT_TRUE(sev.contains(f["severity"].get<std::string>())) << f.dump();
    }
  }
  if (!saw_public) GTEST_SKIP() << "../shared/profiles not present: only Cordon's own profiles were linted";
}

TEST(SeccompLint, DockerDefaultFindingsAreTheKnownOnes) {
  std::string moby = SourcePath("../shared/profiles/moby-default.json");
  if (!std::ifstream(moby)) GTEST_SKIP() << "../shared/profiles not present";
  int rc = 0;
  json r = LintJson(moby, &rc);
  // Docker allows personality only for five values: no personality finding.
  EXPECT_TRUE(Find(r, "dangerous-allow/personality").empty()) << r.dump(1);
  // It masks CLONE_NEW* on clone and answers clone3 with ENOSYS (for a task without CAP_SYS_ADMIN).
  EXPECT_TRUE(Find(r, "dangerous-allow/namespaces").empty()) << r.dump(1);
  EXPECT_TRUE(Find(r, "dangerous-allow/clone3").empty()) << r.dump(1);
  // It leaves TIOCSTI to the kernel and socket families unfiltered but for AF_VSOCK.
  EXPECT_EQ(Find(r, "dangerous-allow/ioctl-tty", "ioctl").size(), 1u) << r.dump(1);
  auto packet = Find(r, "dangerous-allow/socket-family", "socket");
  ASSERT_FALSE(packet.empty());
  EXPECT_NE(packet[0]["message"].get<std::string>().find("AF_PACKET"), std::string::npos);
  // It lists SCMP_ARCH_X86 and allows socketcall there: the family filter on socket() is bypassable.
  EXPECT_EQ(Find(r, "abi/socketcall-bypass").size(), 1u) << r.dump(1);
  // Names newer than this libseccomp are reported, not fatal.
  EXPECT_FALSE(Find(r, "names/unknown").empty());
  EXPECT_EQ(rc, 1);  // high findings fail the default gate
}

TEST(SeccompLint, DefaultActionThatAllowsIsHigh) {
  std::string p = WriteTempFile("allow-all.json", R"({"defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})");
  int rc = 0;
  json r = LintJson(p, &rc);
  auto d = Find(r, "default/allows");
  ASSERT_EQ(d.size(), 1u) << r.dump(1);
  EXPECT_EQ(d[0]["severity"], "high");
  EXPECT_EQ(d[0]["path"], "defaultAction");
  EXPECT_FALSE(d[0]["fix"].get<std::string>().empty());
  // Everything dangerous is allowed by the default action, kexec_load excepted.
  EXPECT_EQ(Find(r, "dangerous-allow/bpf")[0]["path"], "defaultAction");
  EXPECT_TRUE(Find(r, "dangerous-allow/kexec", "kexec_load").empty());
  EXPECT_EQ(rc, 1);
  // --fail-on decides the exit code; --fail-on none never fails.
  EXPECT_EQ(Cordon({"lint", p, "--fail-on", "critical"}).exit_code, 1);  // io_uring is critical
  EXPECT_EQ(Cordon({"lint", p, "--fail-on", "none"}).exit_code, 0);
  EXPECT_EQ(Cordon({"lint", "strict", "--fail-on", "info"}).exit_code, 0);
}

TEST(SeccompLint, EachKnownProblemIsFoundWithItsPath) {
  std::string p = WriteTempFile("holes.json", R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
      {"names": ["read", "write", "execve", "exit", "exit_group", "personality", "socketcall", "clone3", "umount"],
       "action": "SCMP_ACT_ALLOW"},
      {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
      {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0},
      {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["kcmp"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_LT"}]},
      {"names": ["kcmp"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_GT"}]},
      {"names": ["no_such_call_xyz"], "action": "SCMP_ACT_ALLOW"}
    ]})");
  json r = LintJson(p);
  auto one = [&](const std::string& rule, const std::string& sys, const std::string& sev, const std::string& path) {
    auto v = Find(r, rule, sys);
    ASSERT_EQ(v.size(), 1u) << rule << " " << sys << "\n" << r.dump(1);
    EXPECT_EQ(v[0]["severity"], sev) << rule;
    EXPECT_EQ(v[0]["path"].get<std::string>().rfind(path, 0), 0u) << rule << ": " << v[0]["path"];
  };
  one("dangerous-allow/personality", "personality", "medium", "syscalls[0]");
  one("dangerous-allow/clone3", "clone3", "high", "syscalls[0]");
  one("abi/socketcall-bypass", "socketcall", "high", "syscalls[0]");
  one("abi/foreign-hole", "umount", "high", "syscalls[0]");
  one("errno/zero", "ptrace", "medium", "syscalls[2]");
  one("rules/duplicate", "", "low", "syscalls[4]");
  one("rules/contradictory", "", "medium", "syscalls[6]");
  one("names/unknown", "", "info", "syscalls[7]");
  EXPECT_EQ(Find(r, "abi/foreign-listed").size(), 2u);
  // socket is filtered to AF_UNIX natively: no family finding.
  EXPECT_TRUE(Find(r, "dangerous-allow/socket-family").empty()) << r.dump(1);
}

TEST(SeccompLint, SarifIsValid210WithOneResultPerFinding) {
  std::string moby = SourcePath("../shared/profiles/moby-default.json");
  if (!std::ifstream(moby)) moby = SourcePath("seccomp-profiles/default.json");
  json plain = LintJson(moby);
  auto s = Cordon({"lint", moby, "--sarif"});
  ASSERT_TRUE(s.exit_code == 0 || s.exit_code == 1) << s.err;
  json sarif = json::parse(s.out, nullptr, false);
  ASSERT_TRUE(sarif.is_object()) << s.out;
  EXPECT_EQ(sarif["version"], "2.1.0");
  EXPECT_EQ(sarif["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
  ASSERT_EQ(sarif["runs"].size(), 1u);
  const auto& run = sarif["runs"][0];
  EXPECT_EQ(run["results"].size(), plain["findings"].size());
  std::set<std::string> rule_ids;
  for (const auto& rule : run["tool"]["driver"]["rules"]) rule_ids.insert(rule["id"]);
  for (const auto& res : run["results"]) {
    EXPECT_TRUE(rule_ids.contains(res["ruleId"])) << res.dump();
    EXPECT_EQ(run["tool"]["driver"]["rules"][res["ruleIndex"].get<size_t>()]["id"], res["ruleId"]);
    std::set<std::string> levels{"error", "warning", "note"};
    EXPECT_TRUE(levels.contains(res["level"].get<std::string>()));
    EXPECT_FALSE(res["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].get<std::string>().empty());
  }
}

TEST(SeccompLint, BadInputIsRefusedWithTheCause) {
  std::string bad = WriteTempFile("bad-op.json", R"({"defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]}]})");
  auto r = Cordon({"lint", bad});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("syscalls[0].args[0].op"), std::string::npos) << r.err;
  auto sev = Cordon({"lint", "default", "--fail-on", "severe"});
  EXPECT_EQ(sev.exit_code, 125);
  EXPECT_NE(sev.err.find("not a severity"), std::string::npos) << sev.err;
  auto missing = Cordon({"lint", "/nonexistent/profile.json"});
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_NE(missing.err.find("/nonexistent/profile.json"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace cordon::test
