#include "supervisor/governance/envelope.h"

#include <algorithm>

#include "supervisor/policy.h"

namespace cordon::governance {
namespace {

constexpr Period kPeriods[] = {Period::kDay, Period::kMonth};

struct Limit {
  const char* name;
  Period period;
  const std::optional<uint64_t>* value;
  bool tasks;
};

std::vector<Limit> LimitsOf(const Envelope& e) {
  const EnvelopeLimits& l = e.limits;
  return {{"tasks_per_day", Period::kDay, &l.tasks_per_day, true},
          {"tasks_per_month", Period::kMonth, &l.tasks_per_month, true},
          {"cpu_ms_per_day", Period::kDay, &l.cpu_ms_per_day, false},
          {"cpu_ms_per_month", Period::kMonth, &l.cpu_ms_per_month, false}};
}

}  // namespace

std::string SpendKey(const Envelope& e, Period p, const std::string& window_key) {
  return e.scope + ":" + e.id + "|" + PeriodName(p) + ":" + window_key;
}

std::vector<std::string> ConnectorsOf(const Policy& policy, const std::vector<std::string>& fd_bindings) {
  std::vector<std::string> out;
  auto add = [&](const std::string& c) {
    if (!c.empty() && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  };
  for (const Binding& b : policy.bindings) add(b.name);
  for (const std::string& n : fd_bindings) add(n);
  for (const auto& a : policy.outbound.allow) add(a.text);
  return out;
}

std::optional<Refusal> CheckEnvelope(const Envelope& e, const SpendTable& spend, int64_t now_ms, const Policy& policy,
                                     const std::vector<std::string>& fd_bindings) {
  const std::string who = e.scope + " '" + e.id + "'";
  if (e.connectors) {
    const auto& allowed = *e.connectors;
    auto listed = [&](const std::string& c) { return std::find(allowed.begin(), allowed.end(), c) != allowed.end(); };
    for (const Binding& b : policy.bindings)
      if (!listed(b.name) && (b.data_domain.empty() || !listed(b.data_domain)))
        return Refusal{Refusal::Kind::kRestricted, "",
                       who + " may not use connector '" + b.name + "' (binding of policy '" + policy.name +
                           "'): its envelope lists " + std::to_string(allowed.size()) +
                           " connectors; add it to budgets.json's connectors or use another policy",
                       0};
    for (const std::string& c : ConnectorsOf(policy, fd_bindings)) {
      const bool binding = std::any_of(policy.bindings.begin(), policy.bindings.end(),
                                       [&](const Binding& b) { return b.name == c; });
      if (!binding && !listed(c))
        return Refusal{Refusal::Kind::kRestricted, "",
                       who + " may not use connector '" + c +
                           "': its envelope does not list it; add it to budgets.json's connectors or drop it",
                       0};
    }
  }
  for (const Limit& l : LimitsOf(e)) {
    if (!*l.value) continue;
    const Window w = WindowOf(l.period, now_ms);
    auto it = spend.find(SpendKey(e, l.period, w.key));
    const Spend s = it == spend.end() ? Spend{} : it->second;
    const uint64_t used = l.tasks ? s.tasks : s.cpu_ms;
    const bool out = l.tasks ? used + 1 > **l.value : used >= **l.value;
    if (!out) continue;
    Refusal r;
    r.kind = Refusal::Kind::kBudget;
    r.budget = e.scope + " " + e.id + " " + l.name;
    r.retry_after_ms = w.end_ms - now_ms;
    r.reason = who + " has spent its " + l.name + " envelope (" + std::to_string(used) + " of " +
               std::to_string(**l.value) + (l.tasks ? " tasks" : " ms") + " in " + w.key + "); it refills at " +
               Iso8601(w.end_ms) + " (retry after " + std::to_string((r.retry_after_ms + 999) / 1000) +
               " s): fall back to a deterministic path meanwhile" +
               (e.owner_team.empty() ? std::string() : ", or ask its owner team '" + e.owner_team + "'");
    return r;
  }
  return std::nullopt;
}

void ReserveEnvelope(const Envelope& e, SpendTable* spend, int64_t now_ms) {
  for (Period p : kPeriods) ++(*spend)[SpendKey(e, p, WindowOf(p, now_ms).key)].tasks;
}

void ChargeEnvelope(const Envelope& e, SpendTable* spend, int64_t now_ms, uint64_t cpu_ms) {
  for (Period p : kPeriods) (*spend)[SpendKey(e, p, WindowOf(p, now_ms).key)].cpu_ms += cpu_ms;
}

}  // namespace cordon::governance
