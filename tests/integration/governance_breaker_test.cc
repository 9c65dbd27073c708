// Circuit breakers end to end (docs/incident-response.md "Circuit breakers"): a real cordond with
// small breaker parameters in daemon.json, tripped by tasks that really fail (exec_failed), refusing
// with the breaker's name and half-open time, across a restart, half-open after the open interval,
// closed again by a trial task that works; forced-open and metrics-only set by an operator.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/evidence_log_files.h"
#include "tests/support/host.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

std::string Principals() {
  return R"({"version": 1, "roles": {"ops": {"policies": ["default", "strict"], "classes": ["interactive", "batch"],
    "operator": true}}, "principals": [{"name": "ops", "tenant": "ci", "uids": [)" +
         std::to_string(::geteuid()) + R"(], "roles": ["ops"]}]})";
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// `cordon breakers --json`'s entry for `name`, or null.
json BreakerOf(DaemonProcess& d, const std::string& name) {
  auto r = d.Cli({"breakers", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return nullptr;
  for (const auto& b : j["breakers"])
    if (b["name"] == name) return b;
  return nullptr;
}

// Polls (10 s at most) until breaker `name` is in `state`.
bool WaitState(DaemonProcess& d, const std::string& name, const std::string& state) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    json b = BreakerOf(d, name);
    if (!b.is_null() && b["state"] == state) return true;
    if (std::chrono::steady_clock::now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

class BreakerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_SANDBOX();
    d_ = std::make_unique<DaemonProcess>(Principals());
    ::mkdir((d_->conf() + "/policies").c_str(), 0755);
    std::ofstream(d_->conf() + "/policies/strict.json")
        << R"({"version": 1, "name": "strict", "breaker_counts_exit_nonzero": true})";
    std::ofstream(d_->conf() + "/daemon.json")
        << R"({"version": 1, "breakers": {"failure_rate_pct": 50, "minimum_calls": 3, "window_ms": 60000,
              "open_ms": 1500, "half_open_trials": 1}})";
    ASSERT_EQ(d_->Reload().find("reload failed"), std::string::npos);
  }
  // A task of `app` that fails the way a breaker counts: its command does not exist (exec_failed).
  void Fail(const std::string& app) {
    auto r = d_->Cli({"submit", "--app", app, "--", "/nonexistent/tool"});
    EXPECT_EQ(r.exit_code, 127) << r.err;
  }
  std::unique_ptr<DaemonProcess> d_;
};

TEST_F(BreakerTest, TripsRefusesSurvivesARestartHalfOpensAndRecovers) {
  DaemonProcess& d = *d_;
  Fail("flaky");
  Fail("flaky");
  EXPECT_EQ(BreakerOf(d, "app:flaky")["state"], "closed") << "2 outcomes: under the minimum of 3";
  Fail("flaky");
  ASSERT_TRUE(WaitState(d, "app:flaky", "open"));
  json b = BreakerOf(d, "app:flaky");
  EXPECT_EQ(b["failures"], 0) << "the window starts afresh when it opens";
  const int64_t half_open = b["half_open_unix_ms"];
  EXPECT_EQ(half_open - b["opened_unix_ms"].get<int64_t>(), 1500);

  auto refused = d.Cli({"submit", "--app", "flaky", "--", "/bin/true"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("refused (circuit breaker open): circuit breaker 'app:flaky' is open since unix ms"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("lets trial tasks through from unix ms " + std::to_string(half_open)), std::string::npos)
      << refused.err;
  EXPECT_EQ(d.Cli({"submit", "--app", "steady", "--", "/bin/true"}).exit_code, 0) << "another app's breaker is closed";

  // Open is kept in STATE/governance.db.
  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));
  d.Start();
  EXPECT_EQ(BreakerOf(d, "app:flaky")["state"], "open");
  if (NowMs() < half_open) {
    refused = d.Cli({"submit", "--app", "flaky", "--", "/bin/true"});
    EXPECT_NE(refused.err.find("circuit breaker 'app:flaky' is open"), std::string::npos) << refused.err;
  }

  // Past the open interval the next task is a trial; it works, and the breaker closes.
  while (NowMs() <= half_open) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto trial = d.Cli({"submit", "--app", "flaky", "--", "/bin/true"});
  EXPECT_EQ(trial.exit_code, 0) << trial.err;
  EXPECT_TRUE(WaitState(d, "app:flaky", "closed"));

  std::vector<std::string> events;
  for (const auto& r : GovernanceRecords(d.evidence_log())) {
    events.push_back(r["event"]);
    EXPECT_EQ(r["principal"], "cordond");
    EXPECT_EQ(r["data"]["breaker"], "app:flaky");
  }
  EXPECT_EQ(events, (std::vector<std::string>{"breaker_open", "breaker_half_open", "breaker_closed"}));
}

