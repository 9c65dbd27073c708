// supervisor/governance/suspend.h: auto-suspend (docs/incident-response.md "Auto-suspend"). An
// app (or, where configured, a principal) that commits N policy violations within T (seccomp
// kills, refused egress, refused bindings or restricted submits, budget overruns; never a timeout)
// is suspended: admission refuses its tasks until an operator resumes it. The recent violations
// and the suspensions are kept in the governance database, so that neither a restart of cordond
// nor a crash forgets them. Single-threaded (cordond's loop).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "supervisor/governance/control_db.h"

namespace cordon::governance {

struct SuspendParams {
  uint32_t violations = 5;        // N: 0 turns auto-suspend off
  int64_t window_ms = 600'000;    // T
  bool principals = false;        // also suspend principals (not only apps)
  bool operator==(const SuspendParams&) const = default;
};

struct Violation {
  int64_t at_unix_ms = 0;
  std::string kind;    // seccomp_violation, egress_refused, restricted, budget_overrun
  std::string detail;  // one line: the task or the refusal
};

struct Suspension {
  std::string subject;  // "app:<id>" or "principal:<name>"
  int64_t since_unix_ms = 0;
  std::vector<Violation> violations;  // the ones that suspended it, oldest first
};

// "app 'x' is suspended since ...: 5 policy violations in 600 s (last: ...); an operator resumes
// it with `cordon resume --app x`".
std::string SuspendRefusal(const Suspension& s, const SuspendParams& p);

class SuspendBoard {
 public:
  explicit SuspendBoard(ControlDb* db = nullptr) : db_(db) {}
  // Creates the tables if needed; loads the suspensions and the violations within `window_ms`.
  Result<void> Load(int64_t now_unix_ms, int64_t window_ms);
  // Counts a violation of `subject`; the new suspension when this one reaches the threshold.
  // A subject already suspended keeps its suspension (the violation is still recorded).
  // Counted in memory first: when the database cannot take it (STATE's disk is full), the
  // violation still counts and the suspension still holds until cordond stops; the error is
  // returned in `*not_saved` (and the violation is not lost from this run's count).
  Result<std::optional<Suspension>> Record(const std::string& subject, const Violation& v, const SuspendParams& p,
                                           std::optional<Error>* not_saved = nullptr);
  const Suspension* Find(const std::string& subject) const;
  // Lifts a suspension (and forgets the subject's violations so far); the lifted one, or nullopt.
  Result<std::optional<Suspension>> Resume(const std::string& subject);
  const std::map<std::string, Suspension>& all() const { return suspended_; }
  // Violations of `subject` within the window, oldest first.
  size_t recent(const std::string& subject) const;

 private:
  ControlDb* db_;
  std::map<std::string, std::vector<Violation>> recent_;
  std::map<std::string, Suspension> suspended_;
};

}  // namespace cordon::governance
