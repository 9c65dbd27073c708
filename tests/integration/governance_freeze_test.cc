// The kill-switch end to end (docs/incident-response.md): a real cordond, driven by `cordon
// freeze|thaw|kill|freezes`, checked from the host (the task cgroup's own freezer files), through
// the API's refusals, across a restart, and in the evidence log. Runs rootful and rootless; the
// cgroup half needs a task cgroup, which the host decides (NoTaskCgroupReason).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/cgroup_bases.h"
#include "tests/support/daemon_process.h"
#include "tests/support/evidence_log_files.h"
#include "tests/support/host.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

// Our uid is principal "ops" (tenant "ci"), whose role may run and may operate the kill-switch
// when `operate`.
std::string Principals(bool operate) {
  return R"({"version": 1, "roles": {"ops": {"policies": ["default"], "classes": ["interactive", "batch"],
    "manage_all_tasks": true, "operator": )" +
         std::string(operate ? "true" : "false") + R"(}},
    "principals": [{"name": "ops", "tenant": "ci", "uids": [)" +
         std::to_string(::geteuid()) + R"(], "roles": ["ops"]}]})";
}

// The task's freezer as the kernel shows it, read from the host: cgroup.events' "frozen" (v2) or
// freezer.state (v1). "" when the task has no freezer file in any base.
std::string FreezerState(const std::string& id) {
  for (const std::string& base : TaskCgroupBases()) {
    const std::string dir = base + "/task-" + id;
    std::ifstream events(dir + "/cgroup.events");
    if (events && std::filesystem::exists(dir + "/cgroup.freeze")) {
      std::string line;
      while (std::getline(events, line))
        if (line.rfind("frozen ", 0) == 0) return line.substr(7) == "1" ? "frozen" : "thawed";
    }
    std::ifstream state(dir + "/freezer.state");
    std::string s;
    if (state >> s) return s == "FROZEN" ? "frozen" : s == "THAWED" ? "thawed" : s;
  }
  return "";
}

// Polls (10 s at most) until the task's freezer reads `want`.
bool WaitFreezer(const std::string& id, const std::string& want) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (FreezerState(id) != want) {
    if (std::chrono::steady_clock::now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

TEST(KillSwitch, OnlyOperatorsMayUseItAndBadScopesAreRefused) {
  DaemonProcess d(Principals(false));
  auto r = d.Cli({"freeze", "--class", "batch"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("principal 'ops' has no role with \"operator\": true"), std::string::npos) << r.err;
  EXPECT_TRUE(GovernanceRecords(d.evidence_log()).empty());
  d.WritePrincipals(Principals(true));
  d.Reload();
  r = d.Cli({"freeze", "--class", "nightly"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unknown class 'nightly'"), std::string::npos) << r.err;
  r = d.Cli({"freeze"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("freeze needs a scope"), std::string::npos) << r.err;
  r = d.Cli({"freeze", "--app", "a", "--tenant", "b"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("name one scope"), std::string::npos) << r.err;
  EXPECT_TRUE(GovernanceRecords(d.evidence_log()).empty());
}

TEST(KillSwitch, FreezeRefusesNewTasksAcrossARestartUntilThawed) {
  REQUIRE_SANDBOX();
  DaemonProcess d(Principals(true));
  auto f = d.Cli({"freeze", "--app", "billing-bot", "--reason", "incident 7"});
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_NE(f.out.find("frozen --app billing-bot"), std::string::npos) << f.out;
  auto refused = d.Cli({"submit", "--app", "billing-bot", "--", "/bin/true"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("refused (frozen): app 'billing-bot' is frozen by principal 'ops'"), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("(incident 7)"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("cordon thaw --app billing-bot"), std::string::npos) << refused.err;
  // Other apps run.
  EXPECT_EQ(d.Cli({"submit", "--app", "other", "--", "/bin/true"}).exit_code, 0);
  // The freeze is in STATE/governance.db: a daemon killed and started again still refuses.
  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));
  d.Start();
  refused = d.Cli({"submit", "--app", "billing-bot", "--", "/bin/true"});
  EXPECT_NE(refused.err.find("refused (frozen)"), std::string::npos) << refused.err;
  auto list = d.Cli({"freezes", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  json l = json::parse(list.out);
  ASSERT_EQ(l.size(), 1u) << list.out;
  EXPECT_EQ(l[0]["scope"]["kind"], "app");
  EXPECT_EQ(l[0]["principal"], "ops");
  EXPECT_EQ(l[0]["reason"], "incident 7");
  auto t = d.Cli({"thaw", "--app", "billing-bot"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(Trim(t.out), "thawed --app billing-bot");
  EXPECT_EQ(d.Cli({"submit", "--app", "billing-bot", "--", "/bin/true"}).exit_code, 0);
  EXPECT_EQ(Trim(d.Cli({"thaw", "--app", "billing-bot"}).out), "--app billing-bot was not frozen; nothing changed");
  // Each change is in the evidence log with the principal who made it.
  auto recs = GovernanceRecords(d.evidence_log());
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0]["event"], "freeze");
  EXPECT_EQ(recs[0]["principal"], "ops");
  EXPECT_EQ(recs[0]["data"]["scope"]["value"], "billing-bot");
  EXPECT_EQ(recs[0]["data"]["reason"], "incident 7");
  EXPECT_EQ(recs[1]["event"], "thaw");
  EXPECT_EQ(recs[2]["event"], "thaw_not_frozen");
}

TEST(KillSwitch, FreezeFreezesRunningCgroupsThawResumesKillEndsThem) {
  REQUIRE_SANDBOX();
  if (std::string why = NoTaskCgroupReason(); !why.empty()) GTEST_SKIP() << why;
  DaemonProcess d(Principals(true));
  auto b = d.Cli({"submit", "--detach", "--class", "batch", "--", "sleep", "60"});
  auto i = d.Cli({"submit", "--detach", "--class", "interactive", "--", "sleep", "60"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  ASSERT_EQ(i.exit_code, 0) << i.err;
  const std::string batch = Trim(b.out), inter = Trim(i.out);
  ASSERT_EQ(FreezerState(batch), "thawed") << "the task's cgroup has a freezer file and is not frozen yet";

  auto f = d.Cli({"freeze", "--class", "batch"});
  ASSERT_EQ(f.exit_code, 0) << f.out << f.err;
  EXPECT_NE(f.out.find("frozen " + batch), std::string::npos) << f.out;
  EXPECT_TRUE(WaitFreezer(batch, "frozen")) << "the kernel reports the batch task's cgroup frozen";
  EXPECT_EQ(FreezerState(inter), "thawed") << "the interactive task is not of the class";
  EXPECT_EQ(JsonField(d.Cli({"status", "--json", batch}).out, "state"), "frozen");
  EXPECT_EQ(JsonField(d.Cli({"status", "--json", inter}).out, "state"), "running");
  auto refused = d.Cli({"submit", "--class", "batch", "--", "/bin/true"});
  EXPECT_NE(refused.err.find("refused (frozen): class 'batch'"), std::string::npos) << refused.err;
  json l = json::parse(d.Cli({"freezes", "--json"}).out);
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0]["frozen_tasks"], json::array({batch}));

  ASSERT_EQ(d.Cli({"thaw", "--class", "batch"}).exit_code, 0);
  EXPECT_TRUE(WaitFreezer(batch, "thawed"));
  EXPECT_EQ(JsonField(d.Cli({"status", "--json", batch}).out, "state"), "running");

  // Frozen again, then killed: a frozen task still ends, as killed_by_operator.
  ASSERT_EQ(d.Cli({"freeze", "--class", "batch"}).exit_code, 0);
  EXPECT_TRUE(WaitFreezer(batch, "frozen"));
  auto k = d.Cli({"kill", "--class", "batch", "--reason", "compromised package"});
  ASSERT_EQ(k.exit_code, 0) << k.out << k.err;
  EXPECT_NE(k.out.find("killed " + batch), std::string::npos) << k.out;
  auto w = d.Cli({"wait", "--json", batch});
  EXPECT_EQ(JsonField(w.out, "failure_class"), "killed_by_operator") << w.out;
  EXPECT_NE(JsonField(w.out, "message").find("killed by operator 'ops' (cordon kill --class batch): compromised package"),
            std::string::npos)
      << w.out;
  EXPECT_EQ(JsonField(d.Cli({"evidence", batch}).out, "failure_class"), "killed_by_operator");
  EXPECT_EQ(JsonField(d.Cli({"status", "--json", inter}).out, "state"), "running");
  EXPECT_EQ(d.Cli({"cancel", inter}).exit_code, 0);

  std::vector<std::string> events;
  for (const auto& r : GovernanceRecords(d.evidence_log())) events.push_back(r["event"]);
  EXPECT_EQ(events, (std::vector<std::string>{"freeze", "thaw", "freeze", "kill"}));
  EXPECT_EQ(GovernanceRecords(d.evidence_log())[3]["data"]["tasks"][0]["task_id"], batch);
}

// A frozen task's wall clock stops: max_wall_ms counts the time it could run. The task sleeps 2 s
// under a 3 s limit and is frozen for 4 s from its start: with the clock running it would be
// killed (wall_timeout) while frozen; stopped, it finishes once thawed.
TEST(KillSwitch, AFrozenTasksWallClockStops) {
  REQUIRE_SANDBOX();
  if (std::string why = NoTaskCgroupReason(); !why.empty()) GTEST_SKIP() << why;
  DaemonProcess d(Principals(true));
  ::mkdir((d.conf() + "/policies").c_str(), 0755);
  std::ofstream(d.conf() + "/policies/timed.json") << R"({"version": 1, "name": "timed", "limits": {"max_wall_ms": 3000}})";
  d.WritePrincipals(R"({"version": 1, "roles": {"ops": {"policies": ["default", "timed"], "classes": ["interactive", "batch"],
    "manage_all_tasks": true, "operator": true}}, "principals": [{"name": "ops", "tenant": "ci", "uids": [)" +
                    std::to_string(::geteuid()) + R"(], "roles": ["ops"]}]})");
  ASSERT_EQ(d.Reload().find("reload failed"), std::string::npos);
  auto t = d.Cli({"submit", "--detach", "--app", "slowpoke", "--policy", "timed", "--", "sleep", "2"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  const std::string id = Trim(t.out);
  ASSERT_EQ(d.Cli({"freeze", "--app", "slowpoke"}).exit_code, 0);
  ASSERT_TRUE(WaitFreezer(id, "frozen"));
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_EQ(JsonField(d.Cli({"status", "--json", id}).out, "state"), "frozen") << "not timed out while frozen";
  ASSERT_EQ(d.Cli({"thaw", "--app", "slowpoke"}).exit_code, 0);
  auto w = d.Cli({"wait", "--json", id});
  EXPECT_EQ(JsonField(w.out, "failure_class"), "none") << w.out;
  EXPECT_EQ(w.exit_code, 0) << w.out;
}

}  // namespace
}  // namespace cordon::test
