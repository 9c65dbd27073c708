#include "supervisor/daemon/store.h"

#include <sqlite3.h>

#include <atomic>
#include <map>

#include <nlohmann/json.hpp>

#include "supervisor/daemon/sqlite_stmt.h"
#include "supervisor/sha256.h"

namespace cordon::daemon {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS decisions(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_unix_ms INTEGER NOT NULL, peer_pid INTEGER, peer_uid INTEGER, peer_gid INTEGER,
  principal TEXT, tenant TEXT, policy TEXT, policy_version INTEGER, policy_sha256 TEXT,
  principals_sha256 TEXT, fingerprint TEXT, request_id TEXT, app_id TEXT, class TEXT,
  allowed INTEGER NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks(
  id TEXT PRIMARY KEY, principal TEXT NOT NULL, tenant TEXT, app_id TEXT, class TEXT,
  policy TEXT, policy_version INTEGER, policy_sha256 TEXT, argv BLOB,
  request_id TEXT, fingerprint TEXT, state TEXT NOT NULL,
  shim_pid INTEGER, shim_start_time INTEGER,
  exit_code INTEGER, failure_class TEXT, message TEXT,
  created_unix_ms INTEGER, finished_unix_ms INTEGER, decision_id INTEGER, evidence TEXT);
CREATE INDEX IF NOT EXISTS tasks_state ON tasks(state);
CREATE INDEX IF NOT EXISTS tasks_created ON tasks(created_unix_ms);
CREATE TABLE IF NOT EXISTS idempotency(
  principal TEXT NOT NULL, request_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
  task_id TEXT NOT NULL, created_unix_ms INTEGER NOT NULL,
  PRIMARY KEY(principal, request_id));
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency(created_unix_ms);
CREATE TABLE IF NOT EXISTS pruned_ranges(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  pruned_unix_ms INTEGER NOT NULL,
  first_rowid INTEGER NOT NULL, last_rowid INTEGER NOT NULL, count INTEGER NOT NULL,
  first_unix_ms INTEGER, last_unix_ms INTEGER,
  prev_digest TEXT NOT NULL, digest TEXT NOT NULL, summary TEXT NOT NULL);
)sql";

constexpr const char* kTaskColumns =
    "id, principal, tenant, app_id, class, policy, policy_version, policy_sha256, argv, request_id, "
    "fingerprint, state, shim_pid, shim_start_time, exit_code, failure_class, message, created_unix_ms, "
    "finished_unix_ms, decision_id";

// argv as one blob: each argument followed by a NUL. Lossless (Linux arguments cannot contain NUL
// but need not be UTF-8, which rules out JSON text).
std::string JoinArgv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    out += a;
    out.push_back('\0');
  }
  return out;
}

