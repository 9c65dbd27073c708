// supervisor/daemon/submit.cc: cordond's Submit call, as its steps: read the request and claim
// its fds, judge it (admission, then the daemon's own limits and idempotency), record the
// decision, then either answer (a refusal, a replay) or start the task (a pooled sandbox, else
// one built on demand, off the loop: cold_build.cc) and register it. docs/daemon.md describes each step's faults.
#include "supervisor/daemon/daemon_internal.h"

namespace cordon::daemon::internal {
namespace {

Submission ReadSubmission(const api::SubmitRequest& req) {
  Submission s;
  s.request_id = req.request_id();
  s.app_id = req.app_id();
  s.cls = ClassName(req.class_());
  if (!req.policy().empty()) s.policy = req.policy();
  s.argv.assign(req.argv().begin(), req.argv().end());
  s.env.assign(req.env().begin(), req.env().end());
  if (!req.cwd().empty()) s.cwd = req.cwd();
  s.stdio = req.stdio();
  s.fd_bindings.assign(req.fd_bindings().begin(), req.fd_bindings().end());
  s.session = req.session();
  s.session_class = req.session_class();
  s.action = req.action();
  if (req.has_artifact()) {  // evidence (wip/evlog): docs/evidence.md "Artifact hash"
    const api::Artifact& a = req.artifact();
    std::optional<std::string> content;
    if (a.has_content()) content = a.content();
    if (content && content->size() > evlog::kMaxDeclaredArtifactBytes) {
      s.artifact_error = "artifact.content holds " + std::to_string(content->size()) + " bytes, more than " +
                         std::to_string(evlog::kMaxDeclaredArtifactBytes) + "; send its sha256 instead";
    } else if (auto d = evlog::DeclareArtifact(content, a.sha256(), a.name(), "cordond"); d) {
      s.artifact = std::move(*d);
    } else {
      s.artifact_error = d.error().Message() + (d.error().hint.empty() ? "" : " (" + d.error().hint + ")");
    }
  }
  s.side_effects.assign(req.side_effects().begin(), req.side_effects().end());  // approvals (wip/govc)
  s.approval_id = req.approval_id();
  return s;
}

DecisionRow MakeDecisionRow(const Conn& c, const Config& cfg, const Submission& s, const SubmitVerdict& v,
                            int64_t now_ms) {
  DecisionRow row;
  row.time_unix_ms = now_ms;
  row.peer_pid = c.peer.pid;
  row.peer_uid = c.peer.uid;
  row.peer_gid = c.peer.gid;
  if (v.admission.principal) {
    row.principal = v.admission.principal->name;
    row.tenant = v.admission.principal->tenant;
  }
  row.policy = s.policy;
  if (v.admission.policy) {
    row.policy_version = v.admission.policy->policy->version;
    row.policy_sha256 = v.admission.policy->policy->sha256;
  }
  row.principals_sha256 = cfg.principals.sha256;
  row.fingerprint = v.fingerprint;
  row.request_id = s.request_id;
  row.app_id = s.app_id;
  row.cls = s.cls;
  row.allowed = v.code == api::ERROR_CODE_OK;
  row.reason = v.reason;
  return row;
}

TaskRow MakeTaskRow(const std::string& id, const Submission& s, const Decision& d, const std::string& fingerprint,
                    int64_t now_ms, int64_t decision_id) {
  TaskRow t;
  t.id = id;
  t.principal = d.principal->name;
  t.tenant = d.principal->tenant;
  t.app_id = s.app_id;
  t.cls = s.cls;
  t.policy = s.policy;
  t.policy_version = d.policy->policy->version;
  t.policy_sha256 = d.policy->policy->sha256;
  t.argv = s.argv;
  t.request_id = s.request_id;
  t.fingerprint = fingerprint;
  t.state = "running";
  t.created_unix_ms = now_ms;
  t.decision_id = decision_id;
  return t;
}

}  // namespace

void Daemon::HandleSubmit(Conn& c, uint64_t call_id, const api::SubmitRequest& req) {
  // No decision can be recorded either: refused before admission, with the reason.
  if (!pending_.empty()) return ReplyError(c, call_id, api::ERROR_CODE_UNAVAILABLE, PendingRefusal());
  ++submits_this_turn_[c.peer.uid];
  SubmitCall call;
  call.received_ns = sys::MonotonicNs();
  call.now_ms = NowUnixMs();
  call.s = ReadSubmission(req);
  ClaimSubmitFds(c, &call);
  std::shared_ptr<const Config> cfg = config_;
  const SubmitVerdict v = JudgeSubmit(c, *cfg, call);
  // A decision that starts a task is synced later, while the task's sandbox gets it (its exec waits
  // for the sync); the others now, or with the sync worker by it, and answered when it is done.
  const bool starts_task = v.code == api::ERROR_CODE_OK && !v.replay && v.approval_pending.empty();
  if (!starts_task) GovernedAbandon(v);  // the breakers' tickets it held (breaker_calls.cc)
  // Redacted before it is stored anywhere (docs/evidence.md "Redaction"), then appended to the
  // evidence log with the policy text in force.
  DecisionRow row = MakeDecisionRow(c, *cfg, call.s, v, call.now_ms);
  if (!v.approval_pending.empty()) row.allowed = false, row.reason = PendingReason(v);  // approval_calls.cc
  evlog_->RedactDecision(&row);
  auto decision_id = store_->RecordDecision(row, starts_task || syncer_ != nullptr);
  if (!decision_id) {
    Log("recording a decision failed, refusing the submit: " + decision_id.error().Message());
    if (starts_task) GovernedAbandon(v);
    return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL,
                      "cordond could not record the admission decision: " + decision_id.error().Message());
  }
  const Policy* policy = v.admission.policy ? v.admission.policy->policy.get() : nullptr;
  if (auto a = evlog_->Decision(row, *decision_id, policy); !a)
    Log("evidence log: decision " + std::to_string(*decision_id) + ": " + a.error().Message());
  if (v.code != api::ERROR_CODE_OK) {
    Log("refused pid " + std::to_string(c.peer.pid) + " uid " + std::to_string(c.peer.uid) + ": " + v.reason);
    SuspendOnRefusal(call.s, v);  // auto-suspend (wip/govc): suspend_calls.cc
    api::Response refusal;
    refusal.set_call_id(call_id);
    refusal.mutable_error()->set_code(v.code);
    refusal.mutable_error()->set_message(v.reason);
    SetRetry(refusal.mutable_error(), v.code, v.retry_after_ms, v.budget);
    return ReplyWhenDurable(c, std::move(refusal));
  }
  if (v.replay) return ReplyReplay(c, call_id, *decision_id, *v.replay);
  if (!v.approval_pending.empty()) return ReplyPending(c, call_id, *decision_id, call.s, v);  // approval_calls.cc
  if (!v.approval_used.empty()) ApprovalUsed(v, *decision_id);
  budgets_->Bind(*decision_id);
  const int64_t now_ms = call.now_ms;
  StartSubmitted(c, call_id, std::move(call), v, *decision_id);
  if (now_ms - last_purge_ms_ > 60'000) {
    last_purge_ms_ = now_ms;
    (void)store_->PurgeKeys(now_ms - static_cast<int64_t>(opts_.idempotency_window_s) * 1000);
  }
}

