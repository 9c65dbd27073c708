#include "supervisor/governance/governor.h"

#include <algorithm>

#include "supervisor/policy.h"

namespace cordon::governance {
namespace {

using nlohmann::json;

constexpr int64_t kSpendKeepMs = 62LL * 24 * 3600 * 1000;  // a spend row outlives its month by a month

json MarkerJson(const Marker& m) {
  return {{"name", m.name}, {"restrictions", m.restrictions}, {"reason", m.reason}, {"by", m.by}, {"at_unix_ms", m.at_ms}};
}

SessionBudget BudgetFromJson(const json& j) {
  SessionBudget b;
  for (const char* f : kBudgetFields)
    if (j.contains(f) && j[f].is_number_unsigned()) *BudgetField(&b, f) = j[f].get<uint64_t>();
  return b;
}

Session SessionFromJson(const std::string& id, const json& j) {
  Session s;
  s.id = id;
  s.cls = j.value("class", "");
  s.tenant = j.value("tenant", "");
  s.opened_by = j.value("opened_by", "");
  s.opened_ms = j.value("opened_unix_ms", int64_t{0});
  if (j.contains("budget")) s.budget = BudgetFromJson(j["budget"]);
  if (j.contains("spent")) {
    const json& u = j["spent"];
    s.spent = Usage{u.value("cpu_ms", uint64_t{0}), u.value("wall_ms", uint64_t{0}), u.value("tasks", uint64_t{0}),
                    u.value("calls", uint64_t{0})};
  }
  if (j.contains("actions"))
    for (auto it = j["actions"].begin(); it != j["actions"].end(); ++it) s.actions[it.key()] = it->get<uint64_t>();
  if (j.contains("markers"))
    for (const json& m : j["markers"])
      s.markers.push_back(Marker{m.value("name", ""), m.value("restrictions", std::vector<std::string>{}),
                                 m.value("reason", ""), m.value("by", ""), m.value("at_unix_ms", int64_t{0})});
  return s;
}

json UsageJson(const Usage& u) {
  return {{"cpu_ms", u.cpu_ms}, {"wall_ms", u.wall_ms}, {"tasks", u.tasks}, {"calls", u.calls}};
}

std::vector<const Envelope*> EnvelopesFor(const BudgetConfig& cfg, const std::string& app, const std::string& tenant) {
  std::vector<const Envelope*> out;
  if (auto it = cfg.apps.find(app.empty() ? "default" : app); it != cfg.apps.end()) out.push_back(&it->second);
  if (auto it = cfg.tenants.find(tenant); it != cfg.tenants.end()) out.push_back(&it->second);
  return out;
}

}  // namespace

json BudgetJson(const SessionBudget& b) {
  json j = json::object();
  for (const char* f : kBudgetFields)
    if (const auto& v = *BudgetField(b, f)) j[f] = *v;
  return j;
}

json SessionJson(const Session& s) {
  json markers = json::array();
  for (const Marker& m : s.markers) markers.push_back(MarkerJson(m));
  return {{"session", s.id},
          {"class", s.cls},
          {"tenant", s.tenant},
          {"opened_by", s.opened_by},
          {"opened_unix_ms", s.opened_ms},
          {"budget", BudgetJson(s.budget)},
          {"spent", UsageJson(s.spent)},
          {"actions", s.actions},
          {"markers", markers}};
}

Result<std::unique_ptr<Governor>> Governor::Open(const std::string& db_path, const Clock* clock, EventSink sink) {
  CORDON_ASSIGN_OR_RETURN(std::unique_ptr<StateDb> db, StateDb::Open(db_path));
  CORDON_TRY(db->PruneSpend(clock->NowUnixMs() - kSpendKeepMs));
  CORDON_ASSIGN_OR_RETURN(auto sessions, db->LoadSessions());
  CORDON_ASSIGN_OR_RETURN(auto spend, db->LoadSpend());
  std::unique_ptr<Governor> g(new Governor(std::move(db), clock, std::move(sink)));
  for (const auto& [id, text] : sessions) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return Fail(0, "governance state: session '" + id + "' has a damaged row",
                  "restore state.db from a backup, or delete that row of governance_sessions");
    try {
      g->sessions_[id] = SessionFromJson(id, j);
    } catch (const json::exception& e) {
      return Fail(0, "governance state: session '" + id + "': " + e.what(),
                  "restore state.db from a backup, or delete that row of governance_sessions");
    }
  }
  for (const auto& [key, row] : spend) g->spend_[key] = Spend{row.tasks, row.cpu_ms};
  return g;
}

bool Governor::Save(const Session& s) {
  auto put = db_->PutSession(s.id, SessionJson(s).dump(), clock_->NowUnixMs());
  if (!put) errors_.push_back(put.error().Message());
  return put.has_value();
}

