// supervisor/daemon/budget_gate.h: cordond's side of sessions, app envelopes and retry verdicts
// (docs/governance.md). The Governor (supervisor/governance/) decides; this file connects it to
// the Submit steps (Admit at the end of JudgeSubmit, Bind once the decision has its id,
// Finished when the task's record is written), to the API's session calls, and to the evidence
// log, which gets every state change with the principal who made it.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"
#include "proto/cordon.pb.h"
#include "supervisor/daemon/admission.h"
#include "supervisor/daemon/config.h"
#include "supervisor/daemon/store.h"
#include "supervisor/governance/clock.h"
#include "supervisor/governance/governor.h"

namespace cordon::daemon {
class EvidenceLog;
}

namespace cordon::daemon::internal {
namespace api = ::cordon::api::v1;

struct SubmitVerdict;

// Error.retry (and retry_after_ms, budget) for an error of `code` (docs/governance.md).
void SetRetry(api::Error* e, api::ErrorCode code, int64_t retry_after_ms = 0, const std::string& budget = "");
// TaskInfo.retry of a finished task, from its failure_class.
void FillRetry(const TaskRow& r, api::TaskInfo* t);

class BudgetGate {
 public:
  // Opens the governance tables in `db_path` (state.db). `evlog` outlives the gate.
  static Result<std::unique_ptr<BudgetGate>> Open(const std::string& db_path, EvidenceLog* evlog);

  // The last step of JudgeSubmit for a request everything else admitted: refuses it (code,
  // reason, retry_after_ms, budget), or admits it, spending one task of its session and
  // envelopes. A session's markers and budget may restrict the task: then v->admission.policy
  // points at a restricted copy of its policy, valid until the next Admit.
  void Admit(const Config& cfg, const Submission& s, SubmitVerdict* v);
  // The task just admitted has decision `decision_id`.
  void Bind(int64_t decision_id);
  // Charges what the task of `row` used (its evidence `ev`) and adds ev["governance"].
  void Finished(const Config& cfg, const TaskRow& row, nlohmann::json* ev);
  // SessionList/Show/Mark/Budget and EnvelopeShow, for the principal `p` (authenticated).
  void HandleCall(const Config& cfg, const Principal& p, const api::Request& req, api::Response* resp);

 private:
  BudgetGate(EvidenceLog* evlog) : evlog_(evlog) {}
  void LogErrors();

  EvidenceLog* evlog_;
  governance::SystemClock clock_;
  std::unique_ptr<governance::Governor> gov_;
  LoadedPolicy restricted_;  // the restricted policy of the last task admitted with restrictions
};

}  // namespace cordon::daemon::internal
