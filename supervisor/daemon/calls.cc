// supervisor/daemon/calls.cc: cordond's API calls: Submit (admission, idempotency, bindings,
// sandbox start), the per-task calls (Wait, Status, Cancel, Evidence) and List.
#include "supervisor/daemon/daemon_internal.h"

namespace cordon::daemon::internal {

void Daemon::HandleSubmit(Conn& c, uint64_t call_id, const api::SubmitRequest& req) {
  // No decision can be recorded either: refused before admission, with the reason.
  if (!pending_.empty()) return ReplyError(c, call_id, api::ERROR_CODE_UNAVAILABLE, PendingRefusal());
  const uint64_t received = sys::MonotonicNs();
  const int64_t now_ms = NowUnixMs();
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
  // The fds this frame carried, if it says it carries them. Closed on return unless a task takes them.
  std::vector<UniqueFd> stdio;
  while (s.stdio && stdio.size() < 3 && !c.fds.empty()) {
    stdio.push_back(std::move(c.fds.front()));
    c.fds.pop_front();
  }
  std::vector<UniqueFd> bound;
  while (bound.size() < s.fd_bindings.size() && bound.size() < kMaxFdBindings && !c.fds.empty()) {
    bound.push_back(std::move(c.fds.front()));
    c.fds.pop_front();
  }

  std::shared_ptr<const Config> cfg = config_;
  Decision d = Admit(*cfg, c.peer, s);
  const std::string fp = Fingerprint(s);
  api::ErrorCode code = CodeOf(d.verdict);
  std::string reason = d.reason;
  std::optional<IdempotencyKey> key;
  if (d.allowed()) {
    if (stopping_) {
      code = api::ERROR_CODE_UNAVAILABLE;
      reason = "cordond is shutting down and admits no new tasks; submit again once it is back";
    } else if (s.fd_bindings.size() > kMaxFdBindings || bound.size() != s.fd_bindings.size()) {
      code = api::ERROR_CODE_INVALID_ARGUMENT;
      reason = "fd_bindings names " + std::to_string(s.fd_bindings.size()) + " fds but the frame carried " +
               std::to_string(bound.size()) + " after stdio (at most " + std::to_string(kMaxFdBindings) + ")";
    } else if (s.stdio && stdio.size() != 3) {
      code = api::ERROR_CODE_INVALID_ARGUMENT;
      reason = "stdio is set but the Submit frame carried " + std::to_string(stdio.size()) +
               " fds; send stdin, stdout and stderr as SCM_RIGHTS with the frame's first byte";
    } else if (!s.request_id.empty()) {
      auto k = store_->FindKey(d.principal->name, s.request_id,
                               now_ms - static_cast<int64_t>(opts_.idempotency_window_s) * 1000);
      if (!k) {
        code = api::ERROR_CODE_INTERNAL;
        reason = k.error().Message();
      } else if (*k && (*k)->fingerprint != fp) {
        code = api::ERROR_CODE_CONFLICT;
        reason = "request_id '" + s.request_id + "' of principal '" + d.principal->name +
                 "' was already used for a different request (task " + (*k)->task_id +
                 "); use a new request_id for a new request";
      } else if (*k) {
        key = **k;
        reason = "replay of request_id '" + s.request_id + "': task " + key->task_id;
      }
    }
    if (code == api::ERROR_CODE_OK && !key && live_.size() >= opts_.max_tasks) {
      code = api::ERROR_CODE_UNAVAILABLE;
      reason = "cordond runs its limit of " + std::to_string(opts_.max_tasks) + " tasks; retry later";
    }
  }
  DecisionRow row;
  row.time_unix_ms = now_ms;
  row.peer_pid = c.peer.pid;
  row.peer_uid = c.peer.uid;
  row.peer_gid = c.peer.gid;
  if (d.principal) {
    row.principal = d.principal->name;
    row.tenant = d.principal->tenant;
  }
  row.policy = s.policy;
  if (d.policy) {
    row.policy_version = d.policy->policy->version;
    row.policy_sha256 = d.policy->policy->sha256;
  }
  row.principals_sha256 = cfg->principals.sha256;
  row.fingerprint = fp;
  row.request_id = s.request_id;
  row.app_id = s.app_id;
  row.cls = s.cls;
  row.allowed = code == api::ERROR_CODE_OK;
  row.reason = reason;
  // A decision that starts a task is synced later, while the task's sandbox gets it (its exec waits
  // for the sync); the others now.
  const bool starts_task = code == api::ERROR_CODE_OK && !key;
  // With the sync worker, the others are synced by it and answered when it is done.
  evlog_->RedactDecision(&row);
  auto decision_id = store_->RecordDecision(row, /*defer_sync=*/starts_task || syncer_ != nullptr);
  if (!decision_id) {
    Log("recording a decision failed, refusing the submit: " + decision_id.error().Message());
    return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL,
                      "cordond could not record the admission decision: " + decision_id.error().Message());
  }
  if (auto a = evlog_->Decision(row, *decision_id, d.policy ? d.policy->policy.get() : nullptr); !a)
    Log("evidence log: decision " + std::to_string(*decision_id) + ": " + a.error().Message());
  if (code != api::ERROR_CODE_OK) {
    Log("refused pid " + std::to_string(c.peer.pid) + " uid " + std::to_string(c.peer.uid) + ": " + reason);
    api::Response refusal;
    refusal.set_call_id(call_id);
    refusal.mutable_error()->set_code(code);
    refusal.mutable_error()->set_message(reason);
    return ReplyWhenDurable(c, std::move(refusal));
  }

