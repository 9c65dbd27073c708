// supervisor/task/task.cc: a running task on the supervisor side: its records, limits, output pump,
// kill and outcome. Building and starting the sandbox is in task_start.cc.
#include "supervisor/task/task.h"
#include "supervisor/task/transparent_egress.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/landlock.h"
#include "common/scm_rights.h"
#include "common/syscalls.h"
#include "supervisor/evidence/record.h"

namespace cordon {
namespace {

constexpr uint64_t kKillGraceNs = 2'000'000'000ull;  // SIGKILL via PID 1, then the shim itself

}  // namespace

std::optional<uint64_t> Task::MemoryBytes() const { return accounting_.MemoryBytes(); }

Task::~Task() {
  if (pidfd_ && !reaped_) {
    if (!settled_ || accounting_.has_cgroup()) {
      // Unfinished, or a cgroup still to remove: nothing of the task may survive us.
      if (auto* cg = accounting_.cgroup()) (void)cg->Kill();
      sys::PidfdSendSignal(pidfd_.Get(), SIGKILL);
      ::waitpid(shim_pid_, nullptr, 0);
    } else {
      // Finished, the sandbox is gone, the shim is on its way out: reap it if it is done already,
      // otherwise leave it to our parent-of-last-resort (it holds nothing of the task).
      siginfo_t si{};
      ::waitid(P_PIDFD, static_cast<id_t>(pidfd_.Get()), &si, WEXITED | WNOHANG);
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
  if (proxy_) {
    // The sandbox is gone: close what it left open, keeping the records of those connections.
    proxy_->CloseAll();
    egress_ = proxy_->TakeRecords();
    egress_calls_ = proxy_->calls();
    egress_dropped_ = proxy_->dropped_records();
    proxy_.reset();
  }
  accounting_.Finish();
  // The state directories' sizes: on the walker's thread when there is one (cordond: a large
  // state tree would hold the event loop), the task finishing when they are in.
  std::vector<int> state_dirs;
  if (req_.bindings)
    for (const auto& b : *req_.bindings)
      if (b.binding.kind == Binding::Kind::kState) state_dirs.push_back(b.fd.Get());
  if (walker_ && !state_dirs.empty()) {
    if (auto w = walker_->Measure(state_dirs); w) {
      walk_ = std::move(*w);
    } else {
      std::fprintf(stderr, "cordon: measuring task %s's state off the loop failed, measuring it now: %s\n",
                   id_.c_str(), w.error().Message().c_str());
    }
  }
  if (req_.bindings && !walk_) {
    for (const auto& b : *req_.bindings)
      state_bytes_after_.push_back(b.binding.kind == Binding::Kind::kState ? DirectoryBytes(b.fd.Get()) : 0);
  }
  timing_.done = sys::MonotonicNs();
  EndSeccompWatch();
  Settle();
  settled_ = true;
  if (!walk_) finished_ = true;
}

void Task::OnStateMeasured() {
  uint64_t n;
  if (::read(walk_->event_fd(), &n, sizeof n) != static_cast<ssize_t>(sizeof n)) return;  // not yet
  std::vector<uint64_t> sizes = walk_->Take();
  walk_.reset();
  size_t next = 0;
  for (const auto& b : *req_.bindings) {
    const bool state = b.binding.kind == Binding::Kind::kState;
    state_bytes_after_.push_back(state && next < sizes.size() ? sizes[next] : 0);
    if (state) ++next;
  }
  finished_ = true;
}

std::vector<int> Task::Watches() const {
  std::vector<int> w;
  if (ctrl_) w.push_back(ctrl_.Get());
  if (pidfd_ && !reaped_) w.push_back(pidfd_.Get());
  if (proxy_) w.push_back(proxy_->fd());
  if (walk_) w.push_back(walk_->event_fd());
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
  if (proxy_ && fd == proxy_->fd()) {
    proxy_->OnReadable();
  } else if (walk_ && fd == walk_->event_fd()) {
    OnStateMeasured();
  } else if (ctrl_ && fd == ctrl_.Get()) {
    if (!OnControlReadable()) ctrl_.Reset();
  } else if (pidfd_ && fd == pidfd_.Get()) {
    OnShimExited();
  } else if (output_.OnReady(fd)) {
    OnOutputOverBudget();
  }
}

uint64_t Task::NextDeadlineNs() const {
  uint64_t next = 0;
  const uint64_t proxy = proxy_ ? proxy_->NextDeadlineNs() : 0;
  for (uint64_t d : {settled_ ? 0 : wall_deadline_ns_, settled_ ? 0 : accounting_.NextDeadlineNs(),
                     reaped_ ? 0 : kill_grace_ns_, proxy, output_.NextDeadlineNs()})
    if (d && (next == 0 || d < next)) next = d;
  return next;
}

void Task::OnDeadline(uint64_t now) {
  if (kill_grace_ns_ && now >= kill_grace_ns_ && !reaped_) {
    // PID 1 did not go within the grace period: kill the shim; PDEATHSIG takes the rest.
    sys::PidfdSendSignal(pidfd_.Get(), SIGKILL);
    kill_grace_ns_ = 0;
  }
  if (proxy_ && proxy_->NextDeadlineNs() && now >= proxy_->NextDeadlineNs()) proxy_->OnTimer();
  if (output_.OnDeadline(now)) OnOutputOverBudget();
  if (settled_) return;
  if (wall_deadline_ns_ && now >= wall_deadline_ns_) {
    wall_deadline_ns_ = 0;
    Kill(FailureClass::kWallTimeout, "wall-clock limit of " + std::to_string(policy_->limits.max_wall_ms) +
                                         " ms reached (policy limits.max_wall_ms); the sandbox was killed");
  }
  if (auto over = accounting_.OnDeadline(now, shim_pid_, killed_.has_value())) Kill(over->failure, over->message);
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
      size_t next = 0;
      if (r.has_listener && next < fds->size()) WatchSeccomp(std::move((*fds)[next++]));
      if (r.has_proxy && next < fds->size()) {
        egress::Limits el;
        el.max_calls = policy_->limits.max_calls;
        auto p = egress::Proxy::Create(std::move((*fds)[next++]), policy_->outbound, el, egress::SystemResolver(),
                                       timing_.received);
        if (p) {
          proxy_ = std::move(*p);
          if (auto t = AttachTransparentEgress(*proxy_, policy_->outbound, static_cast<uint16_t>(spec_.proxy_port), fds,
                                               &next, r.transparent);
              !t)
            Kill(FailureClass::kSetupFailed, "transparent egress could not start: " + t.error().Message());
          proxy_->SetCredentials(egress_credentials_);
        } else {
          Kill(FailureClass::kSetupFailed, "egress proxy could not start: " + p.error().Message());
        }
      }
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

bool Task::OnControlReadable() {
  for (;;) {
    alignas(8) char buf[2048];
    // listener, proxy socket, transparent egress listeners
    auto got = RecvMsg(ctrl_.Get(), buf, sizeof buf, 2 + proto::kMaxTransparentListeners, MSG_DONTWAIT);
    if (!got) return got.error().err == EAGAIN;
    if (got->eof) return false;
    HandleRecord(buf, got->len, &got->fds);
  }
}

void Task::OnShimExited() {
  if (reaped_) return;
  siginfo_t si{};
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.Get()), &si, WEXITED) == 0)
    shim_status_ = si.si_code == CLD_EXITED ? (si.si_status << 8) : si.si_status;
  reaped_ = true;
  if (ctrl_ && !OnControlReadable()) ctrl_.Reset();
  Finish();
  // The shim (which sits in the v1 task cgroups) is gone: the cgroup can go now.
  accounting_.RemoveCgroup();
}

void Task::ForwardSignal(int signo) {
  proto::SignalRecord r;
  r.signo = signo;
  (void)SendMsg(ctrl_.Get(), &r, sizeof r, nullptr, 0);
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
  if (auto w = seccomp_.Start(std::move(listener), filter_, pidfd_.Get()); !w)
    Kill(FailureClass::kSetupFailed, "seccomp notifications cannot be served: " + w.error().Message());
}

void Task::EndSeccompWatch() { seccomp_.End(); }

void Task::Settle() {
  SettleOutcome(TaskEnd{exit_, shim_status_, killed_, kill_message_, seccomp_.log(), filter_->name, accounting_,
                        policy_->limits},
                &outcome_);
}

TaskReport Task::Report() const {
  TaskReport r;
  r.task_id = id_;
  r.argv = req_.argv;
  r.cwd = spec_.cwd;
  r.policy = policy_;
  r.filter = filter_;
  r.rootful = identity_.rootful;
  r.task_uid = spec_.task_uid;
  r.task_gid = spec_.task_gid;
  r.host_uid = spec_.host_uid;
  r.host_gid = spec_.host_gid;
  r.hostname = spec_.hostname;
  r.tmpfs_bytes = spec_.tmpfs_bytes;
  r.shim_pid = shim_pid_;
  r.pooled = pooled_;
  r.landlock_abi = (spec_.flags & proto::kFlagLandlock) ? landlock::Abi() : 0;
  r.timing = timing_;
  r.outcome = outcome_;
  r.exit = exit_;
  r.seccomp = seccomp_.log();
  r.accounting = accounting_.report();
  r.output_bytes = output_.total();
  r.bindings = req_.bindings;
  r.state_bytes_after = state_bytes_after_;
  r.egress = egress_;
  r.egress_calls = egress_calls_;
  r.egress_dropped = egress_dropped_;
  return r;
}

nlohmann::json Task::Evidence() const { return BuildEvidence(Report()); }

std::string Task::EvidenceJson() const { return EvidenceText(Evidence()); }

}  // namespace cordon
