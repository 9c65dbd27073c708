// supervisor/oci/monitor.cc: the container's init as an engine sees it (monitor.h).
#include "supervisor/oci/monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/syscalls.h"
#include "supervisor/cgroup/layout.h"
#include "supervisor/cgroup/ready_layout.h"
#include "supervisor/evidence/record.h"
#include "supervisor/oci/container.h"
#include "supervisor/oci/state.h"
#include "supervisor/seccomp/filter.h"
#include "supervisor/task/follow.h"

namespace cordon::oci {
namespace {

void Report(int fd, const std::string& line) {
  std::string l = line + "\n";
  (void)!::write(fd, l.data(), l.size());
}

// The signals the monitor takes on a signalfd: every one an engine may send to the container but
// the uncatchable ones and those the kernel raises for a fault of the monitor itself.
sigset_t HandledSignals() {
  sigset_t s;
  sigfillset(&s);
  for (int sig : {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT, SIGSYS}) sigdelset(&s, sig);
  return s;
}

[[noreturn]] void ExitLike(int exit_code, int signo) {
  if (signo > 0) {
    // Die of the same signal, so that the caller's waitpid reports it as runc's init would.
    ::signal(signo, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, signo);
    ::sigprocmask(SIG_UNBLOCK, &s, nullptr);
    ::kill(::getpid(), signo);
    ::kill(::getpid(), SIGKILL);
  }
  ::_exit(exit_code);
}

nlohmann::json OciBlock(const MonitorPlan& p) {
  nlohmann::json a = nlohmann::json::object();
  for (const auto& [k, v] : p.spec.annotations) a[k] = v;
  return {{"id", p.id},
          {"bundle", p.bundle},
          {"config_sha256", p.config_sha256},
          {"annotations", a},
          {"capabilities_requested", p.spec.capabilities},
          {"notes", p.spec.notes}};
}

void WriteEvidence(const MonitorPlan& p, nlohmann::json record) {
  record["oci"] = OciBlock(p);
  (void)WriteFileAtomic(p.dir, "evidence.json", record.dump() + "\n");
}

// Waits until `start` writes to start.fifo; a signal first ends the monitor (nothing runs yet).
void WaitForStart(const MonitorPlan& p, int sigfd) {
  UniqueFd fifo(::open((p.dir + "/start.fifo").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo) ::_exit(127);
  for (;;) {
    pollfd fds[2] = {{fifo.Get(), POLLIN, 0}, {sigfd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      ::_exit(127);
    }
    if (fds[0].revents & POLLIN) {
      char c;
      if (::read(fifo.Get(), &c, 1) == 1) return;
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo si;
      if (::read(sigfd, &si, sizeof si) == sizeof si && si.ssi_signo != SIGCHLD && si.ssi_signo != SIGWINCH &&
          si.ssi_signo != SIGPIPE) {
        nlohmann::json r = {{"outcome", {{"failure_class", "killed"},
                                         {"message", "killed before start by signal " +
                                                         std::to_string(si.ssi_signo)}}}};
        WriteEvidence(p, r);
        int sig = static_cast<int>(si.ssi_signo) == KillRequestSignal() ? SIGKILL : static_cast<int>(si.ssi_signo);
        ExitLike(128 + sig, sig);
      }
    }
  }
}

}  // namespace

[[noreturn]] void MonitorMain(MonitorPlan plan, UniqueFd report) {
  // Signals are taken on a signalfd from here on (before `create` returns, so none is lost).
  sigset_t handled = HandledSignals();
  ::sigprocmask(SIG_BLOCK, &handled, nullptr);
  UniqueFd sigfd(::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) {
    Report(report.Get(), std::string("signalfd: ") + std::strerror(errno));
    ::_exit(127);
  }
  // Everything that can fail before the task runs fails here, so that `create` reports it.
  FilterOptions fo;
  fo.data_dir = plan.rt.data_dir;
  auto filter = LoadSeccompFilter(plan.policy.seccomp_profile, fo);
  if (!filter) {
    Report(report.Get(), "linux.seccomp: " + filter.error().Message());
    ::_exit(127);
  }
  // Root of a user namespace that maps only some ids (rootless Podman's) owns none of the host's
  // cgroups, whatever it can see of them: no task cgroup, as for a rootless `cordon run` without a
  // delegated one.
  std::optional<cgroup::Layout> layout = cgroup::ReadyLayout(
      {}, HostRoot() ? "" : "uid 0 of a user namespace that does not map every host id (rootless Podman): "
                            "the host's cgroups are not ours");
  TaskRequest req;
  req.argv = plan.spec.args;
  req.env = plan.spec.env;
  req.cwd = plan.spec.cwd;
  req.image_root = plan.spec.root_path;
  req.task_uid = plan.spec.uid;
  req.task_gid = plan.spec.gid;
  req.hostname = plan.spec.hostname;
  req.bindings = std::make_shared<std::vector<OpenBinding>>();
  if (!plan.policy.bindings.empty()) {
    BindingContext bctx;
    bctx.state_root = DefaultStateRoot();
    bctx.tenant = "oci";
    bctx.app = plan.id;
    auto b = OpenBindings(plan.policy, bctx);
    if (!b) {
      Report(report.Get(), "annotation org.cordon.policy: " + b.error().Message());
      ::_exit(127);
    }
    *req.bindings = std::move(*b);
  }
  if (plan.tty) {
    // The terminal becomes the task's stdio and its controlling terminal (bound at /dev/tty).
    ::setsid();
    (void)::ioctl(plan.tty.Get(), TIOCSCTTY, 0);
    for (int fd = 0; fd < 3; ++fd) ::dup2(plan.tty.Get(), fd);
    plan.tty.Reset();
    req.tty = true;
  }
  (void)!::chdir("/");
  Report(report.Get(), "ok");
  report.Reset();

  WaitForStart(plan, sigfd.Get());

  const uint64_t received = sys::MonotonicNs();
  // Host root leases a host uid of its own for the task (identity.h); root of a user namespace
  // that maps only some ids (rootless Podman's) maps its own uid, as a rootless `cordon run` does.
  Result<TaskIdentity> identity = HostRoot() ? AcquireIdentity(IdRange{}) : Result<TaskIdentity>(TaskIdentity{});
  if (identity && !identity->rootful) {
    identity->host_uid = ::geteuid();
    identity->host_gid = ::getegid();
  }
  if (!identity) {
    std::fprintf(stderr, "cordon-runc: %s\n", identity.error().Message().c_str());
    ExitLike(125, 0);
  }
  auto policy = std::make_shared<const Policy>(plan.policy);
  auto started = Task::Start(plan.rt, policy, std::make_shared<const SeccompFilter>(std::move(*filter)),
                             std::move(*identity), req, received, layout ? &*layout : nullptr);
  if (!started) {
    std::fprintf(stderr, "cordon-runc: %s\n", started.error().Message().c_str());
    WriteEvidence(plan, {{"outcome", {{"failure_class", "setup_failed"}, {"message", started.error().Message()}}}});
    ExitLike(125, 0);
  }
  std::unique_ptr<Task> task = std::move(*started);
  bool kill_requested = false;
  FollowOptions follow;
  follow.sigfd = sigfd.Get();
  follow.wait_for_cleanup = layout->no_cgroup_reason.empty();
  follow.on_signal = [&](int sig) {
    if (sig == KillRequestSignal()) {
      kill_requested = true;
      task->Kill(FailureClass::kKilled, "killed by the container engine (cordon-runc kill SIGKILL)");
    } else if (sig != SIGCHLD && sig != SIGPIPE) {
      task->ForwardSignal(sig);
    }
  };
  (void)FollowTask(*task, follow);  // a poll failure ends the wait: the outcome says what is known
  const TaskOutcome& o = task->outcome();
  if (!o.message.empty() && o.failure != FailureClass::kNone && !kill_requested)
    std::fprintf(stderr, "cordon-runc: %s\n", o.message.c_str());
  WriteEvidence(plan, task->Evidence());
  if (kill_requested) ExitLike(137, SIGKILL);
  if (o.task_signal > 0) ExitLike(128 + o.task_signal, o.task_signal);
  ExitLike(o.exit_code, 0);
}

}  // namespace cordon::oci
