// Sessions, app envelopes and retry verdicts through a real cordond (docs/governance.md): a
// session's task budget spent, kept over a restart and raised live; an incident marker's
// "outbound_none" seen from inside the sandbox and in the task's record; a monthly envelope spent
// and refused with its retry-after; an unknown connector refused; the retry verdicts' exit codes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "supervisor/governance/clock.h"
#include "tests/support/daemon_process.h"
#include "tests/support/host.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

// Our uid is principal "tester" of tenant "ci"; with `op`, an operator (manage_all_tasks).
std::string Principals(bool op) {
  return R"({"version": 1,
    "roles": {"runner": {"policies": ["default", "net", "boxed"], "classes": ["interactive", "batch"],
                         "manage_all_tasks": )" +
         std::string(op ? "true" : "false") + R"(}},
    "principals": [{"name": "tester", "tenant": "ci", "uids": [)" +
         std::to_string(::getuid()) + R"(], "roles": ["runner"]}]})";
}

class Governance : public ::testing::Test {
 protected:
  void SetUp() override { REQUIRE_SANDBOX(); }

  // A cordond with budgets.json = `budgets` and two more policies: "net" (an outbound allowlist)
  // and "boxed" (a dir binding named "inbox").
  std::unique_ptr<DaemonProcess> Daemon(const std::string& budgets) {
    char tmpl[] = "/tmp/governance-inbox-XXXXXX";
    inbox_ = ::mkdtemp(tmpl);
    ::chmod(inbox_.c_str(), 0755);
    auto d = std::make_unique<DaemonProcess>(Principals(true));
    ::mkdir((d->conf() + "/policies").c_str(), 0755);
    std::ofstream(d->conf() + "/policies/net.json")
        << R"({"version": 1, "name": "net", "outbound": {"mode": "allowlist", "allow": ["example.com:80"]}})";
    std::ofstream(d->conf() + "/policies/boxed.json")
        << R"({"version": 1, "name": "boxed", "bindings": [{"name": "inbox", "kind": "dir", "source": ")" + inbox_ +
               R"(", "target": "/inbox"}]})";
    std::ofstream(d->conf() + "/budgets.json") << budgets;
    std::string reload = d->Reload();
    EXPECT_EQ(reload.find("reload failed"), std::string::npos) << reload;
    return d;
  }
  void TearDown() override {
    if (!inbox_.empty()) std::filesystem::remove_all(inbox_);
  }

  static json Json(const RunResult& r) {
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j;
  }
  // The newest task's id (`cordon ps --all`).
  static std::string NewestTask(DaemonProcess& d) {
    json ps = Json(d.Cli({"ps", "--all", "--json"}));
    return ps.is_array() && !ps.empty() ? ps[0].value("task_id", "") : "";
  }
  // Every governance record of the daemon's evidence log, as text.
  static std::string EvidenceLogText(DaemonProcess& d) {
    std::string all;
    for (const auto& e : std::filesystem::recursive_directory_iterator(d.dir() + "/state/evidence-log")) {
      if (!e.is_regular_file()) continue;
      std::ifstream f(e.path());
      all += std::string(std::istreambuf_iterator<char>(f), {});
    }
    return all;
  }

  std::string inbox_;
};

TEST_F(Governance, SessionTaskBudgetIsSpentKeptOverRestartAndRaisedLive) {
  auto d = Daemon(R"({"version": 1, "session_classes": {"agent": {"budget": {"tasks": 2}}}})");
  const std::vector<std::string> submit = {"submit", "--session", "s1", "--session-class", "agent", "--", "/bin/true"};
  ASSERT_EQ(d->Cli(submit).exit_code, 0) << d->Log();
  ASSERT_EQ(d->Cli(submit).exit_code, 0) << d->Log();
  auto refused = d->Cli(submit);
  EXPECT_EQ(refused.exit_code, 125);
  EXPECT_NE(refused.err.find("session 's1' has spent its tasks budget (2 of 2 tasks)"), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("budget spent: session s1 tasks"), std::string::npos) << refused.err;

  // A restart reads the spend back from state.db.
  ASSERT_NE(d->Signal(SIGTERM), -1);
  d->Start();
  std::vector<std::string> coded = submit;
  coded.insert(coded.begin() + 1, "--retry-exit-codes");
  EXPECT_EQ(d->Cli(coded).exit_code, 77);  // only an operator refills a session: never by waiting

  auto raised = d->Cli({"session", "budget", "s1", "--tasks", "3"});
  ASSERT_EQ(raised.exit_code, 0) << raised.err;
  EXPECT_EQ(d->Cli(submit).exit_code, 0) << d->Log();
  json s = Json(d->Cli({"session", "show", "--json", "s1"}));
  EXPECT_EQ(s["spent"]["tasks"], 3);
  EXPECT_EQ(s["budget"]["tasks"], 3);
  EXPECT_EQ(s["class"], "agent");
  EXPECT_NE(s["spent"]["wall_ms"].get<uint64_t>(), 0u);  // charged from the tasks that ended
  const std::string log = EvidenceLogText(*d);
  EXPECT_NE(log.find("session_open"), std::string::npos);
  EXPECT_NE(log.find("session_budget"), std::string::npos);

  // Only an operator may change a budget.
  d->WritePrincipals(Principals(false));
  d->Reload();
  auto denied = d->Cli({"session", "budget", "s1", "--tasks", "9"});
  EXPECT_EQ(denied.exit_code, 125);
  EXPECT_NE(denied.err.find("needs an operator"), std::string::npos) << denied.err;
}