  api::Response resp;
  resp.set_call_id(call_id);
  api::SubmitResponse* out = resp.mutable_submit();
  out->set_decision_id(*decision_id);
  if (key) {
    out->set_replayed(true);
    if (auto it = live_by_id_.find(key->task_id); it != live_by_id_.end()) {
      FillInfo(live_.at(it->second)->row, out->mutable_task());
    } else if (auto t = store_->GetTask(key->task_id); t && *t) {
      FillInfo(**t, out->mutable_task());
    } else {
      return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, "task " + key->task_id + " of the replayed request is gone");
    }
    return ReplyWhenDurable(c, std::move(resp));
  }

  TaskRequest tr;
  tr.argv = s.argv;
  tr.env = s.env;
  tr.cwd = s.cwd;
  if (!s.stdio) {
    for (int i = 0; i < 3; ++i) stdio.emplace_back(::open("/dev/null", O_RDWR | O_CLOEXEC));
  }
  tr.stdin_fd = stdio[0].Get();
  tr.stdout_fd = stdio[1].Get();
  tr.stderr_fd = stdio[2].Get();
  // One caller that stops reading must not hold the loop: bounded wait for the output's tail.
  tr.output_drain_ms = 2000;
  auto l = std::make_unique<Live>();
  // The warm pool: a sandbox built ahead for exactly this policy and filter, when the request adds
  // nothing to the sandbox's shape (no caller fds; the policy has no per-request bindings).
  // The decision must be on disk before the task execs: the pooled sandbox gets the task at once
  // and holds it before its filter and exec until the sync is done. A cold start, with the sync
  // worker, builds its sandbox on demand and is held the same way once it is ready
  // (LaunchOnDemand); without the worker it waits for the sync before its sandbox is started.
  auto sync_failed = [&](const Error& e) {
    Log("syncing an admission decision failed, refusing the submit: " + e.Message());
    ReplyError(c, call_id, api::ERROR_CODE_INTERNAL,
               "cordond could not record the admission decision durably: " + e.Message());
  };
  // With the sync worker, a pooled task stays held until the worker has synced its decision; the
  // loop goes on meanwhile, and the reply goes out with the release (OnSynced).
  uint64_t release_ticket = 0;
  if (bound.empty()) {
    if (std::unique_ptr<Pooled> p = TakePooled(s.policy, *d.policy)) {
      if (auto launched = p->task->Launch(tr, received, /*hold_exec=*/true); launched) {
        if (syncer_) {
          release_ticket = syncer_->Request();
        } else {
          if (auto synced = store_->SyncDecisions(); !synced) {
            Unwatch(p->watched);
            return sync_failed(synced.error());  // `p` goes: the held task is withdrawn, never run
          }
          if (auto go = p->task->ReleaseExec(); !go) Log("releasing a pooled task failed: " + go.error().Message());
        }
        l->serial = p->serial;
        l->watched = std::move(p->watched);
        l->task = std::move(p->task);
      } else {
        Log("warm pool: handing a task to a pooled sandbox failed, starting a fresh one: " +
            launched.error().Message());
        Unwatch(p->watched);
      }
    }
  }
  if (!l->task) {
    // Without the worker the decision is synced here, before the sandbox is started; with it,
    // the sandbox is built on demand and its task held before its exec until the worker's sync.
    if (!syncer_) {
      if (auto synced = store_->SyncDecisions(); !synced) return sync_failed(synced.error());
    }
    // Bindings, keyed by the verified principal's tenant and the request's app id (docs/bindings.md).
    BindingContext bctx;
    bctx.state_root = opts_.state_dir + "/state";
    bctx.tenant = d.principal->tenant;
    bctx.app = s.app_id.empty() ? "default" : s.app_id;
    for (size_t i = 0; i < bound.size(); ++i) bctx.caller_fds[s.fd_bindings[i]] = bound[i].Get();
    auto opened = OpenBindings(*d.policy->policy, bctx);
    if (!opened) {
      std::string msg = opened.error().Message();
      if (!opened.error().hint.empty()) msg += " (" + opened.error().hint + ")";
      return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT, msg);
    }
    tr.bindings = std::make_shared<std::vector<OpenBinding>>(std::move(*opened));
    auto task = syncer_ ? PrepareSandbox(*d.policy, tr) : StartSandbox(*d.policy, tr, received);
    if (!task) {
      Log("starting a sandbox failed: " + task.error().Message());
      std::string msg = "starting the sandbox failed: " + task.error().Message();
      if (!task.error().hint.empty()) msg += " (" + task.error().hint + ")";
      return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, msg);
    }
    l->serial = next_serial_++;
    l->task = std::move(*task);
    if (syncer_) {
      l->on_demand = true;
      l->awaiting_launch = true;
      l->launch_req = tr;  // its fds stay open: they move into l->stdio below
      l->received_ns = received;
    }
  }
  l->task->MeasureStateWith(&state_walker_);
  TaskRow& t = l->row;
  t.id = l->task->id();
  t.principal = d.principal->name;
  t.tenant = d.principal->tenant;
  t.app_id = s.app_id;
  t.cls = s.cls;
  t.policy = s.policy;
  t.policy_version = d.policy->policy->version;
  t.policy_sha256 = d.policy->policy->sha256;
  t.argv = s.argv;
  t.request_id = s.request_id;
  t.fingerprint = fp;
  t.state = "running";
  if (auto pid = PidOfPidfd(l->task->shim_pidfd())) {
    t.shim_pid = *pid;
    if (auto st = ReadStartTime(*pid)) t.shim_start_time = *st;
  }
  t.created_unix_ms = now_ms;
  t.decision_id = *decision_id;
  evlog_->RedactTask(&t, nullptr);
  if (auto ins = store_->InsertTask(t); !ins) Log("recording task " + t.id + " failed: " + ins.error().Message());
  // The Task may forward the output into them: with limits.output_bytes, and whenever the task's
  // host uid could not reopen the caller's pipe or file by name (rootful; docs/sandbox.md).
  for (int i = 0; i < 3; ++i) l->stdio[i] = std::move(stdio[i]);
  FillInfo(t, out->mutable_task());
  if (s.stdio) {
    // Attached: the task writes into this caller's fds, so it lives as long as the caller's
    // connection (docs/daemon.md "When a client goes").
    l->attached_conn = c.serial;
    ++c.attached;
  }
  const uint64_t serial = l->serial;
  live_by_id_[t.id] = serial;
  last_started_serial_ = serial;
  // The pool's next build waits for this task's start, but a stream of submits never holds it
  // back for more than one pause: a pause already running is not extended.
  if (opts_.pool_size > 0 && refill_not_before_ns_ == 0) refill_not_before_ns_ = sys::MonotonicNs() + kRefillQuietNs;
  Live& ref = *l;
  live_[serial] = std::move(l);
  SyncWatches(ref);
  if (release_ticket) {
    held_releases_.push_back({release_ticket, serial});
    held_replies_.push_back(HeldReply{release_ticket, c.serial, std::move(resp)});
    ++c.held;
    UpdateEvents(c);
  } else if (ref.awaiting_launch) {
    // Answered with the release, as a pooled start is (LaunchOnDemand, then OnSynced).
    ref.reply_conn = c.serial;
    ref.reply = std::move(resp);
    ++c.held;
    UpdateEvents(c);
  } else {
    Reply(c, resp);
  }
  AfterTask(serial);
  if (now_ms - last_purge_ms_ > 60'000) {
    last_purge_ms_ = now_ms;
    (void)store_->PurgeKeys(now_ms - static_cast<int64_t>(opts_.idempotency_window_s) * 1000);
  }
}