std::vector<std::string> SplitArgv(const std::string& blob) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < blob.size(); ++i)
    if (blob[i] == '\0') {
      out.push_back(blob.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

// A row of kTaskColumns.
TaskRow ReadTask(const Stmt& s) {
  TaskRow t;
  t.id = s.Text(0);
  t.principal = s.Text(1);
  t.tenant = s.Text(2);
  t.app_id = s.Text(3);
  t.cls = s.Text(4);
  t.policy = s.Text(5);
  t.policy_version = static_cast<uint64_t>(s.Int(6));
  t.policy_sha256 = s.Text(7);
  t.argv = SplitArgv(s.Text(8));
  t.request_id = s.Text(9);
  t.fingerprint = s.Text(10);
  t.state = s.Text(11);
  t.shim_pid = static_cast<int32_t>(s.Int(12));
  t.shim_start_time = static_cast<uint64_t>(s.Int(13));
  t.exit_code = static_cast<int32_t>(s.Int(14));
  t.failure_class = s.Text(15);
  t.message = s.Text(16);
  t.created_unix_ms = s.Int(17);
  t.finished_unix_ms = s.Int(18);
  t.decision_id = s.Int(19);
  return t;
}

// Binds the 20 columns of kTaskColumns, in order, to parameters 1..20.
void BindTask(Stmt& s, const TaskRow& t, const std::string& argv) {
  s.Bind(t.id, t.principal, t.tenant, t.app_id, t.cls, t.policy, t.policy_version, t.policy_sha256, Blob{argv},
         t.request_id, t.fingerprint, t.state, t.shim_pid, t.shim_start_time, t.exit_code, t.failure_class, t.message,
         t.created_unix_ms, t.finished_unix_ms, t.decision_id);
}

}  // namespace

namespace {

// What the operator can do about a failed database call, by SQLite's result code.
std::string StoreHint(int code, const std::string& path) {
  switch (code & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return "the state database " + path + " is damaged. Restore it (with its -wal file) from a backup; or stop "
             "cordond, move " + path + ", " + path + "-wal and " + path + "-shm aside and start cordond again: it "
             "starts with an empty database, so the status, evidence and admission decisions of every earlier task, "
             "and the request_ids it remembers, are then only in the moved files (tasks that were still running are "
             "not recovered: their sandboxes are ended only when their supervisor is gone)";
    case SQLITE_FULL:
      return "the filesystem holding " + path + " is full: free space there (cordond keeps finished tasks' "
             "records pending and writes them once it can; docs/daemon.md, \"State disk full\")";
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return "check that the state dir holding " + path + " exists and is writable by cordond's user";
    case SQLITE_IOERR:
      return "the disk holding " + path + " reported an I/O error: check it (dmesg), then restart cordond";
    default:
      return "check that the state dir holding " + path + " is writable and has free space";
  }
}

}  // namespace

Error Store::DbError(const std::string& what) const {
  const int code = db_ ? sqlite3_extended_errcode(db_) : SQLITE_CANTOPEN;
  return Error{0, what + ": " + (db_ ? sqlite3_errmsg(db_) : "no database"), StoreHint(code, path_)};
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  std::unique_ptr<Store> st(new Store());
  st->path_ = path;
  // NOMUTEX: one thread uses the connection; no shared cache, no extension loading.
  int rc = sqlite3_open_v2(path.c_str(), &st->db_,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                           nullptr);
  if (rc != SQLITE_OK) return std::unexpected(st->DbError("open " + path));
  sqlite3_busy_timeout(st->db_, 5000);
  // Reads the header and the schema: a file that is not a database, or a damaged schema, fails here
  // with the hint for a damaged database rather than at the first task.
  CORDON_TRY(st->Exec("SELECT count(*) FROM sqlite_schema"));
  CORDON_TRY(st->Exec("PRAGMA journal_mode=WAL"));
  CORDON_TRY(st->Exec("PRAGMA synchronous=NORMAL"));
  CORDON_TRY(st->Exec("PRAGMA foreign_keys=OFF"));
  CORDON_TRY(st->Exec(kSchema));
  return st;
}

// The checkpoints' own connection, opened with CheckpointWith (so that cordond's fds are as many
// after the first checkpoint as before it) and from then on used only by the jobs it posts, one
// at a time on the poster's thread; closed with the last of the Store and its jobs.
struct Store::Checkpointer {
  sqlite3* db = nullptr;
  std::function<void(std::move_only_function<void()>)> post;
  std::atomic<bool> posted{false};
  ~Checkpointer() { sqlite3_close(db); }
  void Run() {
    // One that fails or stops short is made again after a later commit, as SQLite's own.
    (void)sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    posted = false;
  }
};

void Store::CheckpointWith(std::function<void(std::move_only_function<void()>)> post) {
  auto ck = std::make_shared<Checkpointer>();
  if (sqlite3_open_v2(path_.c_str(), &ck->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK)
    return;  // SQLite keeps checkpointing at the commit, on this connection's thread
  // As this connection: the database file is synced once a checkpoint is complete.
  (void)sqlite3_exec(ck->db, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  ck->post = std::move(post);
  checkpointer_ = std::move(ck);
  // Replaces the hook sqlite3_wal_autocheckpoint installed: this connection no longer checkpoints.
  sqlite3_wal_hook(db_, &Store::OnWalCommit, this);
}

int Store::OnWalCommit(void* store, sqlite3*, const char*, int pages) {
  constexpr int kCheckpointPages = 1000;  // SQLite's default wal_autocheckpoint
  const std::shared_ptr<Checkpointer>& ck = static_cast<Store*>(store)->checkpointer_;
  if (pages >= kCheckpointPages && !ck->posted.exchange(true)) ck->post([ck] { ck->Run(); });
  return SQLITE_OK;
}

Store::~Store() {
  for (auto& [sql, s] : stmts_) sqlite3_finalize(s);
  if (db_) sqlite3_close(db_);
}

Result<void> Store::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown error";
    sqlite3_free(err);
    return std::unexpected(Error{0, std::string("sqlite: ") + m + " (in: " + std::string(sql).substr(0, 60) + ")",
                                 StoreHint(sqlite3_extended_errcode(db_), path_)});
  }
  return {};
}

Result<sqlite3_stmt*> Store::Prepare(const char* sql) {
  for (auto& [k, s] : stmts_)
    if (k == sql) return s;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
    return std::unexpected(DbError(std::string("prepare ") + sql));
  stmts_.emplace_back(sql, s);
  return s;
}

template <class... T>
Result<Stmt> Store::Query(const char* sql, const T&... values) {
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(sql));
  Stmt st(s);
  st.Bind(values...);
  return st;
}

