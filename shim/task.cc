#include "shim/task.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/scm_rights.h"
#include "common/syscalls.h"
#include "shim/failure.h"
#include "shim/landlock.h"
#include "shim/privileges.h"
#include "shim/read_memfd.h"

namespace cordon::shim {
namespace {

// Copies without calling into anything that might make a system call.
void CopyMsg(char* dst, size_t cap, const char* a, const char* b = "") {
  size_t i = 0;
  for (const char* p = a; *p && i + 1 < cap; ++p) dst[i++] = *p;
  for (const char* p = b; *p && i + 1 < cap; ++p) dst[i++] = *p;
  dst[i] = '\0';
}

[[noreturn]] void Die(const TaskArgs& a, SetupStep step, int err, const char* what, const char* arg = "",
                      int code = kExitCordonFailure) {
  a.report->error.step = step;
  a.report->error.err = err;
  CopyMsg(a.report->error.msg, sizeof a.report->error.msg, what, arg);
  _exit(code);
}

[[noreturn]] void Die(const TaskArgs& a, const Failure& f) {
  a.report->error = f.rec;
  _exit(kExitCordonFailure);
}

void CheckHook(const TaskArgs& a, SetupStep step, uint64_t stamp_ns = 0) {
  Failure f;
  if (HookFailsAt(*a.spec, step, stamp_ns ? stamp_ns : sys::MonotonicNs(), &f))
    Die(a, step, EPERM, "failed on purpose by the test hook");
}

// Moves fds[i] to number i. A source inside 0..N-1 is first lifted above the target range, all of
// them then, so that no dup2 overwrites a source still to be moved; sources all above it (the usual
// case) are dup2'd straight to their places.
void PlaceFds(TaskArgs& a) {
  const int n = static_cast<int>(a.fds.size());
  bool clash = false;
  for (int i = 0; i < n; ++i) clash = clash || a.fds[i] < n;
  int lifted[proto::kMaxFdsPerLaunch];
  for (int i = 0; i < n; ++i) {
    lifted[i] = clash ? ::fcntl(a.fds[i], F_DUPFD_CLOEXEC, n) : a.fds[i];
    if (lifted[i] < 0) Die(a, SetupStep::kStdioFds, errno, "lift fd above target range");
  }
  for (int i = 0; i < n; ++i) {
    // dup2 clears FD_CLOEXEC on the target: exactly these fds survive exec.
    if (::dup2(lifted[i], i) < 0) Die(a, SetupStep::kStdioFds, errno, "dup2 task fd");
  }
  // Everything else (sources, PID 1's sync socket in the shared table) is closed at exec. CLOEXEC
  // rather than close: PID 1 still needs its own fds, and the shared table is also PID 1's.
  if (sys::CloseRange(static_cast<unsigned>(n), ~0u, CLOSE_RANGE_CLOEXEC) < 0)
    Die(a, SetupStep::kStdioFds, errno, "close_range");
}

void ResetSession(TaskArgs& a) {
  if (::setsid() < 0) Die(a, SetupStep::kSession, errno, "setsid");
  ::umask(022);  // cannot fail
  // The outer shim reset inherited SIG_IGN dispositions; what is left are PID 1's forwarding
  // handlers (our copy of its table: no CLONE_SIGHAND) and the blocked mask.
  for (int sig : a.handled_signals)
    if (::signal(sig, SIG_DFL) == SIG_ERR) Die(a, SetupStep::kSession, errno, "reset a signal's handler");
  sigset_t none;
  sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) < 0) Die(a, SetupStep::kSession, errno, "sigprocmask");
  rlimit core{0, 0};
  if (::setrlimit(RLIMIT_CORE, &core) < 0) Die(a, SetupStep::kSession, errno, "setrlimit RLIMIT_CORE");
  const struct {
    int resource;
    uint64_t value;
    const char* name;
  } limits[] = {{RLIMIT_CPU, a.spec->rlimit_cpu_s, "setrlimit RLIMIT_CPU"},
                {RLIMIT_NOFILE, a.spec->rlimit_nofile, "setrlimit RLIMIT_NOFILE"},
                {RLIMIT_NPROC, a.spec->rlimit_nproc, "setrlimit RLIMIT_NPROC"},
                {RLIMIT_AS, a.spec->rlimit_as, "setrlimit RLIMIT_AS"}};
  for (const auto& l : limits) {
    if (l.value == 0) continue;
    // RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL at the hard one a second later.
    rlimit r{l.value, l.resource == RLIMIT_CPU ? l.value + 1 : l.value};
    if (::setrlimit(l.resource, &r) < 0) Die(a, SetupStep::kSession, errno, l.name);
  }
}

