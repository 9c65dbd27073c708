// What cordond's cheaper pooled task must still deliver (docs/performance.md "The pool's side"):
// a CPU budget stopped near the budget though its first check comes later than it used to; a
// finished task's row, decision and evidence all in the state database by the time Wait answers;
// a write-ahead log kept to its size by checkpoints that no longer run on the loop.
// Runs rootful (as root) and rootless (as any other user).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "supervisor/daemon/client.h"

#include "tests/support/daemon_pool.h"
#include "tests/support/daemon_process.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

// A poolable policy with a CPU budget of `max_cpu_ms`.
void WriteCpuPolicy(const DaemonProcess& d, const std::string& name, uint64_t max_cpu_ms) {
  ::mkdir((d.conf() + "/policies").c_str(), 0755);
  std::ofstream(d.conf() + "/policies/" + name + ".json")
      << R"({"name": ")" << name << R"(", "version": 1, "role": "test", "seccomp_profile": "default",
      "limits": {"max_cpu_ms": )" << max_cpu_ms << R"(, "max_wall_ms": 20000, "tmpfs_bytes": 16777216},
      "env": {"allow": ["*"], "set": {"PATH": "/usr/bin:/bin"}}})";
}

uint64_t Figure(const std::string& ev, const std::string& name) {
  const std::string v = JsonField(ev, "usage/cgroup/" + name + "/value");
  return v.empty() ? 0 : std::stoull(v);
}

// The first check of a CPU budget now comes when half of it could be spent (it came 5 ms into
// every task): busy loops in a pooled sandbox must still be stopped near the budget, not at a late
// first check nor at RLIMIT_CPU's backstop (budget + 1 s).
TEST(DaemonPoolCpu, PooledBusyLoopIsStoppedNearItsCpuBudget) {
  REQUIRE_SANDBOX();
  DaemonProcess d(AnyPolicyPrincipals(), {"--pool-policies", "spin"});
  WriteCpuPolicy(d, "spin", 300);
  d.Reload();
  // Two busy processes: a check that came late would find up to twice its delay spent.
  const std::string spin = "python3 -c 'while True: pass'";
  Ran r = SubmitPooled(d, {"/bin/sh", "-c", spin + " & " + spin + " & wait"}, "spin");
  ASSERT_TRUE(r.pooled()) << r.evidence << d.Log();
  EXPECT_EQ(JsonField(r.evidence, "failure_class"), "cpu_budget") << r.evidence;
  if (JsonField(r.evidence, "limits/enforcement/max_cpu_ms") != "cgroup")
    return;  // rootless without a delegated cgroup: the monitor holds the budget (limits_test.cc)
  const uint64_t cpu = Figure(r.evidence, "cpu_user_usec") + Figure(r.evidence, "cpu_system_usec");
  EXPECT_GE(cpu, 300000u) << r.evidence;
  EXPECT_LT(cpu, 600000u) << "the budget's checks came late\n" << r.evidence;
}

// Wait answers once the task's end is recorded: its row is finished with its evidence, and the
// decision that admitted it is there, read straight from the database while cordond runs (as an
// auditor with read access would), for each of a series of pooled tasks.
TEST(DaemonPoolCpu, AfterWaitTheRowDecisionAndEvidenceAreInTheDatabase) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  sqlite3* db = nullptr;
  for (int i = 0; i < 5; ++i) {
    Ran r = SubmitPooled(d, {"/bin/true"}, "");
    ASSERT_EQ(r.run.exit_code, 0) << r.run.err << d.Log();
    if (db == nullptr) {
      ASSERT_EQ(sqlite3_open_v2((d.dir() + "/state/state.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    }
    sqlite3_stmt* s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT t.state, length(t.evidence), d.allowed, t.exit_code FROM tasks t"
                                 " JOIN decisions d ON d.id = t.decision_id WHERE t.id = ?",
                                 -1, &s, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_bind_text(s, 1, r.task_id.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW) << "task " << r.task_id << " or its decision is missing";
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "finished");
    EXPECT_GT(sqlite3_column_int64(s, 1), 100);
    EXPECT_EQ(sqlite3_column_int64(s, 2), 1);
    EXPECT_EQ(sqlite3_column_int64(s, 3), 0);
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
}

int64_t QueryInt(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) return -1;
  const int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  return v;
}

// SQLite checkpoints its write-ahead log once it holds 1000 pages; cordond has that done on its
// chores thread instead of at the commit on its loop. Either way the log must not grow without
// bound: 250 tasks write ~3000 pages (~12 MB) of log, and with checkpoints it is reused from its
// start each time, so it stays near 1000 pages (~4 MB) while the database file takes the rows.
TEST(DaemonPoolCpu, WriteAheadLogIsCheckpointedWhileCordondRuns) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  auto c = daemon::ClientConnection::Open(d.socket());
  ASSERT_TRUE(c) << c.error().Message();
  constexpr int kTasks = 250;
  for (int i = 0; i < kTasks; ++i) {
    api::Request sub;
    sub.mutable_submit()->add_argv("/bin/true");
    auto r = c->Call(sub, nullptr, 0, 30000);
    ASSERT_TRUE(r && r->has_submit()) << (r ? r->DebugString() : r.error().Message()) << d.Log();
    api::Request wait;
    wait.mutable_wait()->set_task_id(r->submit().task().task_id());
    auto w = c->Call(wait, nullptr, 0, 30000);
    ASSERT_TRUE(w && w->has_wait()) << (w ? w->DebugString() : w.error().Message()) << d.Log();
  }
  const std::string db_path = d.dir() + "/state/state.db";
  // The checkpoints run on the chores thread: wait for the database file to take their pages (it
  // holds only the schema, a few KiB, until the first one).
  std::error_code ec;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::filesystem::file_size(db_path, ec) < (256u << 10) && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GE(std::filesystem::file_size(db_path, ec), 256u << 10) << "no checkpoint copied the log into " << db_path;
  EXPECT_LT(std::filesystem::file_size(db_path + "-wal", ec), 8u << 20) << "the write-ahead log was not checkpointed";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM tasks WHERE state = 'finished' AND length(evidence) > 100"), kTasks);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM decisions WHERE allowed = 1"), kTasks);
  sqlite3_close(db);
}

}  // namespace
}  // namespace cordon::test
