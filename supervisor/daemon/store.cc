#include "supervisor/daemon/store.h"

#include <sqlite3.h>

#include <map>

#include <nlohmann/json.hpp>

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

// Resets the statement when the scope ends, so a cached statement is ready for its next use.
struct StmtUse {
  sqlite3_stmt* s;
  ~StmtUse() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string Text(sqlite3_stmt* s, int i) {
  const void* t = sqlite3_column_blob(s, i);
  return t ? std::string(static_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(s, i))) : "";
}

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

TaskRow ReadTask(sqlite3_stmt* s) {
  TaskRow t;
  t.id = Text(s, 0);
  t.principal = Text(s, 1);
  t.tenant = Text(s, 2);
  t.app_id = Text(s, 3);
  t.cls = Text(s, 4);
  t.policy = Text(s, 5);
  t.policy_version = static_cast<uint64_t>(sqlite3_column_int64(s, 6));
  t.policy_sha256 = Text(s, 7);
  t.argv = SplitArgv(Text(s, 8));
  t.request_id = Text(s, 9);
  t.fingerprint = Text(s, 10);
  t.state = Text(s, 11);
  t.shim_pid = sqlite3_column_int(s, 12);
  t.shim_start_time = static_cast<uint64_t>(sqlite3_column_int64(s, 13));
  t.exit_code = sqlite3_column_int(s, 14);
  t.failure_class = Text(s, 15);
  t.message = Text(s, 16);
  t.created_unix_ms = sqlite3_column_int64(s, 17);
  t.finished_unix_ms = sqlite3_column_int64(s, 18);
  t.decision_id = sqlite3_column_int64(s, 19);
  return t;
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

Result<int64_t> Store::RecordDecision(const DecisionRow& d, bool defer_sync) {
  static const char* kSql =
      "INSERT INTO decisions(time_unix_ms, peer_pid, peer_uid, peer_gid, principal, tenant, policy, policy_version,"
      " policy_sha256, principals_sha256, fingerprint, request_id, app_id, class, allowed, reason)"
      " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(kSql));
  StmtUse use{s};
  sqlite3_bind_int64(s, 1, d.time_unix_ms);
  sqlite3_bind_int(s, 2, d.peer_pid);
  sqlite3_bind_int64(s, 3, d.peer_uid);
  sqlite3_bind_int64(s, 4, d.peer_gid);
  BindText(s, 5, d.principal);
  BindText(s, 6, d.tenant);
  BindText(s, 7, d.policy);
  sqlite3_bind_int64(s, 8, static_cast<int64_t>(d.policy_version));
  BindText(s, 9, d.policy_sha256);
  BindText(s, 10, d.principals_sha256);
  BindText(s, 11, d.fingerprint);
  BindText(s, 12, d.request_id);
  BindText(s, 13, d.app_id);
  BindText(s, 14, d.cls);
  sqlite3_bind_int(s, 15, d.allowed ? 1 : 0);
  BindText(s, 16, d.reason);
  // A decision is on disk before the daemon acts on it: FULL syncs the WAL at this commit.
  const bool sync_now = sync_decisions_ && !defer_sync;
  if (sync_now) CORDON_TRY(Exec("PRAGMA synchronous=FULL"));
  int rc = sqlite3_step(s);
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

namespace {

// Binds the 20 columns of kTaskColumns, in order, to parameters 1..20.
void BindTask(sqlite3_stmt* s, const TaskRow& t, const std::string& argv) {
  BindText(s, 1, t.id);
  BindText(s, 2, t.principal);
  BindText(s, 3, t.tenant);
  BindText(s, 4, t.app_id);
  BindText(s, 5, t.cls);
  BindText(s, 6, t.policy);
  sqlite3_bind_int64(s, 7, static_cast<int64_t>(t.policy_version));
  BindText(s, 8, t.policy_sha256);
  sqlite3_bind_blob(s, 9, argv.data(), static_cast<int>(argv.size()), SQLITE_TRANSIENT);
  BindText(s, 10, t.request_id);
  BindText(s, 11, t.fingerprint);
  BindText(s, 12, t.state);
  sqlite3_bind_int(s, 13, t.shim_pid);
  sqlite3_bind_int64(s, 14, static_cast<int64_t>(t.shim_start_time));
  sqlite3_bind_int(s, 15, t.exit_code);
  BindText(s, 16, t.failure_class);
  BindText(s, 17, t.message);
  sqlite3_bind_int64(s, 18, t.created_unix_ms);
  sqlite3_bind_int64(s, 19, t.finished_unix_ms);
  sqlite3_bind_int64(s, 20, t.decision_id);
}

}  // namespace

Result<void> Store::InsertTask(const TaskRow& t) {
  static const char* kTask =
      "INSERT INTO tasks(id, principal, tenant, app_id, class, policy, policy_version, policy_sha256, argv,"
      " request_id, fingerprint, state, shim_pid, shim_start_time, exit_code, failure_class, message,"
      " created_unix_ms, finished_unix_ms, decision_id) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  static const char* kKey =
      "INSERT OR REPLACE INTO idempotency(principal, request_id, fingerprint, task_id, created_unix_ms)"
      " VALUES(?,?,?,?,?)";
  CORDON_TRY(Exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> Result<void> {
    CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(kTask));
    StmtUse use{s};
    BindTask(s, t, JoinArgv(t.argv));
    if (sqlite3_step(s) != SQLITE_DONE) return std::unexpected(DbError("insert task " + t.id));
    if (!t.request_id.empty()) {
      CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * k, Prepare(kKey));
      StmtUse kuse{k};
      BindText(k, 1, t.principal);
      BindText(k, 2, t.request_id);
      BindText(k, 3, t.fingerprint);
      BindText(k, 4, t.id);
      sqlite3_bind_int64(k, 5, t.created_unix_ms);
      if (sqlite3_step(k) != SQLITE_DONE) return std::unexpected(DbError("insert idempotency key"));
    }
    return {};
  };
  auto r = body();
  if (!r) {
    (void)Exec("ROLLBACK");
    return r;
  }
  return Exec("COMMIT");
}

Result<void> Store::FinishTask(const TaskRow& t, const std::string& evidence) {
  static const char* kSql =
      "INSERT INTO tasks(id, principal, tenant, app_id, class, policy, policy_version, policy_sha256, argv,"
      " request_id, fingerprint, state, shim_pid, shim_start_time, exit_code, failure_class, message,"
      " created_unix_ms, finished_unix_ms, decision_id, evidence) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
      " ON CONFLICT(id) DO UPDATE SET state='finished', exit_code=excluded.exit_code,"
      " failure_class=excluded.failure_class, message=excluded.message,"
      " finished_unix_ms=excluded.finished_unix_ms, evidence=excluded.evidence";
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(kSql));
  StmtUse use{s};
  TaskRow row = t;
  row.state = "finished";
  BindTask(s, row, JoinArgv(row.argv));
  BindText(s, 21, evidence);
  if (sqlite3_step(s) != SQLITE_DONE) return std::unexpected(DbError("finish task " + t.id));
  return {};
}

