// supervisor/daemon/config.h: what cordond loads at start and on SIGHUP: the principals file
// (who may do what, docs/daemon.md), the optional daemon.json (settings such as retention) and
// the policy set (shipped policies, overridden by the config dir's). A load is all or nothing: a
// bad file fails it, and the daemon keeps the old set.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "supervisor/governance/budget_config.h"
#include "supervisor/governance/breaker.h"
#include "supervisor/governance/suspend.h"
#include "supervisor/policy.h"
#include "supervisor/seccomp/filter.h"

namespace cordon::daemon {

// Admission classes, as principals.json spells them.
inline constexpr const char* kClassNames[] = {"interactive", "batch", "privileged"};
bool IsClassName(std::string_view name);

struct Role {
  std::string name;
  std::vector<std::string> policies;  // policy names this role may use; "*" = every loaded policy
  std::vector<std::string> classes;   // admission classes this role may use
  bool manage_all_tasks = false;      // may see, wait on, cancel and read evidence of others' tasks
  // governance (wip/govb, docs/incident-response.md)
  bool operate = false;               // "operator": freeze, thaw and kill scopes (the kill-switch)
  std::vector<std::string> approve;   // "approve": side-effect classes it may approve or deny; "*" = any (wip/govc)
};

struct Principal {
  std::string name;
  std::string tenant;
  std::vector<uint32_t> uids;  // peers whose SO_PEERCRED uid is one of these
  std::vector<uint32_t> gids;  // ... or whose primary gid is one of these (uids are matched first)
  std::vector<std::string> roles;
};

struct Principals {
  std::vector<Principal> principals;
  std::map<std::string, Role> roles;
  // Optional per-policy restriction: the classes a policy accepts. A policy not listed accepts all.
  std::map<std::string, std::vector<std::string>> policy_classes;
  std::string source;  // the file read
  std::string sha256;  // of its bytes
};

// Parses principals.json. Unknown fields, unknown classes, roles that a principal names but that
// are not defined, and a uid listed twice are errors naming the JSON path.
Result<Principals> ParsePrincipals(std::string_view json_text, const std::string& source);

// The principal for a peer: the first whose uids list `uid`, else the first whose gids list
// `gid`; nullptr when none does.
const Principal* FindPrincipal(const Principals& p, uint32_t uid, uint32_t gid);

// daemon.json: cordond's settings that live in the config dir (docs/daemon.md "daemon.json").
// Each is optional; one that is absent falls back to the built-in default, and a command-line
// flag overrides the file (flags > daemon.json > defaults).
struct DaemonSettings {
  std::optional<uint64_t> retain_days;   // "retention": {"days": D}, 0 = no age limit
  std::optional<uint64_t> retain_tasks;  // "retention": {"tasks": N}, 0 = no count limit
  // The evidence log's own retention (docs/evidence.md "Retention"); absent or 0 = keep all.
  std::optional<uint64_t> evlog_retain_days;     // "evidence_log": {"retain_days": D}
  std::optional<uint64_t> evlog_retain_records;  // "evidence_log": {"retain_records": N}
  std::string evlog_signing_key;  // "evidence_log": {"signing_key": PATH}; "" = STATE/evidence-log/signing.key
  governance::BreakerParams breakers;    // "breakers": {...} (wip/govb); unset fields keep the defaults
  std::string metrics_listen;            // "metrics": {"listen": "127.0.0.1:9464"} (docs/metrics.md); "" = off
  // "tls_interception": {"enabled": B, "upstream_ca_file": F} (wip/ident, docs/network.md): the egress
  // proxy's TLS interception for destinations credentials are bound to; the CA file that verifies
  // servers ("" = the host's default store).
  bool tls_interception = true;
  std::string tls_upstream_ca_file;
  governance::SuspendParams suspend;     // "auto_suspend": {...} (wip/govc); unset fields keep the defaults
  uint64_t approval_timeout_s = 3600;    // "approvals": {"timeout_s": N}: a pending request expires after N s (wip/govc)
  std::string source;                    // the file read; empty when there is none
};

inline constexpr uint64_t kMaxRetainDays = 36500;

// Parses daemon.json. Unknown fields, wrong types, negative or too large numbers are errors
// naming the JSON path.
Result<DaemonSettings> ParseDaemonSettings(std::string_view json_text, const std::string& source);

struct LoadedPolicy {
  std::shared_ptr<const Policy> policy;
  std::shared_ptr<const SeccompFilter> filter;  // compiled once per load, shared by its tasks
};

struct Config {
  Principals principals;
  DaemonSettings settings;                       // daemon.json, when the config dir has one
  std::map<std::string, LoadedPolicy> policies;  // by Policy::name
  std::vector<std::string> notes;                // what was loaded from where, for the log
  governance::BudgetConfig budgets = governance::DefaultBudgets();  // budgets.json (docs/governance.md)
};

struct ConfigPaths {
  std::string config_dir;  // principals.json, daemon.json, policies/*.json that override shipped ones
  std::string data_dir;    // .../share/cordon: the shipped policies/*.json
  bool compile_filters = true;  // false in unit tests: policies only
  bool bpf_cache = true;
};

// Loads principals.json, daemon.json (optional) and every policy. Shipped policies come from
// data_dir/policies, then the config dir's policies/*.json replace them by name. "default" is
// always present (embedded).
Result<Config> LoadConfig(const ConfigPaths& paths);

}  // namespace cordon::daemon