template <class... T>
Result<void> Store::Run(const char* sql, const std::string& what, const T&... values) {
  CORDON_ASSIGN_OR_RETURN(Stmt s, Query(sql, values...));
  if (s.Step() != SQLITE_DONE) return std::unexpected(DbError(what));
  return {};
}

namespace {
// Cached by their pointers, like every statement (Prepare).
const char* const kBegin = "BEGIN IMMEDIATE";
const char* const kCommit = "COMMIT";
}  // namespace

Result<void> Store::BeginTransaction(const std::string& what) { return Run(kBegin, "begin " + what); }

Result<void> Store::EndTransaction(Result<void> body, const std::string& what) {
  if (body) body = Run(kCommit, "commit " + what);
  if (!body && sqlite3_get_autocommit(db_) == 0) (void)Exec("ROLLBACK");
  return body;
}

template <class... T>
Result<int64_t> Store::Scalar(const char* sql, int64_t fallback, const T&... values) {
  CORDON_ASSIGN_OR_RETURN(Stmt s, Query(sql, values...));
  const int rc = s.Step();
  if (rc == SQLITE_ROW) return s.Null(0) ? fallback : s.Int(0);
  if (rc == SQLITE_DONE) return fallback;
  return std::unexpected(DbError(std::string("retention: ") + sql));
}

Result<int64_t> Store::RecordDecision(const DecisionRow& d, bool defer_sync) {
  static const char* kSql =
      "INSERT INTO decisions(time_unix_ms, peer_pid, peer_uid, peer_gid, principal, tenant, policy, policy_version,"
      " policy_sha256, principals_sha256, fingerprint, request_id, app_id, class, allowed, reason)"
      " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  CORDON_ASSIGN_OR_RETURN(Stmt s, Query(kSql, d.time_unix_ms, d.peer_pid, d.peer_uid, d.peer_gid, d.principal,
                                         d.tenant, d.policy, d.policy_version, d.policy_sha256, d.principals_sha256,
                                         d.fingerprint, d.request_id, d.app_id, d.cls, d.allowed, d.reason));
  // A decision is on disk before the daemon acts on it: FULL syncs the WAL at this commit.
  const bool sync_now = sync_decisions_ && !defer_sync;
  if (sync_now) CORDON_TRY(Exec("PRAGMA synchronous=FULL"));
  int rc = s.Step();
  int64_t id = sqlite3_last_insert_rowid(db_);
  if (sync_now) CORDON_TRY(Exec("PRAGMA synchronous=NORMAL"));
  if (rc != SQLITE_DONE) return std::unexpected(DbError("record decision"));
  return id;
}

Result<void> Store::SyncDecisions() {
  if (!sync_decisions_) return {};
  // The write-ahead log's file, as SQLite's VFS holds it: its xSync is the fdatasync a FULL commit
  // would have made.
  sqlite3_file* wal = nullptr;
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK || wal == nullptr ||
      wal->pMethods == nullptr)
    return FailMsg("the state database has no open write-ahead log to sync", "check " + path_ + " and its -wal file");
  if (int rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL); rc != SQLITE_OK)
    return FailMsg(std::string("sync of the decision log failed: ") + sqlite3_errstr(rc),
                   "check the disk holding " + path_);
  return {};
}

