// supervisor/daemon/suspend_calls.cc: cordond's auto-suspend (docs/incident-response.md
// "Auto-suspend"): the violations it counts (a task's seccomp kill, its refused egress, its CPU
// budget overrun; a Submit refused as restricted or over budget), the suspension when an app (or,
// where configured, a principal) reaches N of them within T, the admission step that refuses a
// suspended one, and the Suspensions and Resume calls. A timeout is never a violation. The state
// is supervisor/governance/suspend.h (STATE/governance.db); every suspension and resume goes to
// the evidence log, with principal "cordond" or the operator who resumed.
#include "supervisor/daemon/daemon_internal.h"

namespace cordon::daemon::internal {
namespace {

bool IsOperatorOf(const Principals& ps, const Principal& p) {
  for (const auto& name : p.roles)
    if (auto it = ps.roles.find(name); it != ps.roles.end() && it->second.operate) return true;
  return false;
}

nlohmann::json ViolationsJson(const std::vector<governance::Violation>& vs) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& v : vs) out.push_back({{"at_unix_ms", v.at_unix_ms}, {"kind", v.kind}, {"detail", v.detail}});
  return out;
}

}  // namespace

Result<void> Daemon::InitSuspend() {
  suspends_ = governance::SuspendBoard(govdb_.get());
  // Before the configuration is loaded: violations of the longest window allowed are kept;
  // each Record prunes by the window in force.
  CORDON_TRY(suspends_.Load(NowUnixMs(), int64_t{30} * 86'400'000));
  for (const auto& [subject, s] : suspends_.all())
    Log("auto-suspend: " + subject + " is suspended; cordon resume lifts it");
  return {};
}

std::optional<std::pair<api::ErrorCode, std::string>> Daemon::SuspendRefusal(const Decision& d, const Submission& s) {
  const governance::Suspension* found = nullptr;
  if (!s.app_id.empty()) found = suspends_.Find("app:" + s.app_id);
  if (!found && d.principal) found = suspends_.Find("principal:" + d.principal->name);
  if (!found) return std::nullopt;
  return std::make_pair(api::ERROR_CODE_SUSPENDED, governance::SuspendRefusal(*found, config_->settings.suspend));
}

void Daemon::CountViolation(const std::string& app, const std::string& principal, const governance::Violation& v) {
  const governance::SuspendParams& p = config_->settings.suspend;
  if (p.violations == 0) return;
  std::vector<std::string> subjects;
  if (!app.empty()) subjects.push_back("app:" + app);
  if (p.principals && !principal.empty()) subjects.push_back("principal:" + principal);
  for (const auto& subject : subjects) {
    std::optional<Error> not_saved;  // counted in memory all the same (STATE's disk full, say)
    auto r = suspends_.Record(subject, v, p, &not_saved);
    if (not_saved)
      Log("auto-suspend: a violation of " + subject + " is counted but not saved to governance.db: " +
          not_saved->Message());
    if (!r) {
      Log("auto-suspend: recording a violation of " + subject + " failed: " + r.error().Message());
      continue;
    }
    if (!*r) continue;
    const governance::Suspension& s = **r;
    Log("auto-suspend: " + subject + " suspended after " + std::to_string(s.violations.size()) +
        " policy violations (last: " + v.kind + ", " + v.detail + ")");
    nlohmann::json data = {{"subject", subject},
                           {"violations", ViolationsJson(s.violations)},
                           {"threshold", p.violations},
                           {"window_ms", p.window_ms}};
    if (auto e = evlog_->Governance("suspend", "cordond", std::move(data)); !e)
      Log("evidence log: governance suspend: " + e.error().Message());
  }
}

