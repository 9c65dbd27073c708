// supervisor/governance/session.h: a session's state and its admission rules (docs/governance.md
// "Sessions"). A session is a name the client picks; its tasks spend one mutable budget together
// (CPU ms, wall ms, tasks, outbound calls, tasks per action id), and an operator's incident
// markers restrict its later tasks. Pure: Governor (governor.h) keeps the sessions, persists
// them and records their changes; tests/unit/governance_session_test.cc covers these rules.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "supervisor/governance/budget_config.h"

namespace cordon {
struct Policy;
}

namespace cordon::governance {

// What refuses an admission, for the caller and the decision record.
struct Refusal {
  enum class Kind { kBudget, kRestricted, kInvalid, kUnavailable };
  Kind kind = Kind::kBudget;
  std::string budget;          // kBudget: which one ran out ("session s1 tasks", "app reports tasks_per_month")
  std::string reason;          // one line: what, why, and what to do
  int64_t retry_after_ms = 0;  // kBudget: when it refills; 0 = not by time (an operator raises it)
};

struct Marker {
  std::string name;
  std::vector<std::string> restrictions;  // outbound_none, refuse_new, deny_domain=DOMAIN
  std::string reason, by;
  int64_t at_ms = 0;
};

// "" when `r` is a restriction Cordon knows, else why not (naming the known ones).
std::string CheckRestriction(const std::string& r);

struct Usage {
  uint64_t cpu_ms = 0, wall_ms = 0, tasks = 0, calls = 0;
};

struct Session {
  std::string id, cls, tenant, opened_by;
  int64_t opened_ms = 0;
  SessionBudget budget;
  Usage spent;
  std::map<std::string, uint64_t> actions;  // tasks admitted per action id
  std::vector<Marker> markers;
};

// What a task of a session runs under once admitted: the markers' restrictions, and caps that
// keep it inside what is left of the session's budget (applied to its policy's limits).
struct SessionTerms {
  std::vector<std::string> restrictions;
  std::optional<uint64_t> cap_cpu_ms, cap_wall_ms, cap_calls;
};

// Checks a task of `tenant` using `policy` (under `action`, "" for none) against `s`; fills
// `terms` when it may run. A session is its opener's tenant's: another tenant is refused.
std::optional<Refusal> CheckSession(const Session& s, const std::string& tenant, const std::string& action,
                                    const Policy& policy, SessionTerms* terms);
// Spends one task (and one of `action`'s fanout) at admission.
void ReserveTask(Session* s, const std::string& action);
// Spends what a finished task used.
void Charge(Session* s, const Usage& used);

}  // namespace cordon::governance
