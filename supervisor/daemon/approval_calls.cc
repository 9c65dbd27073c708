// supervisor/daemon/approval_calls.cc: cordond's approvals for side effects (docs/governance.md
// "Approvals"): the admission step that holds a Submit PENDING when its side effects need a
// human's approval, the ApprovalList, ApprovalDecide and ApprovalWait calls, the expiry of
// requests nobody decided, and the approved request's single use. The table is
// supervisor/governance/approval.h (STATE/governance.db); every transition goes to the evidence
// log with its principal: the requester, the approver or denier, or "cordond" for an expiry.
#include "supervisor/daemon/daemon_internal.h"

namespace cordon::daemon::internal {
namespace {

using governance::Approval;
using governance::ApprovalState;

// True when one of `p`'s roles may approve every class in `classes` ("approve": [...], or "*").
bool MayApprove(const Principals& ps, const Principal& p, const std::vector<std::string>& classes) {
  std::set<std::string> may;
  for (const auto& name : p.roles)
    if (auto it = ps.roles.find(name); it != ps.roles.end()) may.insert(it->second.approve.begin(), it->second.approve.end());
  if (may.contains("*")) return true;
  for (const auto& c : classes)
    if (!may.contains(c)) return false;
  return !classes.empty();
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

void FillApproval(const Approval& a, api::ApprovalInfo* out) {
  out->set_id(a.id);
  out->set_state(std::string(governance::ApprovalStateName(a.state)));
  out->set_principal(a.principal);
  out->set_tenant(a.tenant);
  for (const auto& c : a.classes) out->add_side_effects(c);
  out->set_app_id(a.app_id);
  out->set_policy(a.policy);
  out->set_session(a.session);
  for (const auto& x : a.argv) out->add_argv(x);
  out->set_created_unix_ms(a.created_unix_ms);
  out->set_expires_unix_ms(a.expires_unix_ms);
  out->set_decided_by(a.decided_by);
  out->set_decided_unix_ms(a.decided_unix_ms);
  out->set_reason(a.reason);
  out->set_decision_id(a.decision_id);
}

nlohmann::json ApprovalJson(const Approval& a) {
  nlohmann::json j = {{"approval_id", a.id},
                      {"state", std::string(governance::ApprovalStateName(a.state))},
                      {"requester", a.principal},
                      {"tenant", a.tenant},
                      {"side_effects", a.classes},
                      {"app_id", a.app_id},
                      {"policy", a.policy},
                      {"fingerprint", a.fingerprint},
                      {"expires_unix_ms", a.expires_unix_ms}};
  if (!a.session.empty()) j["session"] = a.session;
  if (!a.reason.empty()) j["reason"] = a.reason;
  if (a.decision_id) j["decision_id"] = a.decision_id;
  return j;
}

}  // namespace

Result<void> Daemon::InitApprovals() {
  approvals_ = governance::ApprovalTable(govdb_.get());
  CORDON_TRY(approvals_.Load());
  size_t pending = 0;
  for (const auto& a : approvals_.all()) pending += a.state == ApprovalState::kPending;
  if (pending) Log("approvals: " + std::to_string(pending) + " request(s) pending (cordon approvals list)");
  ApprovalTick(sys::MonotonicNs());  // those whose time ran out while cordond was down expire now
  return {};
}

bool Daemon::ApprovalGate(const Submission& s, SubmitVerdict* v) {
  auto refuse = [&](api::ErrorCode code, std::string why) {
    v->code = code;
    v->reason = std::move(why);
    return false;
  };
  const Policy& pol = *v->admission.policy->policy;
  std::vector<std::string> wanted;
  for (const auto& e : s.side_effects) {
    if (auto ok = governance::CheckSideEffectName(e, "side_effects"); !ok)
      return refuse(api::ERROR_CODE_INVALID_ARGUMENT, ok.error().context + " (" + ok.error().hint + ")");
    wanted.push_back(e);
  }
  for (const auto& b : pol.bindings)
    if (!b.side_effect.empty()) wanted.push_back(b.side_effect);
  const std::vector<std::string> classes = governance::ApprovalClasses(pol.approval_required_for, std::move(wanted));
  const std::string& principal = v->admission.principal->name;
  ApprovalTick(sys::MonotonicNs());  // an expired request is never used
  if (!s.approval_id.empty()) {
    const Approval* a = approvals_.Find(s.approval_id);
    if (!a || a->principal != principal)
      return refuse(api::ERROR_CODE_NOT_APPROVED, "no approval request " + s.approval_id + " of principal '" +
                                                      principal + "' (cordon approvals list shows yours)");
    if (a->state != ApprovalState::kApproved)
      return refuse(api::ERROR_CODE_NOT_APPROVED,
                    "approval request " + a->id + " is " + std::string(governance::ApprovalStateName(a->state)) +
                        (a->decided_by.empty() ? "" : " by '" + a->decided_by + "'") +
                        (a->reason.empty() ? "" : " (" + a->reason + ")") +
                        (a->state == ApprovalState::kPending ? "; wait for an approver (cordon approvals wait " + a->id + ")"
                                                             : "; submit again without --approval for a new request"));
    if (a->fingerprint != v->fingerprint || a->classes != classes)
      return refuse(api::ERROR_CODE_NOT_APPROVED,
                    "approval request " + a->id + " was for a different request (command, env, cwd, policy, app, class "
                    "or side effects differ); an approval covers exactly the request approved");
    v->approval_used = a->id;
    return true;
  }
  if (classes.empty()) return true;
  Approval a;
  a.principal = principal;
  a.tenant = v->admission.principal->tenant;
  a.classes = classes;
  a.fingerprint = v->fingerprint;
  a.app_id = s.app_id;
  a.policy = s.policy;
  a.session = s.session;
  {
    // Stored, listed and logged redacted, as a task's argv is (docs/evidence.md "Redaction").
    TaskRow shown;
    shown.argv = s.argv;
    evlog_->RedactTask(&shown, nullptr);
    a.argv = std::move(shown.argv);
  }
  a.created_unix_ms = NowUnixMs();
  a.expires_unix_ms = a.created_unix_ms + static_cast<int64_t>(config_->settings.approval_timeout_s) * 1000;
  auto made = approvals_.Create(std::move(a));
  if (!made) return refuse(api::ERROR_CODE_INTERNAL, "recording the approval request failed: " + made.error().Message());
  v->approval_pending = (*made)->id;
  return false;
}

std::string Daemon::PendingReason(const SubmitVerdict& v) const {
  const Approval* a = approvals_.Find(v.approval_pending);
  return "held for approval " + v.approval_pending + " (side effects " + (a ? Join(a->classes) : "?") +
         "); an approver runs: cordon approvals approve " + v.approval_pending;
}

void Daemon::ReplyPending(Conn& c, uint64_t call_id, int64_t decision_id, const Submission& s, const SubmitVerdict& v) {
  const Approval* a = approvals_.Find(v.approval_pending);
  if (!a) return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, "approval request " + v.approval_pending + " is gone");
  nlohmann::json data = ApprovalJson(*a);
  data["decision_id"] = decision_id;
  if (auto e = evlog_->Governance("approval_requested", a->principal, std::move(data)); !e)
    Log("evidence log: governance approval_requested: " + e.error().Message());
  Log("approvals: " + a->id + " requested by '" + a->principal + "' for " + Join(a->classes));
  api::Response resp;
  resp.set_call_id(call_id);
  api::SubmitResponse* out = resp.mutable_submit();
  out->set_decision_id(decision_id);
  api::TaskInfo* t = out->mutable_task();
  t->set_state(api::TASK_STATE_PENDING);
  t->set_approval_id(a->id);
  t->set_principal(a->principal);
  t->set_tenant(a->tenant);
  t->set_app_id(a->app_id);
  t->set_policy(a->policy);
  t->set_class_(ClassEnum(s.cls));
  for (const auto& x : a->argv) t->add_argv(x);
  t->set_created_unix_ms(a->created_unix_ms);
  t->set_message(PendingReason(v));
  ReplyWhenDurable(c, std::move(resp));
}

void Daemon::ApprovalUsed(const SubmitVerdict& v, int64_t decision_id) {
  const std::string& id = v.approval_used;
  if (auto u = approvals_.Use(id, decision_id); !u) {
    Log("approvals: marking " + id + " used failed: " + u.error().Message());
    return;
  }
  if (const Approval* a = approvals_.Find(id)) {
    if (auto e = evlog_->Governance("approval_used", a->principal, ApprovalJson(*a)); !e)
      Log("evidence log: governance approval_used: " + e.error().Message());
  }
}

void Daemon::HandleApprovalCall(Conn& c, const api::Request& req) {
  const uint64_t call_id = req.call_id();
  const Principal* p = FindPrincipal(config_->principals, c.peer.uid, c.peer.gid);
  if (p == nullptr)
    return ReplyError(c, call_id, api::ERROR_CODE_UNAUTHENTICATED,
                      "uid " + std::to_string(c.peer.uid) + " is not a principal in " + config_->principals.source);
  ApprovalTick(sys::MonotonicNs());
  const bool sees_all = MayManage(config_->principals, *p, "\x01(any other)");
  auto visible = [&](const Approval& a) {
    return sees_all || a.principal == p->name || MayApprove(config_->principals, *p, a.classes);
  };
  api::Response resp;
  resp.set_call_id(call_id);
  if (req.call_case() == api::Request::kApprovalList) {
    auto* out = resp.mutable_approval_list();
    for (const auto& a : approvals_.all())
      if (visible(a) && (req.approval_list().all() || a.state == ApprovalState::kPending))
        FillApproval(a, out->add_approvals());
    return Reply(c, resp);
  }
  const std::string id =
      req.call_case() == api::Request::kApprovalDecide ? req.approval_decide().id() : req.approval_wait().id();
  if (id.empty()) return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT, "the approval id is empty");
  const Approval* a = approvals_.Find(id);
  if (!a || !visible(*a))
    return ReplyError(c, call_id, api::ERROR_CODE_NOT_FOUND,
                      "no approval request " + id + " visible to principal '" + p->name +
                          "' (cordon approvals list --all shows those you may see)");
  if (req.call_case() == api::Request::kApprovalWait) {
    if (a->state != ApprovalState::kPending) {
      FillApproval(*a, resp.mutable_approval_wait()->mutable_approval());
      return Reply(c, resp);
    }
    if (c.waits >= kMaxWaitsPerConn)
      return ReplyError(c, call_id, api::ERROR_CODE_UNAVAILABLE,
                        "this connection has " + std::to_string(c.waits) +
                            " Wait calls pending, the limit per connection; wait for some to be answered");
    const uint64_t t = req.approval_wait().timeout_ms();
    approval_waiters_.push_back(ApprovalWaiter{c.serial, call_id, t ? sys::MonotonicNs() + t * 1'000'000ull : 0, id});
    ++c.waits;
    return;
  }
  // ApprovalDecide.
  const api::ApprovalDecideRequest& d = req.approval_decide();
  if (!MayApprove(config_->principals, *p, a->classes))
    return ReplyError(c, call_id, api::ERROR_CODE_PERMISSION_DENIED,
                      "principal '" + p->name + "' has no role whose \"approve\" lists " + Join(a->classes) + " in " +
                          config_->principals.source + "; ask an approver of those side effects");
  auto decided = approvals_.Decide(id, d.approve(), p->name, d.reason(), NowUnixMs());
  if (!decided) {
    const int err = decided.error().err;
    const auto code = err == EPERM ? api::ERROR_CODE_PERMISSION_DENIED
                      : err == EIO ? api::ERROR_CODE_INTERNAL
                                   : api::ERROR_CODE_INVALID_ARGUMENT;
    std::string msg = err == EIO ? decided.error().Message() : decided.error().context;
    if (!decided.error().hint.empty()) msg += " (" + decided.error().hint + ")";
    return ReplyError(c, call_id, code, msg);
  }
  const Approval& done = **decided;
  const std::string event = d.approve() ? "approval_approved" : "approval_denied";
  if (auto e = evlog_->Governance(event, p->name, ApprovalJson(done)); !e)
    Log("evidence log: governance " + event + ": " + e.error().Message());
  Log("approvals: " + done.id + " " + std::string(governance::ApprovalStateName(done.state)) + " by '" + p->name + "'");
  FillApproval(done, resp.mutable_approval_decide()->mutable_approval());
  Reply(c, resp);
  ApprovalTick(sys::MonotonicNs());  // tells its waiters
}

