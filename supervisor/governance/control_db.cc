// supervisor/governance/control_db.cc: the governance state database (control_db.h).
#include "supervisor/governance/control_db.h"

#include <cerrno>

namespace cordon::governance {

Result<std::unique_ptr<ControlDb>> ControlDb::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Fail(EIO, "opening the governance database " + path + ": " + msg,
                "check that the state directory is writable by cordond");
  }
  std::unique_ptr<ControlDb> out(new ControlDb(db));
  sqlite3_busy_timeout(db, 5000);
  CORDON_TRY(out->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL"));
  return out;
}

ControlDb::~ControlDb() { sqlite3_close(db_); }

Result<void> ControlDb::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Fail(EIO, "governance database: " + msg);
  }
  return {};
}

Result<void> ControlDb::Query(const std::string& sql, const std::vector<DbValue>& params,
                              const std::function<void(const DbRow&)>& each) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
    return Fail(EIO, std::string("governance database: ") + sqlite3_errmsg(db_));
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(s, sqlite3_finalize);
  for (size_t i = 0; i < params.size(); ++i) {
    const int at = static_cast<int>(i) + 1;
    if (const auto* t = std::get_if<std::string>(&params[i]))
      sqlite3_bind_text(s, at, t->data(), static_cast<int>(t->size()), SQLITE_TRANSIENT);
    else
      sqlite3_bind_int64(s, at, std::get<int64_t>(params[i]));
  }
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return {};
    if (rc != SQLITE_ROW) return Fail(EIO, std::string("governance database: ") + sqlite3_errmsg(db_));
    if (!each) continue;
    DbRow row;
    for (int c = 0; c < sqlite3_column_count(s); ++c) {
      const unsigned char* t = sqlite3_column_text(s, c);
      row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
    }
    each(row);
  }
}

}  // namespace cordon::governance