// TaskInfo carries the task's session: while it runs, once it has finished, after a restart.
TEST_F(Governance, TaskInfoNamesItsSession) {
  auto d = Daemon(R"({"version": 1})");
  auto t = d->Cli({"submit", "--detach", "--json", "--session", "s7", "--", "/bin/sleep", "0.5"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(Json(t)["session"], "s7");
  const std::string id = Json(t)["task_id"];
  EXPECT_EQ(Json(d->Cli({"status", "--json", id}))["session"], "s7");
  EXPECT_EQ(Json(d->Cli({"wait", "--json", id}))["session"], "s7");
  ASSERT_NE(d->Signal(SIGKILL), -1);
  d->Start();
  EXPECT_EQ(Json(d->Cli({"status", "--json", id}))["session"], "s7");
  EXPECT_EQ(Json(d->Cli({"ps", "--all", "--json"}))[0]["session"], "s7");
  ASSERT_EQ(d->Cli({"submit", "--", "/bin/true"}).exit_code, 0);
  EXPECT_EQ(Json(d->Cli({"status", "--json", NewestTask(*d)}))["session"], "");
}

TEST_F(Governance, MarkerTakesOutboundAwayInsideTheSandboxAndIsInTheRecord) {
  auto d = Daemon(R"({"version": 1})");
  // bash's /dev/tcp: the proxy cordond runs for the task listens on the sandbox's own loopback, at
  // the port of HTTP_PROXY (docs/network.md); without outbound, nothing listens there.
  const std::vector<std::string> probe = {
      "submit", "--session", "s2", "--policy", "net", "--", "/bin/bash", "-c",
      "p=${HTTP_PROXY##*:}; p=${p%/}; echo proxy=$HTTP_PROXY; "
      "(exec 3<>/dev/tcp/127.0.0.1/${p:-3128}) 2>/dev/null && echo connected || echo unreachable"};
  // Until a task ran pooled: the warm pool then holds sandboxes built for this policy with its
  // proxy, and the restricted tasks below must not take them.
  RunResult before;
  json before_ev = json::object();
  for (int i = 0; i < 50 && before_ev.value("sandbox", json::object()).value("pooled", false) != true; ++i) {
    before = d->Cli(probe);
    ASSERT_EQ(before.exit_code, 0) << before.err << d->Log();
    before_ev = Json(d->Cli({"evidence", NewestTask(*d)}));
  }
  ASSERT_EQ(before_ev["sandbox"]["pooled"], true) << d->Log();
  EXPECT_NE(before.out.find("proxy=http://127.0.0.1:"), std::string::npos) << before.out;
  EXPECT_NE(before.out.find("connected"), std::string::npos) << before.out;

  auto mark = d->Cli({"session", "mark", "s2", "incident-7", "--restrict", "outbound_none", "--reason", "bad package"});
  ASSERT_EQ(mark.exit_code, 0) << mark.err;
  for (int i = 0; i < 2; ++i) {
    auto after = d->Cli(probe);
    ASSERT_EQ(after.exit_code, 0) << after.err << d->Log();
    EXPECT_NE(after.out.find("proxy=\n"), std::string::npos) << after.out;
    EXPECT_NE(after.out.find("unreachable"), std::string::npos) << after.out;
  }

  json ev = Json(d->Cli({"evidence", NewestTask(*d)}));
  EXPECT_EQ(ev["governance"]["session"], "s2");
  EXPECT_EQ(ev["governance"]["markers"], json::array({"incident-7"}));
  EXPECT_EQ(ev["governance"]["restrictions"], json::array({"outbound_none"}));
  EXPECT_EQ(ev["outbound"]["mode"], "none");
  EXPECT_EQ(ev["sandbox"]["pooled"], false);
  EXPECT_NE(EvidenceLogText(*d).find("session_mark"), std::string::npos);

  EXPECT_NE(d->Cli({"session", "mark", "s2", "x", "--restrict", "bogus"}).err.find("unknown restriction 'bogus'"),
            std::string::npos);
  ASSERT_EQ(d->Cli({"session", "mark", "s2", "incident-7", "--clear"}).exit_code, 0);
  EXPECT_NE(d->Cli(probe).out.find("connected"), std::string::npos);
}

TEST_F(Governance, MonthlyEnvelopeIsRefusedWithRetryAfterUntilTheNextMonth) {
  auto d = Daemon(R"({"version": 1, "apps": {"reports": {"tasks_per_month": 2, "owner_team": "analytics"}}})");
  const std::vector<std::string> submit = {"submit", "--retry-exit-codes", "--app", "reports", "--", "/bin/true"};
  ASSERT_EQ(d->Cli(submit).exit_code, 0) << d->Log();
  ASSERT_EQ(d->Cli(submit).exit_code, 0) << d->Log();
  auto refused = d->Cli(submit);
  EXPECT_EQ(refused.exit_code, 75) << refused.err;  // retry later
  EXPECT_NE(refused.err.find("has spent its tasks_per_month envelope"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("analytics"), std::string::npos) << refused.err;
  EXPECT_EQ(d->Cli({"submit", "--app", "other", "--", "/bin/true"}).exit_code, 0);  // another app is not spent

  api::Request req;
  req.mutable_submit()->add_argv("/bin/true");
  req.mutable_submit()->set_app_id("reports");
  const int64_t before = governance::SystemClock().NowUnixMs();
  auto resp = d->Call(req);
  const int64_t after = governance::SystemClock().NowUnixMs();
  ASSERT_TRUE(resp);
  ASSERT_TRUE(resp->has_error());
  EXPECT_EQ(resp->error().code(), api::ERROR_CODE_BUDGET_EXHAUSTED);
  EXPECT_EQ(resp->error().retry(), api::RETRY_VERDICT_LATER);
  EXPECT_EQ(resp->error().budget(), "app reports tasks_per_month");
  const int64_t next_month = governance::WindowOf(governance::Period::kMonth, after).end_ms;
  EXPECT_LE(resp->error().retry_after_ms(), next_month - before);
  EXPECT_GE(resp->error().retry_after_ms(), next_month - after);

  json env = Json(d->Cli({"envelope", "--json", "--app", "reports"}));
  ASSERT_EQ(env.size(), 1u);
  EXPECT_EQ(env[0]["periods"][1]["period"], "month");
  EXPECT_EQ(env[0]["periods"][1]["tasks_spent"], 2);
  EXPECT_NE(EvidenceLogText(*d).find("envelope_exhausted"), std::string::npos);
}

TEST_F(Governance, UnknownConnectorIsRefusedAtAdmission) {
  auto d = Daemon(R"({"version": 1, "apps": {"mailer": {"connectors": ["outbox"]}, "reader": {"connectors": ["inbox"]}}})");
  auto refused = d->Cli({"submit", "--retry-exit-codes", "--app", "mailer", "--policy", "boxed", "--", "/bin/true"});
  EXPECT_EQ(refused.exit_code, 77) << refused.err;
  EXPECT_NE(refused.err.find("app 'mailer' may not use connector 'inbox'"), std::string::npos) << refused.err;
  auto ok = d->Cli({"submit", "--app", "reader", "--policy", "boxed", "--", "/bin/ls", "/inbox"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err << d->Log();
}

TEST_F(Governance, RetryVerdictsAndTheirExitCodes) {
  auto d = Daemon(R"({"version": 1})");
  EXPECT_EQ(d->Cli({"submit", "--retry-exit-codes", "--", "/bin/true"}).exit_code, 0);
  EXPECT_EQ(d->Cli({"submit", "--retry-exit-codes", "--", "/bin/sh", "-c", "exit 3"}).exit_code, 76);
  EXPECT_EQ(d->Cli({"submit", "--", "/bin/sh", "-c", "exit 3"}).exit_code, 3);  // without the flag: the task's own
  auto missing = d->Cli({"submit", "--retry-exit-codes", "--", "/no/such/program"});
  EXPECT_EQ(missing.exit_code, 76) << missing.err;
  EXPECT_NE(missing.err.find("retry once_after_repair"), std::string::npos) << missing.err;
  json st = Json(d->Cli({"status", "--json", NewestTask(*d)}));
  EXPECT_EQ(st["failure_class"], "exec_failed");
  EXPECT_EQ(st["retry"]["verdict"], "once_after_repair");
  // A cancelled task: never retried.
  auto id = d->Cli({"submit", "--detach", "--", "/bin/sleep", "30"});
  ASSERT_EQ(id.exit_code, 0);
  const std::string task = id.out.substr(0, id.out.find('\n'));
  ASSERT_EQ(d->Cli({"cancel", task}).exit_code, 0);
  EXPECT_EQ(d->Cli({"wait", "--retry-exit-codes", task}).exit_code, 77);
  // A refusal by policy: never; a request naming an unknown session class: repair it.
  EXPECT_EQ(d->Cli({"submit", "--retry-exit-codes", "--class", "privileged", "--", "/bin/true"}).exit_code, 77);
  EXPECT_EQ(d->Cli({"submit", "--retry-exit-codes", "--session", "x", "--session-class", "nope", "--", "/bin/true"})
                .exit_code,
            76);
}

}  // namespace
}  // namespace cordon::test
