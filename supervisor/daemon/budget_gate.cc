#include "supervisor/daemon/budget_gate.h"

#include "supervisor/daemon/daemon_internal.h"
#include "supervisor/governance/retry.h"

namespace cordon::daemon::internal {
namespace {

namespace gov = ::cordon::governance;
using nlohmann::json;

api::RetryVerdict ToApi(gov::RetryVerdict v) {
  switch (v) {
    case gov::RetryVerdict::kNone: return api::RETRY_VERDICT_UNSPECIFIED;
    case gov::RetryVerdict::kNever: return api::RETRY_VERDICT_NEVER;
    case gov::RetryVerdict::kLater: return api::RETRY_VERDICT_LATER;
    case gov::RetryVerdict::kOnceAfterRepair: return api::RETRY_VERDICT_ONCE_AFTER_REPAIR;
  }
  return api::RETRY_VERDICT_NEVER;
}

void FillBudget(const gov::SessionBudget& b, api::SessionBudget* out) {
  if (b.cpu_ms) out->set_cpu_ms(*b.cpu_ms);
  if (b.wall_ms) out->set_wall_ms(*b.wall_ms);
  if (b.tasks) out->set_tasks(*b.tasks);
  if (b.calls) out->set_calls(*b.calls);
  if (b.fanout) out->set_fanout(*b.fanout);
}

gov::SessionBudget FromApi(const api::SessionBudget& b) {
  gov::SessionBudget out;
  if (b.has_cpu_ms()) out.cpu_ms = b.cpu_ms();
  if (b.has_wall_ms()) out.wall_ms = b.wall_ms();
  if (b.has_tasks()) out.tasks = b.tasks();
  if (b.has_calls()) out.calls = b.calls();
  if (b.has_fanout()) out.fanout = b.fanout();
  return out;
}

void FillSession(const gov::Session& s, api::SessionInfo* out) {
  out->set_session(s.id);
  out->set_class_(s.cls);
  out->set_tenant(s.tenant);
  out->set_opened_by(s.opened_by);
  out->set_opened_unix_ms(s.opened_ms);
  FillBudget(s.budget, out->mutable_budget());
  api::SessionBudget* spent = out->mutable_spent();
  spent->set_cpu_ms(s.spent.cpu_ms);
  spent->set_wall_ms(s.spent.wall_ms);
  spent->set_tasks(s.spent.tasks);
  spent->set_calls(s.spent.calls);
  uint64_t fanout = 0;
  for (const auto& [action, n] : s.actions) {
    (*out->mutable_actions())[action] = n;
    fanout = std::max(fanout, n);
  }
  spent->set_fanout(fanout);
  for (const gov::Marker& m : s.markers) {
    api::SessionMarker* am = out->add_markers();
    am->set_name(m.name);
    for (const auto& r : m.restrictions) am->add_restrictions(r);
    am->set_reason(m.reason);
    am->set_by(m.by);
    am->set_at_unix_ms(m.at_ms);
  }
}

void FillEnvelope(const gov::Envelope& e, const gov::SpendTable& spend, int64_t now, api::EnvelopeInfo* out) {
  out->set_scope(e.scope);
  out->set_id(e.id);
  out->set_owner_team(e.owner_team);
  out->set_risk_class(e.risk_class);
  out->set_connectors_any(!e.connectors);
  if (e.connectors)
    for (const auto& c : *e.connectors) out->add_connectors(c);
  for (gov::Period p : {gov::Period::kDay, gov::Period::kMonth}) {
    const gov::Window w = gov::WindowOf(p, now);
    auto it = spend.find(gov::SpendKey(e, p, w.key));
    const gov::Spend s = it == spend.end() ? gov::Spend{} : it->second;
    api::EnvelopePeriod* ap = out->add_periods();
    ap->set_period(gov::PeriodName(p));
    ap->set_key(w.key);
    ap->set_ends_unix_ms(w.end_ms);
    const auto& tl = p == gov::Period::kDay ? e.limits.tasks_per_day : e.limits.tasks_per_month;
    const auto& cl = p == gov::Period::kDay ? e.limits.cpu_ms_per_day : e.limits.cpu_ms_per_month;
    if (tl) ap->set_tasks_limit(*tl);
    if (cl) ap->set_cpu_ms_limit(*cl);
    ap->set_tasks_spent(s.tasks);
    ap->set_cpu_ms_spent(s.cpu_ms);
  }
}

// The policy a restricted task runs under: its own, with the markers' restrictions and the
// session's caps applied, each named in limit_overrides (recorded in its evidence).
std::shared_ptr<Policy> Restrict(const Policy& base, const gov::SessionTerms& t) {
  auto p = std::make_shared<Policy>(base);
  for (const auto& r : t.restrictions) {
    if (r == "outbound_none") {
      p->outbound = egress::OutboundPolicy{};
      p->limit_overrides.push_back("outbound=none (session marker)");
    }
  }
  auto cap = [&](uint64_t* limit, const std::optional<uint64_t>& v, const char* name) {
    if (!v) return;
    *limit = *v;
    p->limit_overrides.push_back(std::string(name) + "=" + std::to_string(*v) + " (what is left of the session budget)");
  };
  cap(&p->limits.max_cpu_ms, t.cap_cpu_ms, "max_cpu_ms");
  cap(&p->limits.max_wall_ms, t.cap_wall_ms, "max_wall_ms");
  cap(&p->limits.max_calls, t.cap_calls, "max_calls");
  return p;
}

uint64_t JsonU64(const json& j, std::initializer_list<const char*> path) {
  const json* cur = &j;
  for (const char* k : path) {
    if (!cur->is_object() || !cur->contains(k)) return 0;
    cur = &(*cur)[k];
  }
  return cur->is_number_unsigned() ? cur->get<uint64_t>() : cur->is_number_integer() && cur->get<int64_t>() > 0
                                                                ? static_cast<uint64_t>(cur->get<int64_t>())
                                                                : 0;
}

}  // namespace

void SetRetry(api::Error* e, api::ErrorCode code, int64_t retry_after_ms, const std::string& budget) {
  api::RetryVerdict v = api::RETRY_VERDICT_NEVER;
  switch (code) {
    case api::ERROR_CODE_OK: v = api::RETRY_VERDICT_UNSPECIFIED; break;
    case api::ERROR_CODE_MALFORMED:
    case api::ERROR_CODE_TOO_LARGE:
    case api::ERROR_CODE_INVALID_ARGUMENT:
    case api::ERROR_CODE_CONFLICT: v = api::RETRY_VERDICT_ONCE_AFTER_REPAIR; break;
    case api::ERROR_CODE_TRUNCATED:
    case api::ERROR_CODE_TIMEOUT:
    case api::ERROR_CODE_UNAVAILABLE:
    case api::ERROR_CODE_INTERNAL:
    case api::ERROR_CODE_BREAKER_OPEN:  // until it half-opens: the message says when
      v = api::RETRY_VERDICT_LATER;
      if (retry_after_ms == 0) retry_after_ms = 1000;
      break;
    case api::ERROR_CODE_BUDGET_EXHAUSTED:
      // An envelope refills with its period; a session's budget only when an operator raises it.
      v = retry_after_ms > 0 ? api::RETRY_VERDICT_LATER : api::RETRY_VERDICT_NEVER;
      break;
    default: v = api::RETRY_VERDICT_NEVER; break;
  }
  e->set_retry(v);
  e->set_retry_after_ms(v == api::RETRY_VERDICT_LATER ? retry_after_ms : 0);
  e->set_budget(budget);
}

void FillRetry(const TaskRow& r, api::TaskInfo* t) {
  if (r.state != "finished") return;
  const gov::RetryAdvice a = gov::ForFailureClass(r.failure_class);
  api::RetryAdvice* out = t->mutable_retry();
  out->set_verdict(ToApi(a.verdict));
  out->set_retry_after_ms(a.retry_after_ms);
  out->set_why(a.why);
}

Result<std::unique_ptr<BudgetGate>> BudgetGate::Open(const std::string& db_path, EvidenceLog* evlog) {
  std::unique_ptr<BudgetGate> g(new BudgetGate(evlog));
  auto sink = [evlog](const std::string& event, const std::string& principal, json data) {
    if (auto a = evlog->Governance(event, principal, std::move(data)); !a)
      Log("evidence log: governance " + event + ": " + a.error().Message());
  };
  CORDON_ASSIGN_OR_RETURN(g->gov_, gov::Governor::Open(db_path, &g->clock_, sink));
  return g;
}

void BudgetGate::LogErrors() {
  for (const auto& e : gov_->TakeErrors()) Log("governance state: " + e);
}

void BudgetGate::Admit(const Config& cfg, const Submission& s, SubmitVerdict* v) {
  const Decision& d = v->admission;
  gov::AdmitRequest req;
  req.principal = d.principal->name;
  req.tenant = d.principal->tenant;
  req.app_id = s.app_id;
  req.session = s.session;
  req.session_class = s.session_class.empty() ? s.cls : s.session_class;
  req.action = s.action;
  req.policy = d.policy->policy.get();
  req.fd_bindings = s.fd_bindings;
  gov::AdmitResult r = gov_->Admit(cfg.budgets, req);
  LogErrors();
  if (r.refusal) {
    switch (r.refusal->kind) {
      case gov::Refusal::Kind::kBudget: v->code = api::ERROR_CODE_BUDGET_EXHAUSTED; break;
      case gov::Refusal::Kind::kRestricted: v->code = api::ERROR_CODE_RESTRICTED; break;
      case gov::Refusal::Kind::kInvalid: v->code = api::ERROR_CODE_INVALID_ARGUMENT; break;
      case gov::Refusal::Kind::kUnavailable: v->code = api::ERROR_CODE_UNAVAILABLE; break;
    }
    v->reason = r.refusal->reason;
    v->retry_after_ms = r.refusal->retry_after_ms;
    v->budget = r.refusal->budget;
    return;
  }
  const gov::SessionTerms& t = r.terms;
  if (t.restrictions.empty() && !t.cap_cpu_ms && !t.cap_wall_ms && !t.cap_calls) return;
  // A restricted copy: its limit_overrides also keep the warm pool's sandboxes (built for the
  // policy as loaded) from taking the task.
  restricted_ = LoadedPolicy{Restrict(*d.policy->policy, t), d.policy->filter};
  v->admission.policy = &restricted_;
}

void BudgetGate::Bind(int64_t decision_id) { gov_->Bind(decision_id); }

void BudgetGate::Finished(const Config& cfg, const TaskRow& row, json* ev) {
  gov::Usage used;
  used.cpu_ms = (JsonU64(*ev, {"usage", "cpu_user_usec"}) + JsonU64(*ev, {"usage", "cpu_system_usec"})) / 1000;
  if (row.finished_unix_ms > row.created_unix_ms)
    used.wall_ms = static_cast<uint64_t>(row.finished_unix_ms - row.created_unix_ms);
  used.calls = JsonU64(*ev, {"outbound", "calls"});
  json section = gov_->Finished(cfg.budgets, row.decision_id, used);
  LogErrors();
  if (!section.is_null()) (*ev)["governance"] = std::move(section);
}

void BudgetGate::HandleCall(const Config& cfg, const Principal& p, const api::Request& req, api::Response* resp) {
  const bool op = MayManage(cfg.principals, p, "\x01(any other)");
  auto error = [&](api::ErrorCode code, const std::string& msg) {
    resp->clear_result();
    resp->mutable_error()->set_code(code);
    resp->mutable_error()->set_message(msg);
    SetRetry(resp->mutable_error(), code);
  };
  auto visible = [&](const std::string& id) -> const gov::Session* {
    const gov::Session* s = gov_->Find(id);
    return s && (op || s->tenant == p.tenant) ? s : nullptr;
  };
  auto need_operator = [&](const char* what) {
    error(api::ERROR_CODE_PERMISSION_DENIED,
          std::string(what) + " needs an operator: principal '" + p.name +
              "' has no role with manage_all_tasks (principals.json, docs/governance.md)");
  };
  switch (req.call_case()) {
    case api::Request::kSessionList: {
      api::SessionListResponse* out = resp->mutable_session_list();
      for (const gov::Session& s : gov_->Sessions(op ? "" : p.tenant)) FillSession(s, out->add_sessions());
      return;
    }
    case api::Request::kSessionShow: {
      const gov::Session* s = visible(req.session_show().session());
      if (!s)
        return error(api::ERROR_CODE_NOT_FOUND, "no session '" + req.session_show().session() + "' visible to principal '" +
                                                    p.name + "' (cordon session list shows yours)");
      FillSession(*s, resp->mutable_session_show()->mutable_session());
      return;
    }
    case api::Request::kSessionMark: {
      if (!op) return need_operator("cordon session mark");
      const api::SessionMarkRequest& m = req.session_mark();
      gov::Marker marker;
      marker.name = m.marker();
      marker.restrictions.assign(m.restrictions().begin(), m.restrictions().end());
      marker.reason = m.reason();
      marker.by = p.name;
      auto s = gov_->Mark(m.session(), std::move(marker), m.clear());
      LogErrors();
      if (!s) {
        const Error& e = s.error();
        return error(e.err == ENOENT ? api::ERROR_CODE_NOT_FOUND : api::ERROR_CODE_INVALID_ARGUMENT,
                     e.Message() + (e.hint.empty() ? "" : " (" + e.hint + ")"));
      }
      FillSession(*s, resp->mutable_session_mark()->mutable_session());
      return;
    }
    case api::Request::kSessionBudget: {
      if (!op) return need_operator("cordon session budget");
      const api::SessionBudgetRequest& b = req.session_budget();
      auto s = gov_->SetBudget(b.session(), FromApi(b.set()), {b.unlimit().begin(), b.unlimit().end()}, p.name);
      LogErrors();
      if (!s) {
        const Error& e = s.error();
        return error(e.err == ENOENT ? api::ERROR_CODE_NOT_FOUND : api::ERROR_CODE_INVALID_ARGUMENT,
                     e.Message() + (e.hint.empty() ? "" : " (" + e.hint + ")"));
      }
      FillSession(*s, resp->mutable_session_budget()->mutable_session());
      return;
    }
    case api::Request::kEnvelopeShow: {
      const api::EnvelopeShowRequest& q = req.envelope_show();
      const int64_t now = gov_->clock().NowUnixMs();
      api::EnvelopeShowResponse* out = resp->mutable_envelope_show();
      for (const auto& [id, e] : cfg.budgets.apps)
        if (q.app_id().empty() || q.app_id() == id) FillEnvelope(e, gov_->spend(), now, out->add_envelopes());
      const std::string tenant = q.tenant().empty() ? p.tenant : q.tenant();
      if (!op && tenant != p.tenant)
        return error(api::ERROR_CODE_PERMISSION_DENIED,
                     "tenant '" + tenant + "' is not principal '" + p.name + "''s; only an operator sees other tenants");
      if (auto it = cfg.budgets.tenants.find(tenant); it != cfg.budgets.tenants.end())
        FillEnvelope(it->second, gov_->spend(), now, out->add_envelopes());
      return;
    }
    default: return;
  }
}

}  // namespace cordon::daemon::internal

namespace cordon::daemon::internal {

void Daemon::HandleSessionCall(Conn& c, const api::Request& req) {
  const Principal* p = FindPrincipal(config_->principals, c.peer.uid, c.peer.gid);
  if (p == nullptr)
    return ReplyError(c, req.call_id(), api::ERROR_CODE_UNAUTHENTICATED,
                      "uid " + std::to_string(c.peer.uid) + " is not a principal in " + config_->principals.source);
  api::Response resp;
  resp.set_call_id(req.call_id());
  budgets_->HandleCall(*config_, *p, req, &resp);
  Reply(c, resp);
}

}  // namespace cordon::daemon::internal
