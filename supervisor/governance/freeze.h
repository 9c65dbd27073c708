// supervisor/governance/freeze.h: the kill-switch's state (docs/incident-response.md). An operator
// freezes a scope (a class, a tenant, an app or a session); while it is frozen, admission refuses
// new tasks that match it, and cordond freezes the running ones' cgroups (freeze_cgroup.h). The
// table is kept in the governance database so that a freeze survives a restart of cordond.
// Pure apart from the database; single-threaded (cordond's loop).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "supervisor/governance/control_db.h"

namespace cordon::governance {

enum class ScopeKind { kClass, kTenant, kApp, kSession };

struct Scope {
  ScopeKind kind = ScopeKind::kClass;
  std::string value;
  bool operator==(const Scope&) const = default;
};

// "class", "tenant", "app", "session".
std::string_view ScopeKindName(ScopeKind k);
// Parses a kind name and a value; the error names the accepted kinds. An empty value is refused.
Result<Scope> ParseScope(std::string_view kind, std::string_view value);
// "class batch", "app billing-bot": for messages and records.
std::string ScopeText(const Scope& s);

// What a task is matched on.
struct TaskKey {
  std::string cls;      // admission class ("batch", ...)
  std::string tenant;   // the principal's tenant
  std::string app;      // app_id as submitted ("" = none)
  std::string session;  // the Submit's session ("" = none)
};

bool Matches(const Scope& s, const TaskKey& k);

struct Freeze {
  Scope scope;
  std::string principal;  // who froze it
  std::string reason;     // as the operator gave it ("" = none)
  int64_t since_unix_ms = 0;
};

// The one-line refusal a Submit gets while `f` holds: what is frozen, by whom, since when, why,
// and who may thaw it.
std::string FreezeRefusal(const Freeze& f);

class FreezeTable {
 public:
  // Without a database (unit tests): in memory only.
  explicit FreezeTable(ControlDb* db = nullptr) : db_(db) {}
  // Creates the table if needed and loads the freezes in force.
  Result<void> Load();
  // Adds a freeze; false when that scope was already frozen (the first freeze is kept).
  Result<bool> Add(const Freeze& f);
  // Removes the freeze of exactly `s`; the removed one, or nullopt when it was not frozen.
  Result<std::optional<Freeze>> Remove(const Scope& s);
  // The first freeze that matches `k`, nullptr when none does.
  const Freeze* Match(const TaskKey& k) const;
  const std::vector<Freeze>& all() const { return freezes_; }

 private:
  ControlDb* db_;
  std::vector<Freeze> freezes_;
};

}  // namespace cordon::governance
