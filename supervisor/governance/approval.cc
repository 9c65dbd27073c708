// supervisor/governance/approval.cc: the approvals table (approval.h).
#include "supervisor/governance/approval.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

namespace cordon::governance {
namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS approvals ("
    " id TEXT PRIMARY KEY, state TEXT NOT NULL, principal TEXT NOT NULL, tenant TEXT NOT NULL,"
    " classes TEXT NOT NULL, fingerprint TEXT NOT NULL, app_id TEXT NOT NULL, policy TEXT NOT NULL,"
    " session TEXT NOT NULL, argv TEXT NOT NULL, created_unix_ms INTEGER NOT NULL,"
    " expires_unix_ms INTEGER NOT NULL, decided_by TEXT NOT NULL, decided_unix_ms INTEGER NOT NULL,"
    " reason TEXT NOT NULL, decision_id INTEGER NOT NULL)";

// Decided requests kept in memory (and listed) besides every pending one; older rows stay on disk.
constexpr size_t kKeepDecided = 100;

std::optional<ApprovalState> ParseState(std::string_view s) {
  for (auto st : {ApprovalState::kPending, ApprovalState::kApproved, ApprovalState::kDenied, ApprovalState::kExpired,
                  ApprovalState::kUsed})
    if (ApprovalStateName(st) == s) return st;
  return std::nullopt;
}

std::string ToJson(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> FromJson(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& e : j)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

Result<std::string> NewId() {
  unsigned char b[8];
  if (::getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b)) return Fail(errno, "getrandom for an approval id");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "ap-";
  for (unsigned char c : b) id += {kHex[c >> 4], kHex[c & 15]};
  return id;
}

}  // namespace

std::string_view ApprovalStateName(ApprovalState s) {
  switch (s) {
    case ApprovalState::kPending: return "pending";
    case ApprovalState::kApproved: return "approved";
    case ApprovalState::kDenied: return "denied";
    case ApprovalState::kExpired: return "expired";
    case ApprovalState::kUsed: return "used";
  }
  return "?";
}

Result<void> CheckSideEffectName(std::string_view name, std::string_view where) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) ok = false;
  if (!ok)
    return Fail(EINVAL, std::string(where) + ": side-effect class '" + std::string(name) + "' is not a name",
                "use 1 to 64 of a-z, 0-9, '_' and '-' (deploy, write, purchase, notification, ...)");
  return {};
}

std::vector<std::string> ApprovalClasses(const std::vector<std::string>& required, std::vector<std::string> wanted) {
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<std::string> out;
  for (auto& w : wanted)
    if (std::find(required.begin(), required.end(), w) != required.end()) out.push_back(std::move(w));
  return out;
}

Result<void> ApprovalTable::Load() {
  approvals_.clear();
  if (!db_) return {};
  CORDON_TRY(db_->Exec(kSchema));
  Result<void> bad;
  // Every pending and approved request (both still matter), and the newest decided ones.
  const std::string cols =
      "id, state, principal, tenant, classes, fingerprint, app_id, policy, session, argv, created_unix_ms,"
      " expires_unix_ms, decided_by, decided_unix_ms, reason, decision_id";
  const std::string sql = "SELECT " + cols + " FROM approvals WHERE state IN ('pending','approved') UNION SELECT * FROM"
                          " (SELECT " + cols + " FROM approvals WHERE state NOT IN ('pending','approved')"
                          " ORDER BY created_unix_ms DESC LIMIT " + std::to_string(kKeepDecided) +
                          ") ORDER BY created_unix_ms";
  CORDON_TRY(db_->Query(sql, {}, [&](const DbRow& r) {
    auto st = ParseState(r[1]);
    if (!st) {
      bad = Fail(EINVAL, "governance database: approval " + r[0] + " has unknown state '" + r[1] + "'");
      return;
    }
    Approval a;
    a.id = r[0];
    a.state = *st;
    a.principal = r[2];
    a.tenant = r[3];
    a.classes = FromJson(r[4]);
    a.fingerprint = r[5];
    a.app_id = r[6];
    a.policy = r[7];
    a.session = r[8];
    a.argv = FromJson(r[9]);
    a.created_unix_ms = std::stoll(r[10]);
    a.expires_unix_ms = std::stoll(r[11]);
    a.decided_by = r[12];
    a.decided_unix_ms = std::stoll(r[13]);
    a.reason = r[14];
    a.decision_id = std::stoll(r[15]);
    approvals_.push_back(std::move(a));
  }));
  return bad;
}

