#include "supervisor/governance/state_db.h"

#include <sqlite3.h>

namespace cordon::governance {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS governance_sessions (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,             -- JSON: class, tenant, budget, spent, actions, markers
  updated_unix_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS governance_spend (
  key TEXT PRIMARY KEY,            -- "app:ID|month:2026-12" (governance/envelope.h SpendKey)
  tasks INTEGER NOT NULL,
  cpu_ms INTEGER NOT NULL,
  updated_unix_ms INTEGER NOT NULL
);
)sql";

constexpr const char* kLoadSessions = "SELECT id, state FROM governance_sessions";
constexpr const char* kLoadSpend = "SELECT key, tasks, cpu_ms FROM governance_spend";
constexpr const char* kPutSession =
    "INSERT INTO governance_sessions (id, state, updated_unix_ms) VALUES (?1, ?2, ?3) "
    "ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated_unix_ms = excluded.updated_unix_ms";
constexpr const char* kPutSpend =
    "INSERT INTO governance_spend (key, tasks, cpu_ms, updated_unix_ms) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(key) DO UPDATE SET tasks = excluded.tasks, cpu_ms = excluded.cpu_ms, "
    "updated_unix_ms = excluded.updated_unix_ms";
constexpr const char* kPruneSpend = "DELETE FROM governance_spend WHERE updated_unix_ms < ?1";

std::string Text(sqlite3_stmt* s, int col) {
  const unsigned char* t = sqlite3_column_text(s, col);
  return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s, col)) : std::string();
}

}  // namespace

Result<std::unique_ptr<StateDb>> StateDb::Open(const std::string& path) {
  std::unique_ptr<StateDb> db(new StateDb());
  db->path_ = path;
  if (sqlite3_open_v2(path.c_str(), &db->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                      nullptr) != SQLITE_OK)
    return std::unexpected(db->DbError("open " + path));
  // The Store's connection may hold the write lock for a moment (a decision's commit).
  sqlite3_busy_timeout(db->db_, 5000);
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", kSchema}) {
    char* err = nullptr;
    if (sqlite3_exec(db->db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "unknown error";
      sqlite3_free(err);
      return Fail(0, "governance tables in " + path + ": sqlite: " + m,
                  "check the state directory's disk and permissions (docs/governance.md)");
    }
  }
  return db;
}

StateDb::~StateDb() {
  for (auto& [sql, s] : stmts_) sqlite3_finalize(s);
  if (db_) sqlite3_close(db_);
}

Error StateDb::DbError(const std::string& what) const {
  return Error{0, "governance state " + path_ + ": " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory"),
               "check the state directory's disk and permissions (docs/governance.md)"};
}

Result<sqlite3_stmt*> StateDb::Prepare(const char* sql) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) {
    sqlite3_reset(it->second);
    sqlite3_clear_bindings(it->second);
    return it->second;
  }
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) return std::unexpected(DbError("prepare"));
  stmts_[sql] = s;
  return s;
}

Result<std::map<std::string, std::string>> StateDb::LoadSessions() {
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(kLoadSessions));
  std::map<std::string, std::string> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) out[Text(s, 0)] = Text(s, 1);
  if (rc != SQLITE_DONE) return std::unexpected(DbError("read sessions"));
  return out;
}

Result<std::map<std::string, StateDb::SpendRow>> StateDb::LoadSpend() {
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(kLoadSpend));
  std::map<std::string, SpendRow> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    out[Text(s, 0)] = SpendRow{static_cast<uint64_t>(sqlite3_column_int64(s, 1)),
                               static_cast<uint64_t>(sqlite3_column_int64(s, 2))};
  if (rc != SQLITE_DONE) return std::unexpected(DbError("read envelope spend"));
  return out;
}

Result<void> StateDb::PutSession(const std::string& id, const std::string& state_json, int64_t now_ms) {
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(kPutSession));
  sqlite3_bind_text(s, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, state_json.data(), static_cast<int>(state_json.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 3, now_ms);
  if (sqlite3_step(s) != SQLITE_DONE) return std::unexpected(DbError("write session " + id));
  return {};
}

Result<void> StateDb::PutSpend(const std::string& key, uint64_t tasks, uint64_t cpu_ms, int64_t now_ms) {
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(kPutSpend));
  sqlite3_bind_text(s, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 2, static_cast<int64_t>(tasks));
  sqlite3_bind_int64(s, 3, static_cast<int64_t>(cpu_ms));
  sqlite3_bind_int64(s, 4, now_ms);
  if (sqlite3_step(s) != SQLITE_DONE) return std::unexpected(DbError("write envelope spend " + key));
  return {};
}

Result<void> StateDb::Begin() {
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare("BEGIN"));
  if (sqlite3_step(s) != SQLITE_DONE) return std::unexpected(DbError("begin"));
  return {};
}

Result<void> StateDb::Commit() {
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare("COMMIT"));
  if (sqlite3_step(s) != SQLITE_DONE) {
    Error e = DbError("commit");
    Rollback();
    return std::unexpected(e);
  }
  return {};
}

void StateDb::Rollback() {
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Result<void> StateDb::PruneSpend(int64_t before_ms) {
  CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(kPruneSpend));
  sqlite3_bind_int64(s, 1, before_ms);
  if (sqlite3_step(s) != SQLITE_DONE) return std::unexpected(DbError("prune envelope spend"));
  return {};
}

}  // namespace cordon::governance
