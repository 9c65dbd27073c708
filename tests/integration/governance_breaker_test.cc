// Circuit breakers end to end (docs/incident-response.md "Circuit breakers"): a real cordond with
// small breaker parameters in daemon.json, tripped by tasks that really fail (exec_failed), refusing
// with the breaker's name and half-open time, across a restart, half-open after the open interval,
// closed again by a trial task that works; forced-open and metrics-only set by an operator.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
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
  return R"({"version": 1, "roles": {"ops": {"policies": ["default", "strict", "ledger", "people", "notes", "net"], "classes": ["interactive", "batch"],
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
    // Policies whose bindings are in data domains "finance" and "hr": capability domains, each
    // with its own breaker.
    std::ofstream(d_->conf() + "/policies/ledger.json")
        << R"({"version": 1, "name": "ledger", "data_domain": "finance", "bindings": [{"name": "books", "kind": "dir",
              "source": "/usr/share", "target": "/books", "data_domain": "finance"}]})";
    std::ofstream(d_->conf() + "/policies/people.json")
        << R"({"version": 1, "name": "people", "data_domain": "hr", "bindings": [{"name": "staff", "kind": "dir",
              "source": "/usr/share", "target": "/staff", "data_domain": "hr"}]})";
    std::ofstream(d_->conf() + "/policies/net.json")
        << R"({"version": 1, "name": "net", "outbound": {"mode": "allowlist", "allow": ["example.com:80"]}})";
    // A state binding: never pooled, so each of its tasks' sandboxes is built cold, off the loop.
    std::ofstream(d_->conf() + "/policies/notes.json")
        << R"({"version": 1, "name": "notes", "bindings": [{"name": "notes", "kind": "state", "target": "/notes"}]})";
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

// A capability domain has its own breaker: failures of several apps in data domain "finance" open
// "domain:finance" (each app's own breaker has too few outcomes to open), which then refuses every
// app's tasks that bind that domain, and nothing else: the same apps run outside it, another
// domain ("hr") runs. It stays open across a restart, and its transitions are in the evidence log.
TEST_F(BreakerTest, ACapabilityDomainsBreakerOpensAcrossAppsAndOnlyForThatDomain) {
  DaemonProcess& d = *d_;
  for (const char* app : {"a1", "a2", "a1"}) {
    auto r = d.Cli({"submit", "--app", app, "--policy", "ledger", "--", "/nonexistent/tool"});
    EXPECT_EQ(r.exit_code, 127) << r.err;
  }
  ASSERT_TRUE(WaitState(d, "domain:finance", "open"));
  EXPECT_EQ(BreakerOf(d, "app:a1")["state"], "closed") << "2 outcomes: under the minimum of 3";
  EXPECT_EQ(BreakerOf(d, "app:a2")["state"], "closed");
  auto refused = d.Cli({"submit", "--app", "a3", "--policy", "ledger", "--", "/bin/true"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("refused (circuit breaker open): circuit breaker 'domain:finance' is open"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(d.Cli({"submit", "--app", "a2", "--", "/bin/true"}).exit_code, 0) << "outside the domain it runs";
  auto hr = d.Cli({"submit", "--app", "a2", "--policy", "people", "--", "/bin/true"});
  EXPECT_EQ(hr.exit_code, 0) << "another domain runs: " << hr.err;
  EXPECT_EQ(BreakerOf(d, "domain:hr")["state"], "closed");
  // An outbound destination is a capability domain too.
  EXPECT_EQ(d.Cli({"submit", "--app", "a2", "--policy", "net", "--", "/bin/true"}).exit_code, 0);
  EXPECT_EQ(BreakerOf(d, "outbound:example.com:80")["state"], "closed");

  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));
  d.Start();
  EXPECT_EQ(BreakerOf(d, "domain:finance")["state"], "open") << "kept in STATE/governance.db";
  ASSERT_EQ(d.Cli({"breakers", "set", "domain:finance", "forced_open"}).exit_code, 0);
  EXPECT_EQ(BreakerOf(d, "domain:finance")["mode"], "forced_open");
  auto bad = d.Cli({"breakers", "set", "finance", "normal"});
  EXPECT_NE(bad.err.find("is not app:<app_id>, domain:<data_domain>, service:<socket path> or outbound:<destination>"), std::string::npos)
      << bad.err;
  std::vector<std::string> events;
  for (const auto& r : GovernanceRecords(d.evidence_log()))
    if (r["data"]["breaker"] == "domain:finance") events.push_back(std::string(r["event"]) + "/" + std::string(r["principal"]));
  EXPECT_EQ(events, (std::vector<std::string>{"breaker_open/cordond", "breaker_mode/ops"}));
}

// Each Submit carries the tickets of the breakers that admitted it to its own task. Failing tasks
// of app "cold" are built off the loop (a state binding is never pooled) while another app's
// tasks are submitted and started meanwhile; every one of the cold app's failures still counts on
// its own breaker, and none on the other app's.
TEST_F(BreakerTest, AColdBuildKeepsItsOwnBreakerTicket) {
  DaemonProcess& d = *d_;
  std::atomic<bool> done = false;
  std::atomic<int> others = 0, other_failed = 0;
  std::thread meanwhile([&] {
    while (!done) {
      if (d.Cli({"submit", "--app", "busy", "--", "/bin/true"}).exit_code != 0) ++other_failed;
      ++others;
    }
  });
  for (int i = 0; i < 3; ++i) {
    auto r = d.Cli({"submit", "--app", "cold", "--policy", "notes", "--", "/nonexistent/tool"});
    EXPECT_EQ(r.exit_code, 127) << r.err;
  }
  done = true;
  meanwhile.join();
  EXPECT_EQ(other_failed, 0);
  EXPECT_GT(others, 0);
  EXPECT_TRUE(WaitState(d, "app:cold", "open")) << "3 failures of 3: " << BreakerOf(d, "app:cold");
  json busy = BreakerOf(d, "app:busy");
  EXPECT_EQ(busy["state"], "closed") << busy;
  EXPECT_EQ(busy["failures"], 0) << "none of app cold's failures counts on app busy's breaker";
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
