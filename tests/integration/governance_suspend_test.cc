// Auto-suspend end to end (docs/incident-response.md "Auto-suspend"): a real cordond with
// "auto_suspend": {"violations": 3} in daemon.json. An app whose tasks are killed by seccomp three
// times is suspended (a wall-clock timeout in between does not count); its next Submit is refused
// saying why and who resumes it; other apps run; the suspension survives kill -9 and a restart; an
// operator's `cordon resume` lifts it. The evidence log has the suspension (principal cordond,
// with the violations) and the resume (the operator).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/daemon_process.h"
#include "tests/support/evidence_log_files.h"
#include "tests/support/host.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

std::string Principals() {
  return R"({"version": 1, "roles": {"dev": {"policies": ["default", "killer", "slow"],
    "classes": ["interactive", "batch"], "operator": true}},
    "principals": [{"name": "dev", "tenant": "ci", "uids": [)" +
         std::to_string(::geteuid()) + R"(], "roles": ["dev"]}]})";
}

TEST(AutoSuspend, RepeatedSeccompKillsSuspendAnAppUntilAnOperatorResumesIt) {
  REQUIRE_SANDBOX();
  DaemonProcess d(Principals());
  const std::string profile = WriteTempFile("suspend-kill-getppid.json", R"({"defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]})");
  ::mkdir((d.conf() + "/policies").c_str(), 0755);
  std::ofstream(d.conf() + "/policies/killer.json")
      << R"({"version": 1, "name": "killer", "seccomp_profile": ")" << profile
      << R"(", "mounts": [{"source": ")" << BuildPath("tests/helpers") << R"(", "target": "/opt/cordon-test"}]})";
  std::ofstream(d.conf() + "/policies/slow.json")
      << R"({"version": 1, "name": "slow", "limits": {"max_wall_ms": 300}})";
  std::ofstream(d.conf() + "/daemon.json")
      << R"({"version": 1, "auto_suspend": {"violations": 3, "window_s": 600}})";
  ASSERT_EQ(d.Reload().find("reload failed"), std::string::npos);
  auto violate = [&] {
    auto r = d.Cli({"submit", "--app", "rogue", "--policy", "killer", "--", "/opt/cordon-test/try_syscall", "getppid"});
    EXPECT_EQ(r.exit_code, 128 + SIGSYS) << r.err;
  };
  violate();
  violate();
  // A timeout is never a violation.
  auto slow = d.Cli({"submit", "--app", "rogue", "--policy", "slow", "--", "/bin/sleep", "5"});
  EXPECT_NE(slow.exit_code, 0);
  auto ok = d.Cli({"submit", "--app", "rogue", "--", "/bin/true"});
  EXPECT_EQ(ok.exit_code, 0) << "2 violations and a timeout: not suspended yet: " << ok.err;
  violate();

  auto refused = d.Cli({"submit", "--app", "rogue", "--", "/bin/true"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("refused (suspended): app 'rogue' is suspended since "), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("3 policy violations within 600 s (last: seccomp_violation, task "), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("resumes it with `cordon resume --app rogue`"), std::string::npos) << refused.err;
  EXPECT_EQ(d.Cli({"submit", "--app", "steady", "--", "/bin/true"}).exit_code, 0) << "another app is not suspended";

  // Kept across kill -9.
  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));
  d.Start();
  auto list = d.Cli({"suspensions", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  json j = json::parse(list.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << list.out;
  ASSERT_EQ(j["suspensions"].size(), 1u) << list.out;
  EXPECT_EQ(j["suspensions"][0]["kind"], "app");
  EXPECT_EQ(j["suspensions"][0]["value"], "rogue");
  ASSERT_EQ(j["suspensions"][0]["violations"].size(), 3u);
  for (const auto& v : j["suspensions"][0]["violations"]) EXPECT_EQ(v["kind"], "seccomp_violation");
  EXPECT_NE(d.Cli({"submit", "--app", "rogue", "--", "/bin/true"}).exit_code, 0);

  auto resumed = d.Cli({"resume", "--app", "rogue", "--reason", "INC-9 fixed"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(resumed.out, "resumed app rogue\n");
  EXPECT_EQ(d.Cli({"submit", "--app", "rogue", "--", "/bin/true"}).exit_code, 0);
  // Its count starts afresh: one more violation does not suspend it again.
  violate();
  EXPECT_EQ(d.Cli({"submit", "--app", "rogue", "--", "/bin/true"}).exit_code, 0);

  std::vector<std::string> trail;
  for (const auto& r : GovernanceRecords(d.evidence_log())) {
    if (r["data"].value("subject", "") != "app:rogue") continue;
    trail.push_back(r["event"].get<std::string>() + " by " + r["principal"].get<std::string>());
    if (r["event"] == "suspend") {
      EXPECT_EQ(r["data"]["violations"].size(), 3u);
    }
    if (r["event"] == "resume") {
      EXPECT_EQ(r["data"]["reason"], "INC-9 fixed");
    }
  }
  EXPECT_EQ(trail, (std::vector<std::string>{"suspend by cordond", "resume by dev"}));

  auto bad = d.Cli({"resume", "--tenant", "x"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("unknown argument '--tenant'"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace cordon::test
