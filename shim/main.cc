// cordon-shim: started by the supervisor once per task with the control socket as fd 3.
// This file is the outer shim, on the host side of the clone: it receives the launch message,
// clones the child into new namespaces, writes its id maps, and relays records both ways until the
// sandbox is gone. It never parses JSON or protobuf and never throws (built with -fno-exceptions).
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/scm_rights.h"
#include "common/syscalls.h"
#include "common/unique_fd.h"
#include "shim/child.h"
#include "shim/failure.h"

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

bool ReadAll(int fd, std::vector<uint8_t>* out, size_t max, Failure* f, const char* what) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return SetFailure(f, SetupStep::kReadSpec, errno, "fstat %s", what);
  if (st.st_size < 0 || static_cast<size_t>(st.st_size) > max)
    return SetFailure(f, SetupStep::kReadSpec, EMSGSIZE, "%s is %lld bytes, limit %zu", what,
                      static_cast<long long>(st.st_size), max);
  out->resize(static_cast<size_t>(st.st_size));
  size_t off = 0;
  while (off < out->size()) {
    ssize_t n = ::pread(fd, out->data() + off, out->size() - off, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return SetFailure(f, SetupStep::kReadSpec, n < 0 ? errno : EIO, "read %s", what);
    off += static_cast<size_t>(n);
  }
  return true;
}

bool WriteProcFile(pid_t pid, const char* name, const char* text, Failure* f) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return SetFailure(f, SetupStep::kIdMaps, errno, "open %s", path);
  ssize_t n = ::write(fd, text, std::strlen(text));
  int err = errno;
  ::close(fd);
  if (n < 0) return SetFailure(f, SetupStep::kIdMaps, err, "write '%s' to %s", text, path);
  return true;
}

// Single-id maps: the task's uid/gid inside -> its host uid/gid. "deny" on setgroups is required
// before an unprivileged gid_map write (user_namespaces(7)) and is harmless when rootful, where the
// supplementary groups were already dropped before the clone.
bool WriteIdMaps(pid_t pid, const proto::LaunchSpec& s, Failure* f) {
  char map[64];
  if (!WriteProcFile(pid, "setgroups", "deny", f)) return false;
  snprintf(map, sizeof map, "%u %u 1\n", s.task_gid, s.host_gid);
  if (!WriteProcFile(pid, "gid_map", map, f)) return false;
  snprintf(map, sizeof map, "%u %u 1\n", s.task_uid, s.host_uid);
  return WriteProcFile(pid, "uid_map", map, f);
}

