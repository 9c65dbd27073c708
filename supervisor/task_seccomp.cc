// supervisor/task_seccomp.cc: answering the task's seccomp user notifications (docs/seccomp.md).
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>

#include <cstring>

#include "common/syscalls.h"
#include "supervisor/seccomp/compiler.h"
#include "supervisor/seccomp/profile.h"
#include "supervisor/task.h"

namespace cordon {

void Task::RecordDenial(const seccomp_notif& req) {
  const uint64_t now = sys::MonotonicNs();
  ++denied_total_;
  if (!profile_) {
    seccomp::LoadOptions lo;
    lo.strict = filter_->strict;
    lo.source_name = filter_->source;
    utsname u{};
    ::uname(&u);
    if (auto kv = seccomp::ParseKernelRelease(u.release)) lo.context.kernel = *kv;
    auto p = seccomp::ParseProfile(filter_->text, lo);
    if (p) profile_ = std::make_shared<seccomp::Profile>(std::move(*p));
  }
  seccomp::Decision d;
  d.action = seccomp::Action::kErrno;
  d.errno_ret = EPERM;
  d.rule_path = "unknown (the profile could not be parsed again)";
  uint64_t args[6];
  for (int i = 0; i < 6; ++i) args[i] = req.data.args[i];
  if (profile_) d = seccomp::Evaluate(*static_cast<seccomp::Profile*>(profile_.get()), req.data.arch, req.data.nr, args);
  SeccompDenial* rec = nullptr;
  for (auto& r : denials_)
    if (r.nr == req.data.nr && r.rule == d.rule_path) rec = &r;
  if (rec == nullptr && denials_.size() < 256) {
    SeccompDenial r;
    r.nr = req.data.nr;
    r.name = seccomp::SyscallName(req.data.nr).value_or("syscall_" + std::to_string(req.data.nr));
    r.action = std::string(seccomp::ActionName(d.action));
    r.errno_ret = d.action == seccomp::Action::kErrno ? d.errno_ret : 0;
    r.rule = d.rule_path;
    r.first_ns = now;
    std::memcpy(r.args, args, sizeof r.args);
    denials_.push_back(r);
    rec = &denials_.back();
  }
  if (rec) ++rec->count;

  seccomp_notif_resp resp{};
  resp.id = req.id;
  if (d.action == seccomp::Action::kKillProcess || d.action == seccomp::Action::kKillThread) {
    // A kill rule: the call must never run. The task is blocked in it until we answer, so kill it
    // first; the kernel then drops the notification. Whole process, as SCMP_ACT_KILL_PROCESS does.
    if (!seccomp_kill_ && rec) seccomp_kill_ = *rec;
    UniqueFd victim(sys::PidfdOpen(static_cast<pid_t>(req.pid), 0));
    if (victim) sys::PidfdSendSignal(victim.Get(), SIGKILL);
    return;
  }
  // Every other notified action is a denial (ERRNO, or an ALLOW that should not have been notified,
  // which is answered EPERM rather than let through): never SECCOMP_USER_NOTIF_FLAG_CONTINUE.
  resp.error = -(d.action == seccomp::Action::kErrno && d.errno_ret > 0 ? d.errno_ret : EPERM);
  (void)::ioctl(listener_.Get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

void Task::OnListenerReadable() {
  for (;;) {
    pollfd p{listener_.Get(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN)) {
      if (p.revents & POLLHUP) listener_.Reset();  // no task left that uses the filter
      return;
    }
    seccomp_notif req{};
    if (::ioctl(listener_.Get(), SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
      if (errno == EINTR || errno == ENOENT) continue;  // ENOENT: the caller died meanwhile
      listener_.Reset();
      return;
    }
    RecordDenial(req);
  }
}

}  // namespace cordon