void Daemon::HandleTaskCall(Conn& c, const api::Request& req) {
  const uint64_t call_id = req.call_id();
  std::string id;
  switch (req.call_case()) {
    case api::Request::kWait: id = req.wait().task_id(); break;
    case api::Request::kStatus: id = req.status().task_id(); break;
    case api::Request::kCancel: id = req.cancel().task_id(); break;
    case api::Request::kEvidence: id = req.evidence().task_id(); break;
    default: return;
  }
  const Principal* p = FindPrincipal(config_->principals, c.peer.uid, c.peer.gid);
  if (p == nullptr)
    return ReplyError(c, call_id, api::ERROR_CODE_UNAUTHENTICATED,
                      "uid " + std::to_string(c.peer.uid) + " is not a principal in " + config_->principals.source);
  if (id.empty()) return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT, "task_id is empty");
  Live* live = nullptr;
  std::optional<TaskRow> row;
  const PendingRecord* pending = nullptr;
  if (auto it = live_by_id_.find(id); it != live_by_id_.end()) {
    live = live_.at(it->second).get();
    row = live->row;
  } else if ((pending = FindPending(id))) {
    row = pending->row;  // finished; its record waits for the database
  } else {
    auto r = store_->GetTask(id);
    if (!r) return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, r.error().Message());
    row = *r;
  }
  if (!row || !MayManage(config_->principals, *p, row->principal))
    return ReplyError(c, call_id, api::ERROR_CODE_NOT_FOUND,
                      "no task " + id + " visible to principal '" + p->name + "' (cordon ps lists yours)");
  api::Response resp;
  resp.set_call_id(call_id);
  const bool finished = row->state == "finished";
  switch (req.call_case()) {
    case api::Request::kStatus:
      FillInfo(*row, resp.mutable_status()->mutable_task());
      break;
    case api::Request::kWait:
      if (!finished && live) {
        if (c.waits >= kMaxWaitsPerConn)
          return ReplyError(c, call_id, api::ERROR_CODE_UNAVAILABLE,
                            "this connection has " + std::to_string(c.waits) +
                                " Wait calls pending, the limit per connection; wait for some to be answered");
        uint64_t t = req.wait().timeout_ms();
        live->waiters.push_back(Waiter{c.serial, call_id, t ? sys::MonotonicNs() + t * 1'000'000ull : 0});
        ++c.waits;
        return;
      }
      FillInfo(*row, resp.mutable_wait()->mutable_task());
      break;
    case api::Request::kCancel:
      FillInfo(*row, resp.mutable_cancel()->mutable_task());
      if (!finished && live) {
        live->task->Kill(FailureClass::kKilled, "cancelled by principal '" + p->name + "' through cordond");
        SyncWatches(*live);
      } else {
        resp.mutable_cancel()->set_already_finished(true);
      }
      break;
    case api::Request::kEvidence: {
      if (!finished)
        return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT,
                          "task " + id + " is still running; its evidence is written when it finishes (cordon wait " +
                              id + ")");
      auto ev = pending ? Result<std::string>(pending->evidence) : store_->GetEvidence(id);
      if (!ev) return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, ev.error().Message());
      resp.mutable_evidence()->set_task_id(id);
      resp.mutable_evidence()->set_evidence_json(*ev);
      break;
    }
    default: return;
  }
  Reply(c, resp);
}

