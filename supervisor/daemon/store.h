// supervisor/daemon/store.h: cordond's state in SQLite under the state dir (docs/daemon.md).
// WAL mode. Admission decisions commit with synchronous=FULL (fsync before the sandbox starts);
// task rows and evidence commit with synchronous=NORMAL, which survives a crash of cordond (the
// WAL is in the kernel's page cache), though not a power loss of the last commits.
// Single-threaded: one Store belongs to the event loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace cordon::daemon {

class Stmt;  // sqlite_stmt.h

struct DecisionRow {
  int64_t time_unix_ms = 0;
  int32_t peer_pid = 0;
  uint32_t peer_uid = 0, peer_gid = 0;
  std::string principal, tenant;     // empty when the peer is unknown
  std::string policy;                // as requested
  uint64_t policy_version = 0;       // 0 when the policy is not loaded
  std::string policy_sha256;
  std::string principals_sha256;     // of the principals.json that decided
  std::string fingerprint, request_id, app_id, cls;
  bool allowed = false;
  std::string reason;
};

struct TaskRow {
  std::string id, principal, tenant, app_id, cls, policy;
  uint64_t policy_version = 0;
  std::string policy_sha256;
  std::vector<std::string> argv;
  std::string request_id, fingerprint;
  std::string state;                 // "admitted", "running", "finished"
  int32_t shim_pid = 0;
  uint64_t shim_start_time = 0;      // /proc/PID/stat field 22: tells a reused pid apart
  int32_t exit_code = 0;
  std::string failure_class, message;
  int64_t created_unix_ms = 0, finished_unix_ms = 0;
  int64_t decision_id = 0;
  // Not a column: true while cordond holds this finished row in memory (and its spool) because the
  // database could not take it yet. Shown by status as "finished, record pending".
  bool record_pending = false;
};

struct IdempotencyKey {
  std::string fingerprint, task_id;
  int64_t created_unix_ms = 0;
};

class Store {
 public:
  // Opens (creating if needed) the database file and its schema.
  static Result<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();

  // Every decision is fdatasync'd at its commit (the default), or, with false, committed to the OS
  // only (it survives a cordond crash, not a power loss) and synced with the WAL's checkpoints.
  void SetSyncDecisions(bool each) { sync_decisions_ = each; }
  // `defer_sync`: commit without the sync; SyncDecisions() then makes it durable. cordond overlaps
  // that sync with the task's hand-over, and releases the task's exec only after it.
  Result<int64_t> RecordDecision(const DecisionRow& d, bool defer_sync = false);
  // fdatasync of the write-ahead log: every decision committed so far is on disk. A no-op with
  // SetSyncDecisions(false).
  Result<void> SyncDecisions();
  // WAL checkpoints off this connection's thread. SQLite checkpoints at the commit that leaves the
  // write-ahead log at 1000 pages (~80 tasks here), on the thread that commits: ~4 MB copied into
  // the database and an fdatasync of it, a few ms of cordond's event loop every so often. With this,
  // such a commit calls `post` instead (once, until the job it posted has run) with a job that makes
  // a PASSIVE checkpoint, the same one, through a connection of its own (opened here, 2 fds): it
  // copies what no reader still needs and never blocks this connection's writes. If that connection
  // cannot be opened, SQLite goes on checkpointing at the commit.
  void CheckpointWith(std::function<void(std::move_only_function<void()>)> post);
  // Inserts the task and, if it has a request_id, its idempotency key, in one transaction.
  Result<void> InsertTask(const TaskRow& t);
  // Records the end of a task: `finished` (state "finished", its outcome) and its evidence. The row
  // is inserted whole if it is missing (its insert at the start failed, e.g. on a full disk).
  Result<void> FinishTask(const TaskRow& finished, const std::string& evidence_json);
  Result<std::optional<TaskRow>> GetTask(const std::string& id);
  Result<std::string> GetEvidence(const std::string& id);
  // Newest first. `principal` empty = every principal's.
  Result<std::vector<TaskRow>> ListTasks(bool include_finished, uint32_t limit, const std::string& principal);
  Result<std::vector<TaskRow>> UnfinishedTasks();
  // The key if it was created at or after `not_before_ms`.
  Result<std::optional<IdempotencyKey>> FindKey(const std::string& principal, const std::string& request_id,
                                                int64_t not_before_ms);
  Result<void> PurgeKeys(int64_t before_ms);