void Daemon::SuspendOnFinish(const Live& l, const std::string& evidence) {
  const TaskRow& r = l.row;
  const int64_t now = NowUnixMs();
  const std::string task = "task " + r.id;
  if (r.failure_class == "seccomp_violation")
    CountViolation(r.app_id, r.principal, {now, "seccomp_violation", task + ": " + r.message});
  else if (r.failure_class == "cpu_budget")
    CountViolation(r.app_id, r.principal, {now, "budget_overrun", task + " ran over its CPU budget"});
  // Refused egress: the task's evidence lists each connection with its decision.
  if (evidence.find("\"deny\"") == std::string::npos) return;
  auto ev = nlohmann::json::parse(evidence, nullptr, false);
  if (!ev.is_object() || !ev.contains("egress") || !ev["egress"].is_array()) return;
  size_t denied = 0;
  std::string first;
  for (const auto& e : ev["egress"]) {
    if (!e.is_object() || e.value("decision", "") != "deny") continue;
    if (denied++ == 0) first = e.value("host", "") + ":" + std::to_string(e.value("port", 0));
  }
  if (denied)
    CountViolation(r.app_id, r.principal,
                   {now, "egress_refused", task + ": " + std::to_string(denied) + " refused connection(s), first to " + first});
}

void Daemon::SuspendOnRefusal(const Submission& s, const SubmitVerdict& v) {
  if (!v.admission.principal) return;
  const char* kind = v.code == api::ERROR_CODE_RESTRICTED         ? "restricted"
                     : v.code == api::ERROR_CODE_BUDGET_EXHAUSTED ? "budget_overrun"
                                                                  : nullptr;
  if (!kind) return;
  CountViolation(s.app_id, v.admission.principal->name, {NowUnixMs(), kind, "submit refused: " + v.reason});
}

void Daemon::HandleSuspendCall(Conn& c, const api::Request& req) {
  const uint64_t call_id = req.call_id();
  const Principal* p = FindPrincipal(config_->principals, c.peer.uid, c.peer.gid);
  if (p == nullptr)
    return ReplyError(c, call_id, api::ERROR_CODE_UNAUTHENTICATED,
                      "uid " + std::to_string(c.peer.uid) + " is not a principal in " + config_->principals.source);
  api::Response resp;
  resp.set_call_id(call_id);
  if (req.call_case() == api::Request::kSuspensions) {
    const governance::SuspendParams& sp = config_->settings.suspend;
    auto* out = resp.mutable_suspensions();
    for (const auto& [subject, s] : suspends_.all()) {
      auto* si = out->add_suspensions();
      const auto colon = subject.find(':');
      si->set_kind(subject.substr(0, colon));
      si->set_value(subject.substr(colon + 1));
      si->set_since_unix_ms(s.since_unix_ms);
      for (const auto& v : s.violations) {
        auto* vi = si->add_violations();
        vi->set_at_unix_ms(v.at_unix_ms);
        vi->set_kind(v.kind);
        vi->set_detail(v.detail);
      }
    }
    out->set_violations(sp.violations);
    out->set_window_ms(sp.window_ms);
    out->set_principals(sp.principals);
    return Reply(c, resp);
  }
  if (!IsOperatorOf(config_->principals, *p))
    return ReplyError(c, call_id, api::ERROR_CODE_PERMISSION_DENIED,
                      "principal '" + p->name + "' has no role with \"operator\": true in " +
                          config_->principals.source + "; resuming a suspended app is for operators");
  const api::ResumeRequest& r = req.resume();
  if ((r.kind() != "app" && r.kind() != "principal") || r.value().empty())
    return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT,
                      "resume needs a kind \"app\" or \"principal\" and a value (cordon resume --app ID)");
  const std::string subject = r.kind() + ":" + r.value();
  auto lifted = suspends_.Resume(subject);
  if (!lifted)
    return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, "recording the resume failed: " + lifted.error().Message());
  resp.mutable_resume()->set_was_suspended(lifted->has_value());
  nlohmann::json data = {{"subject", subject}, {"was_suspended", lifted->has_value()}};
  if (!r.reason().empty()) data["reason"] = r.reason();
  const std::string event = lifted->has_value() ? "resume" : "resume_not_suspended";
  if (auto e = evlog_->Governance(event, p->name, std::move(data)); !e)
    Log("evidence log: governance " + event + ": " + e.error().Message());
  Log("auto-suspend: " + subject + (lifted->has_value() ? " resumed" : " was not suspended; resume") + " by '" +
      p->name + "'");
  Reply(c, resp);
}

}  // namespace cordon::daemon::internal
