// supervisor/governance/approval.h: approvals for side effects (docs/governance.md "Approvals").
// A Submit whose side-effect classes (declared, or tags of the policy's bindings) meet the
// policy's approval_required_for is held as a pending request instead of running. A human with a
// role that may approve those classes approves or denies it; a request nobody decides expires
// after the configured time (recorded as expired, never as a denial). An approved request runs
// once: the requester's client submits it again naming the approval, and it must be the same
// request (fingerprint and classes) from the same principal. Kept in the governance database so
// that every request and decision survives a restart of cordond. Single-threaded (cordond's loop).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "supervisor/governance/control_db.h"

namespace cordon::governance {

enum class ApprovalState { kPending, kApproved, kDenied, kExpired, kUsed };

// "pending", "approved", "denied", "expired", "used".
std::string_view ApprovalStateName(ApprovalState s);

// A side-effect class name: [a-z0-9_-]{1,64}. The error says what is allowed.
Result<void> CheckSideEffectName(std::string_view name, std::string_view where);

// The classes of `wanted` (declared and binding tags, deduplicated) that `required` names, sorted.
std::vector<std::string> ApprovalClasses(const std::vector<std::string>& required, std::vector<std::string> wanted);

struct Approval {
  std::string id;  // "ap-" + 16 hex digits
  ApprovalState state = ApprovalState::kPending;
  std::string principal, tenant;
  std::vector<std::string> classes;  // the side effects that need the approval, sorted
  std::string fingerprint;           // of the request (admission.h Fingerprint)
  std::string app_id, policy, session;
  std::vector<std::string> argv;
  int64_t created_unix_ms = 0;
  int64_t expires_unix_ms = 0;
  std::string decided_by;  // "" while pending, and for an expiry
  int64_t decided_unix_ms = 0;
  std::string reason;
  int64_t decision_id = 0;  // kUsed: the admission decision it ran under
};

class ApprovalTable {
 public:
  // Without a database (unit tests): in memory only.
  explicit ApprovalTable(ControlDb* db = nullptr) : db_(db) {}
  // Creates the table if needed and loads the requests (pending ones and the newest decided).
  Result<void> Load();
  // Records a new pending request; fills in its id.
  Result<const Approval*> Create(Approval a);
  const Approval* Find(std::string_view id) const;
  // Approves or denies a pending request. Refused (EPERM/EINVAL, with the reason) when it is not
  // pending or `by` asked for it; `may_decide` has been checked by the caller.
  Result<const Approval*> Decide(std::string_view id, bool approve, const std::string& by, const std::string& reason,
                                 int64_t now_unix_ms);
  // Pending requests whose time ran out become expired; the ids that did.
  Result<std::vector<std::string>> Expire(int64_t now_unix_ms);
  // The earliest expiry of a pending request, 0 when none is pending.
  int64_t NextExpiryUnixMs() const;
  // An approved request is spent by the task that runs under it.
  Result<void> Use(std::string_view id, int64_t decision_id);
  const std::vector<Approval>& all() const { return approvals_; }

 private:
  Result<void> Save(const Approval& a);
  Approval* FindMut(std::string_view id);
  ControlDb* db_;
  std::vector<Approval> approvals_;  // oldest first
};

}  // namespace cordon::governance