TEST_F(BreakerTest, AFailingTrialOpensItAgain) {
  DaemonProcess& d = *d_;
  for (int i = 0; i < 3; ++i) Fail("flaky");
  ASSERT_TRUE(WaitState(d, "app:flaky", "open"));
  const int64_t half_open = BreakerOf(d, "app:flaky")["half_open_unix_ms"];
  while (NowMs() <= half_open) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Fail("flaky");  // the trial
  ASSERT_TRUE(WaitState(d, "app:flaky", "open"));
  EXPECT_GT(BreakerOf(d, "app:flaky")["half_open_unix_ms"].get<int64_t>(), half_open);
}

TEST_F(BreakerTest, ForcedOpenAndMetricsOnly) {
  DaemonProcess& d = *d_;
  auto set = d.Cli({"breakers", "set", "app:payments", "forced_open"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  auto refused = d.Cli({"submit", "--app", "payments", "--", "/bin/true"});
  EXPECT_NE(refused.err.find("circuit breaker 'app:payments' is forced open by an operator"), std::string::npos)
      << refused.err;
  ASSERT_EQ(d.Cli({"breakers", "set", "app:payments", "normal"}).exit_code, 0);
  EXPECT_EQ(d.Cli({"submit", "--app", "payments", "--", "/bin/true"}).exit_code, 0);

  // Shadow mode: it opens on the failures but admits, and says in the log what it would refuse.
  ASSERT_EQ(d.Cli({"breakers", "set", "app:shadow", "metrics_only"}).exit_code, 0);
  for (int i = 0; i < 3; ++i) Fail("shadow");
  ASSERT_TRUE(WaitState(d, "app:shadow", "open"));
  EXPECT_EQ(d.Cli({"submit", "--app", "shadow", "--", "/bin/true"}).exit_code, 0);
  EXPECT_TRUE(d.WaitForLog("metrics-only: circuit breaker 'app:shadow' is open"));

  auto bad = d.Cli({"breakers", "set", "app:x", "sometimes"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("unknown breaker mode 'sometimes'"), std::string::npos) << bad.err;
  auto recs = GovernanceRecords(d.evidence_log());
  ASSERT_GE(recs.size(), 3u);
  EXPECT_EQ(recs[0]["event"], "breaker_mode");
  EXPECT_EQ(recs[0]["principal"], "ops");
  EXPECT_EQ(recs[0]["data"]["to"], "forced_open");
}

// A nonzero exit is the task's own answer and does not count, unless its policy says so.
TEST_F(BreakerTest, NonzeroExitsCountWhereThePolicySaysSo) {
  DaemonProcess& d = *d_;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(d.Cli({"submit", "--app", "lax", "--", "/bin/false"}).exit_code, 1);
    EXPECT_EQ(d.Cli({"submit", "--app", "picky", "--policy", "strict", "--", "/bin/false"}).exit_code, 1);
  }
  EXPECT_TRUE(WaitState(d, "app:picky", "open"));
  json lax = BreakerOf(d, "app:lax");
  EXPECT_TRUE(lax.is_null() || lax["state"] == "closed") << lax;
}

}  // namespace
}  // namespace cordon::test
