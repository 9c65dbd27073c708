// The keeper of a landlock-mode task (landlock_keeper.h, docs/landlock.md "Lifetime").
#include "supervisor/cli/landlock_keeper.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

namespace cordon::cli {
namespace {

void Report(int fd, KeeperReport::Kind kind, int32_t value) {
  KeeperReport r{kind, value};
  // A pipe write of this size is atomic; `cordon run` may be gone (EPIPE, SIGPIPE blocked).
  (void)!::write(fd, &r, sizeof r);
}

// The parent pid of `pid` from /proc/PID/stat, or -1 when it is gone.
pid_t ParentOf(pid_t pid) {
  char path[64], buf[512];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  // The command name is in parentheses and may itself hold ") ": the state follows the last one.
  const char* rp = std::strrchr(buf, ')');
  int ppid = -1;
  if (!rp || std::sscanf(rp + 2, "%*c %d", &ppid) != 1) return -1;
  return ppid;
}

}  // namespace

int KillDescendants(pid_t root) {
  std::vector<std::pair<pid_t, pid_t>> procs;  // (pid, ppid) of every process /proc shows
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      const pid_t p = static_cast<pid_t>(std::atoi(e->d_name));
      if (p <= 0) continue;
      const pid_t pp = ParentOf(p);
      if (pp > 0) procs.emplace_back(p, pp);
    }
    ::closedir(d);
  }
  // Breadth first from root: the list grows as each found process's children are added.
  std::vector<pid_t> found = {root};
  for (size_t i = 0; i < found.size(); ++i)
    for (const auto& [p, pp] : procs)
      if (pp == found[i] && p != root) found.push_back(p);
  for (size_t i = 1; i < found.size(); ++i) (void)::kill(found[i], SIGKILL);
  return static_cast<int>(found.size() - 1);
}

bool KillAndReapDescendants(int rounds) {
  // A SIGKILLed process can fork no more (copy_process refuses with a fatal signal pending), so
  // each pass leaves only what was born during the last scan; its orphans come to us (subreaper).
  for (int round = 0; round < rounds; ++round) {
    (void)KillDescendants(::getpid());
    pid_t p;
    while ((p = ::waitpid(-1, nullptr, WNOHANG)) > 0) {
    }
    if (p < 0 && errno == ECHILD) return true;
    ::usleep(1000);
  }
  return false;
}

void RunKeeper(const KeeperArgs& a) {
  // Out of the caller's process group (a job's `kill -9 -PGID` leaves us to clean up), and the
  // parent of everything the task leaves behind.
  (void)::setpgid(0, 0);
  (void)::prctl(PR_SET_CHILD_SUBREAPER, 1);
  for (int fd : a.caller_fds) ::close(fd);  // or the control pipe would never read EOF
  // `cordon run` blocked the signals it forwards before it forked us; SIGCHLD too, for the signalfd.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  (void)::sigprocmask(SIG_BLOCK, &chld, nullptr);
  const int chld_fd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);

  const pid_t task = ::fork();
  if (task == 0) a.run_task(a.task_arg);
  if (task < 0) {
    Report(a.report_fd, KeeperReport::kFailed, errno);
    ::_exit(0);
  }
  for (int fd : a.task_fds) ::close(fd);
  // Into its cgroup before it runs anything of its own: it waits for the go byte.
  if (a.cgroup)
    if (auto at = a.cgroup->AttachPid(task); !at) {
      (void)::kill(task, SIGKILL);
      (void)::waitpid(task, nullptr, 0);
      Report(a.report_fd, KeeperReport::kFailed, at.error().err ? at.error().err : EIO);
      ::_exit(0);
    }
  (void)!::write(a.go_fd, "g", 1);
  ::close(a.go_fd);
  Report(a.report_fd, KeeperReport::kStarted, task);

  int status = 0;
  bool reaped = false, caller_gone = false;
  while (!reaped && !caller_gone) {
    pollfd pf[2] = {{a.control_fd, POLLIN, 0}, {chld_fd, POLLIN, 0}};
    // Without a signalfd, look for the task's end every 100 ms.
    if (::poll(pf, chld_fd >= 0 ? 2 : 1, chld_fd >= 0 ? -1 : 100) < 0 && errno != EINTR) break;
    if (pf[0].revents) {
      int32_t sig[16];
      ssize_t n = ::read(a.control_fd, sig, sizeof sig);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        caller_gone = true;  // `cordon run` ended without waiting for us: SIGKILLed, most likely
      } else {
        for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof sig[0]); ++i) (void)::kill(task, sig[i]);
      }
    }
    if (chld_fd >= 0 && pf[1].revents) {
      signalfd_siginfo si;
      while (::read(chld_fd, &si, sizeof si) > 0) {
      }
    }
    // The task, and orphans of its that ended: reaped here (their pids would stay taken).
    pid_t p;
    int st = 0;
    while ((p = ::waitpid(-1, &st, WNOHANG)) > 0)
      if (p == task) status = st, reaped = true;
  }
  // The task is done, or nobody waits for it any more: nothing of it may stay.
  if (!reaped) (void)::kill(task, SIGKILL);
  if (a.cgroup) (void)a.cgroup->Kill();
  (void)KillAndReapDescendants();
  if (!caller_gone) Report(a.report_fd, KeeperReport::kEnded, status);
  ::_exit(0);
}

}  // namespace cordon::cli
