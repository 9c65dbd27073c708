// supervisor/governance/state_db.h: governance's tables in cordond's SQLite database (state.db):
// governance_sessions (one row per session, its state as JSON) and governance_spend (an
// envelope's spend per period). Own connection to the same file, in WAL mode like the Store's;
// synchronous=NORMAL: a commit survives a cordond crash. Single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace cordon::governance {

class StateDb {
 public:
  static Result<std::unique_ptr<StateDb>> Open(const std::string& path);
  ~StateDb();

  Result<std::map<std::string, std::string>> LoadSessions();  // id -> state JSON
  struct SpendRow {
    uint64_t tasks = 0, cpu_ms = 0;
  };
  Result<std::map<std::string, SpendRow>> LoadSpend();
  Result<void> PutSession(const std::string& id, const std::string& state_json, int64_t now_ms);
  Result<void> PutSpend(const std::string& key, uint64_t tasks, uint64_t cpu_ms, int64_t now_ms);
  // One transaction around the writes of one admission or one task's end: a single commit (one
  // WAL append) instead of one per row. Rollback after a failed write.
  Result<void> Begin();
  Result<void> Commit();
  void Rollback();
  // Spend rows not updated since `before_ms` (periods long over).
  Result<void> PruneSpend(int64_t before_ms);

 private:
  StateDb() = default;
  Result<sqlite3_stmt*> Prepare(const char* sql);
  Error DbError(const std::string& what) const;

  sqlite3* db_ = nullptr;
  std::string path_;
  std::map<const char*, sqlite3_stmt*> stmts_;  // cached by SQL text pointer
};

}  // namespace cordon::governance