Result<void> Store::InsertTask(const TaskRow& t) {
  static const char* kTask =
      "INSERT INTO tasks(id, principal, tenant, app_id, class, policy, policy_version, policy_sha256, argv,"
      " request_id, fingerprint, state, shim_pid, shim_start_time, exit_code, failure_class, message,"
      " created_unix_ms, finished_unix_ms, decision_id) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  static const char* kKey =
      "INSERT OR REPLACE INTO idempotency(principal, request_id, fingerprint, task_id, created_unix_ms)"
      " VALUES(?,?,?,?,?)";
  return InTransaction("the task's insert", [&]() -> Result<void> {
    {
      CORDON_ASSIGN_OR_RETURN(Stmt s, Query(kTask));
      BindTask(s, t, JoinArgv(t.argv));
      if (s.Step() != SQLITE_DONE) return std::unexpected(DbError("insert task " + t.id));
    }
    if (t.request_id.empty()) return {};
    return Run(kKey, "insert idempotency key", t.principal, t.request_id, t.fingerprint, t.id, t.created_unix_ms);
  });
}

Result<void> Store::FinishTask(const TaskRow& t, const std::string& evidence) {
  static const char* kSql =
      "INSERT INTO tasks(id, principal, tenant, app_id, class, policy, policy_version, policy_sha256, argv,"
      " request_id, fingerprint, state, shim_pid, shim_start_time, exit_code, failure_class, message,"
      " created_unix_ms, finished_unix_ms, decision_id, evidence) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
      " ON CONFLICT(id) DO UPDATE SET state='finished', exit_code=excluded.exit_code,"
      " failure_class=excluded.failure_class, message=excluded.message,"
      " finished_unix_ms=excluded.finished_unix_ms, evidence=excluded.evidence";
  CORDON_ASSIGN_OR_RETURN(Stmt s, Query(kSql));
  TaskRow row = t;
  row.state = "finished";
  BindTask(s, row, JoinArgv(row.argv));
  s.BindFrom(21, evidence);
  if (s.Step() != SQLITE_DONE) return std::unexpected(DbError("finish task " + t.id));
  return {};
}

Result<std::optional<TaskRow>> Store::GetTask(const std::string& id) {
  static const std::string sql = std::string("SELECT ") + kTaskColumns + " FROM tasks WHERE id=?";
  CORDON_ASSIGN_OR_RETURN(Stmt s, Query(sql.c_str(), id));
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<TaskRow>();
  if (rc != SQLITE_ROW) return std::unexpected(DbError("read task " + id));
  return std::optional<TaskRow>(ReadTask(s));
}

Result<std::string> Store::GetEvidence(const std::string& id) {
  static const char* kSql = "SELECT evidence FROM tasks WHERE id=?";
  CORDON_ASSIGN_OR_RETURN(Stmt s, Query(kSql, id));
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::string();
  if (rc != SQLITE_ROW) return std::unexpected(DbError("read evidence of " + id));
  return s.Text(0);
}

Result<std::vector<TaskRow>> Store::ListTasks(bool include_finished, uint32_t limit, const std::string& principal) {
  static const std::string sql = std::string("SELECT ") + kTaskColumns +
                                 " FROM tasks WHERE (?1 OR state != 'finished') AND (?2 = '' OR principal = ?2)"
                                 " ORDER BY created_unix_ms DESC, rowid DESC LIMIT ?3";
  CORDON_ASSIGN_OR_RETURN(Stmt s, Query(sql.c_str(), include_finished, principal, limit));
  std::vector<TaskRow> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadTask(s));
  if (rc != SQLITE_DONE) return std::unexpected(DbError("list tasks"));
  return out;
}

Result<std::vector<TaskRow>> Store::UnfinishedTasks() {
  static const std::string sql = std::string("SELECT ") + kTaskColumns + " FROM tasks WHERE state != 'finished'";
  CORDON_ASSIGN_OR_RETURN(Stmt s, Query(sql.c_str()));
  std::vector<TaskRow> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadTask(s));
  if (rc != SQLITE_DONE) return std::unexpected(DbError("list unfinished tasks"));
  return out;
}

