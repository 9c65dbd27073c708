// supervisor/governance/freeze.cc: the kill-switch's freezes (freeze.h).
#include "supervisor/governance/freeze.h"

#include <cerrno>

namespace cordon::governance {

std::string_view ScopeKindName(ScopeKind k) {
  switch (k) {
    case ScopeKind::kClass: return "class";
    case ScopeKind::kTenant: return "tenant";
    case ScopeKind::kApp: return "app";
    case ScopeKind::kSession: return "session";
  }
  return "unknown";
}

Result<Scope> ParseScope(std::string_view kind, std::string_view value) {
  Scope s;
  if (kind == "class") s.kind = ScopeKind::kClass;
  else if (kind == "tenant") s.kind = ScopeKind::kTenant;
  else if (kind == "app") s.kind = ScopeKind::kApp;
  else if (kind == "session") s.kind = ScopeKind::kSession;
  else
    return Fail(EINVAL, "unknown scope kind '" + std::string(kind) + "'",
                "name one of --class, --tenant, --app or --session");
  if (value.empty())
    return Fail(EINVAL, "the " + std::string(kind) + " to act on is empty", "give a value, e.g. --class batch");
  s.value = std::string(value);
  return s;
}

std::string ScopeText(const Scope& s) { return std::string(ScopeKindName(s.kind)) + " '" + s.value + "'"; }

bool Matches(const Scope& s, const TaskKey& k) {
  switch (s.kind) {
    case ScopeKind::kClass: return k.cls == s.value;
    case ScopeKind::kTenant: return k.tenant == s.value;
    case ScopeKind::kApp: return k.app == s.value;
    case ScopeKind::kSession: return !k.session.empty() && k.session == s.value;
  }
  return false;
}

std::string FreezeRefusal(const Freeze& f) {
  std::string msg = ScopeText(f.scope) + " is frozen by principal '" + f.principal + "' since unix ms " +
                    std::to_string(f.since_unix_ms);
  if (!f.reason.empty()) msg += " (" + f.reason + ")";
  msg += "; a principal with the operator role resumes it with `cordon thaw --" +
         std::string(ScopeKindName(f.scope.kind)) + " " + f.scope.value + "`";
  return msg;
}

namespace {
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS freezes ("
    " kind TEXT NOT NULL, value TEXT NOT NULL, principal TEXT NOT NULL, reason TEXT NOT NULL,"
    " since_unix_ms INTEGER NOT NULL, PRIMARY KEY (kind, value))";
}  // namespace

Result<void> FreezeTable::Load() {
  freezes_.clear();
  if (!db_) return {};
  CORDON_TRY(db_->Exec(kSchema));
  Result<void> bad;
  CORDON_TRY(db_->Query("SELECT kind, value, principal, reason, since_unix_ms FROM freezes ORDER BY since_unix_ms",
                        {}, [&](const DbRow& r) {
                          auto s = ParseScope(r[0], r[1]);
                          if (!s) {
                            bad = std::unexpected(s.error());
                            return;
                          }
                          freezes_.push_back(Freeze{*s, r[2], r[3], std::stoll(r[4])});
                        }));
  return bad;
}

Result<bool> FreezeTable::Add(const Freeze& f) {
  for (const auto& x : freezes_)
    if (x.scope == f.scope) return false;
  if (db_)
    CORDON_TRY(db_->Query("INSERT INTO freezes (kind, value, principal, reason, since_unix_ms) VALUES (?1,?2,?3,?4,?5)",
                          {std::string(ScopeKindName(f.scope.kind)), f.scope.value, f.principal, f.reason,
                           f.since_unix_ms}));
  freezes_.push_back(f);
  return true;
}

Result<std::optional<Freeze>> FreezeTable::Remove(const Scope& s) {
  for (auto it = freezes_.begin(); it != freezes_.end(); ++it) {
    if (!(it->scope == s)) continue;
    if (db_)
      CORDON_TRY(db_->Query("DELETE FROM freezes WHERE kind = ?1 AND value = ?2",
                            {std::string(ScopeKindName(s.kind)), s.value}));
    Freeze out = *it;
    freezes_.erase(it);
    return std::optional<Freeze>(std::move(out));
  }
  return std::optional<Freeze>();
}

const Freeze* FreezeTable::Match(const TaskKey& k) const {
  for (const auto& f : freezes_)
    if (Matches(f.scope, k)) return &f;
  return nullptr;
}

}  // namespace cordon::governance
