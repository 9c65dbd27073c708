// supervisor/daemon/operator_calls.cc: cordond's governance calls on the operator's side
// (docs/incident-response.md): the kill-switch (Freeze, Thaw, KillScope, GovernanceState), the
// admission step that refuses what a freeze holds, and what a finished task leaves behind. The
// state machines live in supervisor/governance/; this file wires them to the loop's tasks, the
// evidence log (every change, with the principal who made it) and STATE/governance.db.
#include "supervisor/daemon/daemon_internal.h"
#include "supervisor/governance/freeze_cgroup.h"

namespace cordon::daemon::internal {
namespace {

governance::TaskKey KeyOf(const Live& l) {
  return governance::TaskKey{l.row.cls, l.row.tenant, l.row.app_id, l.session};
}

bool IsOperator(const Principals& ps, const Principal& p) {
  for (const auto& name : p.roles)
    if (auto it = ps.roles.find(name); it != ps.roles.end() && it->second.operate) return true;
  return false;
}

nlohmann::json ScopeJson(const governance::Scope& s) {
  return {{"kind", std::string(governance::ScopeKindName(s.kind))}, {"value", s.value}};
}

void FillScope(const governance::Scope& s, api::GovernanceScope* out) {
  out->set_kind(std::string(governance::ScopeKindName(s.kind)));
  out->set_value(s.value);
}

}  // namespace

Result<void> Daemon::InitGovernance() {
  CORDON_ASSIGN_OR_RETURN(govdb_, governance::ControlDb::Open(opts_.state_dir + "/governance.db"));
  freezes_ = governance::FreezeTable(govdb_.get());
  CORDON_TRY(freezes_.Load());
  breakers_ = governance::BreakerBoard(govdb_.get());
  CORDON_TRY(breakers_.Load());
  for (auto& [name, b] : breakers_.all())
    Log("circuit breaker " + name + ": " + governance::BreakerStateName(b.state()) + ", mode " +
        governance::BreakerModeName(b.mode()));
  for (const auto& f : freezes_.all())
    Log("kill-switch: " + governance::ScopeText(f.scope) + " is frozen (by '" + f.principal +
        "'); cordon thaw lifts it");
  // The session of each task that named one, for TaskInfo.session once it has finished (wip/govc).
  CORDON_TRY(govdb_->Exec("CREATE TABLE IF NOT EXISTS task_sessions (task_id TEXT PRIMARY KEY, session TEXT NOT NULL,"
                          " at_unix_ms INTEGER NOT NULL)"));
  CORDON_TRY(InitSuspend());  // suspend_calls.cc
  return InitApprovals();     // approval_calls.cc
}

std::optional<std::pair<api::ErrorCode, std::string>> Daemon::GovernanceRefusal(const Submission& s,
                                                                                SubmitVerdict* v) {
  const Decision& d = v->admission;
  const governance::TaskKey key{s.cls, d.principal->tenant, s.app_id, s.session};
  if (const governance::Freeze* f = freezes_.Match(key))
    return std::make_pair(api::ERROR_CODE_FROZEN, governance::FreezeRefusal(*f));
  if (auto r = SuspendRefusal(d, s)) return r;  // suspend_calls.cc
  return BreakerRefusal(d, s, &v->breakers);  // breaker_calls.cc
}

void Daemon::GovernedFinish(const Live& l, const std::string& evidence) {
  frozen_tasks_.erase(l.row.id);
  BreakerOutcome(l);  // breaker_calls.cc
  SuspendOnFinish(l, evidence);  // suspend_calls.cc
}

void Daemon::MarkGoverned(api::TaskInfo* t) const {
  if (t->state() == api::TASK_STATE_RUNNING && frozen_tasks_.contains(t->task_id()))
    t->set_state(api::TASK_STATE_FROZEN);
  // Its session (wip/govc): the live task's, else as recorded when it started.
  if (auto it = live_by_id_.find(t->task_id()); it != live_by_id_.end()) {
    t->set_session(live_.at(it->second)->session);
  } else if (govdb_ && !t->task_id().empty()) {
    (void)govdb_->Query("SELECT session FROM task_sessions WHERE task_id = ?1", {t->task_id()},
                        [&](const governance::DbRow& r) { t->set_session(r[0]); });
  }
}

void Daemon::HandleGovernance(Conn& c, const api::Request& req) {
  const uint64_t call_id = req.call_id();
  const Principal* p = FindPrincipal(config_->principals, c.peer.uid, c.peer.gid);
  if (p == nullptr)
    return ReplyError(c, call_id, api::ERROR_CODE_UNAUTHENTICATED,
                      "uid " + std::to_string(c.peer.uid) + " is not a principal in " + config_->principals.source);
  // The breakers' state is what their refusals tell anyone already; changing a mode is for operators.
  if (req.call_case() == api::Request::kBreakers) return HandleBreakers(c, call_id);
  if (!IsOperator(config_->principals, *p))
    return ReplyError(c, call_id, api::ERROR_CODE_PERMISSION_DENIED,
                      "principal '" + p->name + "' has no role with \"operator\": true in " +
                          config_->principals.source + "; the kill-switch is for operators");
  if (req.call_case() == api::Request::kBreakerMode) return HandleBreakerMode(c, call_id, *p, req.breaker_mode());
  api::Response resp;
  resp.set_call_id(call_id);
  if (req.call_case() == api::Request::kGovernanceState) {
    auto* out = resp.mutable_governance_state();
    for (const auto& f : freezes_.all()) {
      auto* fi = out->add_freezes();
      FillScope(f.scope, fi->mutable_scope());
      fi->set_principal(f.principal);
      fi->set_reason(f.reason);
      fi->set_since_unix_ms(f.since_unix_ms);
      for (const auto& [serial, l] : live_)
        if (frozen_tasks_.contains(l->row.id) && governance::Matches(f.scope, KeyOf(*l)))
          fi->add_frozen_tasks(l->row.id);
    }
    return Reply(c, resp);
  }
  const api::GovernanceScope* gs = nullptr;
  std::string reason;
  switch (req.call_case()) {
    case api::Request::kFreeze: gs = &req.freeze().scope(), reason = req.freeze().reason(); break;
    case api::Request::kThaw: gs = &req.thaw().scope(); break;
    case api::Request::kKillScope: gs = &req.kill_scope().scope(), reason = req.kill_scope().reason(); break;
    default: return;
  }
  auto scope = governance::ParseScope(gs->kind(), gs->value());
  if (!scope)
    return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT,
                      scope.error().Message() + " (" + scope.error().hint + ")");
  if (scope->kind == governance::ScopeKind::kClass && !IsClassName(scope->value))
    return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT,
                      "unknown class '" + scope->value + "'; use interactive, batch or privileged");
  // The running tasks of the scope (a finished one waiting for its record is not running).
  std::vector<Live*> matching;
  for (const auto& [serial, l] : live_)
    if (!l->task->finished() && governance::Matches(*scope, KeyOf(*l))) matching.push_back(l.get());
  auto set_frozen = [&](Live& l, bool frozen) -> Result<void> {
    if (!cgroups_) return Fail(ENOTSUP, "cordond runs without task cgroups (CORDON_CGROUPS=off)");
    CORDON_ASSIGN_OR_RETURN(governance::FreezerFile f, governance::TaskFreezer(*cgroups_, l.row.id));
    CORDON_TRY(governance::SetFrozen(f, frozen));
    if (frozen) frozen_tasks_.insert(l.row.id);
    else frozen_tasks_.erase(l.row.id);
    // A frozen task's wall clock stops: max_wall_ms counts the time it could run (wip/govc).
    if (frozen) l.task->PauseWallClock(sys::MonotonicNs());
    else l.task->ResumeWallClock(sys::MonotonicNs());
    return {};
  };
  auto report = [](api::ScopedTask* t, const std::string& id, const Result<void>& r) {
    t->set_task_id(id);
    t->set_done(r.has_value());
    if (!r) t->set_message(r.error().Message());
  };
  nlohmann::json tasks = nlohmann::json::array();
  auto note = [&](const std::string& id, const Result<void>& r) {
    tasks.push_back(r ? nlohmann::json{{"task_id", id}, {"done", true}}
                      : nlohmann::json{{"task_id", id}, {"done", false}, {"message", r.error().Message()}});
  };
  const std::string what = governance::ScopeText(*scope);
  std::string event;
  switch (req.call_case()) {
    case api::Request::kFreeze: {
      auto added = freezes_.Add(governance::Freeze{*scope, p->name, reason, NowUnixMs()});
      if (!added)
        return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, "recording the freeze failed: " + added.error().Message());
      resp.mutable_freeze()->set_already_frozen(!*added);
      for (Live* l : matching) {
        auto r = frozen_tasks_.contains(l->row.id) ? Result<void>() : set_frozen(*l, true);
        report(resp.mutable_freeze()->add_tasks(), l->row.id, r);
        note(l->row.id, r);
      }
      event = *added ? "freeze" : "freeze_again";
      Log("kill-switch: " + what + " frozen by '" + p->name + "', " + std::to_string(matching.size()) +
          " running task(s)");
      break;
    }
    case api::Request::kThaw: {
      auto removed = freezes_.Remove(*scope);
      if (!removed)
        return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, "recording the thaw failed: " + removed.error().Message());
      resp.mutable_thaw()->set_was_frozen(removed->has_value());
      for (Live* l : matching) {
        // A task another freeze still holds stays frozen.
        if (!frozen_tasks_.contains(l->row.id) || freezes_.Match(KeyOf(*l))) continue;
        auto r = set_frozen(*l, false);
        report(resp.mutable_thaw()->add_tasks(), l->row.id, r);
        note(l->row.id, r);
      }
      event = removed->has_value() ? "thaw" : "thaw_not_frozen";
      Log("kill-switch: " + what + " thawed by '" + p->name + "'");
      break;
    }
    case api::Request::kKillScope: {
      for (Live* l : matching) {
        std::string msg = "killed by operator '" + p->name + "' (cordon kill --" +
                          std::string(governance::ScopeKindName(scope->kind)) + " " + scope->value + ")";
        if (!reason.empty()) msg += ": " + reason;
        l->task->Kill(FailureClass::kKilledByOperator, msg);
        // A v1-frozen process dies only once thawed (freezer-subsystem.rst); v2 needs no thaw.
        Result<void> r;
        if (frozen_tasks_.contains(l->row.id)) r = set_frozen(*l, false);
        SyncWatches(*l);
        report(resp.mutable_kill_scope()->add_tasks(), l->row.id, r);
        note(l->row.id, r);
      }
      event = "kill";
      Log("kill-switch: " + std::to_string(matching.size()) + " task(s) of " + what + " killed by '" + p->name + "'");
      break;
    }
    default: return;
  }
  nlohmann::json data = {{"scope", ScopeJson(*scope)}, {"tasks", tasks}};
  if (!reason.empty()) data["reason"] = reason;
  if (auto a = evlog_->Governance(event, p->name, std::move(data)); !a)
    Log("evidence log: governance " + event + ": " + a.error().Message());
  Reply(c, resp);
}

}  // namespace cordon::daemon::internal