Result<std::optional<TaskRow>> Store::GetTask(const std::string& id) {
  static const std::string sql = std::string("SELECT ") + kTaskColumns + " FROM tasks WHERE id=?";
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(sql.c_str()));
  StmtUse use{s};
  BindText(s, 1, id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return std::optional<TaskRow>();
  if (rc != SQLITE_ROW) return std::unexpected(DbError("read task " + id));
  return std::optional<TaskRow>(ReadTask(s));
}

Result<std::string> Store::GetEvidence(const std::string& id) {
  static const char* kSql = "SELECT evidence FROM tasks WHERE id=?";
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(kSql));
  StmtUse use{s};
  BindText(s, 1, id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return std::string();
  if (rc != SQLITE_ROW) return std::unexpected(DbError("read evidence of " + id));
  return Text(s, 0);
}

Result<std::vector<TaskRow>> Store::ListTasks(bool include_finished, uint32_t limit, const std::string& principal) {
  static const std::string sql = std::string("SELECT ") + kTaskColumns +
                                 " FROM tasks WHERE (?1 OR state != 'finished') AND (?2 = '' OR principal = ?2)"
                                 " ORDER BY created_unix_ms DESC, rowid DESC LIMIT ?3";
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(sql.c_str()));
  StmtUse use{s};
  sqlite3_bind_int(s, 1, include_finished ? 1 : 0);
  BindText(s, 2, principal);
  sqlite3_bind_int64(s, 3, limit);
  std::vector<TaskRow> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) out.push_back(ReadTask(s));
  if (rc != SQLITE_DONE) return std::unexpected(DbError("list tasks"));
  return out;
}

Result<std::vector<TaskRow>> Store::UnfinishedTasks() {
  static const std::string sql = std::string("SELECT ") + kTaskColumns + " FROM tasks WHERE state != 'finished'";
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(sql.c_str()));
  StmtUse use{s};
  std::vector<TaskRow> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) out.push_back(ReadTask(s));
  if (rc != SQLITE_DONE) return std::unexpected(DbError("list unfinished tasks"));
  return out;
}