// The bounding set can only shrink, and only with CAP_SETPCAP, which we still have here. It is
// normally empty already: PID 1 emptied its own just before it cloned us, and a clone inherits it
// (ForkTask in shim/child.cc), which saves the task a prctl per capability.
void DropBounding(TaskArgs& a) {
  int cap = -1;
  if (a.bounding_empty) return;
  if (int err = DropBoundingSet(&cap)) Die(a, SetupStep::kDropBounding, err, "drop capability from bounding set");
}

// Locked: the task can never regain capabilities through uid 0 semantics, setuid fixups,
// KEEPCAPS or ambient raising, even in a nested user namespace it may not create anyway.
void LockBits(TaskArgs& a) {
  if (int err = LockSecurebits()) Die(a, SetupStep::kSecurebits, err, "lock securebits");
}

void DropCaps(TaskArgs& a) {
  if (int err = ClearCapabilities()) Die(a, SetupStep::kDropCaps, err, "clear capabilities");
}

void SetNoNewPrivs(TaskArgs& a) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) Die(a, SetupStep::kNoNewPrivs, errno, "set no_new_privs");
}

// Without capabilities, cold or pooled: the task enters its directory with its own permissions.
void EnterCwd(TaskArgs& a) {
  if (::chdir(a.spec->cwd.c_str()) < 0) Die(a, SetupStep::kChdir, errno, "chdir ", a.spec->cwd.c_str());
}

// A pooled task as far as it gets without its request: say the sandbox is ready, then wait for the
// task's part and its stdio. The part comes inline after the header, or in a memfd after the stdio
// fds when large. An EOF means the supervisor discarded the sandbox: nothing ran, exit quietly.
void AwaitTask(TaskArgs& a) {
  Failure f;
  proto::ReadyRecord ready;
  ready.ready_ns = sys::MonotonicNs();
  if (::send(a.sync_fd, &ready, sizeof ready, MSG_NOSIGNAL) < 0)
    Die(a, SetupStep::kAwaitTask, errno, "report the sandbox ready");
  // Not zero-filled: only the pages the message lands in get touched (a page fault costs ~10 us on
  // a paravirtualised host, and this buffer is 15 pages).
  const size_t cap = sizeof(proto::MsgHeader) + proto::kMaxInlineTaskPart;
  std::unique_ptr<uint8_t[]> buf(new uint8_t[cap]);
  auto msg = RecvMsg(a.start_fd, buf.get(), cap, 4);
  if (msg && msg->eof) {
    a.report->withdrawn = 1;
    _exit(0);
  }
  if (!msg) Die(a, SetupStep::kAwaitTask, msg.error().err, "receive the task");
  a.report->started_ns = sys::MonotonicNs();
  proto::MsgHeader hdr;
  if (msg->len >= sizeof hdr) std::memcpy(&hdr, buf.get(), sizeof hdr);
  const bool in_memfd = msg->fds.size() == 4;
  const bool hold = hdr.type == proto::MsgType::kStartHold;
  if (msg->len < sizeof hdr || hdr.magic != proto::kMagic || (hdr.type != proto::MsgType::kStart && !hold) ||
      (msg->fds.size() != 3 && !in_memfd) || (in_memfd && msg->len != sizeof hdr)) {
    SetFailure(&f, SetupStep::kAwaitTask, EBADMSG, "bad start message (%zu bytes, %zu fds)", msg->len,
               msg->fds.size());
    Die(a, f);
  }
  std::vector<uint8_t> large;
  const uint8_t* bytes = buf.get() + sizeof hdr;
  size_t len = msg->len - sizeof hdr;
  if (in_memfd) {
    if (!ReadMemfd(msg->fds[3].Get(), &large, 8u << 20, SetupStep::kAwaitTask, "task part", &f)) Die(a, f);
    bytes = large.data();
    len = large.size();
  }
  proto::TaskPart part;
  if (!proto::DecodeTaskPart(reinterpret_cast<const char*>(bytes), len, &part))
    Die(a, SetupStep::kAwaitTask, EBADMSG, "malformed task part");
  a.spec->argv = std::move(part.argv);
  a.spec->envp = std::move(part.envp);
  a.spec->cwd = std::move(part.cwd);
  for (size_t i = 0; i < 3; ++i) a.fds[i] = msg->fds[i].Release();
  BuildExecArgs(&a);
  // Held: the socket stays open for kGo (it sits above the fds placed next, see RunChild).
  if (hold) {
    a.go_fd = a.start_fd;
  } else if (::close(a.start_fd) < 0) {  // PID 1's UniqueFd, in the table we share: it never closes it again
    Die(a, SetupStep::kAwaitTask, errno, "close the start socket");
  }
}

