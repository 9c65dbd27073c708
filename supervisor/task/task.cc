// supervisor/task/task.cc: a running task on the supervisor side: its records, deadlines, kill and
// outcome, driving its parts (task.h). Building and starting it is in task_start.cc and launcher.cc.
#include "supervisor/task/task.h"

#include <signal.h>

#include <algorithm>
#include <cstring>

#include "common/landlock.h"
#include "common/syscalls.h"
#include "supervisor/evidence/record.h"

namespace cordon {
namespace {

constexpr uint64_t kKillGraceNs = 2'000'000'000ull;  // SIGKILL via PID 1, then the shim itself

}  // namespace

std::optional<uint64_t> Task::MemoryBytes() const { return accounting_.MemoryBytes(); }

Task::~Task() {
  if (shim_.started() && !shim_.reaped()) {
    if (!settled_ || accounting_.has_cgroup()) {
      // Unfinished, or a cgroup still to remove: nothing of the task may survive us.
      if (auto* cg = accounting_.cgroup()) (void)cg->Kill();
      shim_.KillAndReap();
    } else {
      // Finished, the sandbox is gone, the shim is on its way out: reap it if it is done already,
      // otherwise leave it to our parent-of-last-resort (it holds nothing of the task).
      shim_.ReapIfExited();
    }
  }
  accounting_.RemoveCgroup();
  EndSeccompWatch();
}

void Task::Finish() {
  if (settled_) return;
  // Every process of the sandbox is gone, so no one writes the pipes any more: forward what is
  // left in them, then read the cgroup's final figures.
  if (output_.Drain()) OnOutputOverBudget();
  egress_.Finish();  // the sandbox is gone: what it left open is closed, the records kept
  accounting_.Finish();
  // The state directories' sizes: on the walker's thread when there is one (cordond: a large
  // state tree would hold the event loop), the task finishing when they are in.
  const bool measured = state_.Begin(req_.bindings, id_);
  timing_.done = sys::MonotonicNs();
  EndSeccompWatch();
  Settle();
  settled_ = true;
  if (measured) finished_ = true;
}

std::vector<int> Task::Watches() const {
  std::vector<int> w;
  if (shim_.control_open()) w.push_back(shim_.control_fd());
  if (shim_.started() && !shim_.reaped()) w.push_back(shim_.pidfd());
  if (egress_.fd() >= 0) w.push_back(egress_.fd());
  if (state_.pending()) w.push_back(state_.watch_fd());
  output_.AddReadWatches(&w);
  return w;
}

std::vector<int> Task::WriteWatches() const {
  std::vector<int> w;
  output_.AddWriteWatches(&w);
  return w;
}

void Task::OnReady(int fd) {
  if (fd < 0) return;
  if (fd == egress_.fd()) {
    egress_.OnReadable();
  } else if (fd == state_.watch_fd()) {
    if (state_.OnReady()) finished_ = true;  // the walker's sizes are in: the task is finished
  } else if (shim_.control_open() && fd == shim_.control_fd()) {
    if (!OnControlReadable()) shim_.CloseControl();
  } else if (shim_.started() && fd == shim_.pidfd()) {
    OnShimExited();
  } else if (output_.OnReady(fd)) {
    OnOutputOverBudget();
  }
}

uint64_t Task::NextDeadlineNs() const {
  uint64_t next = 0;
  for (uint64_t d : {settled_ ? 0 : wall_deadline_ns_, settled_ ? 0 : accounting_.NextDeadlineNs(),
                     shim_.reaped() ? 0 : kill_grace_ns_, egress_.NextDeadlineNs(), output_.NextDeadlineNs()})
    if (d && (next == 0 || d < next)) next = d;
  return next;
}

void Task::OnDeadline(uint64_t now) {
  if (kill_grace_ns_ && now >= kill_grace_ns_ && !shim_.reaped()) {
    // PID 1 did not go within the grace period: kill the shim; PDEATHSIG takes the rest.
    shim_.SignalKill();
    kill_grace_ns_ = 0;
  }
  egress_.OnDeadline(now);
  if (output_.OnDeadline(now)) OnOutputOverBudget();
  if (settled_) return;
  if (wall_deadline_ns_ && now >= wall_deadline_ns_) {
    wall_deadline_ns_ = 0;
    Kill(FailureClass::kWallTimeout, "wall-clock limit of " + std::to_string(policy_->limits.max_wall_ms) +
                                         " ms reached (policy limits.max_wall_ms); the sandbox was killed");
  }
  if (auto over = accounting_.OnDeadline(now, shim_.pid(), killed_.has_value())) Kill(over->failure, over->message);
}

void Task::OnOutputOverBudget() {
  if (settled_) return;
  Kill(FailureClass::kOutputLimit, "output limit of " + std::to_string(policy_->limits.output_bytes) +
                                       " bytes reached (policy limits.output_bytes); output was cut and the task stopped");
}

void Task::HandleRecord(const void* buf, size_t len, std::vector<UniqueFd>* fds) {
  proto::MsgHeader hdr;
  if (len < sizeof hdr) return;
  std::memcpy(&hdr, buf, sizeof hdr);
  if (hdr.magic != proto::kMagic) return;
  switch (hdr.type) {
    case proto::MsgType::kExecOk: {
      if (len != sizeof(proto::ExecOkRecord)) return;
      proto::ExecOkRecord r;
      std::memcpy(&r, buf, sizeof r);
      exec_ok_ = true;
      timing_.ready = r.ready_ns;
      timing_.exec = r.exec_ns;
      timing_.steps.assign(r.marks, r.marks + std::min<uint32_t>(r.nmarks, proto::kMaxStepMarks));
      OnExecOk(r, fds);
      break;
    }
    case proto::MsgType::kReady: {
      if (len != sizeof(proto::ReadyRecord)) return;
      proto::ReadyRecord r;
      std::memcpy(&r, buf, sizeof r);
      ready_ = true;
      timing_.pool_ready = r.ready_ns;
      break;
    }
    case proto::MsgType::kError: {
      if (len != sizeof(proto::ErrorRecord) || outcome_.setup_error) return;
      proto::ErrorRecord r;
      std::memcpy(&r, buf, sizeof r);
      r.msg[sizeof r.msg - 1] = '\0';
      outcome_.setup_error = r;
      break;
    }
    case proto::MsgType::kExit: {
      if (len != sizeof(proto::ExitRecord)) return;
      proto::ExitRecord r;
      std::memcpy(&r, buf, sizeof r);
      exit_ = r;
      timing_.exit = r.exit_ns;
      Finish();
      break;
    }
    default:
      break;
  }
}

// Exec-ok brings, in this order, the seccomp listener, the proxy's socket and the transparent
// egress listeners, each when the task has one.
void Task::OnExecOk(const proto::ExecOkRecord& r, std::vector<UniqueFd>* fds) {
  size_t next = 0;
  if (r.has_listener && next < fds->size()) WatchSeccomp(std::move((*fds)[next++]));
  if (r.has_proxy && next < fds->size()) {
    UniqueFd sock = std::move((*fds)[next++]);
    if (auto p = egress_.Start(std::move(sock), policy_->outbound, policy_->limits.max_calls,
                               static_cast<uint16_t>(launcher_.spec().proxy_port), timing_.received, fds, &next,
                               r.transparent);
        !p)
      Kill(FailureClass::kSetupFailed, p.error().Message());
  }
}

bool Task::OnControlReadable() {
  if (!shim_.control_open()) return false;
  return shim_.ReadRecords([this](const void* buf, size_t len, std::vector<UniqueFd>* fds) {
    HandleRecord(buf, len, fds);
  });
}

void Task::OnShimExited() {
  if (shim_.reaped()) return;
  shim_.Reap();
  if (shim_.control_open() && !OnControlReadable()) shim_.CloseControl();
  Finish();
  // The shim (which sits in the v1 task cgroups) is gone: the cgroup can go now, or with the
  // destructor (DeferCgroupRemoval).
  if (!defer_cgroup_removal_) accounting_.RemoveCgroup();
}

void Task::ForwardSignal(int signo) {
  proto::SignalRecord r;
  r.signo = signo;
  (void)shim_.Send(&r, sizeof r, nullptr, 0);
}

void Task::Kill(FailureClass why, const std::string& message) {
  if (settled_) return;  // the sandbox is gone (its state may still be being measured)
  if (!killed_) {
    killed_ = why;
    kill_message_ = message;
  }
  // The whole sandbox at once where a cgroup holds it (cgroup.kill, or freeze+kill on v1); PID 1
  // then reaps the task and reports as usual. SIGKILL to PID 1 is the path without a cgroup.
  // One pass, no waiting (cgroup.kill, or one freeze-signal-thaw): the daemon's loop must not
  // sleep until the cgroup is empty. The end is seen as usual, when PID 1 reports and the shim's
  // pidfd fires; PID 1's death takes whatever is left of its PID namespace with it.
  if (auto* cg = accounting_.cgroup()) (void)cg->Kill(std::chrono::milliseconds(0));
  ForwardSignal(SIGKILL);
  if (!kill_grace_ns_) kill_grace_ns_ = sys::MonotonicNs() + kKillGraceNs;
}

void Task::WatchSeccomp(UniqueFd listener) {
  // Nobody would answer the task's denials otherwise: it would block in its first one.
  if (auto w = seccomp_.Start(std::move(listener), filter_, shim_.pidfd()); !w)
    Kill(FailureClass::kSetupFailed, "seccomp notifications cannot be served: " + w.error().Message());
}

void Task::EndSeccompWatch() { seccomp_.End(); }

void Task::Settle() {
  SettleOutcome(TaskEnd{exit_, shim_.status(), killed_, kill_message_, seccomp_.log(), filter_->name, accounting_,
                        policy_->limits},
                &outcome_);
}

TaskReport Task::Report() const {
  const proto::LaunchSpec& spec = launcher_.spec();
  TaskReport r;
  r.task_id = id_;
  r.argv = req_.argv;
  r.cwd = spec.cwd;
  r.policy = policy_;
  r.filter = filter_;
  r.rootful = identity_.rootful;
  r.task_uid = spec.task_uid;
  r.task_gid = spec.task_gid;
  r.host_uid = spec.host_uid;
  r.host_gid = spec.host_gid;
  r.hostname = spec.hostname;
  r.tmpfs_bytes = spec.tmpfs_bytes;
  r.shim_pid = shim_.pid();
  r.pooled = pooled_;
  r.landlock_abi = (spec.flags & proto::kFlagLandlock) ? landlock::Abi() : 0;
  r.timing = timing_;
  r.outcome = outcome_;
  r.exit = exit_;
  r.seccomp = seccomp_.log();
  r.accounting = accounting_.report();
  r.output_bytes = output_.total();
  r.bindings = req_.bindings;
  r.state_bytes_after = state_.bytes_after();
  r.egress = egress_.records();
  r.egress_calls = egress_.calls();
  r.egress_dropped = egress_.dropped();
  return r;
}

nlohmann::json Task::Evidence() const { return BuildEvidence(Report()); }

std::string Task::EvidenceJson() const { return EvidenceText(Evidence()); }

}  // namespace cordon
