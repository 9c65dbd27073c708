// supervisor/daemon/calls.cc: cordond's API calls other than Submit (submit.cc): the per-task
// calls (Wait, Status, Cancel, Evidence) and List, and the cold start's launch on demand.
#include "supervisor/daemon/daemon_internal.h"

namespace cordon::daemon::internal {

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
  const PendingRecord* pending = nullptr;
  const std::optional<TaskRow> row = FindVisibleTaskRow(c, call_id, id, *p, &live, &pending);
  if (!row) return;
  api::Response resp;
  resp.set_call_id(call_id);
  const bool finished = row->state == "finished";
  switch (req.call_case()) {
    case api::Request::kStatus:
      FillInfo(*row, resp.mutable_status()->mutable_task());
      MarkGoverned(resp.mutable_status()->mutable_task());
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
      MarkGoverned(resp.mutable_wait()->mutable_task());
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
    MarkGoverned(list->mutable_tasks(list->tasks_size() - 1));
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
  if (l.state_walk && !l.task->finished()) return;  // its state is still being measured
  EndStateWalk(l);
  l.awaiting_launch = false;
  bool launched = false;
  if (l.task->ready() && !l.refusal.empty()) {
    // Refused as OpenBindings refuses a binding over its quota; the sandbox never gets the task.
    l.task->Kill(FailureClass::kSetupFailed, l.refusal);
    l.reply.clear_result();
    l.reply.mutable_error()->set_code(api::ERROR_CODE_INVALID_ARGUMENT);
    l.reply.mutable_error()->set_message(l.refusal);
  } else if (l.task->ready()) {
    l.artifact = evlog_->HashArtifact(l.launch_req.argv, l.launch_req.env, l.launch_req.cwd,  // evidence.md
                                      l.launch_req.bindings.get(), l.declared_artifact);
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
