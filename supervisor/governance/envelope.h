// supervisor/governance/envelope.h: the admission rules of app and tenant envelopes
// (docs/governance.md "App envelopes"): the connectors an app's tasks may use, and hard budgets
// per UTC day and month (tasks admitted, CPU ms spent). Pure over a spend table the Governor
// keeps and persists; tests/unit/governance_envelope_test.cc runs a month through a ManualClock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "supervisor/governance/budget_config.h"
#include "supervisor/governance/clock.h"
#include "supervisor/governance/session.h"

namespace cordon {
struct Policy;
}

namespace cordon::governance {

struct Spend {
  uint64_t tasks = 0, cpu_ms = 0;
};
// Keyed by SpendKey(envelope, window): "app:reports|month:2026-12".
using SpendTable = std::map<std::string, Spend>;
std::string SpendKey(const Envelope& e, Period p, const std::string& window_key);

// The connectors a task would use: its policy's binding names and their data domains, the
// policy's data domain, the caller bindings it names, and its outbound allowlist's hosts.
std::vector<std::string> ConnectorsOf(const Policy& policy, const std::vector<std::string>& fd_bindings);

// Refuses a connector `e` does not list, or a budget of `e` spent in the period holding `now_ms`.
std::optional<Refusal> CheckEnvelope(const Envelope& e, const SpendTable& spend, int64_t now_ms, const Policy& policy,
                                     const std::vector<std::string>& fd_bindings);
// Spends one task in each period that `e` has a limit for (every period, so that `cordon
// envelope` shows use even without a limit).
void ReserveEnvelope(const Envelope& e, SpendTable* spend, int64_t now_ms);
void ChargeEnvelope(const Envelope& e, SpendTable* spend, int64_t now_ms, uint64_t cpu_ms);

}  // namespace cordon::governance
