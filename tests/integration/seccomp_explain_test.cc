// `cordon seccomp explain` agrees with what a task really sees: for a table of syscalls and
// arguments, explain's answer is compared with the raw call made by a helper inside a real sandbox
// under the same profile.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstring>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

std::string PolicyFor(const std::string& profile) {
  std::string name = "explain-" + std::to_string(std::hash<std::string>()(profile)) + ".json";
  return WriteTempFile(name, R"({"name": "explain-test", "version": 1, "seccomp_profile": ")" + profile +
                                 R"(", "mounts": [{"source": ")" + BuildPath("tests/helpers") +
                                 R"(", "target": "/opt/cordon-test"}]})");
}

// explain's verdict for Cordon on one ABI: {"action", "errno", "outcome", "rule"}.
json Explain(const std::string& profile, const std::vector<std::string>& call, const std::string& arch) {
  std::vector<std::string> argv{BuildPath("bin/cordon"), "seccomp", "explain", profile};
  argv.insert(argv.end(), call.begin(), call.end());
  argv.insert(argv.end(), {"--arch", arch, "--json"});
  auto r = RunProgram(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out, nullptr, false);
  if (!j.is_object() || j["abis"].size() != 1) {
    ADD_FAILURE() << "explain output: " << r.out;
    return json::object();
  }
  return j["abis"][0]["cordon"];
}

// Runs every call in one sandbox and checks each result against explain: a denial with errno E must
// come back as exactly "err E"; an allowed call must not come back with an errno the profile uses.
void CompareTable(const std::string& profile, const std::vector<std::vector<std::string>>& calls) {
  std::vector<json> verdicts;
  std::set<std::string> profile_errnos;
  size_t allowed = 0, denied = 0;
  std::string script;
  for (const auto& c : calls) {
    verdicts.push_back(Explain(profile, c, "x86_64"));
    const json& v = verdicts.back();
    if (v.value("action", "") == "SCMP_ACT_ERRNO") {
      profile_errnos.insert(strerrorname_np(v["errno"].get<int>()));
      ++denied;
    } else if (v.value("action", "") == "SCMP_ACT_ALLOW") {
      ++allowed;
    }
    script += "/opt/cordon-test/try_syscall";
    for (const auto& a : c) script += " " + a;
    script += "\n";
  }
  // The table must exercise both answers, or the comparison proves nothing.
  ASSERT_GE(allowed, 3u);
  ASSERT_GE(denied, 3u);
  auto r = CordonRun({"/bin/sh", "-c", script}, {"--policy", PolicyFor(profile)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream out(r.out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(out, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), calls.size()) << r.out;
  for (size_t i = 0; i < calls.size(); ++i) {
    std::string call;
    for (const auto& a : calls[i]) call += a + " ";
    const json& v = verdicts[i];
    if (v["action"] == "SCMP_ACT_ERRNO") {
      EXPECT_EQ(lines[i], std::string("err ") + strerrorname_np(v["errno"].get<int>()))
          << profile << ": " << call << "explain said " << v.dump();
    } else {
      ASSERT_EQ(v["action"], "SCMP_ACT_ALLOW") << call;
      for (const auto& e : profile_errnos)
        EXPECT_NE(lines[i], "err " + e) << profile << ": " << call << "explain said " << v.dump();
    }
  }
}

TEST(SeccompExplain, AgreesWithTheSandboxOnTheDefaultProfile) {
  REQUIRE_SANDBOX();
  CompareTable("default", {
      {"getpid"}, {"socket", "1", "1", "0"}, {"socket", "2", "2", "0"}, {"socket", "16", "3", "0"},
      {"socket", "17", "3", "0"}, {"socket", "38", "5", "0"}, {"socket", "40", "1", "0"},
      {"personality", "0xffffffff"}, {"personality", "0x0400000"}, {"personality", "0x0040000"},
      {"ioctl", "0", "0x5412"}, {"ioctl", "0", "0x100005412"}, {"ioctl", "0", "0x541C"}, {"ioctl", "0", "0x5401"},
      {"ioctl", "0", "0x4004"}, {"clone", "0x10000000"}, {"clone", "0x20000"}, {"unshare", "0x10000000"},
      {"kcmp", "1", "2", "0"}, {"keyctl", "0"}, {"bpf", "0"}, {"clone3"}, {"mount"}, {"setns", "0", "0"},
      {"io_uring_setup", "1", "0"}, {"sched_yield"},
  });
}

TEST(SeccompExplain, AgreesWithTheSandboxOnArgumentRules) {
  REQUIRE_SANDBOX();
  // Errnos no kernel returns for these calls (EBADSLT 57, EBFONT 59), so a match is the profile's.
  std::string p = WriteTempFile("explain-args.json", R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
      {"names": ["kcmp"], "action": "SCMP_ACT_ERRNO", "errnoRet": 57, "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_GT"}]},
      {"names": ["kcmp"], "action": "SCMP_ACT_ERRNO", "errnoRet": 57, "args": [{"index": 1, "value": 7, "op": "SCMP_CMP_EQ"}]},
      {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 59},
      {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 59, "args": [{"index": 0, "value": 17, "op": "SCMP_CMP_EQ"}]},
      {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 57,
       "args": [{"index": 1, "value": 4294967295, "valueTwo": 21522, "op": "SCMP_CMP_MASKED_EQ"}]},
      {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 59,
       "args": [{"index": 0, "value": 4194304, "valueTwo": 4194304, "op": "SCMP_CMP_MASKED_EQ"}]}
    ]})");
  CompareTable(p, {
      {"kcmp", "1", "2", "0"}, {"kcmp", "5", "2", "0"}, {"kcmp", "6", "2", "0"}, {"kcmp", "1", "7", "0"},
      {"getpriority", "0", "0"}, {"getpid"}, {"socket", "17", "3", "0"}, {"socket", "1", "1", "0"},
      {"ioctl", "0", "0x5412"}, {"ioctl", "0", "0x100005412"}, {"ioctl", "0", "0x5413"},
      {"personality", "0x0400000"}, {"personality", "0xffffffff"}, {"personality", "0"},
  });
}

