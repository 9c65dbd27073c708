// `cordon seccomp record`: record a command in a real sandbox, then run the same command under the
// recorded profile (enforcement) and check that it works and that what it did not use is refused.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

// A policy with `profile` that mounts the test helpers (compiled, static C programs).
std::string PolicyWith(const std::string& profile) {
  std::string name = "record-" + std::to_string(std::hash<std::string>()(profile)) + ".json";
  std::string p = R"({"name": "record-test", "version": 1)";
  if (!profile.empty()) p += R"(, "seccomp_profile": ")" + profile + R"(")";
  p += R"(, "mounts": [{"source": ")" + BuildPath("tests/helpers") + R"(", "target": "/opt/cordon-test"}]})";
  return WriteTempFile(name, p);
}

RunResult Record(const std::vector<std::string>& flags, const std::vector<std::string>& cmd) {
  std::vector<std::string> argv{BuildPath("bin/cordon"), "seccomp", "record", "--policy", PolicyWith("")};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back("--");
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  RunOptions o;
  o.timeout_ms = 240000;
  return RunProgram(argv, o);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Records `cmd`, then runs it under the recorded profile: same output as under the default profile.
std::string RoundTrip(const std::vector<std::string>& cmd, const std::string& name) {
  std::string out = WriteTempFile(name, "");
  auto r = Record({"-o", out}, cmd);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("call(s) recorded"), std::string::npos) << r.err;
  json prof = json::parse(Slurp(out), nullptr, false);
  EXPECT_TRUE(prof.is_object()) << Slurp(out);
  auto reference = CordonRun(cmd, {"--policy", PolicyWith("")});
  auto enforced = CordonRun(cmd, {"--policy", PolicyWith(out), "--evidence", "-"});
  EXPECT_EQ(enforced.exit_code, 0) << enforced.err;
  EXPECT_EQ(enforced.out.substr(0, enforced.out.rfind('\n', enforced.out.size() - 2) + 1), reference.out);
  // Enforced, not merely logged: nothing was refused, and the profile is far from the default.
  EXPECT_EQ(JsonField(EvidenceLine(enforced), "seccomp/denied_total"), "0") << EvidenceLine(enforced);
  return out;
}

TEST(SeccompRecord, Python3RoundTripAndItsSocketFamilyOnly) {
  REQUIRE_SANDBOX();
  std::string prof = RoundTrip({"python3", "-c", "import json, socket; socket.socket(socket.AF_UNIX); print(json.dumps([1]))"},
                               "rec-python.json");
  // AF_UNIX was recorded as an argument rule: AF_INET stays refused.
  auto inet = CordonRun({"python3", "-c", "import socket; socket.socket(socket.AF_INET)"}, {"--policy", PolicyWith(prof)});
  EXPECT_NE(inet.exit_code, 0);
  EXPECT_NE(inet.err.find("PermissionError"), std::string::npos) << inet.err;
  auto lint = RunProgram({BuildPath("bin/cordon"), "seccomp", "lint", prof, "--fail-on", "medium"});
  EXPECT_EQ(lint.exit_code, 0) << lint.out;
}

TEST(SeccompRecord, ShellPipelineRoundTripRefusesWhatItDidNotUse) {
  REQUIRE_SANDBOX();
  std::string prof = RoundTrip({"/bin/sh", "-c", "echo hello | tr a-z A-Z | wc -c"}, "rec-sh.json");
  auto kcmp = CordonRun({"/opt/cordon-test/try_syscall", "kcmp", "1", "2", "0"}, {"--policy", PolicyWith(prof)});
  // try_syscall's own start-up calls may be refused too; kcmp must be.
  EXPECT_NE(kcmp.out.find("err EPERM"), std::string::npos) << kcmp.out << kcmp.err;
}

TEST(SeccompRecord, CompiledCProgramRoundTripAndMerge) {
  REQUIRE_SANDBOX();
  std::string c_prof = RoundTrip({"/opt/cordon-test/try_syscall", "getpid"}, "rec-c.json");
  // --merge adds a second command to the same profile; both then run under it.
  auto m = Record({"-o", c_prof, "--merge"}, {"/bin/sh", "-c", "echo merged | cat"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  auto a = CordonRun({"/opt/cordon-test/try_syscall", "getpid"}, {"--policy", PolicyWith(c_prof)});
  EXPECT_EQ(a.out.rfind("ok ", 0), 0u) << a.out << a.err;
  auto b = CordonRun({"/bin/sh", "-c", "echo merged | cat"}, {"--policy", PolicyWith(c_prof)});
  EXPECT_EQ(b.out, "merged\n") << b.err;
}

TEST(SeccompRecord, BaseRecordsOnlyWhatTheBaseDenies) {
  REQUIRE_SANDBOX();
  std::string out = WriteTempFile("rec-base.json", "");
  auto r = Record({"--base", "default", "-o", out}, {"/opt/cordon-test/try_syscall", "kcmp", "1", "2", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The base's rules are kept and kcmp, refused by its default action, was added.
  auto e = RunProgram({BuildPath("bin/cordon"), "seccomp", "diff", "default", out, "--json"});
  json d = json::parse(e.out);
  ASSERT_EQ(d["changes"].size(), 1u) << e.out;
  EXPECT_EQ(d["changes"][0]["syscall"], "kcmp");
  EXPECT_EQ(d["changes"][0]["kind"], "opens");
}

TEST(SeccompRecord, BadInputIsRefused) {
  auto none = RunProgram({BuildPath("bin/cordon"), "seccomp", "record", "-o", "/tmp/x.json"});
  EXPECT_EQ(none.exit_code, 125);
  EXPECT_NE(none.err.find("no command given"), std::string::npos) << none.err;
  auto merge = RunProgram({BuildPath("bin/cordon"), "seccomp", "record", "--merge", "--", "true"});
  EXPECT_EQ(merge.exit_code, 125);
  EXPECT_NE(merge.err.find("--merge needs -o"), std::string::npos) << merge.err;
}

}  // namespace
}  // namespace cordon::test
