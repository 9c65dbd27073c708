// supervisor/daemon/cold_build.cc: a cold start's sandbox, built off the loop (issue 14; docs/
// daemon.md "The loop never waits"). An admitted Submit that no pooled sandbox serves posts its
// build (identity, bindings, Task::Prepare with the request's shape) to the sandbox builder and
// the loop goes on with other callers. When the build is back, the Submit goes on as it would
// have: the task becomes live, awaiting its launch (LaunchOnDemand), and the reply waits for the
// decision's sync. The warm pool's builds come back the same way (pool.cc OnPoolBuilt).
#include "supervisor/daemon/daemon_internal.h"

namespace cordon::daemon::internal {

void Daemon::BuildCold(Conn& c, uint64_t call_id, SubmitCall call, const SubmitVerdict& v, int64_t decision_id,
                       TaskRequest tr, std::unique_ptr<Live> prepared) {
  const uint64_t serial = next_serial_++;
  ColdBuild& cb = cold_builds_[serial];
  cb.conn = c.serial;
  cb.call_id = call_id;
  cb.call = std::move(call);
  cb.cfg = config_;  // the verdict points into it: kept until the build is back
  cb.v = v;
  cb.decision_id = decision_id;
  cb.tr = std::move(tr);
  cb.prepared = std::move(prepared);
  const Decision& d = cb.v.admission;
  // Bindings, keyed by the verified principal's tenant and the request's app id (docs/bindings.md);
  // state bindings are measured on the walker's thread once the sandbox is back (MeasureStateBefore).
  BindingContext bctx;
  bctx.measure_state = false;
  bctx.state_root = opts_.state_dir + "/state";
  bctx.tenant = d.principal->tenant;
  bctx.app = cb.call.s.app_id.empty() ? "default" : cb.call.s.app_id;
  // Borrowed: cb keeps the caller's fds open until the build is collected.
  for (size_t i = 0; i < cb.call.bound.size(); ++i) bctx.caller_fds[cb.call.s.fd_bindings[i]] = cb.call.bound[i].Get();
  for (const auto& [name, fd] : cb.prepared->token_reads) bctx.caller_fds[name] = fd.Get();  // tokens.cc
  // The job gets copies (and the shared policy and filter); nothing of the loop's state.
  builder_->Post(serial, c.peer.uid, [bctx = std::move(bctx), lp = *d.policy, shape = cb.tr, ids = opts_.ids,
                          lock_dir = opts_.id_lock_dir, rt = opts_.runtime,
                          cgroups = cgroups_ ? &*cgroups_ : nullptr]() mutable {
    BuiltSandbox b;
    auto opened = OpenBindings(*lp.policy, bctx);
    if (!opened) {
      b.error = opened.error();
      b.bad_input = true;
      return b;
    }
    b.bindings = std::make_shared<std::vector<OpenBinding>>(std::move(*opened));
    shape.bindings = b.bindings;
    auto identity = AcquireIdentity(ids, lock_dir);
    if (!identity) {
      b.error = identity.error();
      return b;
    }
    auto task = Task::Prepare(rt, lp.policy, lp.filter, std::move(*identity), shape, cgroups);
    if (!task) {
      b.error = task.error();
      return b;
    }
    b.task = std::move(*task);
    b.task->DeferCgroupRemoval();  // by ~Task on the chores thread (DiscardTask), off the loop
    return b;
  });
  // A call in progress: the connection is neither idle nor closed after a half-close meanwhile.
  ++c.held;
  UpdateEvents(c);
}

void Daemon::OnBuilt() {
  for (BuiltSandbox& b : builder_->Collect()) {
    if (auto p = pool_builds_.find(b.serial); p != pool_builds_.end()) {
      const PoolBuild pb = std::move(p->second);
      pool_builds_.erase(p);
      OnPoolBuilt(pb, std::move(b));
    } else if (auto c = cold_builds_.find(b.serial); c != cold_builds_.end()) {
      ColdBuild cb = std::move(c->second);
      cold_builds_.erase(c);
      OnColdBuilt(std::move(cb), std::move(b));
    } else {
      DiscardTask(std::move(b.task));  // not reached: every build is posted with its entry
    }
  }
}

void Daemon::OnColdBuilt(ColdBuild cb, BuiltSandbox b) {
  auto it = conns_.find(cb.conn);
  Conn* c = it == conns_.end() ? nullptr : it->second.get();
  if (c && c->held > 0) --c->held;
  const uint64_t conn_serial = cb.conn;
  auto settle_conn = [&] {  // last: MaybeClose may close (and free) the connection
    if (auto again = conns_.find(conn_serial); again != conns_.end()) {
      UpdateEvents(*again->second);
      MaybeClose(*again->second);
    }
  };
  auto refuse = [&](api::ErrorCode code, const std::string& msg) {
    GovernedAbandon(cb.v);  // the breakers' tickets it carried (breaker_calls.cc)
    if (c) ReplyError(*c, cb.call_id, code, msg);
    settle_conn();
  };
  if (b.error) {
    const Error& e = *b.error;
    std::string msg = b.bad_input ? e.Message() : "starting the sandbox failed: " + e.Message();
    if (!e.hint.empty()) msg += " (" + e.hint + ")";
    if (!b.bad_input) Log("starting a sandbox failed: " + e.Message());
    return refuse(b.bad_input ? api::ERROR_CODE_INVALID_ARGUMENT : api::ERROR_CODE_INTERNAL, msg);
  }
  if (stopping_) {
    DiscardTask(std::move(b.task));  // never got its task
    return refuse(api::ERROR_CODE_UNAVAILABLE,
                  "cordond is shutting down and admits no new tasks; submit again once it is back");
  }
  std::unique_ptr<Live> l = std::move(cb.prepared);
  l->serial = b.serial;
  l->task = std::move(b.task);
  l->on_demand = true;
  l->awaiting_launch = true;
  l->launch_req = cb.tr;  // its fds stay open: they move into l->stdio
  l->launch_req.bindings = std::move(b.bindings);
  l->received_ns = cb.call.received_ns;
  const uint64_t serial = l->serial;
  AdoptStarted(c, cb.call_id, std::move(l), cb.call, cb.v, cb.decision_id, 0);
  // Attached, and its caller went while the sandbox was built: killed (client_gone) like any
  // attached task whose client goes (docs/daemon.md "When a client goes").
  if (cb.call.s.stdio && !c) {
    if (auto it = live_.find(serial); it != live_.end()) {
      KillForGoneClient(*it->second);
      AfterTask(serial);
    }
  }
  settle_conn();
}

}  // namespace cordon::daemon::internal
