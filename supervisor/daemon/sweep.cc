// supervisor/daemon/sweep.cc: what supervisors killed with SIGKILL leave behind (docs/daemon.md,
// "Leftovers"): task cgroups whose owner process is dead (a `cordon run`, or an earlier cordond
// and its warm pool), and uid lease files nobody holds. At start, after the recovery, and then
// every --sweep-interval seconds on the loop's timer.
#include "supervisor/daemon/daemon_internal.h"

#include "supervisor/cgroup/task_cgroup.h"

namespace cordon::daemon::internal {

void Daemon::SweepLeftovers(bool at_start) {
  if (cgroups_ && cgroups_->no_cgroup_reason.empty()) {
    auto swept = cgroup::SweepStaleTaskCgroups(*cgroups_);
    if (!swept.empty())
      Log("removed " + std::to_string(swept.size()) + " task cgroups left by supervisors killed earlier" +
          (at_start ? " (at start)" : ""));
  }
  if (::geteuid() == 0) {
    if (size_t n = SweepStaleLeases(opts_.id_lock_dir); n > 0)
      Log("removed " + std::to_string(n) + " uid lease files left by supervisors killed earlier");
  }
  next_sweep_ns_ = opts_.sweep_interval_s ? sys::MonotonicNs() + opts_.sweep_interval_s * 1'000'000'000ull : 0;
}

}  // namespace cordon::daemon::internal
