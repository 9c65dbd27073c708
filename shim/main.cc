// cordon-shim: started by the supervisor once per task with the control socket as fd 3.
// This file is the outer shim, on the host side of the clone: it receives the launch message,
// clones the child into new namespaces, writes its id maps, and relays records both ways until the
// sandbox is gone. It never parses JSON or protobuf and never throws (built with -fno-exceptions).
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "common/bindings/receive.h"
#include "common/protocol.h"
#include "common/scm_rights.h"
#include "common/syscalls.h"
#include "common/unique_fd.h"
#include "shim/child.h"
#include "shim/failure.h"
#include "shim/privileges.h"
#include "shim/read_memfd.h"

namespace cordon::shim {
namespace {

constexpr int kControlFd = 3;

void Send(const void* rec, size_t len, const int* fds = nullptr, size_t nfds = 0) {
  (void)SendMsg(kControlFd, rec, len, fds, nfds);
}

[[noreturn]] void Report(const Failure& f) {
  Send(&f.rec, sizeof f.rec);
  _exit(kExitCordonFailure);
}

// Signals ignored by whoever started the supervisor (`nohup`, `cmd &` in a script) stay ignored
// across execve. Reset them here, once, so neither PID 1 nor the task inherits SIG_IGN: the mask
// comes from one read of /proc/self/status instead of 64 sigaction() queries.
bool ResetIgnoredSignals(Failure* f) {
  UniqueFd fd(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  if (!fd) return SetFailure(f, SetupStep::kReadSpec, errno, "open /proc/self/status");
  char buf[4096];
  ssize_t n = ::read(fd.Get(), buf, sizeof buf - 1);
  if (n < 0) return SetFailure(f, SetupStep::kReadSpec, errno, "read /proc/self/status");
  buf[n] = '\0';
  const char* line = std::strstr(buf, "\nSigIgn:\t");
  if (line == nullptr) return SetFailure(f, SetupStep::kReadSpec, EINVAL, "no SigIgn line in /proc/self/status");
  unsigned long long mask = std::strtoull(line + 9, nullptr, 16);
  for (int sig = 1; sig <= 64 && mask != 0; ++sig, mask >>= 1) {
    // glibc keeps the signals below SIGRTMIN that it uses itself (32, 33) and refuses to change
    // them (EINVAL): they are left as inherited.
    const bool reserved = sig > SIGSYS && sig < SIGRTMIN;
    if ((mask & 1) && sig != SIGKILL && sig != SIGSTOP && !reserved && ::signal(sig, SIG_DFL) == SIG_ERR)
      return SetFailure(f, SetupStep::kReadSpec, errno, "reset the ignored signal %d", sig);
  }
  return true;
}

// Rootful: become the task's host ids before the clone, so that the new user namespace is owned by
// them and the child can write its own single-id maps (user_namespaces(7): one id, the writer's
// own, needs no capability in the parent namespace). The real and saved ids stay root and
// SECBIT_NO_SETUID_FIXUP keeps our capabilities through the euid change, so creating the namespace
// is still a privileged act on hosts that restrict unprivileged user namespaces. Supplementary
// groups go first: they survive setresgid and would grant host group access (gid 0!) through binds.
bool BecomeTaskIds(const proto::LaunchSpec& spec, Failure* f) {
  if (::setgroups(0, nullptr) < 0) return SetFailure(f, SetupStep::kClone, errno, "setgroups(0)");
  if (::prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP) < 0)
    return SetFailure(f, SetupStep::kClone, errno, "set SECBIT_NO_SETUID_FIXUP");
  if (::setresgid(static_cast<gid_t>(-1), spec.host_gid, static_cast<gid_t>(-1)) < 0)
    return SetFailure(f, SetupStep::kClone, errno, "setresgid to host gid %u", spec.host_gid);
  if (::setresuid(static_cast<uid_t>(-1), spec.host_uid, static_cast<uid_t>(-1)) < 0)
    return SetFailure(f, SetupStep::kClone, errno, "setresuid to host uid %u", spec.host_uid);
  // The euid change made us non-dumpable, which would make the child's /proc/self files root's and
  // its map writes fail. Our real and saved ids are still root, so the task (host uid = our euid)
  // cannot ptrace us either way; PID 1 makes itself non-dumpable again once the task runs.
  if (::prctl(PR_SET_DUMPABLE, 1) < 0) return SetFailure(f, SetupStep::kClone, errno, "PR_SET_DUMPABLE");
  return true;
}

// After clone3() the outer shim only waits, relays records and forwards signals: to PID 1 through
// its pidfd. Rootful, it gives up host root right there: it becomes the task's host uid and gid in
// all of real, effective and saved ids, empties its bounding set, locks securebits, clears every
// capability, becomes non-dumpable and re-arms its parent-death signal. Signalling PID 1 needs no
// capability after that: the sandbox's user namespace was created with our euid, the host uid, and
// a namespace's owner in the parent namespace has every capability in it, CAP_KILL included
// (security/commoncap.c cap_capable), whatever ids PID 1 still has during its setup.
// Rootless it has no capabilities; it sets no_new_privs in both modes.
bool DropOuterPrivileges(const proto::LaunchSpec& spec, pid_t supervisor, Failure* f) {
  if (spec.flags & proto::kFlagRootful) {
    if (::setresgid(spec.host_gid, spec.host_gid, spec.host_gid) < 0)
      return SetFailure(f, SetupStep::kOuterDrop, errno, "outer shim: setresgid to host gid %u", spec.host_gid);
    // SECBIT_NO_SETUID_FIXUP (BecomeTaskIds) keeps our capabilities through this.
    if (::setresuid(spec.host_uid, spec.host_uid, spec.host_uid) < 0)
      return SetFailure(f, SetupStep::kOuterDrop, errno, "outer shim: setresuid to host uid %u", spec.host_uid);
    int cap = -1;
    if (int err = DropBoundingSet(&cap))
      return SetFailure(f, SetupStep::kOuterDrop, err, "outer shim: drop capability %d from the bounding set", cap);
    if (int err = LockSecurebits()) return SetFailure(f, SetupStep::kOuterDrop, err, "outer shim: lock securebits");
    if (int err = ClearCapabilities())
      return SetFailure(f, SetupStep::kOuterDrop, err, "outer shim: clear its capabilities");
    // Not dumpable: no other process of the host uid may ptrace us or open our guarded /proc files.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return SetFailure(f, SetupStep::kOuterDrop, errno, "outer shim: PR_SET_DUMPABLE 0");
    // A credential change can clear the parent-death signal (kernel/cred.c commit_creds): re-arm it,
    // then make sure the supervisor did not die in between.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || ::getppid() != supervisor)
      return SetFailure(f, SetupStep::kOuterDrop, errno, "outer shim: re-arm the parent-death signal");
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return SetFailure(f, SetupStep::kOuterDrop, errno, "outer shim: set no_new_privs");
  return true;
}

// The outer shim's setup, handed from step to step.
struct Outer {
  Failure f;
  pid_t supervisor = -1;
  ReceivedMsg msg;  // the launch message's fds
  proto::LaunchSpec spec;
  std::vector<uint8_t> bpf;
  size_t head = 0;     // fds before the bound ones: 5 cold (spec, BPF, stdio), 3 pooled (spec, BPF, start)
  UniqueFd cgroup_fd;  // the task's v2 cgroup, for CLONE_INTO_CGROUP
  UniqueFd sync;       // our end of the socketpair to PID 1
  UniqueFd child_pidfd;
  pid_t child = -1;
};

// Receive and decode the launch message; reset inherited SIG_IGN dispositions.
bool ReadSpec(Outer& o) {
  proto::MsgHeader hdr;
  auto msg = RecvMsg(kControlFd, &hdr, sizeof hdr, proto::kMaxFdsPerLaunch + 3);
  if (!msg || msg->eof || msg->len != sizeof hdr || hdr.magic != proto::kMagic ||
      hdr.type != proto::MsgType::kLaunch || msg->fds.size() < 3)
    return SetFailure(&o.f, SetupStep::kReadSpec, msg ? EBADMSG : msg.error().err, "bad launch message");
  o.msg = std::move(*msg);
  std::vector<uint8_t> spec_bytes;
  if (!ReadMemfd(o.msg.fds[0].Get(), &spec_bytes, 8u << 20, SetupStep::kReadSpec, "launch spec", &o.f) ||
      !ReadMemfd(o.msg.fds[1].Get(), &o.bpf, 64u << 10, SetupStep::kReadSpec, "seccomp BPF", &o.f))
    return false;
  // Cold: spec, BPF, stdin, stdout, stderr. Pooled: spec, BPF, the start socket (stdio comes later).
  const bool decoded =
      proto::DecodeLaunchSpec(reinterpret_cast<const char*>(spec_bytes.data()), spec_bytes.size(), &o.spec);
  o.head = (o.spec.flags & proto::kFlagPooled) ? 3 : 5;
  if (!decoded || o.msg.fds.size() != o.head + o.spec.bound_fds + ((o.spec.flags & proto::kFlagCgroupFd) ? 1 : 0))
    return SetFailure(&o.f, SetupStep::kReadSpec, EBADMSG, "malformed launch spec");
  o.msg.fds[0].Reset();
  o.msg.fds[1].Reset();
  // The task's v2 cgroup: PID 1 is born in it (CLONE_INTO_CGROUP), so nothing of the sandbox ever
  // runs outside it. We, the outer shim, stay where we are.
  if (o.spec.flags & proto::kFlagCgroupFd) {
    o.cgroup_fd = std::move(o.msg.fds.back());
    o.msg.fds.pop_back();
  }
  return ResetIgnoredSignals(&o.f);
}

bool StageBindings(Outer& o) { return bindings::StageBindings(&o.spec, &o.f); }

// Rootful: become the task's host ids first (BecomeTaskIds). Then clone3() PID 1 into its new
// namespaces; the child runs RunChild and never comes back here.
bool Clone(Outer& o) {
  const proto::LaunchSpec& spec = o.spec;
  if ((spec.flags & proto::kFlagRootful) && !BecomeTaskIds(spec, &o.f)) return false;
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
    return SetFailure(&o.f, SetupStep::kClone, errno, "socketpair");
  o.sync.Reset(sp[0]);
  UniqueFd child_sync(sp[1]);

  int pidfd = -1;
  clone_args ca{};
  ca.flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
             CLONE_PIDFD;
  ca.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  ca.exit_signal = SIGCHLD;
  if (o.cgroup_fd) {
    ca.flags |= CLONE_INTO_CGROUP;
    ca.cgroup = static_cast<uint64_t>(o.cgroup_fd.Get());
  }
  timespec boot{};
  // The sandbox's uptime counts from here (shim/mnt.cc).
  if (::clock_gettime(CLOCK_BOOTTIME, &boot) < 0) return SetFailure(&o.f, SetupStep::kClone, errno, "read CLOCK_BOOTTIME");
  long pid = sys::Clone3(&ca);
  if (pid < 0)
    return SetFailure(&o.f, SetupStep::kClone, errno, "clone3 with new user, mount, pid, net, ipc, uts namespaces");
  if (pid == 0) {
    o.sync.Reset();
    ChildArgs args;
    args.spec = &o.spec;
    args.sync_fd = child_sync.Release();
    const bool pooled = spec.flags & proto::kFlagPooled;
    if (pooled) args.start_fd = o.msg.fds[2].Release();
    // stdin, stdout, stderr (pooled: not yet, they come with kStart), then the bound fds.
    for (size_t i = 0; i < 3; ++i) args.task_fds.push_back(pooled ? -1 : o.msg.fds[2 + i].Get());
    for (size_t i = o.head; i < o.msg.fds.size(); ++i) args.task_fds.push_back(o.msg.fds[i].Get());
    args.bpf = &o.bpf;
    args.boot_floor_s = static_cast<uint64_t>(boot.tv_sec);
    RunChild(args);
  }
  o.child = static_cast<pid_t>(pid);
  o.child_pidfd.Reset(pidfd);
  return true;
}

bool OuterDrop(Outer& o) { return DropOuterPrivileges(o.spec, o.supervisor, &o.f); }

bool Always(const Outer&) { return true; }
bool Rootful(const Outer& o) { return o.spec.flags & proto::kFlagRootful; }

// The outer shim's checklist after read-spec, in SetupStep order, run from RunOuter only.
struct Step {
  SetupStep step;
  bool (*run)(Outer&);
  bool (*when)(const Outer&);
};
constexpr Step kSteps[] = {
    {SetupStep::kStageBindings, StageBindings, Rootful},
    {SetupStep::kClone, Clone, Always},
    // Runs while PID 1 sets up; its stamp stays here (PID 1 reports the stamps, see failure.h).
    {SetupStep::kOuterDrop, OuterDrop, Always},
};

int RunOuter() {
  Outer o;
  // Die with the supervisor: a shim never outlives the process that owns its evidence. No record
  // can be sent before this: a failure is reported as read-spec's.
  const int armed = ::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ? errno : 0;
  o.supervisor = ::getppid();
  // Parent 1: the supervisor died and we were re-parented, unless it is PID 1 itself (cordon as a
  // container's entrypoint): then it is the peer of the control socket (docs/environments.md).
  ucred peer{};
  socklen_t peer_len = sizeof peer;
  if (o.supervisor == 1 &&
      (::getsockopt(kControlFd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) < 0 || peer.pid != 1))
    return kExitCordonFailure;
  if (armed != 0) {
    SetFailure(&o.f, SetupStep::kReadSpec, armed, "prctl PR_SET_PDEATHSIG");
    Report(o.f);
  }

  g_step_clock.Mark(SetupStep::kReadSpec);
  if (!ReadSpec(o)) Report(o.f);
  for (const Step& s : kSteps) {
    if (!s.when(o)) continue;
    if (HookFails(o.spec, s.step, &o.f) || !s.run(o)) {
      if (o.child_pidfd) sys::PidfdSendSignal(o.child_pidfd.Get(), SIGKILL);
      Report(o.f);
    }
  }
  o.cgroup_fd.Reset();
  o.msg.fds.clear();  // the child has its copies; ours must not keep the task's pipes open
  const proto::LaunchSpec& spec = o.spec;
  UniqueFd& sync = o.sync;
  UniqueFd& child_pidfd = o.child_pidfd;
  const pid_t pid = o.child;
  Failure& f = o.f;

  // Relay until PID 1 of the sandbox is gone. Setup has a deadline; the task itself has none here
  // (the supervisor owns wall-clock limits and kills us, which kills the child via PDEATHSIG).
  const uint64_t deadline = sys::MonotonicNs() + uint64_t{spec.setup_timeout_ms} * 1000000ull;
  // A pooled sandbox's setup ends with kReady; then it may wait for its task as long as it takes.
  bool exec_ok = false, ready = false, got_exit = false, sent_error = false;
  for (;;) {
    // A negative fd is ignored by poll(): once the child's end is closed only the others remain.
    pollfd p[3] = {{sync.Get(), POLLIN, 0}, {kControlFd, POLLIN, 0}, {child_pidfd.Get(), POLLIN, 0}};
    int timeout = -1;
    if (!exec_ok && !ready && !sent_error) {
      uint64_t now = sys::MonotonicNs();
      timeout = now >= deadline ? 0 : static_cast<int>((deadline - now) / 1000000 + 1);
    }
    int rc = ::poll(p, 3, timeout);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      sys::PidfdSendSignal(child_pidfd.Get(), SIGKILL);
      SetFailure(&f, SetupStep::kNone, ETIMEDOUT, "sandbox setup did not finish within %u ms",
                 spec.setup_timeout_ms);
      Send(&f.rec, sizeof f.rec);
      sent_error = true;
      continue;
    }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      alignas(8) char buf[sizeof(proto::ExecOkRecord) + sizeof(proto::ExitRecord) + sizeof(proto::ErrorRecord)];
      constexpr size_t kMaxPass = 2 + proto::kMaxTransparentListeners;  // listener, proxy, transparent
      auto got = RecvMsg(sync.Get(), buf, sizeof buf, kMaxPass, MSG_DONTWAIT);
      ssize_t n = got ? static_cast<ssize_t>(got->len) : -1;
      if (!got && got.error().err == EAGAIN) continue;
      proto::MsgHeader h;
      if (n >= static_cast<ssize_t>(sizeof h)) std::memcpy(&h, buf, sizeof h);
      if (n == 0) {
        sync.Reset();  // child's end closed: only the pidfd is left to watch
      } else if (n >= static_cast<ssize_t>(sizeof h) && h.magic == proto::kMagic) {
        if (h.type == proto::MsgType::kExecOk && n == sizeof(proto::ExecOkRecord)) {
          exec_ok = true;
          int pass[kMaxPass];
          for (size_t k = 0; k < got->fds.size() && k < kMaxPass; ++k) pass[k] = got->fds[k].Get();
          Send(buf, static_cast<size_t>(n), pass, std::min<size_t>(got->fds.size(), kMaxPass));
        } else if (h.type == proto::MsgType::kReady && n == sizeof(proto::ReadyRecord)) {
          ready = true;
          Send(buf, static_cast<size_t>(n));
        } else if (h.type == proto::MsgType::kError && n == sizeof(proto::ErrorRecord)) {
          sent_error = true;
          Send(buf, static_cast<size_t>(n));
        } else if (h.type == proto::MsgType::kExit && n == sizeof(proto::ExitRecord)) {
          // PID 1 killed and reaped every process of the sandbox before sending this, so the
          // supervisor can finish now; the namespaces' teardown in PID 1's exit is not its wait.
          got_exit = true;
          Send(buf, static_cast<size_t>(n));
        }
      }
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      proto::SignalRecord s;
      ssize_t n = ::recv(kControlFd, &s, sizeof s, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        sys::PidfdSendSignal(child_pidfd.Get(), SIGKILL);  // supervisor gone: tear everything down
      } else if (n == sizeof s && s.hdr.magic == proto::kMagic && s.hdr.type == proto::MsgType::kSignal &&
                 s.signo > 0 && s.signo < NSIG) {
        sys::PidfdSendSignal(child_pidfd.Get(), s.signo);
      }
    }
    if (p[2].revents & POLLIN) break;
  }

  // Drain a record that raced with the exit. Without one, PID 1 died before the task did (killed
  // by the supervisor, or crashed): report its status and the usage of the whole sandbox.
  if (sync.Valid() && !got_exit) {
    alignas(8) char buf[sizeof(proto::ExitRecord)];
    if (::recv(sync.Get(), buf, sizeof buf, MSG_DONTWAIT) == sizeof buf) {
      proto::MsgHeader h;
      std::memcpy(&h, buf, sizeof h);
      if (h.magic == proto::kMagic && h.type == proto::MsgType::kExit) {
        got_exit = true;
        Send(buf, sizeof buf);
      }
    }
  }
  int status = 0;
  rusage ru{};
  ::wait4(static_cast<pid_t>(pid), &status, __WALL, &ru);
  if (!got_exit) {
    proto::ExitRecord rec;
    rec.exit_ns = sys::MonotonicNs();
    rec.init_status = status;
    rec.usage = ru;
    Send(&rec, sizeof rec);
  }
  return 0;
}

}  // namespace
}  // namespace cordon::shim

int main() {
  cordon::shim::LoadTestHooks();  // test build only (shim/test_hooks.h); nothing in the shipped shim
  return cordon::shim::RunOuter();
}
