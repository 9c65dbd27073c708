// supervisor/governance/control_db.h: the SQLite file that keeps the operator's governance state
// across a restart of cordond (STATE/governance.db): freezes, pending approvals, open breakers,
// suspensions. Each mechanism creates its own tables through Exec() and reads and writes them
// through Query(). Synchronous FULL: an operator's freeze is on disk before it is acknowledged.
// Single-threaded, like the event loop that owns it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"

namespace cordon::governance {

// One bound parameter: text or a 64-bit integer.
using DbValue = std::variant<std::string, int64_t>;

// One row as read: each column as text (integers are converted), in SELECT order.
using DbRow = std::vector<std::string>;

class ControlDb {
 public:
  // Opens (creating) the database at `path`, WAL mode.
  static Result<std::unique_ptr<ControlDb>> Open(const std::string& path);
  ~ControlDb();
  ControlDb(const ControlDb&) = delete;
  ControlDb& operator=(const ControlDb&) = delete;

  // Runs statements without parameters (schema).
  Result<void> Exec(const std::string& sql);
  // Runs one statement with `params` bound to ?1..?N; `each` gets every row it returns.
  Result<void> Query(const std::string& sql, const std::vector<DbValue>& params,
                     const std::function<void(const DbRow&)>& each = {});

 private:
  explicit ControlDb(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

}  // namespace cordon::governance