void Daemon::ClaimSubmitFds(Conn& c, SubmitCall* call) {
  // The fds this frame carried, if it says it carries them. Closed on return unless a task takes them.
  while (call->s.stdio && call->stdio.size() < 3 && !c.fds.empty()) {
    call->stdio.push_back(std::move(c.fds.front()));
    c.fds.pop_front();
  }
  while (call->bound.size() < call->s.fd_bindings.size() && call->bound.size() < kMaxFdBindings && !c.fds.empty()) {
    call->bound.push_back(std::move(c.fds.front()));
    c.fds.pop_front();
  }
}

SubmitVerdict Daemon::JudgeSubmit(const Conn& c, const Config& cfg, const SubmitCall& call) {
  const Submission& s = call.s;
  SubmitVerdict v;
  v.admission = Admit(cfg, c.peer, s);
  v.fingerprint = Fingerprint(s);
  v.code = CodeOf(v.admission.verdict);
  v.reason = v.admission.reason;
  if (!v.admission.allowed()) return v;
  auto refuse = [&](api::ErrorCode code, std::string reason) {
    v.code = code;
    v.reason = std::move(reason);
    return v;
  };
  if (stopping_)
    return refuse(api::ERROR_CODE_UNAVAILABLE,
                  "cordond is shutting down and admits no new tasks; submit again once it is back");
  if (auto g = GovernanceRefusal(s, &v)) return refuse(g->first, std::move(g->second));  // wip/govb
  if (s.fd_bindings.size() > kMaxFdBindings || call.bound.size() != s.fd_bindings.size())
    return refuse(api::ERROR_CODE_INVALID_ARGUMENT,
                  "fd_bindings names " + std::to_string(s.fd_bindings.size()) + " fds but the frame carried " +
                      std::to_string(call.bound.size()) + " after stdio (at most " + std::to_string(kMaxFdBindings) +
                      ")");
  if (!s.artifact_error.empty()) return refuse(api::ERROR_CODE_INVALID_ARGUMENT, s.artifact_error);
  if (s.stdio && call.stdio.size() != 3)
    return refuse(api::ERROR_CODE_INVALID_ARGUMENT,
                  "stdio is set but the Submit frame carried " + std::to_string(call.stdio.size()) +
                      " fds; send stdin, stdout and stderr as SCM_RIGHTS with the frame's first byte");
  if (!s.request_id.empty()) {
    const std::string& principal = v.admission.principal->name;
    auto k = store_->FindKey(principal, s.request_id,
                             call.now_ms - static_cast<int64_t>(opts_.idempotency_window_s) * 1000);
    if (!k) return refuse(api::ERROR_CODE_INTERNAL, k.error().Message());
    if (*k && (*k)->fingerprint != v.fingerprint)
      return refuse(api::ERROR_CODE_CONFLICT, "request_id '" + s.request_id + "' of principal '" + principal +
                                                  "' was already used for a different request (task " +
                                                  (*k)->task_id + "); use a new request_id for a new request");
    if (*k) {
      v.replay = **k;
      v.reason = "replay of request_id '" + s.request_id + "': task " + v.replay->task_id;
      return v;
    }
  }
  if (live_.size() + cold_builds_.size() >= opts_.max_tasks)  // sandboxes being built count too
    return refuse(api::ERROR_CODE_UNAVAILABLE,
                  "cordond runs its limit of " + std::to_string(opts_.max_tasks) + " tasks; retry later");
  if (!ApprovalGate(s, &v)) return v;  // approvals (wip/govc): held pending, or its approval refused
  budgets_->Admit(cfg, s, &v);  // sessions and envelopes, last: it spends their budgets
  return v;
}