Result<std::optional<IdempotencyKey>> Store::FindKey(const std::string& principal, const std::string& request_id,
                                                     int64_t not_before_ms) {
  static const char* kSql =
      "SELECT fingerprint, task_id, created_unix_ms FROM idempotency"
      " WHERE principal=? AND request_id=? AND created_unix_ms >= ?";
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(kSql));
  StmtUse use{s};
  BindText(s, 1, principal);
  BindText(s, 2, request_id);
  sqlite3_bind_int64(s, 3, not_before_ms);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return std::optional<IdempotencyKey>();
  if (rc != SQLITE_ROW) return std::unexpected(DbError("read idempotency key"));
  return std::optional<IdempotencyKey>(IdempotencyKey{Text(s, 0), Text(s, 1), sqlite3_column_int64(s, 2)});
}

Result<void> Store::PurgeKeys(int64_t before_ms) {
  static const char* kSql = "DELETE FROM idempotency WHERE created_unix_ms < ?";
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(kSql));
  StmtUse use{s};
  sqlite3_bind_int64(s, 1, before_ms);
  if (sqlite3_step(s) != SQLITE_DONE) return std::unexpected(DbError("purge idempotency keys"));
  return {};
}

namespace {

// One row of a pruned range, for its digest: fields joined by tabs, the evidence by its hash.
std::string TaskDigestLine(sqlite3_stmt* s) {
  // rowid, id, principal, state, exit_code, failure_class, created, finished, decision_id, evidence
  std::string line = std::to_string(sqlite3_column_int64(s, 0));
  for (int i = 1; i <= 8; ++i) line += "\t" + Text(s, i);
  return line + "\t" + Sha256Hex(Text(s, 9)) + "\n";
}

}  // namespace

