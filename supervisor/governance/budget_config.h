// supervisor/governance/budget_config.h: budgets.json in cordond's config dir (docs/governance.md
// "budgets.json"): session classes with their default budgets, and the envelopes of apps (by
// app_id) and tenants. Loaded with the rest of the config at start and on SIGHUP; all or nothing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cordon::governance {

// A session's budget; an absent field is unlimited.
struct SessionBudget {
  std::optional<uint64_t> cpu_ms, wall_ms, tasks, calls, fanout;
};
inline constexpr const char* kBudgetFields[] = {"cpu_ms", "wall_ms", "tasks", "calls", "fanout"};
std::optional<uint64_t>* BudgetField(SessionBudget* b, std::string_view name);  // nullptr: no such field
const std::optional<uint64_t>* BudgetField(const SessionBudget& b, std::string_view name);

struct EnvelopeLimits {
  std::optional<uint64_t> tasks_per_day, tasks_per_month, cpu_ms_per_day, cpu_ms_per_month;
};

struct Envelope {
  std::string scope;  // "app" or "tenant"
  std::string id;     // the app_id or the tenant
  std::string owner_team, risk_class;
  // Binding names or data domains the app's tasks may use; absent = any (no connector check).
  std::optional<std::vector<std::string>> connectors;
  EnvelopeLimits limits;
  // Finished tasks (and their admission decisions) of this app or tenant older than this many days
  // are pruned by cordond's retention sweep (daemon/app_retention.cc); absent = cordond's retention.
  std::optional<uint64_t> retention_days;
};

struct BudgetConfig {
  std::map<std::string, SessionBudget> session_classes;  // always has interactive, batch, privileged
  std::map<std::string, Envelope> apps, tenants;
  std::string source;  // the file read; "" for the built-in default
};

// No file: the three built-in session classes, unlimited; no envelopes.
BudgetConfig DefaultBudgets();

// Unknown fields, wrong types and out-of-range numbers are errors naming the JSON path.
Result<BudgetConfig> ParseBudgets(std::string_view json_text, const std::string& source);
// CONFIG_DIR/budgets.json if there is one, else DefaultBudgets(). `*note`: a line for the log.
Result<BudgetConfig> LoadBudgets(const std::string& config_dir, std::string* note);

}  // namespace cordon::governance