Result<void> ApprovalTable::Save(const Approval& a) {
  if (!db_) return {};
  return db_->Query(
      "INSERT OR REPLACE INTO approvals (id, state, principal, tenant, classes, fingerprint, app_id, policy, session,"
      " argv, created_unix_ms, expires_unix_ms, decided_by, decided_unix_ms, reason, decision_id)"
      " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)",
      {a.id, std::string(ApprovalStateName(a.state)), a.principal, a.tenant, ToJson(a.classes), a.fingerprint, a.app_id,
       a.policy, a.session, ToJson(a.argv), a.created_unix_ms, a.expires_unix_ms, a.decided_by, a.decided_unix_ms,
       a.reason, a.decision_id});
}

Result<const Approval*> ApprovalTable::Create(Approval a) {
  CORDON_ASSIGN_OR_RETURN(a.id, NewId());
  a.state = ApprovalState::kPending;
  CORDON_TRY(Save(a));
  approvals_.push_back(std::move(a));
  // Keep memory bounded: drop the oldest decided requests beyond kKeepDecided (they stay on disk).
  size_t decided = 0;
  for (const auto& x : approvals_)
    if (x.state != ApprovalState::kPending && x.state != ApprovalState::kApproved) ++decided;
  for (auto it = approvals_.begin(); decided > kKeepDecided && it != approvals_.end();) {
    if (it->state != ApprovalState::kPending && it->state != ApprovalState::kApproved) {
      it = approvals_.erase(it);
      --decided;
    } else {
      ++it;
    }
  }
  return &approvals_.back();
}

Approval* ApprovalTable::FindMut(std::string_view id) {
  for (auto& a : approvals_)
    if (a.id == id) return &a;
  return nullptr;
}

const Approval* ApprovalTable::Find(std::string_view id) const {
  return const_cast<ApprovalTable*>(this)->FindMut(id);
}

Result<const Approval*> ApprovalTable::Decide(std::string_view id, bool approve, const std::string& by,
                                              const std::string& reason, int64_t now_unix_ms) {
  Approval* a = FindMut(id);
  if (!a) return Fail(ENOENT, "no approval request " + std::string(id), "cordon approvals list shows the pending ones");
  if (a->state != ApprovalState::kPending)
    return Fail(EINVAL, "approval request " + a->id + " is " + std::string(ApprovalStateName(a->state)) +
                            (a->decided_by.empty() ? "" : " (by '" + a->decided_by + "')") + ", not pending");
  if (a->expires_unix_ms <= now_unix_ms)
    return Fail(EINVAL, "approval request " + a->id + " has expired");
  if (a->principal == by)
    return Fail(EPERM, "principal '" + by + "' asked for request " + a->id + " and may not decide it",
                "another approver must approve or deny it");
  Approval next = *a;
  next.state = approve ? ApprovalState::kApproved : ApprovalState::kDenied;
  next.decided_by = by;
  next.decided_unix_ms = now_unix_ms;
  next.reason = reason;
  CORDON_TRY(Save(next));
  *a = std::move(next);
  return a;
}

Result<std::vector<std::string>> ApprovalTable::Expire(int64_t now_unix_ms) {
  std::vector<std::string> out;
  for (auto& a : approvals_) {
    if (a.state != ApprovalState::kPending || a.expires_unix_ms > now_unix_ms) continue;
    Approval next = a;
    next.state = ApprovalState::kExpired;
    next.decided_unix_ms = now_unix_ms;
    CORDON_TRY(Save(next));
    a = std::move(next);
    out.push_back(a.id);
  }
  return out;
}

int64_t ApprovalTable::NextExpiryUnixMs() const {
  int64_t next = 0;
  for (const auto& a : approvals_)
    if (a.state == ApprovalState::kPending && (next == 0 || a.expires_unix_ms < next)) next = a.expires_unix_ms;
  return next;
}

Result<void> ApprovalTable::Use(std::string_view id, int64_t decision_id) {
  Approval* a = FindMut(id);
  if (!a || a->state != ApprovalState::kApproved)
    return Fail(EINVAL, "approval request " + std::string(id) + " is not approved");
  Approval next = *a;
  next.state = ApprovalState::kUsed;
  next.decision_id = decision_id;
  CORDON_TRY(Save(next));
  *a = std::move(next);
  return {};
}

}  // namespace cordon::governance