bool Governor::SaveSpend(const std::vector<std::string>& keys) {
  bool ok = true;
  for (const std::string& k : keys) {
    const Spend& s = spend_[k];
    auto put = db_->PutSpend(k, s.tasks, s.cpu_ms, clock_->NowUnixMs());
    if (!put) errors_.push_back(put.error().Message());
    ok = ok && put.has_value();
  }
  return ok;
}

bool Governor::Txn(bool begin, bool ok) {
  Result<void> r = begin ? db_->Begin() : ok ? db_->Commit() : (db_->Rollback(), Result<void>());
  if (!r) errors_.push_back(r.error().Message());
  return r.has_value();
}

AdmitResult Governor::Admit(const BudgetConfig& cfg, const AdmitRequest& req) {
  in_flight_.reset();
  AdmitResult out;
  const std::vector<const Envelope*> envelopes = EnvelopesFor(cfg, req.app_id, req.tenant);
  if (req.session.empty() && envelopes.empty()) return out;
  const int64_t now = clock_->NowUnixMs();
  for (const Envelope* e : envelopes) {
    if (auto r = CheckEnvelope(*e, spend_, now, *req.policy, req.fd_bindings)) {
      // An envelope running out is a state change worth one record per budget and period.
      if (r->kind == Refusal::Kind::kBudget && exhausted_.insert(r->budget + "@" + Iso8601(now + r->retry_after_ms)).second)
        Emit("envelope_exhausted", "cordond",
             {{"scope", e->scope}, {"id", e->id}, {"budget", r->budget}, {"refills_unix_ms", now + r->retry_after_ms},
              {"owner_team", e->owner_team}, {"principal", req.principal}});
      out.refusal = std::move(r);
      return out;
    }
  }
  Session* s = nullptr;
  if (!req.session.empty()) {
    auto it = sessions_.find(req.session);
    if (it == sessions_.end()) {
      auto cls = cfg.session_classes.find(req.session_class);
      if (cls == cfg.session_classes.end()) {
        std::string known;
        for (const auto& [name, b] : cfg.session_classes) known += (known.empty() ? "" : ", ") + name;
        out.refusal = Refusal{Refusal::Kind::kInvalid, "",
                              "session class '" + req.session_class + "' is not configured (classes: " + known +
                                  "); name one of them or add it to budgets.json",
                              0};
        return out;
      }
      Session fresh;
      fresh.id = req.session;
      fresh.cls = req.session_class;
      fresh.tenant = req.tenant;
      fresh.opened_by = req.principal;
      fresh.opened_ms = now;
      fresh.budget = cls->second;
      it = sessions_.emplace(req.session, std::move(fresh)).first;
      Save(it->second);
      Emit("session_open", req.principal,
           {{"session", req.session}, {"class", req.session_class}, {"tenant", req.tenant},
            {"budget", BudgetJson(it->second.budget)}});
    }
    s = &it->second;
    if (auto r = CheckSession(*s, req.tenant, req.action, *req.policy, &out.terms)) {
      out.refusal = std::move(r);
      return out;
    }
  }
  // Admitted: spend one task of the session and of each envelope, on disk before the task runs.
  // A spend that cannot be written is not spent: the task is refused (fail closed) rather than
  // run on a budget a restart would forget.
  Ticket t;
  const std::optional<Session> undo = s ? std::optional<Session>(*s) : std::nullopt;
  const SpendTable undo_spend = envelopes.empty() ? SpendTable{} : spend_;
  const bool in_txn = Txn(true);
  bool saved = true;
  if (s) {
    ReserveTask(s, req.action);
    saved = Save(*s);
    t.session = s->id;
    for (const Marker& m : s->markers) t.markers.push_back(m.name);
  }
  std::vector<std::string> keys;
  for (const Envelope* e : envelopes) {
    ReserveEnvelope(*e, &spend_, now);
    for (Period p : {Period::kDay, Period::kMonth}) keys.push_back(SpendKey(*e, p, WindowOf(p, now).key));
  }
  saved = SaveSpend(keys) && saved;
  if (in_txn) saved = Txn(false, saved) && saved;
  if (!saved) {
    if (s) *s = *undo;
    if (!envelopes.empty()) spend_ = undo_spend;
    out.refusal = Refusal{Refusal::Kind::kUnavailable, "",
                          "cordond could not record the budget this task spends (" + errors_.back() +
                              "); retry once the state disk takes writes",
                          1000};
    return out;
  }
  t.action = req.action;
  t.app_id = req.app_id;
  t.tenant = req.tenant;
  t.terms = out.terms;
  t.admitted_ms = now;
  in_flight_ = std::move(t);
  return out;
}

void Governor::Bind(int64_t decision_id) {
  if (!in_flight_) return;
  tickets_[decision_id] = std::move(*in_flight_);
  in_flight_.reset();
}

