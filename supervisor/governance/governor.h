// supervisor/governance/governor.h: sessions and envelopes as cordond keeps them
// (docs/governance.md). Admission asks Admit(); a task admitted is Bind()-ed to its decision id,
// and Finished() charges what it used when it ends. Operators change a live session with
// SetBudget() and Mark(). Every change is written through to cordond's SQLite database (tables
// governance_*, state_db.h) so that it survives a restart, and reported to the event sink, which
// cordond appends to its evidence log with the principal who caused it.
// Single-threaded: one Governor belongs to cordond's event loop.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include "common/result.h"
#include "supervisor/governance/budget_config.h"
#include "supervisor/governance/clock.h"
#include "supervisor/governance/envelope.h"
#include "supervisor/governance/session.h"
#include "supervisor/governance/state_db.h"

namespace cordon::governance {

// (event, principal, data): a state change for the evidence log.
using EventSink = std::function<void(const std::string&, const std::string&, nlohmann::json)>;

struct AdmitRequest {
  std::string principal, tenant, app_id;
  std::string session, session_class, action;  // session "" = none
  const Policy* policy = nullptr;
  std::vector<std::string> fd_bindings;
};

struct AdmitResult {
  std::optional<Refusal> refusal;  // set: refused
  SessionTerms terms;              // the session's restrictions and caps on the task
};

class Governor {
 public:
  // Opens the tables in the database at `db_path` (cordond's state.db) and loads their state.
  static Result<std::unique_ptr<Governor>> Open(const std::string& db_path, const Clock* clock, EventSink sink);

  // Fast when the request names no session and no envelope applies (no database work).
  AdmitResult Admit(const BudgetConfig& cfg, const AdmitRequest& req);
  // The task admitted last belongs to `decision_id` (its TaskRow.decision_id).
  void Bind(int64_t decision_id);
  // The task of `decision_id` ended having used `used` (tasks ignored): charged to its session
  // and envelopes. Returns the record's "governance" section, or null when it had none.
  nlohmann::json Finished(const BudgetConfig& cfg, int64_t decision_id, const Usage& used);

  // Operator changes (the caller checked the role). Unknown session, field or restriction: an error.
  Result<Session> SetBudget(const std::string& id, const SessionBudget& set, const std::vector<std::string>& unlimit,
                            const std::string& by);
  Result<Session> Mark(const std::string& id, Marker marker, bool clear);

  std::vector<Session> Sessions(const std::string& tenant) const;  // "" = all
  const Session* Find(const std::string& id) const;
  const SpendTable& spend() const { return spend_; }
  const Clock& clock() const { return *clock_; }
  // Database write failures since the last call, for cordond's log (the state stays in memory).
  std::vector<std::string> TakeErrors() { return std::exchange(errors_, {}); }

 private:
  Governor(std::unique_ptr<StateDb> db, const Clock* clock, EventSink sink)
      : db_(std::move(db)), clock_(clock), sink_(std::move(sink)) {}
  bool Save(const Session& s);  // false (and errors_) when the database refused it
  bool SaveSpend(const std::vector<std::string>& keys);
  // Begins (begin) or ends a transaction: commits when `ok`, else rolls back.
  bool Txn(bool begin, bool ok = true);
  void Emit(const std::string& event, const std::string& principal, nlohmann::json data) {
    if (sink_) sink_(event, principal, std::move(data));
  }

  // What a task admitted carries to its end.
  struct Ticket {
    std::string session, action, app_id, tenant;
    std::vector<std::string> markers;
    SessionTerms terms;
    int64_t admitted_ms = 0;
  };

  std::unique_ptr<StateDb> db_;
  const Clock* clock_;
  EventSink sink_;
  std::map<std::string, Session> sessions_;
  SpendTable spend_;
  std::set<std::string> exhausted_;  // envelope budgets whose exhaustion was recorded (this period)
  std::optional<Ticket> in_flight_;
  std::map<int64_t, Ticket> tickets_;  // by decision id, until the task ends
  std::vector<std::string> errors_;
};

// JSON of a session (evidence data, `cordon session show --json`).
nlohmann::json SessionJson(const Session& s);
nlohmann::json BudgetJson(const SessionBudget& b);

}  // namespace cordon::governance