  // Retention (docs/daemon.md "Retention"). Deletes the oldest finished tasks (their rows and
  // evidence) that are older than `older_than_ms` (0: no age limit) or beyond the newest
  // `keep_tasks` finished ones (0: no count limit), then the decisions older than the oldest task
  // kept. Only ever a prefix in insertion order, stopping before the oldest unfinished task and
  // always keeping the newest task row, so that what is pruned is one contiguous range per table.
  // Each range goes into pruned_ranges with a summary (counts by failure class and principal) and
  // a digest chained to the previous range's: SHA-256(previous digest, then one line per row), the
  // checkpoint a verifier of the remaining records starts from. All in one transaction.
  struct PruneReport {
    int64_t tasks = 0, decisions = 0;
    int64_t first_created_unix_ms = 0, last_created_unix_ms = 0;
  };
  Result<PruneReport> Prune(int64_t older_than_ms, uint64_t keep_tasks, int64_t now_ms);
  // Retention per app or tenant envelope (app_retention.cc; docs/governance.md "Retention per
  // app"): finished tasks of `id` (an app_id, or a tenant when `tenant`) created before
  // `older_than_ms`, and their admission decisions, as one range of kind "app_tasks" chained like
  // Prune's, its summary naming the envelope. All in one transaction.
  Result<PruneReport> PruneEnvelope(bool tenant, const std::string& id, int64_t older_than_ms, int64_t now_ms);

 private:
  Store() = default;
  Result<void> Exec(const char* sql);
  Result<sqlite3_stmt*> Prepare(const char* sql);
  // The statement of `sql` (prepared once, cached by the pointer) with `values` bound to its
  // parameters in order.
  template <class... T>
  Result<Stmt> Query(const char* sql, const T&... values);
  // Runs a statement that returns no rows; `what` names it in the error.
  template <class... T>
  Result<void> Run(const char* sql, const std::string& what, const T&... values);
  // `body` in one BEGIN IMMEDIATE transaction, committed when it succeeds. When it fails, or the
  // commit does, the transaction is rolled back, never left open for the next call. BEGIN and
  // COMMIT are cached statements: sqlite3_exec would parse both again for every task. `what`
  // names the transaction in a failed BEGIN or COMMIT.
  template <class F>
  Result<void> InTransaction(const std::string& what, F&& body) {
    CORDON_TRY(BeginTransaction(what));
    return EndTransaction(body(), what);
  }
  Result<void> BeginTransaction(const std::string& what);
  // Commits after a `body` that succeeded, or rolls back; returns `body`'s or the commit's error.
  Result<void> EndTransaction(Result<void> body, const std::string& what);
  // The first column of the first row, or `fallback` when there is no row or it is NULL.
  template <class... T>
  Result<int64_t> Scalar(const char* sql, int64_t fallback, const T&... values);
  // The digest of the last range pruned from `kind`'s table ("" before the first).
  Result<std::string> LastDigest(const char* kind);
  Error DbError(const std::string& what) const;
  Result<void> InsertRange(const char* kind, int64_t now_ms, int64_t first, int64_t last, int64_t count,
                           int64_t first_ms, int64_t last_ms, const std::string& prev, const std::string& digest,
                           const std::string& summary);

  struct Checkpointer;  // the checkpoints' connection and poster (CheckpointWith)
  static int OnWalCommit(void* store, sqlite3* db, const char* name, int pages);

  sqlite3* db_ = nullptr;
  std::string path_;
  std::shared_ptr<Checkpointer> checkpointer_;  // shared with the job posted, which may outlive the Store
  bool sync_decisions_ = true;
  std::vector<std::pair<const char*, sqlite3_stmt*>> stmts_;  // cached by SQL text pointer
};

}  // namespace cordon::daemon