int RunOuter() {
  Failure f;
  // Die with the supervisor: a shim never outlives the process that owns its evidence.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) return kExitCordonFailure;

  proto::MsgHeader hdr;
  auto msg = RecvMsg(kControlFd, &hdr, sizeof hdr, proto::kMaxFdsPerLaunch + 2);
  if (!msg || msg->eof || msg->len != sizeof hdr || hdr.magic != proto::kMagic ||
      hdr.type != proto::MsgType::kLaunch || msg->fds.size() < 5) {
    SetFailure(&f, SetupStep::kReadSpec, msg ? EBADMSG : msg.error().err, "bad launch message");
    Report(f);
  }
  std::vector<uint8_t> spec_bytes, bpf;
  if (!ReadAll(msg->fds[0].Get(), &spec_bytes, 8u << 20, &f, "launch spec") ||
      !ReadAll(msg->fds[1].Get(), &bpf, 64u << 10, &f, "seccomp BPF"))
    Report(f);
  proto::LaunchSpec spec;
  if (!proto::DecodeLaunchSpec(reinterpret_cast<const char*>(spec_bytes.data()), spec_bytes.size(), &spec) ||
      msg->fds.size() != 5 + spec.bound_fds) {
    SetFailure(&f, SetupStep::kReadSpec, EBADMSG, "malformed launch spec");
    Report(f);
  }
  msg->fds[0].Reset();
  msg->fds[1].Reset();

  // Rootful: the child starts as host root. Supplementary groups are kept across setresgid and
  // would still grant host group access (gid 0!) through bind mounts, so drop them first.
  if ((spec.flags & proto::kFlagRootful) && ::setgroups(0, nullptr) < 0) {
    SetFailure(&f, SetupStep::kClone, errno, "setgroups(0)");
    Report(f);
  }
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
    SetFailure(&f, SetupStep::kClone, errno, "socketpair");
    Report(f);
  }
  UniqueFd sync(sp[0]), child_sync(sp[1]);
  if (HookFails(spec, SetupStep::kClone, &f)) Report(f);

  int pidfd = -1;
  clone_args ca{};
  ca.flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
             CLONE_PIDFD;
  ca.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  ca.exit_signal = SIGCHLD;
  long pid = sys::Clone3(&ca);
  if (pid < 0) {
    int err = errno;
    SetFailure(&f, SetupStep::kClone, err, "clone3 with new user, mount, pid, net, ipc, uts namespaces");
    Report(f);
  }
  if (pid == 0) {
    sync.Reset();
    ChildArgs args;
    args.spec = &spec;
    args.sync_fd = child_sync.Release();
    for (size_t i = 2; i < msg->fds.size(); ++i) args.task_fds.push_back(msg->fds[i].Get());
    args.bpf = &bpf;
    RunChild(args);
  }
  UniqueFd child_pidfd(pidfd);
  child_sync.Reset();
  msg->fds.clear();  // the child has its copies; ours must not keep the task's pipes open

  if (HookFails(spec, SetupStep::kIdMaps, &f) || !WriteIdMaps(static_cast<pid_t>(pid), spec, &f)) {
    sys::PidfdSendSignal(child_pidfd.Get(), SIGKILL);
    Report(f);
  }
  char go = 'G';  // sync #1: maps written
  if (::send(sync.Get(), &go, 1, MSG_NOSIGNAL) != 1) {
    SetFailure(&f, SetupStep::kWaitGo, errno, "send go to child");
    Report(f);
  }

  // Relay until PID 1 of the sandbox is gone. Setup has a deadline; the task itself has none here
  // (the supervisor owns wall-clock limits and kills us, which kills the child via PDEATHSIG).
  const uint64_t deadline = sys::MonotonicNs() + uint64_t{spec.setup_timeout_ms} * 1000000ull;
  bool exec_ok = false, got_exit = false, sent_error = false;
  proto::ExitRecord exit_rec;
  for (;;) {
    // A negative fd is ignored by poll(): once the child's end is closed only the others remain.
    pollfd p[3] = {{sync.Get(), POLLIN, 0}, {kControlFd, POLLIN, 0}, {child_pidfd.Get(), POLLIN, 0}};
    int timeout = -1;
    if (!exec_ok && !sent_error) {
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
      alignas(8) char buf[sizeof(proto::ExitRecord) + sizeof(proto::ErrorRecord)];
      ssize_t n = ::recv(sync.Get(), buf, sizeof buf, MSG_DONTWAIT);
      proto::MsgHeader h;
      if (n >= static_cast<ssize_t>(sizeof h)) std::memcpy(&h, buf, sizeof h);
      if (n == 0) {
        sync.Reset();  // child's end closed: only the pidfd is left to watch
      } else if (n >= static_cast<ssize_t>(sizeof h) && h.magic == proto::kMagic) {
        if (h.type == proto::MsgType::kExecOk && n == sizeof(proto::ExecOkRecord)) {
          exec_ok = true;
          Send(buf, static_cast<size_t>(n));
        } else if (h.type == proto::MsgType::kError && n == sizeof(proto::ErrorRecord)) {
          sent_error = true;
          Send(buf, static_cast<size_t>(n));
        } else if (h.type == proto::MsgType::kExit && n == sizeof(proto::ExitRecord)) {
          got_exit = true;
          std::memcpy(&exit_rec, buf, sizeof exit_rec);
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

  // Drain a record that raced with the exit, then reap PID 1 with the usage of the whole sandbox.
  if (sync.Valid() && !got_exit) {
    proto::ExitRecord r;
    if (::recv(sync.Get(), &r, sizeof r, MSG_DONTWAIT) == sizeof r && r.hdr.type == proto::MsgType::kExit) {
      got_exit = true;
      exit_rec = r;
    }
  }
  int status = 0;
  rusage ru{};
  ::wait4(static_cast<pid_t>(pid), &status, __WALL, &ru);
  if (!got_exit) {
    exit_rec = proto::ExitRecord();
    exit_rec.exit_ns = sys::MonotonicNs();
  }
  exit_rec.init_status = status;
  exit_rec.usage = ru;
  Send(&exit_rec, sizeof exit_rec);
  return 0;
}

}  // namespace
}  // namespace cordon::shim

int main() { return cordon::shim::RunOuter(); }