void Daemon::ReplyReplay(Conn& c, uint64_t call_id, int64_t decision_id, const IdempotencyKey& key) {
  api::Response resp;
  resp.set_call_id(call_id);
  api::SubmitResponse* out = resp.mutable_submit();
  out->set_decision_id(decision_id);
  out->set_replayed(true);
  if (auto it = live_by_id_.find(key.task_id); it != live_by_id_.end()) {
    FillInfo(live_.at(it->second)->row, out->mutable_task());
  } else if (auto t = store_->GetTask(key.task_id); t && *t) {
    FillInfo(**t, out->mutable_task());
  } else {
    return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, "task " + key.task_id + " of the replayed request is gone");
  }
  ReplyWhenDurable(c, std::move(resp));
}

void Daemon::StartSubmitted(Conn& c, uint64_t call_id, SubmitCall call, const SubmitVerdict& v, int64_t decision_id) {
  const Decision& d = v.admission;
  const Submission& s = call.s;
  TaskRequest tr;
  tr.argv = s.argv;
  tr.env = s.env;
  tr.cwd = s.cwd;
  if (!s.stdio) {
    for (int i = 0; i < 3; ++i) call.stdio.emplace_back(::open("/dev/null", O_RDWR | O_CLOEXEC));
  }
  tr.stdin_fd = call.stdio[0].Get();
  tr.stdout_fd = call.stdio[1].Get();
  tr.stderr_fd = call.stdio[2].Get();
  // One caller that stops reading must not hold the loop: bounded wait for the output's tail.
  tr.output_drain_ms = 2000;
  auto l = std::make_unique<Live>();
  l->session = s.session;
  l->declared_artifact = s.artifact;
  if (auto id = PrepareIdentity(d, &call, &tr, l.get()); !id) {  // secrets and token bindings (tokens.cc)
    Log("refused to start a task: " + id.error().Message());
    GovernedAbandon(v);
    std::string msg = id.error().Message() + (id.error().hint.empty() ? "" : " (" + id.error().hint + ")");
    return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT, msg);
  }
  // The warm pool: a sandbox built ahead for exactly this policy and filter, when the request adds
  // nothing to the sandbox's shape (no caller fds; the policy has no per-request bindings).
  uint64_t release_ticket = 0;
  if (call.bound.empty()) {
    auto pooled = StartPooled(s.policy, *d.policy, tr, call.received_ns, l.get());
    if (!pooled) {
      Log("syncing an admission decision failed, refusing the submit: " + pooled.error().Message());
      GovernedAbandon(v);
      return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL,
                        "cordond could not record the admission decision durably: " + pooled.error().Message());
    }
    release_ticket = *pooled;
  }
  if (!l->task) {
    // With the sync worker, a cold start's sandbox is built on the builder's thread; the Submit
    // goes on in OnColdBuilt() once it is back (cold_build.cc).
    if (syncer_ && builder_) return BuildCold(c, call_id, std::move(call), v, decision_id, std::move(tr), std::move(l));
    if (!StartCold(c, call_id, d, call, tr, l.get())) return GovernedAbandon(v);  // answered
  }
  AdoptStarted(&c, call_id, std::move(l), call, v, decision_id, release_ticket);
}

