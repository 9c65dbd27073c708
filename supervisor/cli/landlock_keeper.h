// supervisor/cli/landlock_keeper.h: the keeper of a landlock-mode task (docs/landlock.md
// "Lifetime"). Without a PID namespace nothing ends a task's descendants when `cordon run` ends,
// so the task is started by a process of its own, the keeper, forked from `cordon run`:
//
//   cordon run (child subreaper) ── keeper (child subreaper, own process group) ── task ── ...
//
// The keeper is the task's parent and a child subreaper, so every descendant the task leaves
// behind is reparented to it, whatever sessions or groups it made. It forwards the signals
// `cordon run` passes it to the task, and when the task has exited, or `cordon run` is gone (its
// control pipe reads EOF, as when it was SIGKILLed), it kills the task's cgroup where there is one
// (cgroup.kill, or the v1 freezer loop) and every descendant it still has, reaps them, reports
// the task's wait status and exits. Its own process group keeps it out of a `kill -9 -PGID` of
// the caller's job. Should the keeper itself be killed, the task dies by its PR_SET_PDEATHSIG and
// the task's descendants are reparented to `cordon run`, also a subreaper, which kills them.
// Only both killed at once (by someone who may signal both: the task may not with Landlock ABI
// >= 6 or rootful) leaves descendants to the host's init, and then only where no cgroup holds them.
//
// Supervisor side; runs in the forked child of a single-threaded `cordon run`.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "supervisor/cgroup/task_cgroup.h"

namespace cordon::cli {

// What the keeper writes to `cordon run`'s report pipe, in this order: kStarted (value: the
// task's pid) and kEnded (value: the task's wait status), or kFailed alone (value: the errno of
// forking the task or of placing it in its cgroup; it was killed before it ran anything).
struct KeeperReport {
  enum Kind : int32_t { kStarted = 1, kEnded = 2, kFailed = 3 };
  int32_t kind = 0;
  int32_t value = 0;
};

struct KeeperArgs {
  int control_fd = -1;  // read end: signal numbers (int32) from `cordon run`; EOF = it is gone
  int report_fd = -1;   // write end: KeeperReport records
  int go_fd = -1;       // write end: one byte once the task is in its cgroup (the task waits for it)
  // The task's own fds (the go pipe's read end, its error pipe): closed by the keeper once it
  // forked the task, so that they read EOF when the task is gone.
  int task_fds[2] = {-1, -1};
  // `cordon run`'s ends of the control and report pipes, its proxy's listener: closed at once
  int caller_fds[3] = {-1, -1, -1};
  cgroup::TaskCgroup* cgroup = nullptr;  // the task's cgroup, or nullptr
  // The task's side, run in the keeper's forked child (it ends in execve or _exit).
  [[noreturn]] void (*run_task)(const void* arg) = nullptr;
  const void* task_arg = nullptr;
};

// The keeper's life, in the child of fork(): never returns.
[[noreturn]] void RunKeeper(const KeeperArgs& a);

// SIGKILLs every process whose parent chain (/proc/PID/stat's ppid) leads to `root`, `root`
// itself excluded, in one pass over /proc. Returns how many it signalled.
int KillDescendants(pid_t root);

// Kills the descendants of this process (a child subreaper: they are reparented to it as their
// parents die) and reaps them, until it has no child left or `rounds` passes (1 ms apart) did not
// empty it. Returns whether none is left.
bool KillAndReapDescendants(int rounds = 5000);

}  // namespace cordon::cli