// A held start: the supervisor makes the admission decision durable while we got this far; the
// filter and execve wait for its kGo. Anything else (an EOF: it withdrew the task) ends the task.
void AwaitGo(TaskArgs& a) {
  proto::MsgHeader hdr;
  ssize_t n;
  do {
    n = ::recv(a.go_fd, &hdr, sizeof hdr, 0);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof hdr) || hdr.magic != proto::kMagic || hdr.type != proto::MsgType::kGo)
    Die(a, SetupStep::kAwaitGo, n < 0 ? errno : ECANCELED, "the supervisor withdrew the task before its exec");
}

// Takes the exec step's stamp now when no clock may be read after the load: the filter may deny
// clock_gettime, which is a system call where the vDSO falls back to one.
void LoadFilter(TaskArgs& a) {
  a.exec_stamp_ns = (a.spec->flags & proto::kFlagClockAfterFilter) ? 0 : sys::MonotonicNs();
  if (a.bpf == nullptr || a.bpf->empty() || a.bpf->size() % sizeof(sock_filter) != 0)
    Die(a, SetupStep::kSeccomp, EINVAL, "no seccomp filter: a task never runs unfiltered");
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(a.bpf->size() / sizeof(sock_filter));
  prog.filter = reinterpret_cast<sock_filter*>(const_cast<uint8_t*>(a.bpf->data()));
  // With NEW_LISTENER the call returns the listener fd. It lands in the fd table we share with
  // PID 1 (CLONE_FILES), close-on-exec, so after our execve only PID 1 holds it.
  int rc = sys::Seccomp(SECCOMP_SET_MODE_FILTER, a.spec->seccomp_flags, &prog);
  if (rc < 0) Die(a, SetupStep::kSeccomp, errno, "load seccomp filter");
  if (a.spec->seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) a.report->listener_fd = rc;
}

bool IsSkippable(int err) { return err == ENOENT || err == ENOTDIR || err == ESTALE || err == ENODEV; }

// execvp without allocation and without the /bin/sh retry on ENOEXEC: the exit code says 126.
[[noreturn]] void Exec(TaskArgs& a) {
  const char* file = a.argv[0];
  char* const* argv = a.argv.data();
  char* const* envp = a.envp.data();
  a.report->reached_exec = 1;
  if (std::strchr(file, '/') != nullptr || a.path_env == nullptr) {
    ::execve(file, argv, envp);
    int err = errno;
    Die(a, SetupStep::kExec, err, "execve ", file, IsSkippable(err) ? kExitNotFound : kExitNotExecutable);
  }
  char buf[4096];
  bool saw_eacces = false;
  const size_t flen = std::strlen(file);
  for (const char* p = a.path_env;;) {
    const char* end = std::strchr(p, ':');
    size_t dlen = end ? static_cast<size_t>(end - p) : std::strlen(p);
    if (dlen + flen + 2 <= sizeof buf) {
      size_t off = 0;
      if (dlen == 0) {
        buf[off++] = '.';
      } else {
        std::memcpy(buf, p, dlen);
        off = dlen;
      }
      buf[off++] = '/';
      std::memcpy(buf + off, file, flen + 1);
      ::execve(buf, argv, envp);
      int err = errno;
      if (err == EACCES) {
        saw_eacces = true;
      } else if (!IsSkippable(err)) {
        Die(a, SetupStep::kExec, err, "execve ", buf, kExitNotExecutable);
      }
    }
    if (end == nullptr) break;
    p = end + 1;
  }
  if (saw_eacces) Die(a, SetupStep::kExec, EACCES, "execve ", file, kExitNotExecutable);
  Die(a, SetupStep::kExec, ENOENT, "command not found in PATH: ", file, kExitNotFound);
}

