// supervisor/daemon/breaker_calls.cc: cordond's circuit breakers (docs/incident-response.md
// "Circuit breakers"): the admission step that asks an app's breaker and its capability domains'
// (a ticket per Submit, carried to its task), the outcome of each task it
// admitted, and the Breakers and BreakerMode calls. The state machine is
// supervisor/governance/breaker.h; every transition goes to the evidence log (principal
// "cordond", or the operator who changed a mode) and STATE/governance.db.
#include "supervisor/daemon/daemon_internal.h"

namespace cordon::daemon::internal {
namespace {

// The breakers a task of policy `p` and app `app_id` answers to: its app's ("app:<id>") and one
// per capability domain its policy uses: a data domain ("domain:<d>", the policy's and its
// bindings'), a socket service ("service:<host path>") and an outbound destination of its
// allowlist ("outbound:<entry as written>"). Sorted, without duplicates.
std::vector<std::string> BreakersOf(const Policy* p, const std::string& app_id) {
  std::set<std::string> names;
  if (!app_id.empty()) names.insert("app:" + app_id);
  if (p && !p->data_domain.empty()) names.insert("domain:" + p->data_domain);
  if (p)
    for (const auto& b : p->bindings) {
      if (!b.data_domain.empty()) names.insert("domain:" + b.data_domain);
      if (b.kind == Binding::Kind::kSocket && !b.from_caller()) names.insert("service:" + b.source);
    }
  if (p)
    for (const auto& a : p->outbound.allow) names.insert("outbound:" + a.text);
  return {names.begin(), names.end()};
}

bool IsBreakerName(const std::string& n) {
  for (std::string_view prefix : {"app:", "domain:", "service:", "outbound:"})
    if (n.starts_with(prefix) && n.size() > prefix.size()) return true;
  return false;
}

// The failure classes a breaker counts as failed: the sandbox refused or could not run the task, or
// a budget ended it. A nonzero exit is the task's own answer and counts as a call that worked,
// unless its policy says "breaker_counts_exit_nonzero": true (BreakerOutcome).
// Outcomes that say nothing about the app (cancelled, killed by an operator, client gone, daemon
// restart) are not counted at all.
std::optional<bool> Failed(const std::string& failure_class) {
  static const std::set<std::string> failed = {"setup_failed", "exec_failed",  "seccomp_violation",
                                               "oom",          "cpu_budget",   "pids_limit",
                                               "output_limit", "wall_timeout"};
  static const std::set<std::string> ignored = {"killed", "killed_by_operator", "client_gone", "supervisor_restart"};
  if (ignored.contains(failure_class)) return std::nullopt;
  return failed.contains(failure_class);
}

void Fill(governance::Breaker& b, int64_t now, api::BreakerInfo* out) {
  out->set_name(b.name());
  out->set_state(governance::BreakerStateName(b.state()));
  out->set_mode(governance::BreakerModeName(b.mode()));
  out->set_opened_unix_ms(b.opened_unix_ms());
  if (b.state() == governance::BreakerState::kOpen) out->set_half_open_unix_ms(b.half_open_unix_ms());
  out->set_calls(b.calls(now));
  out->set_failures(b.failures(now));
}

}  // namespace

void Daemon::BreakerMoved(const governance::BreakerTransition& t) {
  Log("circuit breaker " + t.name + ": " + governance::BreakerStateName(t.from) + " -> " +
      governance::BreakerStateName(t.to) + " (" + t.why + ")");
  if (governance::Breaker* b = breakers_.Find(t.name))
    if (auto s = breakers_.Save(*b); !s) Log("circuit breaker " + t.name + ": saving: " + s.error().Message());
  nlohmann::json data = {{"breaker", t.name},
                         {"from", governance::BreakerStateName(t.from)},
                         {"to", governance::BreakerStateName(t.to)},
                         {"why", t.why}};
  const std::string event = std::string("breaker_") + governance::BreakerStateName(t.to);
  if (auto a = evlog_->Governance(event, "cordond", std::move(data)); !a)
    Log("evidence log: governance " + event + ": " + a.error().Message());
}

// Every breaker the Submit answers to must admit it. Each admission is a ticket carried with this
// Submit (SubmitVerdict.breakers) to its task (GovernedStart), or given back when the Submit ends
// without one (GovernedAbandon): a cold build in flight never mixes its tickets with another's.
std::optional<std::pair<api::ErrorCode, std::string>> Daemon::BreakerRefusal(const Decision& d, const Submission& s,
                                                                             std::vector<BreakerTicket>* tickets) {
  const std::vector<std::string> names = BreakersOf(d.policy ? d.policy->policy.get() : nullptr, s.app_id);
  if (names.empty()) return std::nullopt;
  if (!(breakers_.params() == config_->settings.breakers)) breakers_.set_params(config_->settings.breakers);
  for (const auto& name : names) {
    governance::Breaker& b = breakers_.Get(name);
    auto a = b.Admit(NowUnixMs());
    if (a.transition) BreakerMoved(*a.transition);
    if (!a.allowed) {
      ReleaseTickets(*tickets);  // the breakers that admitted it before this one refused
      tickets->clear();
      return std::make_pair(api::ERROR_CODE_BREAKER_OPEN, a.refusal);
    }
    if (!a.refusal.empty()) Log(a.refusal);  // metrics-only: what it would have refused
    tickets->push_back(BreakerTicket{name, a.trial});
  }
  return std::nullopt;
}

void Daemon::ReleaseTickets(const std::vector<BreakerTicket>& tickets) {
  for (const auto& t : tickets)
    if (t.trial)  // a trial slot it held is free again
      if (governance::Breaker* b = breakers_.Find(t.name)) b->ReleaseTrial();
}

void Daemon::GovernedAbandon(const SubmitVerdict& v) { ReleaseTickets(v.breakers); }

void Daemon::GovernedStart(const Live& l, const SubmitVerdict& v) {
  if (!v.breakers.empty()) task_breaker_[l.row.id] = v.breakers;
  // Once per process, with the configuration loaded: sessions of tasks past the retention go.
  static bool purged = false;
  if (!purged && govdb_ && config_) {
    purged = true;
    if (uint64_t days = config_->settings.retain_days.value_or(0); days > 0)
      if (auto r = govdb_->Query("DELETE FROM task_sessions WHERE at_unix_ms < ?1",
                                 {NowUnixMs() - static_cast<int64_t>(days) * 86'400'000});
          !r)
        Log("purging old task sessions failed: " + r.error().Message());
  }
  if (!l.session.empty() && govdb_)  // TaskInfo.session once it has finished (MarkGoverned)
    if (auto r = govdb_->Query("INSERT OR REPLACE INTO task_sessions (task_id, session, at_unix_ms) VALUES (?1,?2,?3)",
                               {l.row.id, l.session, NowUnixMs()});
        !r)
      Log("recording task " + l.row.id + "'s session failed: " + r.error().Message());
}

void Daemon::BreakerOutcome(const Live& l) {
  auto it = task_breaker_.find(l.row.id);
  if (it == task_breaker_.end()) return;
  const std::vector<BreakerTicket> tickets = std::move(it->second);
  task_breaker_.erase(it);
  std::optional<bool> failed = Failed(l.row.failure_class);
  // A nonzero exit counts where the task's policy says so (policy "breaker_counts_exit_nonzero").
  if (l.row.failure_class == "exit_nonzero")
    if (auto p = config_->policies.find(l.row.policy); p != config_->policies.end())
      failed = p->second.policy->breaker_counts_exit_nonzero;
  for (const BreakerTicket& t : tickets) {
    governance::Breaker* b = breakers_.Find(t.name);
    if (!b) continue;
    if (!failed) {
      b->ReleaseTrial();  // a trial that ended without telling anything: another may try
      continue;
    }
    if (auto moved = b->Record(*failed, t.trial, NowUnixMs())) BreakerMoved(*moved);
  }
}

void Daemon::HandleBreakers(Conn& c, uint64_t call_id) {
  if (!(breakers_.params() == config_->settings.breakers)) breakers_.set_params(config_->settings.breakers);
  api::Response resp;
  resp.set_call_id(call_id);
  auto* out = resp.mutable_breakers();
  const int64_t now = NowUnixMs();
  for (auto& [name, b] : breakers_.all()) Fill(b, now, out->add_breakers());
  const governance::BreakerParams& p = breakers_.params();
  out->set_failure_rate_pct(p.failure_rate_pct);
  out->set_minimum_calls(p.minimum_calls);
  out->set_window_ms(p.window_ms);
  out->set_open_ms(p.open_ms);
  out->set_half_open_trials(p.half_open_trials);
  Reply(c, resp);
}

void Daemon::HandleBreakerMode(Conn& c, uint64_t call_id, const Principal& p, const api::BreakerModeRequest& req) {
  auto mode = governance::ParseBreakerMode(req.mode());
  if (!mode)
    return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT,
                      "unknown breaker mode '" + req.mode() + "'; use normal, forced_open or metrics_only");
  if (!IsBreakerName(req.name()))
    return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT,
                      "breaker name '" + req.name() +
                          "' is not app:<app_id>, domain:<data_domain>, service:<socket path> or outbound:<destination> (cordon "
                          "breakers lists them)");
  governance::Breaker& b = breakers_.Get(req.name());
  const std::string before = governance::BreakerModeName(b.mode());
  b.set_mode(*mode);
  if (auto s = breakers_.Save(b); !s)
    return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, "recording the breaker's mode failed: " + s.error().Message());
  Log("circuit breaker " + req.name() + ": mode " + before + " -> " + req.mode() + " by '" + p.name + "'");
  nlohmann::json data = {{"breaker", req.name()}, {"from", before}, {"to", req.mode()}};
  if (auto a = evlog_->Governance("breaker_mode", p.name, std::move(data)); !a)
    Log("evidence log: governance breaker_mode: " + a.error().Message());
  api::Response resp;
  resp.set_call_id(call_id);
  Fill(b, NowUnixMs(), resp.mutable_breaker_mode()->mutable_breaker());
  Reply(c, resp);
}

}  // namespace cordon::daemon::internal
