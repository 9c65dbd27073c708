#include "supervisor/governance/session.h"

#include <algorithm>

#include "supervisor/policy.h"

namespace cordon::governance {
namespace {

constexpr const char* kDenyDomain = "deny_domain=";

std::string Of(uint64_t spent, uint64_t budget) {
  return std::to_string(spent) + " of " + std::to_string(budget);
}

Refusal Spent(const Session& s, const char* field, const std::string& detail) {
  Refusal r;
  r.kind = Refusal::Kind::kBudget;
  r.budget = "session " + s.id + " " + field;
  r.reason = "session '" + s.id + "' has spent its " + field + " budget (" + detail +
             "); an operator can raise it: cordon session budget " + s.id + " --" +
             (std::string(field) == "cpu_ms" ? "cpu-ms" : std::string(field) == "wall_ms" ? "wall-ms" : field) + " N";
  return r;
}

bool UsesDomain(const Policy& p, const std::string& domain) {
  if (p.data_domain == domain) return true;
  return std::any_of(p.bindings.begin(), p.bindings.end(), [&](const Binding& b) { return b.data_domain == domain; });
}

// The smaller of a policy limit (0 = none) and what is left.
std::optional<uint64_t> Cap(uint64_t policy_limit, const std::optional<uint64_t>& budget, uint64_t spent) {
  if (!budget) return std::nullopt;
  const uint64_t left = *budget > spent ? *budget - spent : 0;
  if (policy_limit != 0 && policy_limit <= left) return std::nullopt;
  return left;
}

}  // namespace

std::string CheckRestriction(const std::string& r) {
  if (r == "outbound_none" || r == "refuse_new") return "";
  if (r.starts_with(kDenyDomain) && r.size() > std::string_view(kDenyDomain).size()) return "";
  return "unknown restriction '" + r + "' (known: outbound_none, refuse_new, deny_domain=DOMAIN)";
}

std::optional<Refusal> CheckSession(const Session& s, const std::string& tenant, const std::string& action,
                                    const Policy& policy, SessionTerms* terms) {
  if (s.tenant != tenant)
    return Refusal{Refusal::Kind::kInvalid, "", "session '" + s.id + "' belongs to tenant '" + s.tenant +
                                                   "', not '" + tenant + "'; pick another session name", 0};
  SessionTerms t;
  for (const Marker& m : s.markers) {
    for (const std::string& r : m.restrictions) {
      auto restricted = [&](const std::string& what) {
        return Refusal{Refusal::Kind::kRestricted, "",
                       "session '" + s.id + "' is marked '" + m.name + "' (" + r + ", by " + m.by + "): " + what +
                           "; an operator clears it with cordon session mark " + s.id + " " + m.name + " --clear",
                       0};
      };
      if (r == "refuse_new") return restricted("it admits no new tasks");
      if (r.starts_with(kDenyDomain) && UsesDomain(policy, r.substr(std::string_view(kDenyDomain).size())))
        return restricted("policy '" + policy.name + "' binds data domain '" +
                          r.substr(std::string_view(kDenyDomain).size()) + "'");
      if (std::find(t.restrictions.begin(), t.restrictions.end(), r) == t.restrictions.end())
        t.restrictions.push_back(r);
    }
  }
  const SessionBudget& b = s.budget;
  if (b.tasks && s.spent.tasks + 1 > *b.tasks) return Spent(s, "tasks", Of(s.spent.tasks, *b.tasks) + " tasks");
  if (b.cpu_ms && s.spent.cpu_ms >= *b.cpu_ms) return Spent(s, "cpu_ms", Of(s.spent.cpu_ms, *b.cpu_ms) + " ms");
  if (b.wall_ms && s.spent.wall_ms >= *b.wall_ms) return Spent(s, "wall_ms", Of(s.spent.wall_ms, *b.wall_ms) + " ms");
  const bool outbound = policy.outbound.mode != egress::OutboundMode::kNone &&
                        std::find(t.restrictions.begin(), t.restrictions.end(), "outbound_none") == t.restrictions.end();
  if (outbound && b.calls && s.spent.calls >= *b.calls)
    return Spent(s, "calls", Of(s.spent.calls, *b.calls) + " outbound calls");
  if (!action.empty() && b.fanout) {
    auto it = s.actions.find(action);
    const uint64_t n = it == s.actions.end() ? 0 : it->second;
    if (n + 1 > *b.fanout) {
      Refusal r = Spent(s, "fanout", Of(n, *b.fanout) + " tasks for action '" + action + "'");
      r.budget = "session " + s.id + " fanout (action " + action + ")";
      return r;
    }
  }
  t.cap_cpu_ms = Cap(policy.limits.max_cpu_ms, b.cpu_ms, s.spent.cpu_ms);
  t.cap_wall_ms = Cap(policy.limits.max_wall_ms, b.wall_ms, s.spent.wall_ms);
  if (outbound) t.cap_calls = Cap(policy.limits.max_calls, b.calls, s.spent.calls);
  *terms = std::move(t);
  return std::nullopt;
}

void ReserveTask(Session* s, const std::string& action) {
  ++s->spent.tasks;
  if (!action.empty()) ++s->actions[action];
}

void Charge(Session* s, const Usage& used) {
  s->spent.cpu_ms += used.cpu_ms;
  s->spent.wall_ms += used.wall_ms;
  s->spent.calls += used.calls;
}

}  // namespace cordon::governance
