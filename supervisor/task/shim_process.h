// supervisor/task/shim_process.h: the outer shim of one task as a process: its spawn (vfork-style,
// system calls only in the child), the control socket it reads its launch from and reports on, its
// pidfd, and its reaping. One part of a running task (task.h); the launcher (launcher.h) spawns it.
// Supervisor side, driven by the task's loop; owns the shim's pidfd and the control socket.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/result.h"
#include "common/scm_rights.h"
#include "common/unique_fd.h"

namespace cordon {

class ShimProcess {
 public:
  ShimProcess() = default;
  ShimProcess(ShimProcess&&) = default;
  ShimProcess& operator=(ShimProcess&&) = default;

  // Starts `shim_path` with one end of a new control socket as its fd 3, in its own process group
  // (terminal signals reach only the supervisor, which forwards them deliberately).
  static Result<ShimProcess> Spawn(const std::string& shim_path);

  pid_t pid() const { return pid_; }
  // CLOCK_MONOTONIC ns of the spawn (the evidence's timing.spawned).
  uint64_t spawned_ns() const { return spawned_ns_; }
  int pidfd() const { return pidfd_.Get(); }
  int control_fd() const { return ctrl_.Get(); }
  bool started() const { return static_cast<bool>(pidfd_); }
  bool reaped() const { return reaped_; }
  // The outer shim's wait status once reaped (WEXITSTATUS-style: exit code << 8, or the signal).
  int status() const { return status_; }

  // Sends `len` bytes and `fds` on the control socket.
  Result<void> Send(const void* buf, size_t len, const int* fds, size_t nfds) const;
  // After the launch message: reads from here on never block the loop.
  void MakeControlNonBlocking() const;
  // Reads every pending record, calling on_record(buf, len, fds) for each. Returns false when the
  // control socket closed (or failed); the caller then stops watching it (CloseControl).
  template <typename F>
  bool ReadRecords(F&& on_record) {
    for (;;) {
      alignas(8) char buf[2048];
      auto got = RecvMsg(ctrl_.Get(), buf, sizeof buf, kMaxRecordFds, MSG_DONTWAIT);
      if (!got) return got.error().err == EAGAIN;
      if (got->eof) return false;
      on_record(static_cast<const void*>(buf), got->len, &got->fds);
    }
  }
  void CloseControl() { ctrl_.Reset(); }
  bool control_open() const { return static_cast<bool>(ctrl_); }

  // SIGKILL to the shim (PDEATHSIG takes its PID 1 and with it the sandbox's PID namespace).
  void SignalKill() const;
  // The shim exited (its pidfd fired): reap it and keep its status.
  void Reap();
  // Kill and wait: the shim must not outlive us (an unfinished task being destroyed, a launch
  // that failed half-way).
  void KillAndReap();
  // Reap it only if it is gone already; otherwise leave it to our parent-of-last-resort.
  void ReapIfExited();

  // Records carry at most: the seccomp listener, the proxy socket, the transparent listeners.
  static constexpr size_t kMaxRecordFds = 2 + proto::kMaxTransparentListeners;

 private:
  pid_t pid_ = -1;
  UniqueFd pidfd_, ctrl_;
  uint64_t spawned_ns_ = 0;
  bool reaped_ = false;
  int status_ = 0;
};

}  // namespace cordon