Result<std::optional<IdempotencyKey>> Store::FindKey(const std::string& principal, const std::string& request_id,
                                                     int64_t not_before_ms) {
  static const char* kSql =
      "SELECT fingerprint, task_id, created_unix_ms FROM idempotency"
      " WHERE principal=? AND request_id=? AND created_unix_ms >= ?";
  CORDON_ASSIGN_OR_RETURN(Stmt s, Query(kSql, principal, request_id, not_before_ms));
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<IdempotencyKey>();
  if (rc != SQLITE_ROW) return std::unexpected(DbError("read idempotency key"));
  return std::optional<IdempotencyKey>(IdempotencyKey{s.Text(0), s.Text(1), s.Int(2)});
}

Result<void> Store::PurgeKeys(int64_t before_ms) {
  return Run("DELETE FROM idempotency WHERE created_unix_ms < ?", "purge idempotency keys", before_ms);
}

namespace {

// One row of a pruned range, for its digest: fields joined by tabs, the evidence by its hash.
std::string TaskDigestLine(const Stmt& s) {
  // rowid, id, principal, state, exit_code, failure_class, created, finished, decision_id, evidence
  std::string line = std::to_string(s.Int(0));
  for (int i = 1; i <= 8; ++i) line += "\t" + s.Text(i);
  return line + "\t" + Sha256Hex(s.Text(9)) + "\n";
}

// A decision of a pruned range, for its digest: its fields joined by tabs.
std::string DecisionDigestLine(const Stmt& s) {
  // id, time, peer_uid, principal, policy, allowed, reason, fingerprint
  std::string line = std::to_string(s.Int(0));
  for (int i = 1; i <= 7; ++i) line += "\t" + s.Text(i);
  return line + "\n";
}

}  // namespace

Result<std::string> Store::LastDigest(const char* kind) {
  CORDON_ASSIGN_OR_RETURN(Stmt s, Query("SELECT digest FROM pruned_ranges WHERE kind = ? ORDER BY id DESC LIMIT 1", kind));
  const int rc = s.Step();
  if (rc == SQLITE_ROW) return s.Text(0);
  if (rc != SQLITE_DONE) return std::unexpected(DbError("retention: read the last pruned range"));
  return std::string();
}