TEST(SeccompExplain, ForeignAbiVerdictMatchesTheKill) {
  REQUIRE_SANDBOX();
  json v = Explain("default", {"getpid"}, "x32");
  EXPECT_EQ(v["action"], "SCMP_ACT_KILL_PROCESS");
  EXPECT_EQ(v["rule"], "architecture");
  auto r = CordonRun({"/opt/cordon-test/try_syscall", "--x32", "getpid"}, {"--policy", PolicyFor("default")});
  EXPECT_EQ(r.exit_code, 128 + SIGSYS) << r.out << r.err;
}

TEST(SeccompExplain, TableCoversEverySyscallAndNamesConditions) {
  auto r = RunProgram({BuildPath("bin/cordon"), "seccomp", "explain", "default", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  std::map<std::string, json> by;
  for (const auto& s : j["syscalls"]) by[s["syscall"]] = s;
  EXPECT_GT(by.size(), 300u);
  EXPECT_EQ(by["read"]["kind"], "allowed");
  EXPECT_EQ(by["bpf"]["kind"], "denied");
  EXPECT_EQ(by["bpf"]["rule"], "defaultAction");
  for (const char* c : {"clone", "socket", "ioctl", "personality"}) EXPECT_EQ(by[c]["kind"], "conditional") << c;
  auto bad = RunProgram({BuildPath("bin/cordon"), "seccomp", "explain", "default", "no_such_call"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("unknown syscall 'no_such_call'"), std::string::npos) << bad.err;
  auto arch = RunProgram({BuildPath("bin/cordon"), "seccomp", "explain", "default", "read", "--arch", "sparc"});
  EXPECT_EQ(arch.exit_code, 125);
  EXPECT_NE(arch.err.find("--arch 'sparc'"), std::string::npos) << arch.err;
}

}  // namespace
}  // namespace cordon::test
