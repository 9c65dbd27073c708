// supervisor/daemon/app_retention.cc: retention per app and tenant envelope (docs/governance.md
// "Retention per app"). An envelope's "retention_days" in budgets.json prunes that app's (or
// tenant's) finished tasks and their admission decisions from STATE/state.db at every retention
// sweep, before cordond's own retention would. The pruned rows leave a range in pruned_ranges
// (kind "app_tasks": count, summary, digest chained to the previous app range), and each prune is
// a governance record in the evidence log. The evidence log's own records are not cut out of its
// middle: its hash chain only allows a prefix to go (docs/evidence.md "Retention").
#include "supervisor/daemon/daemon_internal.h"

#include "supervisor/daemon/sqlite_stmt.h"
#include "supervisor/sha256.h"

namespace cordon::daemon {
namespace {

// Finished tasks of one app (app "default" is also a task without an app id) or one tenant,
// created before ?2, oldest first.
constexpr const char* kAppTasks =
    "SELECT rowid, id, principal, state, exit_code, failure_class, created_unix_ms, finished_unix_ms, decision_id,"
    " evidence FROM tasks WHERE state = 'finished' AND created_unix_ms < ?2 AND (app_id = ?1 OR (?1 = 'default' AND"
    " (app_id IS NULL OR app_id = ''))) ORDER BY rowid";
constexpr const char* kTenantTasks =
    "SELECT rowid, id, principal, state, exit_code, failure_class, created_unix_ms, finished_unix_ms, decision_id,"
    " evidence FROM tasks WHERE state = 'finished' AND created_unix_ms < ?2 AND tenant = ?1 ORDER BY rowid";

}  // namespace

Result<Store::PruneReport> Store::PruneEnvelope(bool tenant, const std::string& id, int64_t older_than_ms,
                                                int64_t now_ms) {
  PruneReport rep;
  CORDON_TRY(InTransaction("retention of an envelope", [&]() -> Result<void> {
    CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * raw, Prepare(tenant ? kTenantTasks : kAppTasks));
    Stmt rows(raw);
    rows.Bind(id, older_than_ms);
    CORDON_ASSIGN_OR_RETURN(std::string prev, LastDigest("app_tasks"));
    std::string chain = prev + "\n";
    std::vector<int64_t> rowids, decisions;
    std::map<std::string, int64_t> by_class;
    int rc;
    while ((rc = rows.Step()) == SQLITE_ROW) {
      // The same line per row as Prune's ranges: fields joined by tabs, the evidence by its hash.
      std::string line = std::to_string(rows.Int(0));
      for (int i = 1; i <= 8; ++i) line += "\t" + rows.Text(i);
      chain += line + "\t" + Sha256Hex(rows.Text(9)) + "\n";
      rowids.push_back(rows.Int(0));
      if (rows.Int(8) > 0) decisions.push_back(rows.Int(8));
      ++by_class[rows.Text(5)];
      if (rep.tasks == 0) rep.first_created_unix_ms = rows.Int(6);
      rep.last_created_unix_ms = rows.Int(6);
      ++rep.tasks;
    }
    if (rc != SQLITE_DONE) return std::unexpected(DbError("retention per envelope: read tasks"));
    if (rowids.empty()) return {};
    for (int64_t r : rowids) {
      CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * del, Prepare("DELETE FROM tasks WHERE rowid = ?"));
      Stmt d(del);
      if (d.Bind(r).Step() != SQLITE_DONE) return std::unexpected(DbError("retention per envelope: delete a task"));
    }
    for (int64_t dec : decisions) {
      CORDON_ASSIGN_OR_RETURN(sqlite3_stmt * del, Prepare("DELETE FROM decisions WHERE id = ?"));
      Stmt d(del);
      if (d.Bind(dec).Step() != SQLITE_DONE) return std::unexpected(DbError("retention per envelope: delete a decision"));
      rep.decisions += sqlite3_changes(db_);
    }
    const std::string summary =
        nlohmann::json{{tenant ? "tenant" : "app", id}, {"by_failure_class", by_class}, {"decisions", rep.decisions}}
            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return InsertRange("app_tasks", now_ms, rowids.front(), rowids.back(), rep.tasks, rep.first_created_unix_ms,
                       rep.last_created_unix_ms, prev, Sha256Hex(chain), summary);
  }));
  return rep;
}

namespace internal {

void Daemon::PruneEnvelopes(int64_t now_ms) {
  if (!config_) return;
  auto each = [&](bool tenant, const std::map<std::string, governance::Envelope>& envelopes) {
    for (const auto& [id, e] : envelopes) {
      if (!e.retention_days) continue;
      const int64_t cutoff = now_ms - static_cast<int64_t>(*e.retention_days) * 86'400'000;
      auto pruned = store_->PruneEnvelope(tenant, id, cutoff, now_ms);
      const std::string who = std::string(tenant ? "tenant" : "app") + " '" + id + "'";
      if (!pruned) {
        Log("retention of " + who + ": pruning failed, nothing was deleted: " + pruned.error().Message());
        continue;
      }
      if (pruned->tasks == 0) continue;
      Log("retention of " + who + " (" + std::to_string(*e.retention_days) + " days, " + config_->budgets.source +
          "): pruned " + std::to_string(pruned->tasks) + " finished tasks and " + std::to_string(pruned->decisions) +
          " admission decisions; their summary and digest are in pruned_ranges (kind app_tasks)");
      nlohmann::json data = {{"scope", tenant ? "tenant" : "app"},
                             {"id", id},
                             {"retention_days", *e.retention_days},
                             {"before_unix_ms", cutoff},
                             {"tasks", pruned->tasks},
                             {"decisions", pruned->decisions},
                             {"first_created_unix_ms", pruned->first_created_unix_ms},
                             {"last_created_unix_ms", pruned->last_created_unix_ms}};
      if (auto a = evlog_->Governance("envelope_retention", "cordond", std::move(data)); !a)
        Log("evidence log: governance envelope_retention: " + a.error().Message());
    }
  };
  each(false, config_->budgets.apps);
  each(true, config_->budgets.tenants);
}

}  // namespace internal
}  // namespace cordon::daemon
