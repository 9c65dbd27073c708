// Sessions, envelopes, retry verdicts and their persistence (supervisor/governance/), with a
// ManualClock: a month's envelope is spent, refused with its retry-after, and refilled when the
// clock moves into the next month. The daemon's side is tests/integration/governance_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "supervisor/evidence/outcome.h"
#include "supervisor/governance/budget_config.h"
#include "supervisor/governance/clock.h"
#include "supervisor/governance/governor.h"
#include "supervisor/governance/retry.h"
#include "supervisor/policy.h"

namespace cordon::governance {
namespace {

constexpr int64_t kDec7 = 1796601600000;  // 2026-12-07T00:00:00Z

TEST(GovernanceClock, CalendarWindowsInUtc) {
  Window d = WindowOf(Period::kDay, kDec7 + 5000);
  EXPECT_EQ(d.key, "2026-12-07");
  EXPECT_EQ(d.start_ms, kDec7);
  EXPECT_EQ(d.end_ms, kDec7 + 86400000);
  Window m = WindowOf(Period::kMonth, kDec7);
  EXPECT_EQ(m.key, "2026-12");
  EXPECT_EQ(Iso8601(m.end_ms), "2027-01-01T00:00:00Z");  // December rolls into the next year
  EXPECT_EQ(Iso8601(WindowOf(Period::kDay, m.end_ms - 1).end_ms), "2027-01-01T00:00:00Z");
}

TEST(GovernanceRetry, EveryFailureClassHasARule) {
  for (int c = 0; c <= static_cast<int>(FailureClass::kClientGone); ++c) {
    const char* name = FailureClassName(static_cast<FailureClass>(c));
    bool found = false;
    for (const auto& r : FailureClassRules()) found = found || std::string(r.failure_class) == name;
    EXPECT_TRUE(found) << name << " has no retry rule in supervisor/governance/retry.cc";
  }
  EXPECT_EQ(ForFailureClass("seccomp_violation").verdict, RetryVerdict::kNever);
  EXPECT_EQ(ForFailureClass("exec_failed").verdict, RetryVerdict::kOnceAfterRepair);
  EXPECT_EQ(ForFailureClass("supervisor_restart").verdict, RetryVerdict::kLater);
  EXPECT_EQ(ForFailureClass("none").verdict, RetryVerdict::kNone);
  EXPECT_EQ(ForFailureClass("no_such_class").verdict, RetryVerdict::kNever);
  // Distinct exit codes, none of them a success or `cordon run`'s own (123, 125-127).
  EXPECT_EQ(ExitCodeFor(RetryVerdict::kNone), 0);
  EXPECT_EQ(ExitCodeFor(RetryVerdict::kLater), 75);
  EXPECT_EQ(ExitCodeFor(RetryVerdict::kOnceAfterRepair), 76);
  EXPECT_EQ(ExitCodeFor(RetryVerdict::kNever), 77);
}

TEST(GovernanceConfig, RejectsUnknownFieldsByPath) {
  auto bad = ParseBudgets(R"({"version": 1, "apps": {"a": {"tasks_per_week": 3}}})", "budgets.json");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().Message().find("apps.a"), std::string::npos) << bad.error().Message();
  auto neg = ParseBudgets(R"({"version": 1, "session_classes": {"agent": {"budget": {"tasks": -1}}}})", "b");
  EXPECT_FALSE(neg);
  auto ok = ParseBudgets(R"({"version": 1, "session_classes": {"agent": {"budget": {"tasks": 3}}},
                             "tenants": {"ci": {"tasks_per_month": 2, "owner_team": "platform"}}})", "b");
  ASSERT_TRUE(ok) << ok.error().Message();
  EXPECT_EQ(*ok->session_classes.at("agent").tasks, 3u);
  EXPECT_TRUE(ok->session_classes.count("batch"));  // the built-in classes stay
  EXPECT_EQ(*ok->tenants.at("ci").limits.tasks_per_month, 2u);
}

class GovernorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/governance-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    policy_.name = "default";
    Reopen();
  }
  void TearDown() override {
    gov_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    gov_.reset();
    auto g = Governor::Open(dir_ + "/state.db", &clock_, [this](const std::string& e, const std::string& p,
                                                                  nlohmann::json) { events_.push_back(e + ":" + p); });
    ASSERT_TRUE(g) << g.error().Message();
    gov_ = std::move(*g);
  }
  AdmitRequest Req(const std::string& session, const std::string& action = "") {
    AdmitRequest r;
    r.principal = "tester";
    r.tenant = "ci";
    r.app_id = "reports";
    r.session = session;
    r.session_class = "agent";
    r.action = action;
    r.policy = &policy_;
    return r;
  }
  // Admits and finishes one task using `cpu_ms`; the refusal if it was refused.
  std::optional<Refusal> Run(const BudgetConfig& cfg, const AdmitRequest& r, uint64_t cpu_ms = 0) {
    AdmitResult a = gov_->Admit(cfg, r);
    if (a.refusal) return a.refusal;
    gov_->Bind(++decision_);
    gov_->Finished(cfg, decision_, Usage{cpu_ms, 10, 0, 0});
    return std::nullopt;
  }

  std::string dir_;
  ManualClock clock_{kDec7 + 3600000};
  Policy policy_;
  std::unique_ptr<Governor> gov_;
  std::vector<std::string> events_;
  int64_t decision_ = 0;
};

TEST_F(GovernorTest, SessionTaskBudgetIsSpentSurvivesReopenAndIsRaisedLive) {
  auto cfg = ParseBudgets(R"({"version": 1, "session_classes": {"agent": {"budget": {"tasks": 2}}}})", "b");
  ASSERT_TRUE(cfg);
  EXPECT_FALSE(Run(*cfg, Req("s1")));
  EXPECT_FALSE(Run(*cfg, Req("s1")));
  Reopen();  // what a restart of cordond does: the spend is read back from the database
  auto refused = Run(*cfg, Req("s1"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->budget, "session s1 tasks");
  EXPECT_EQ(refused->retry_after_ms, 0);  // only an operator refills a session
  SessionBudget raise;
  raise.tasks = 3;
  ASSERT_TRUE(gov_->SetBudget("s1", raise, {}, "operator"));
  EXPECT_FALSE(Run(*cfg, Req("s1")));
  EXPECT_TRUE(Run(*cfg, Req("s1")));
  EXPECT_EQ(events_.front(), "session_open:tester");
  EXPECT_EQ(events_.back(), "session_budget:operator");
  // Another tenant cannot spend (or see into) this session.
  AdmitRequest other = Req("s1");
  other.tenant = "other";
  ASSERT_TRUE(gov_->SetBudget("s1", {}, {"tasks"}, "operator"));
  auto foreign = Run(*cfg, other);
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->kind, Refusal::Kind::kInvalid);
}

TEST_F(GovernorTest, FanoutPerActionAndCpuBudgetCapsThePolicy) {
  auto cfg = ParseBudgets(R"({"version": 1, "session_classes": {"agent": {"budget": {"fanout": 2, "cpu_ms": 1000}}}})",
                          "b");
  ASSERT_TRUE(cfg);
  EXPECT_FALSE(Run(*cfg, Req("s2", "click-1"), 400));
  EXPECT_FALSE(Run(*cfg, Req("s2", "click-1"), 400));
  auto fan = Run(*cfg, Req("s2", "click-1"));
  ASSERT_TRUE(fan);
  EXPECT_EQ(fan->budget, "session s2 fanout (action click-1)");
  AdmitResult a = gov_->Admit(*cfg, Req("s2", "click-2"));
  ASSERT_FALSE(a.refusal);
  ASSERT_TRUE(a.terms.cap_cpu_ms);
  EXPECT_EQ(*a.terms.cap_cpu_ms, 200u);  // the policy's 300000 ms capped to what is left
  gov_->Bind(++decision_);
  gov_->Finished(*cfg, decision_, Usage{200, 1, 0, 0});
  auto cpu = Run(*cfg, Req("s2", "click-3"));
  ASSERT_TRUE(cpu);
  EXPECT_EQ(cpu->budget, "session s2 cpu_ms");
}