void Daemon::AdoptStarted(Conn* c, uint64_t call_id, std::unique_ptr<Live> l, SubmitCall& call,
                          const SubmitVerdict& v, int64_t decision_id, uint64_t release_ticket) {
  const Decision& d = v.admission;
  const Submission& s = call.s;
  l->task->MeasureStateWith(&state_walker_);
  l->row = MakeTaskRow(l->task->id(), s, d, v.fingerprint, call.now_ms, decision_id);
  GovernedStart(*l, v);  // governance (wip/govb): the breakers that admitted it
  IssueIdentity(*l, d);  // its tokens, now that it has an id (tokens.cc)
  TaskRow& t = l->row;
  if (auto pid = PidOfPidfd(l->task->shim_pidfd())) {
    t.shim_pid = *pid;
    if (auto st = ReadStartTime(*pid)) t.shim_start_time = *st;
  }
  evlog_->AddBindingSecrets(l->launch_req.bindings.get());  // a cold start's secret bindings, read before its row is stored
  evlog_->RedactTask(&t, nullptr);
  if (auto ins = store_->InsertTask(t); !ins) Log("recording task " + t.id + " failed: " + ins.error().Message());
  LogTaskAdmitted(t);  // journal.h
  // The Task may forward the output into them: with limits.output_bytes, and whenever the task's
  // host uid could not reopen the caller's pipe or file by name (rootful; docs/sandbox.md).
  for (int i = 0; i < 3; ++i) l->stdio[i] = std::move(call.stdio[i]);
  api::Response resp;
  resp.set_call_id(call_id);
  resp.mutable_submit()->set_decision_id(decision_id);
  FillInfo(t, resp.mutable_submit()->mutable_task());
  resp.mutable_submit()->mutable_task()->set_session(s.session);  // governance (wip/govc)
  if (s.stdio && c) {
    // Attached: the task writes into this caller's fds, so it lives as long as the caller's
    // connection (docs/daemon.md "When a client goes").
    l->attached_conn = c->serial;
    ++c->attached;
  }
  RegisterLive(c, std::move(l), std::move(resp), release_ticket, d.policy->policy);
}

Result<uint64_t> Daemon::StartPooled(const std::string& name, const LoadedPolicy& lp, const TaskRequest& tr,
                                     uint64_t received_ns, Live* l) {
  std::unique_ptr<Pooled> p = TakePooled(name, lp);
  if (!p) return 0;
  // What it runs is hashed before the task can touch it (docs/evidence.md "Artifact hash").
  l->artifact = evlog_->HashArtifact(tr.argv, tr.env, tr.cwd, p->task->bindings(), l->declared_artifact);
  // The decision must be on disk before the task execs: the pooled sandbox gets the task at once
  // and holds it before its filter and exec until the sync is done. With the sync worker the loop
  // goes on meanwhile, and the reply goes out with the release (OnSynced).
  auto launched = p->task->Launch(tr, received_ns, /*hold_exec=*/true);
  if (!launched) {
    Log("warm pool: handing a task to a pooled sandbox failed, starting a fresh one: " + launched.error().Message());
    Unwatch(p->watched);
    DiscardTask(std::move(p->task));
    return 0;
  }
  uint64_t ticket = 0;
  if (syncer_) {
    ticket = syncer_->Request();
  } else {
    if (auto synced = store_->SyncDecisions(); !synced) {
      Unwatch(p->watched);
      DiscardTask(std::move(p->task));  // the held task is withdrawn, never run
      return std::unexpected(synced.error());
    }
    if (auto go = p->task->ReleaseExec(); !go) Log("releasing a pooled task failed: " + go.error().Message());
  }
  l->serial = p->serial;
  l->watched = std::move(p->watched);
  l->task = std::move(p->task);
  return ticket;
}