void Daemon::HandleList(Conn& c, uint64_t call_id, const api::ListRequest& req) {
  const Principal* p = FindPrincipal(config_->principals, c.peer.uid, c.peer.gid);
  if (p == nullptr)
    return ReplyError(c, call_id, api::ERROR_CODE_UNAUTHENTICATED,
                      "uid " + std::to_string(c.peer.uid) + " is not a principal in " + config_->principals.source);
  uint32_t limit = req.limit() == 0 ? 100 : std::min<uint32_t>(req.limit(), 1000);
  bool all_principals = MayManage(config_->principals, *p, "\x01(any other)");
  auto rows = store_->ListTasks(req.all(), limit, all_principals ? "" : p->name);
  if (!rows) return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, rows.error().Message());
  api::Response resp;
  resp.set_call_id(call_id);
  // Set even when there are no rows: exactly one of result and error is set (docs/api.md).
  api::ListResponse* list = resp.mutable_list();
  for (const auto& r : *rows) {
    const PendingRecord* p = FindPending(r.id);
    FillInfo(p ? p->row : r, list->add_tasks());
  }
  Reply(c, resp);
}

// ---- tasks ----

Result<std::unique_ptr<Task>> Daemon::PrepareSandbox(const LoadedPolicy& lp, const TaskRequest& shape) {
  CORDON_ASSIGN_OR_RETURN(TaskIdentity identity, AcquireIdentity(opts_.ids, opts_.id_lock_dir));
  return Task::Prepare(opts_.runtime, lp.policy, lp.filter, std::move(identity), shape,
                       cgroups_ ? &*cgroups_ : nullptr);
}