// Landlock behind the mount namespace (shim/landlock.h), once every fd the task gets is in place.
void Landlock(TaskArgs& a) {
  Failure f;
  if (!ApplyLandlockLayer(*a.spec, static_cast<int>(a.fds.size()), &f)) Die(a, f);
}

bool Always(const TaskArgs&) { return true; }
bool WithLandlock(const TaskArgs& a) { return a.spec->flags & proto::kFlagLandlock; }
bool Cold(const TaskArgs& a) { return a.start_fd < 0; }
bool Pooled(const TaskArgs& a) { return a.start_fd >= 0; }
bool Held(const TaskArgs& a) { return a.go_fd >= 0; }
bool FilterBeforeGo(const TaskArgs& a) { return Held(a) && (a.spec->flags & proto::kFlagFilterBeforeGo); }
bool FilterAfterGo(const TaskArgs& a) { return !FilterBeforeGo(a); }

// The task's checklist, in SetupStep order, run by RunTask and nowhere else. Two steps have a
// second place, each for one kind of start (docs/setup-sequence.md): a pooled task places its fds
// after await-task, where its stdio arrives, and a held task whose filter allows its wait for kGo
// loads the filter first, so that the load overlaps the supervisor's fdatasync.
struct TaskStep {
  SetupStep step;
  void (*run)(TaskArgs&);
  bool (*when)(const TaskArgs&);
};
constexpr TaskStep kTaskSteps[] = {
    {SetupStep::kStdioFds, PlaceFds, Cold},
    {SetupStep::kSession, ResetSession, Always},
    {SetupStep::kDropBounding, DropBounding, Always},
    {SetupStep::kSecurebits, LockBits, Always},
    {SetupStep::kDropCaps, DropCaps, Always},
    {SetupStep::kNoNewPrivs, SetNoNewPrivs, Always},
    {SetupStep::kAwaitTask, AwaitTask, Pooled},
    {SetupStep::kStdioFds, PlaceFds, Pooled},
    {SetupStep::kLandlock, Landlock, WithLandlock},
    {SetupStep::kChdir, EnterCwd, Always},
    {SetupStep::kSeccomp, LoadFilter, FilterBeforeGo},
    {SetupStep::kAwaitGo, AwaitGo, Held},
    {SetupStep::kSeccomp, LoadFilter, FilterAfterGo},
    {SetupStep::kExec, Exec, Always},
};

}  // namespace

void BuildExecArgs(TaskArgs* a) {
  a->argv.clear();
  a->envp.clear();
  a->path_env = nullptr;
  for (const auto& s : a->spec->argv) a->argv.push_back(const_cast<char*>(s.c_str()));
  a->argv.push_back(nullptr);
  for (const auto& s : a->spec->envp) {
    a->envp.push_back(const_cast<char*>(s.c_str()));
    if (s.rfind("PATH=", 0) == 0) a->path_env = s.c_str() + 5;
  }
  a->envp.push_back(nullptr);
}

[[noreturn]] void RunTask(TaskArgs& a) {
  for (const TaskStep& s : kTaskSteps) {
    if (!s.when(a)) continue;
    CheckHook(a, s.step, s.step == SetupStep::kExec ? a.exec_stamp_ns : 0);
    s.run(a);
  }
  _exit(kExitCordonFailure);  // not reached: the exec step ends in execve or _exit
}

}  // namespace cordon::shim