bool Daemon::StartCold(Conn& c, uint64_t call_id, const Decision& d, const SubmitCall& call, TaskRequest& tr,
                       Live* l) {
  const Submission& s = call.s;
  auto refuse = [&](api::ErrorCode code, const Error& e) {
    std::string msg = e.Message();
    if (!e.hint.empty()) msg += " (" + e.hint + ")";
    ReplyError(c, call_id, code, msg);
    return false;
  };
  // Without the sync worker the decision is synced here, before the sandbox is started; with it,
  // the sandbox is built on demand (the pool's way) and its task held before its exec until the
  // worker's sync (LaunchOnDemand).
  if (!syncer_) {
    if (auto synced = store_->SyncDecisions(); !synced) {
      Log("syncing an admission decision failed, refusing the submit: " + synced.error().Message());
      ReplyError(c, call_id, api::ERROR_CODE_INTERNAL,
                 "cordond could not record the admission decision durably: " + synced.error().Message());
      return false;
    }
  }
  // Bindings, keyed by the verified principal's tenant and the request's app id (docs/bindings.md).
  // With the worker, state bindings are measured off the loop (MeasureStateBefore).
  BindingContext bctx;
  bctx.measure_state = syncer_ == nullptr;
  bctx.state_root = opts_.state_dir + "/state";
  bctx.tenant = d.principal->tenant;
  bctx.app = s.app_id.empty() ? "default" : s.app_id;
  for (size_t i = 0; i < call.bound.size(); ++i) bctx.caller_fds[s.fd_bindings[i]] = call.bound[i].Get();
  for (const auto& [name, fd] : l->token_reads) bctx.caller_fds[name] = fd.Get();  // tokens.cc
  auto opened = OpenBindings(*d.policy->policy, bctx);
  if (!opened) return refuse(api::ERROR_CODE_INVALID_ARGUMENT, opened.error());
  tr.bindings = std::make_shared<std::vector<OpenBinding>>(std::move(*opened));
  // Started at once without the sync worker: what it runs is hashed first (else at LaunchOnDemand).
  if (!syncer_) l->artifact = evlog_->HashArtifact(tr.argv, tr.env, tr.cwd, tr.bindings.get(), l->declared_artifact);
  auto task = syncer_ ? PrepareSandbox(*d.policy, tr) : StartSandbox(*d.policy, tr, call.received_ns);
  if (!task) {
    Log("starting a sandbox failed: " + task.error().Message());
    return refuse(api::ERROR_CODE_INTERNAL, Error{0, "starting the sandbox failed: " + task.error().Message(),
                                                  task.error().hint});
  }
  l->serial = next_serial_++;
  l->task = std::move(*task);
  if (syncer_) {
    l->on_demand = true;
    l->awaiting_launch = true;
    l->launch_req = tr;  // its fds stay open: they move into l->stdio
    l->received_ns = call.received_ns;
  }
  return true;
}

void Daemon::RegisterLive(Conn* c, std::unique_ptr<Live> l, api::Response resp, uint64_t release_ticket,
                          std::shared_ptr<const Policy> policy) {
  const uint64_t serial = l->serial;
  live_by_id_[l->row.id] = serial;
  last_started_serial_ = serial;
  // The pool's next build waits for this task's start, but a stream of submits never holds it
  // back for more than one pause: a pause already running is not extended.
  if (opts_.pool_size > 0 && refill_not_before_ns_ == 0) refill_not_before_ns_ = sys::MonotonicNs() + kRefillQuietNs;
  Live& ref = *l;
  live_[serial] = std::move(l);
  SyncWatches(ref);
  if (ref.awaiting_launch) MeasureStateBefore(ref, std::move(policy));
  // Without `c` (the caller went while its sandbox was built) the reply has nobody to go to.
  if (release_ticket) {
    held_releases_.push_back({release_ticket, serial});
    held_replies_.push_back(HeldReply{release_ticket, c ? c->serial : 0, std::move(resp)});
    if (c) ++c->held;
  } else if (ref.awaiting_launch) {
    // Answered with the release, as a pooled start is (LaunchOnDemand, then OnSynced).
    ref.reply_conn = c ? c->serial : 0;
    ref.reply = std::move(resp);
    if (c) ++c->held;
  } else if (c) {
    Reply(*c, resp);
  }
  if (c && (release_ticket || ref.awaiting_launch)) UpdateEvents(*c);
  AfterTask(serial);
}

}  // namespace cordon::daemon::internal