void Daemon::LaunchOnDemand(Live& l) {
  if (!l.awaiting_launch || (!l.task->ready() && !l.task->finished())) return;  // still being built
  l.awaiting_launch = false;
  bool launched = false;
  if (l.task->ready()) {
    if (auto go = l.task->Launch(l.launch_req, l.received_ns, /*hold_exec=*/true); go) {
      launched = true;
    } else {
      Log("task " + l.row.id + ": handing it to its sandbox failed: " + go.error().Message());
      l.task->Kill(FailureClass::kSetupFailed, "handing the task to its sandbox failed: " + go.error().Message());
    }
  }
  // Either way the Submit is answered once its decision is on disk; a launched task execs then.
  const uint64_t ticket = syncer_->Request();
  if (launched) held_releases_.push_back({ticket, l.serial});
  held_replies_.push_back(HeldReply{ticket, l.reply_conn, std::move(l.reply)});
  l.reply_conn = 0;
  l.launch_req = TaskRequest{};
}

// The one place the daemon starts a sandbox (Task::Start may grow parameters).
Result<std::unique_ptr<Task>> Daemon::StartSandbox(const LoadedPolicy& lp, const TaskRequest& req,
                                                   uint64_t received_ns) {
  CORDON_ASSIGN_OR_RETURN(TaskIdentity identity, AcquireIdentity(opts_.ids, opts_.id_lock_dir));
  return Task::Start(opts_.runtime, lp.policy, lp.filter, std::move(identity), req, received_ns,
                     cgroups_ ? &*cgroups_ : nullptr);
}

}  // namespace cordon::daemon::internal