uint64_t Daemon::ApprovalNextNs(uint64_t now_ns) const {
  uint64_t next = 0;
  auto consider = [&](uint64_t d) {
    if (d && (next == 0 || d < next)) next = d;
  };
  for (const auto& w : approval_waiters_) consider(w.deadline_ns);
  if (int64_t e = approvals_.NextExpiryUnixMs()) {
    const int64_t in_ms = e - NowUnixMs();
    consider(in_ms <= 0 ? now_ns : now_ns + static_cast<uint64_t>(in_ms) * 1'000'000ull);
  }
  return next;
}

void Daemon::ApprovalTick(uint64_t now_ns) {
  auto expired = approvals_.Expire(NowUnixMs());
  if (!expired) {
    Log("approvals: recording an expiry failed: " + expired.error().Message());
  } else {
    for (const auto& id : *expired) {
      const Approval* a = approvals_.Find(id);
      if (!a) continue;
      nlohmann::json data = ApprovalJson(*a);
      if (config_) data["timeout_s"] = config_->settings.approval_timeout_s;  // not loaded yet at start
      // Nobody decided: the record says so, with cordond as the principal, never a human's denial.
      if (auto e = evlog_->Governance("approval_expired", "cordond", std::move(data)); !e)
        Log("evidence log: governance approval_expired: " + e.error().Message());
      Log("approvals: " + id + " expired undecided");
    }
  }
  for (size_t i = 0; i < approval_waiters_.size();) {
    const ApprovalWaiter w = approval_waiters_[i];
    const Approval* a = approvals_.Find(w.id);
    const bool decided = !a || a->state != ApprovalState::kPending;
    const bool timed_out = !decided && w.deadline_ns && w.deadline_ns <= now_ns;
    if (!decided && !timed_out) {
      ++i;
      continue;
    }
    approval_waiters_.erase(approval_waiters_.begin() + static_cast<long>(i));
    auto it = conns_.find(w.conn);
    if (it == conns_.end()) continue;
    Conn& c = *it->second;
    if (c.waits > 0) --c.waits;
    if (!a) {
      ReplyError(c, w.call_id, api::ERROR_CODE_NOT_FOUND, "approval request " + w.id + " is gone");
      continue;
    }
    api::Response resp;
    resp.set_call_id(w.call_id);
    FillApproval(*a, resp.mutable_approval_wait()->mutable_approval());
    resp.mutable_approval_wait()->set_timed_out(timed_out);
    Reply(c, resp);
  }
}

}  // namespace cordon::daemon::internal
