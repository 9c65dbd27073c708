// Retention per app envelope end to end (docs/governance.md "Retention per app"): a real cordond
// with budgets.json giving app "brief" a retention_days of 1. Its finished tasks made to look two
// days old go at the next sweep (the one at start), with their admission decisions, leaving a
// chained range in pruned_ranges and an envelope_retention record in the evidence log; a young
// task of the same app, and an equally old task of an app without one, stay; the evidence log still
// verifies (it is not cut in the middle).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "supervisor/evidence/log.h"
#include "supervisor/governance/control_db.h"
#include "tests/support/daemon_process.h"
#include "tests/support/host.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// One column of each row of `sql` on the database at `path`, joined by ",".
std::string Column(const std::string& path, const std::string& sql) {
  auto db = governance::ControlDb::Open(path);
  EXPECT_TRUE(db.has_value()) << path;
  if (!db) return "";
  std::string out;
  auto r = (*db)->Query(sql, {}, [&](const governance::DbRow& row) { out += (out.empty() ? "" : ",") + row.at(0); });
  EXPECT_TRUE(r.has_value()) << sql << ": " << (r ? "" : r.error().Message());
  return out;
}

TEST(EnvelopeRetention, AnAppsOldFinishedTasksArePrunedWithACheckpointAndAnEvidenceRecord) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  std::ofstream(d.conf() + "/budgets.json")
      << R"({"version": 1, "apps": {"brief": {"owner_team": "ops", "retention_days": 1}}})";
  ASSERT_EQ(d.Reload().find("reload failed"), std::string::npos) << d.Log();
  auto run = [&](const std::string& app) {
    auto s = d.Cli({"submit", "--detach", "--app", app, "--", "/bin/true"});
    EXPECT_EQ(s.exit_code, 0) << s.err;
    const std::string id = Trim(s.out);
    EXPECT_EQ(d.Cli({"wait", id}).exit_code, 0);
    return id;
  };
  const std::string old_brief = run("brief"), old_other = run("other"), young_brief = run("brief");
  const std::string db = d.dir() + "/state/state.db";
  const std::string old_decision = Column(db, "SELECT decision_id FROM tasks WHERE id = '" + old_brief + "'");
  ASSERT_FALSE(old_decision.empty());

  // Two days old, as cordond will find them at its next start (its first sweep).
  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));
  const int64_t two_days_ago =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count() -
      2 * 86'400'000LL;
  Column(db, "UPDATE tasks SET created_unix_ms = " + std::to_string(two_days_ago) + " WHERE id IN ('" + old_brief +
                 "', '" + old_other + "')");
  d.Start();

  EXPECT_EQ(Column(db, "SELECT count(*) FROM tasks WHERE id = '" + old_brief + "'"), "0") << d.Log();
  EXPECT_EQ(Column(db, "SELECT count(*) FROM decisions WHERE id = " + old_decision), "0");
  EXPECT_EQ(Column(db, "SELECT count(*) FROM tasks WHERE id IN ('" + young_brief + "', '" + old_other + "')"), "2")
      << "the app's young task and another app's old one stay";
  auto gone = d.Cli({"status", old_brief});
  EXPECT_NE(gone.exit_code, 0) << gone.out;
  EXPECT_EQ(d.Cli({"status", young_brief}).exit_code, 0);

  // The checkpoint: one range of kind app_tasks, naming the app, with a digest.
  const std::string range = Column(db, "SELECT count || ' ' || json_extract(summary, '$.app') || ' ' ||"
                                       " json_extract(summary, '$.decisions') || ' ' || length(digest)"
                                       " FROM pruned_ranges WHERE kind = 'app_tasks'");
  EXPECT_EQ(range, "1 brief 1 64");
  EXPECT_NE(d.Log().find("retention of app 'brief' (1 days, " + d.conf() + "/budgets.json): pruned 1 finished tasks"),
            std::string::npos)
      << d.Log();

  // The state change is in the evidence log, by cordond; the log is whole.
  auto rf = evlog::ReadRecordFile(d.dir() + "/state/evidence-log/records");
  ASSERT_TRUE(rf.has_value());
  int records = 0;
  for (const auto& r : rf->records) {
    json j = json::parse(r);
    if (j.value("kind", "") != "governance" || j["data"]["event"] != "envelope_retention") continue;
    ++records;
    EXPECT_EQ(j["data"]["principal"], "cordond");
    EXPECT_EQ(j["data"]["data"]["id"], "brief");
    EXPECT_EQ(j["data"]["data"]["retention_days"], 1);
    EXPECT_EQ(j["data"]["data"]["tasks"], 1);
  }
  EXPECT_EQ(records, 1);
  auto verify = CordonCommand("evidence", {"verify", "--log", d.dir() + "/state"});
  // 2: whole, with the newest records not sealed by a checkpoint yet (docs/evidence.md).
  EXPECT_TRUE(verify.exit_code == 0 || (verify.exit_code == 2 && verify.out.find("UNSEALED: valid") != std::string::npos))
      << verify.exit_code << verify.out << verify.err;

  // The next sweep finds nothing more to prune (the young task is a day from its turn).
  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));
  d.Start();
  EXPECT_EQ(Column(db, "SELECT count(*) FROM pruned_ranges WHERE kind = 'app_tasks'"), "1");
}

// A bad retention_days names its JSON path; the configuration in force stays.
TEST(EnvelopeRetention, ABadRetentionIsRefusedWithItsPath) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  std::ofstream(d.conf() + "/budgets.json") << R"({"version": 1, "apps": {"brief": {"retention_days": 0}}})";
  const std::string reload = d.Reload();
  EXPECT_NE(reload.find("apps.brief.retention_days"), std::string::npos) << reload;
}

}  // namespace
}  // namespace cordon::test