TEST_F(GovernorTest, MarkerRestrictsLaterTasks) {
  BudgetConfig cfg = DefaultBudgets();
  AdmitRequest r = Req("s3");
  r.session_class = "batch";
  EXPECT_FALSE(Run(cfg, r));
  EXPECT_FALSE(gov_->Mark("s3", Marker{"incident-1", {"no_such_thing"}, "", "operator", 0}, false));
  ASSERT_TRUE(gov_->Mark("s3", Marker{"incident-1", {"outbound_none"}, "compromised package", "operator", 0}, false));
  AdmitResult a = gov_->Admit(cfg, r);
  ASSERT_FALSE(a.refusal);
  EXPECT_EQ(a.terms.restrictions, std::vector<std::string>{"outbound_none"});
  gov_->Bind(++decision_);
  nlohmann::json rec = gov_->Finished(cfg, decision_, Usage{});
  EXPECT_EQ(rec["markers"][0], "incident-1");
  ASSERT_TRUE(gov_->Mark("s3", Marker{"incident-2", {"refuse_new"}, "", "operator", 0}, false));
  auto refused = Run(cfg, r);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->kind, Refusal::Kind::kRestricted);
  Reopen();
  ASSERT_NE(gov_->Find("s3"), nullptr);
  EXPECT_EQ(gov_->Find("s3")->markers.size(), 2u);
}

TEST_F(GovernorTest, MonthlyEnvelopeRefusesWithRetryAfterAndRefillsNextMonth) {
  auto cfg = ParseBudgets(R"({"version": 1, "apps": {"reports": {"tasks_per_month": 2, "cpu_ms_per_day": 500,
                                                                   "owner_team": "analytics"}}})", "b");
  ASSERT_TRUE(cfg);
  EXPECT_FALSE(Run(*cfg, Req(""), 100));
  clock_.Advance(3 * 86400000LL);  // another day: the daily CPU envelope is fresh, the month's is not
  EXPECT_FALSE(Run(*cfg, Req(""), 100));
  auto refused = Run(*cfg, Req(""));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->budget, "app reports tasks_per_month");
  const int64_t jan1 = WindowOf(Period::kMonth, clock_.NowUnixMs()).end_ms;
  EXPECT_EQ(refused->retry_after_ms, jan1 - clock_.NowUnixMs());
  EXPECT_NE(refused->reason.find("2027-01-01T00:00:00Z"), std::string::npos) << refused->reason;
  EXPECT_NE(refused->reason.find("analytics"), std::string::npos);
  Reopen();
  EXPECT_TRUE(Run(*cfg, Req("")));  // still spent after a restart
  clock_.Set(jan1);                 // the next month: refilled
  EXPECT_FALSE(Run(*cfg, Req("")));
  // Recorded once per budget and period in each run of cordond: before and after the reopen.
  EXPECT_EQ(std::count(events_.begin(), events_.end(), "envelope_exhausted:cordond"), 2);
}

TEST_F(GovernorTest, UnknownConnectorIsRefused) {
  auto cfg = ParseBudgets(R"({"version": 1, "apps": {"reports": {"connectors": ["inbox"]}}})", "b");
  ASSERT_TRUE(cfg);
  Binding b;
  b.name = "payroll";
  policy_.bindings.push_back(b);
  auto refused = Run(*cfg, Req(""));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->kind, Refusal::Kind::kRestricted);
  EXPECT_NE(refused->reason.find("'payroll'"), std::string::npos) << refused->reason;
  policy_.bindings[0].name = "inbox";
  EXPECT_FALSE(Run(*cfg, Req("")));
}

}  // namespace
}  // namespace cordon::governance