Result<Store::PruneReport> Store::Prune(int64_t older_than_ms, uint64_t keep_tasks, int64_t now_ms) {
  PruneReport rep;
  if (older_than_ms <= 0 && keep_tasks == 0) return rep;
  CORDON_TRY(InTransaction("retention's prune", [&]() -> Result<void> {
    constexpr int64_t kNone = INT64_MAX;
    CORDON_ASSIGN_OR_RETURN(int64_t unfinished, Scalar("SELECT min(rowid) FROM tasks WHERE state != 'finished'", kNone));
    CORDON_ASSIGN_OR_RETURN(int64_t newest, Scalar("SELECT max(rowid) FROM tasks", 0));
    int64_t last = 0;  // prune rowids 1..last
    if (older_than_ms > 0) {
      CORDON_ASSIGN_OR_RETURN(int64_t young,
                              Scalar("SELECT min(rowid) FROM tasks WHERE created_unix_ms >= ?", kNone, older_than_ms));
      last = young == kNone ? newest : young - 1;
    }
    if (keep_tasks > 0) {
      CORDON_ASSIGN_OR_RETURN(int64_t kept, Scalar("SELECT rowid FROM tasks WHERE state = 'finished'"
                                                   " ORDER BY rowid DESC LIMIT 1 OFFSET ?", 0, keep_tasks - 1));
      last = std::max(last, kept - 1);
    }
    last = std::min({last, unfinished == kNone ? last : unfinished - 1, newest - 1});
    CORDON_ASSIGN_OR_RETURN(int64_t first, Scalar("SELECT min(rowid) FROM tasks", 0));
    if (last >= first && first > 0) {
      CORDON_ASSIGN_OR_RETURN(std::string prev, LastDigest("tasks"));
      CORDON_ASSIGN_OR_RETURN(Stmt rows, Query("SELECT rowid, id, principal, state, exit_code, failure_class,"
                                               " created_unix_ms, finished_unix_ms, decision_id, evidence FROM tasks"
                                               " WHERE rowid <= ? ORDER BY rowid", last));
      std::string chain = prev + "\n";
      std::map<std::string, int64_t> by_class, by_principal;
      int rc;
      int64_t lo = 0, hi = 0;
      while ((rc = rows.Step()) == SQLITE_ROW) {
        chain += TaskDigestLine(rows);
        ++by_class[rows.Text(5)];
        ++by_principal[rows.Text(2)];
        const int64_t created = rows.Int(6);
        if (rep.tasks == 0) lo = created;
        hi = created;
        ++rep.tasks;
      }
      if (rc != SQLITE_DONE) return std::unexpected(DbError("retention: read tasks"));
      rep.first_created_unix_ms = lo;
      rep.last_created_unix_ms = hi;
      const std::string summary = nlohmann::json{{"by_failure_class", by_class}, {"by_principal", by_principal}}.dump(
          -1, ' ', false, nlohmann::json::error_handler_t::replace);
      CORDON_TRY(InsertRange("tasks", now_ms, first, last, rep.tasks, lo, hi, prev, Sha256Hex(chain), summary));
      CORDON_TRY(Run("DELETE FROM tasks WHERE rowid <= ?", "retention: delete tasks", last));
    }
    // Decisions: those older than the oldest task kept (all of them past the age limit when no
    // task is left), as one prefix by id.
    CORDON_ASSIGN_OR_RETURN(int64_t oldest_kept, Scalar("SELECT min(decision_id) FROM tasks WHERE decision_id > 0", kNone));
    int64_t dlast = oldest_kept == kNone ? 0 : oldest_kept - 1;
    if (oldest_kept == kNone && older_than_ms > 0) {
      CORDON_ASSIGN_OR_RETURN(int64_t young,
                              Scalar("SELECT min(id) FROM decisions WHERE time_unix_ms >= ?", kNone, older_than_ms));
      CORDON_ASSIGN_OR_RETURN(int64_t dmax, Scalar("SELECT max(id) FROM decisions", 0));
      dlast = young == kNone ? dmax : young - 1;
    }
    CORDON_ASSIGN_OR_RETURN(int64_t dfirst, Scalar("SELECT min(id) FROM decisions", 0));
    if (dfirst > 0 && dlast >= dfirst) {
      CORDON_ASSIGN_OR_RETURN(std::string prev, LastDigest("decisions"));
      CORDON_ASSIGN_OR_RETURN(Stmt rows, Query("SELECT id, time_unix_ms, peer_uid, principal, policy, allowed, reason,"
                                               " fingerprint FROM decisions WHERE id <= ? ORDER BY id", dlast));
      std::string chain = prev + "\n";
      int64_t allowed = 0, refused = 0, lo = 0, hi = 0;
      int rc;
      while ((rc = rows.Step()) == SQLITE_ROW) {
        chain += DecisionDigestLine(rows);
        (rows.Int(5) ? allowed : refused) += 1;
        if (rep.decisions == 0) lo = rows.Int(1);
        hi = rows.Int(1);
        ++rep.decisions;
      }
      if (rc != SQLITE_DONE) return std::unexpected(DbError("retention: read decisions"));
      const std::string summary = nlohmann::json{{"allowed", allowed}, {"refused", refused}}.dump();
      CORDON_TRY(InsertRange("decisions", now_ms, dfirst, dlast, rep.decisions, lo, hi, prev, Sha256Hex(chain),
                             summary));
      CORDON_TRY(Run("DELETE FROM decisions WHERE id <= ?", "retention: delete decisions", dlast));
    }
    return {};
  }));
  return rep;
}

Result<void> Store::InsertRange(const char* kind, int64_t now_ms, int64_t first, int64_t last, int64_t count,
                                int64_t first_ms, int64_t last_ms, const std::string& prev, const std::string& digest,
                                const std::string& summary) {
  return Run("INSERT INTO pruned_ranges(kind, pruned_unix_ms, first_rowid, last_rowid, count, first_unix_ms,"
             " last_unix_ms, prev_digest, digest, summary) VALUES(?,?,?,?,?,?,?,?,?,?)",
             "record a pruned range", kind, now_ms, first, last, count, first_ms, last_ms, prev, digest, summary);
}

}  // namespace cordon::daemon