json Governor::Finished(const BudgetConfig& cfg, int64_t decision_id, const Usage& used) {
  auto it = tickets_.find(decision_id);
  if (it == tickets_.end()) return nullptr;
  Ticket t = std::move(it->second);
  tickets_.erase(it);
  const bool in_txn = Txn(true);
  bool session_saved = true;
  json out = {{"spent", {{"cpu_ms", used.cpu_ms}, {"wall_ms", used.wall_ms}, {"calls", used.calls}}}};
  if (!t.session.empty()) {
    out["session"] = t.session;
    out["action"] = t.action;
    out["markers"] = t.markers;
    out["restrictions"] = t.terms.restrictions;
    json caps = json::object();
    if (t.terms.cap_cpu_ms) caps["max_cpu_ms"] = *t.terms.cap_cpu_ms;
    if (t.terms.cap_wall_ms) caps["max_wall_ms"] = *t.terms.cap_wall_ms;
    if (t.terms.cap_calls) caps["max_calls"] = *t.terms.cap_calls;
    out["caps"] = caps;
    if (auto s = sessions_.find(t.session); s != sessions_.end()) {
      Charge(&s->second, used);
      session_saved = Save(s->second);
      out["class"] = s->second.cls;
      out["session_spent"] = UsageJson(s->second.spent);
      out["session_budget"] = BudgetJson(s->second.budget);
    }
  }
  json envs = json::array();
  std::vector<std::string> keys;
  for (const Envelope* e : EnvelopesFor(cfg, t.app_id, t.tenant)) {
    // Charged to the periods the task was admitted in, so that a task crossing midnight does not
    // spend the new day's envelope.
    ChargeEnvelope(*e, &spend_, t.admitted_ms, used.cpu_ms);
    for (Period p : {Period::kDay, Period::kMonth}) keys.push_back(SpendKey(*e, p, WindowOf(p, t.admitted_ms).key));
    envs.push_back({{"scope", e->scope}, {"id", e->id}, {"owner_team", e->owner_team}, {"risk_class", e->risk_class}});
  }
  const bool spent = SaveSpend(keys);
  if (in_txn) Txn(false, spent && session_saved);
  out["envelopes"] = envs;
  return out;
}

Result<Session> Governor::SetBudget(const std::string& id, const SessionBudget& set,
                                    const std::vector<std::string>& unlimit, const std::string& by) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return Fail(ENOENT, "no session '" + id + "'", "cordon session list shows the sessions");
  for (const std::string& f : unlimit)
    if (!BudgetField(&it->second.budget, f))
      return Fail(EINVAL, "unknown budget '" + f + "'", "budgets: cpu_ms, wall_ms, tasks, calls, fanout");
  const json before = BudgetJson(it->second.budget);
  for (const char* f : kBudgetFields)
    if (const auto& v = *BudgetField(set, f)) *BudgetField(&it->second.budget, f) = *v;
  for (const std::string& f : unlimit) BudgetField(&it->second.budget, f)->reset();
  Save(it->second);
  Emit("session_budget", by, {{"session", id}, {"before", before}, {"after", BudgetJson(it->second.budget)},
                              {"spent", UsageJson(it->second.spent)}});
  return it->second;
}

Result<Session> Governor::Mark(const std::string& id, Marker marker, bool clear) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return Fail(ENOENT, "no session '" + id + "'", "cordon session list shows the sessions");
  if (marker.name.empty()) return Fail(EINVAL, "the marker needs a name", "cordon session mark SESSION NAME ...");
  auto& ms = it->second.markers;
  auto same = std::find_if(ms.begin(), ms.end(), [&](const Marker& m) { return m.name == marker.name; });
  if (clear) {
    if (same == ms.end())
      return Fail(ENOENT, "session '" + id + "' has no marker '" + marker.name + "'", "cordon session show " + id);
    ms.erase(same);
    Save(it->second);
    Emit("session_unmark", marker.by, {{"session", id}, {"marker", marker.name}, {"reason", marker.reason}});
    return it->second;
  }
  for (const std::string& r : marker.restrictions)
    if (std::string why = CheckRestriction(r); !why.empty()) return Fail(EINVAL, why, "docs/governance.md \"Markers\"");
  marker.at_ms = clock_->NowUnixMs();
  const json data = {{"session", id}, {"marker", MarkerJson(marker)}};
  const std::string by = marker.by;
  if (same != ms.end()) *same = std::move(marker);
  else ms.push_back(std::move(marker));
  Save(it->second);
  Emit("session_mark", by, data);
  return it->second;
}

std::vector<Session> Governor::Sessions(const std::string& tenant) const {
  std::vector<Session> out;
  for (const auto& [id, s] : sessions_)
    if (tenant.empty() || s.tenant == tenant) out.push_back(s);
  return out;
}

const Session* Governor::Find(const std::string& id) const {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second;
}

}  // namespace cordon::governance