Result<Store::PruneReport> Store::Prune(int64_t older_than_ms, uint64_t keep_tasks, int64_t now_ms) {
  PruneReport rep;
  if (older_than_ms <= 0 && keep_tasks == 0) return rep;
  auto one = [&](const std::string& sql, int64_t fallback) -> Result<int64_t> {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
      return std::unexpected(DbError("prepare " + sql));
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL ? sqlite3_column_int64(st, 0) : fallback;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return std::unexpected(DbError("retention: " + sql));
    return v;
  };
  CORDON_TRY(Exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> Result<void> {
    constexpr int64_t kNone = INT64_MAX;
    CORDON_ASSIGN_OR_RETURN(int64_t unfinished, one("SELECT min(rowid) FROM tasks WHERE state != 'finished'", kNone));
    CORDON_ASSIGN_OR_RETURN(int64_t newest, one("SELECT max(rowid) FROM tasks", 0));
    int64_t last = 0;  // prune rowids 1..last
    if (older_than_ms > 0) {
      CORDON_ASSIGN_OR_RETURN(int64_t young, one("SELECT min(rowid) FROM tasks WHERE created_unix_ms >= " +
                                                     std::to_string(older_than_ms), kNone));
      last = young == kNone ? newest : young - 1;
    }
    if (keep_tasks > 0) {
      CORDON_ASSIGN_OR_RETURN(int64_t kept, one("SELECT rowid FROM tasks WHERE state = 'finished' ORDER BY rowid DESC"
                                                " LIMIT 1 OFFSET " + std::to_string(keep_tasks - 1), 0));
      last = std::max(last, kept - 1);
    }
    last = std::min({last, unfinished == kNone ? last : unfinished - 1, newest - 1});
    CORDON_ASSIGN_OR_RETURN(int64_t first, one("SELECT min(rowid) FROM tasks", 0));
    if (last >= first && first > 0) {
      CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * rows,
                              Prepare("SELECT rowid, id, principal, state, exit_code, failure_class, created_unix_ms,"
                                      " finished_unix_ms, decision_id, evidence FROM tasks WHERE rowid <= ?"
                                      " ORDER BY rowid"));
      StmtUse use{rows};
      sqlite3_bind_int64(rows, 1, last);
      CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * prev_q,
                              Prepare("SELECT digest FROM pruned_ranges WHERE kind = ? ORDER BY id DESC LIMIT 1"));
      std::string prev;
      {
        StmtUse pu{prev_q};
        BindText(prev_q, 1, "tasks");
        if (sqlite3_step(prev_q) == SQLITE_ROW) prev = Text(prev_q, 0);
      }
      std::string chain = prev + "\n";
      std::map<std::string, int64_t> by_class, by_principal;
      int rc;
      int64_t lo = 0, hi = 0;
      while ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
        chain += TaskDigestLine(rows);
        ++by_class[Text(rows, 5)];
        ++by_principal[Text(rows, 2)];
        const int64_t created = sqlite3_column_int64(rows, 6);
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
      CORDON_TRY(Exec(("DELETE FROM tasks WHERE rowid <= " + std::to_string(last)).c_str()));
    }
    // Decisions: those older than the oldest task kept (all of them past the age limit when no
    // task is left), as one prefix by id.
    CORDON_ASSIGN_OR_RETURN(int64_t oldest_kept, one("SELECT min(decision_id) FROM tasks WHERE decision_id > 0", kNone));
    int64_t dlast = oldest_kept == kNone ? 0 : oldest_kept - 1;
    if (oldest_kept == kNone && older_than_ms > 0) {
      CORDON_ASSIGN_OR_RETURN(int64_t young, one("SELECT min(id) FROM decisions WHERE time_unix_ms >= " +
                                                     std::to_string(older_than_ms), kNone));
      CORDON_ASSIGN_OR_RETURN(int64_t dmax, one("SELECT max(id) FROM decisions", 0));
      dlast = young == kNone ? dmax : young - 1;
    }
    CORDON_ASSIGN_OR_RETURN(int64_t dfirst, one("SELECT min(id) FROM decisions", 0));
    if (dfirst > 0 && dlast >= dfirst) {
      CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * rows,
                              Prepare("SELECT id, time_unix_ms, peer_uid, principal, policy, allowed, reason,"
                                      " fingerprint FROM decisions WHERE id <= ? ORDER BY id"));
      StmtUse use{rows};
      sqlite3_bind_int64(rows, 1, dlast);
      CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * prev_q,
                              Prepare("SELECT digest FROM pruned_ranges WHERE kind = ? ORDER BY id DESC LIMIT 1"));
      std::string prev;
      {
        StmtUse pu{prev_q};
        BindText(prev_q, 1, "decisions");
        if (sqlite3_step(prev_q) == SQLITE_ROW) prev = Text(prev_q, 0);
      }
      std::string chain = prev + "\n";
      int64_t allowed = 0, refused = 0, lo = 0, hi = 0;
      int rc;
      while ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
        std::string line = std::to_string(sqlite3_column_int64(rows, 0));
        for (int i = 1; i <= 7; ++i) line += "\t" + Text(rows, i);
        chain += line + "\n";
        (sqlite3_column_int(rows, 5) ? allowed : refused) += 1;
        if (rep.decisions == 0) lo = sqlite3_column_int64(rows, 1);
        hi = sqlite3_column_int64(rows, 1);
        ++rep.decisions;
      }
      if (rc != SQLITE_DONE) return std::unexpected(DbError("retention: read decisions"));
      const std::string summary = nlohmann::json{{"allowed", allowed}, {"refused", refused}}.dump();
      CORDON_TRY(InsertRange("decisions", now_ms, dfirst, dlast, rep.decisions, lo, hi, prev, Sha256Hex(chain),
                             summary));
      CORDON_TRY(Exec(("DELETE FROM decisions WHERE id <= " + std::to_string(dlast)).c_str()));
    }
    return {};
  };
  if (auto r = body(); !r) {
    (void)Exec("ROLLBACK");
    return std::unexpected(r.error());
  }
  CORDON_TRY(Exec("COMMIT"));
  return rep;
}

Result<void> Store::InsertRange(const char* kind, int64_t now_ms, int64_t first, int64_t last, int64_t count,
                                int64_t first_ms, int64_t last_ms, const std::string& prev, const std::string& digest,
                                const std::string& summary) {
  static const char* kSql =
      "INSERT INTO pruned_ranges(kind, pruned_unix_ms, first_rowid, last_rowid, count, first_unix_ms, last_unix_ms,"
      " prev_digest, digest, summary) VALUES(?,?,?,?,?,?,?,?,?,?)";
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(kSql));
  StmtUse use{s};
  BindText(s, 1, kind);
  sqlite3_bind_int64(s, 2, now_ms);
  sqlite3_bind_int64(s, 3, first);
  sqlite3_bind_int64(s, 4, last);
  sqlite3_bind_int64(s, 5, count);
  sqlite3_bind_int64(s, 6, first_ms);
  sqlite3_bind_int64(s, 7, last_ms);
  BindText(s, 8, prev);
  BindText(s, 9, digest);
  BindText(s, 10, summary);
  if (sqlite3_step(s) != SQLITE_DONE) return std::unexpected(DbError("record a pruned range"));
  return {};
}

}  // namespace cordon::daemon
