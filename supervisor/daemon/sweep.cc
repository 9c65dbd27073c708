// supervisor/daemon/sweep.cc: what supervisors killed with SIGKILL leave behind (docs/daemon.md,
// "Leftovers"): task cgroups whose owner process is dead (a `cordon run`, or an earlier cordond
// and its warm pool), and uid lease files nobody holds. At start, after the recovery, and then
// every --sweep-interval seconds on the loop's timer.
#include "supervisor/daemon/daemon_internal.h"

#include "supervisor/cgroup/task_cgroup.h"

namespace cordon::daemon::internal {

Daemon::Retention Daemon::CurrentRetention() const {
  const DaemonSettings* file = config_ ? &config_->settings : nullptr;
  Retention r;
  auto pick = [&](bool flag, uint64_t flag_or_default, const std::optional<uint64_t>& from_file, uint64_t* out) {
    if (flag) {
      *out = flag_or_default;
      return std::string("flag");
    }
    if (file && from_file) {
      *out = *from_file;
      return file->source;
    }
    *out = flag_or_default;
    return std::string("default");
  };
  const std::string days_from =
      pick(opts_.retain_days_flag, opts_.retain_days, file ? file->retain_days : std::nullopt, &r.days);
  const std::string tasks_from =
      pick(opts_.retain_tasks_flag, opts_.retain_tasks, file ? file->retain_tasks : std::nullopt, &r.tasks);
  r.why = "retention: days " + std::to_string(r.days) + " (" + days_from + "), tasks " + std::to_string(r.tasks) +
          " (" + tasks_from + ")";
  return r;
}

namespace {

// Dead supervisors' task cgroups (killing what they still hold: up to 200 ms each) and unheld
// lease files. Touches only the filesystem and its own copies, so it may run on any thread.
void SweepDeadOwners(const std::optional<cgroup::Layout>& cgroups, const std::string& id_lock_dir, bool at_start) {
  if (cgroups && cgroups->no_cgroup_reason.empty()) {
    // This state dir's earlier cordond (its mark's instance is ours): whatever the age.
    const std::string mark = cgroup::OwnerMark();
    auto swept = cgroup::SweepStaleTaskCgroups(*cgroups, 60, mark.substr(mark.rfind(' ') + 1));
    if (!swept.empty())
      Log("removed " + std::to_string(swept.size()) + " task cgroups left by supervisors killed earlier" +
          (at_start ? " (at start)" : ""));
  }
  if (::geteuid() == 0) {
    if (size_t n = SweepStaleLeases(id_lock_dir); n > 0)
      Log("removed " + std::to_string(n) + " uid lease files left by supervisors killed earlier");
  }
}

}  // namespace

void Daemon::SweepLeftovers(bool at_start) {
  if (at_start) {
    // Before the loop serves anyone: the pool built next must not meet the old one's cgroups.
    SweepDeadOwners(cgroups_, opts_.id_lock_dir, true);
  } else if (!sweeping_->exchange(true)) {
    // Periodic: on the chores thread (one sweep at a time), not the loop.
    chores_.Post([cgroups = cgroups_, dir = opts_.id_lock_dir, flag = sweeping_] {
      SweepDeadOwners(cgroups, dir, false);
      flag->store(false);
    });
  }
  // Retention writes to the database: not while records are pending (the disk is full).
  const Retention keep = CurrentRetention();
  if (pending_.empty() && (keep.days > 0 || keep.tasks > 0)) {
    const int64_t now = NowUnixMs();
    const int64_t cutoff = keep.days ? now - static_cast<int64_t>(keep.days) * 86'400'000 : 0;
    auto pruned = store_->Prune(cutoff, keep.tasks, now);
    if (!pruned) {
      Log("retention: pruning failed, nothing was deleted: " + pruned.error().Message());
    } else if (pruned->tasks > 0 || pruned->decisions > 0) {
      Log("retention: pruned " + std::to_string(pruned->tasks) + " finished tasks and " +
          std::to_string(pruned->decisions) + " admission decisions; their summary and digest are in pruned_ranges");
    }
  }
  if (pending_.empty()) PruneEnvelopes(NowUnixMs());  // budgets.json envelopes' retention_days (app_retention.cc)
  if (config_) {
    const DaemonSettings& st = config_->settings;
    auto pruned = evlog_->ApplyRetention(st.evlog_retain_days.value_or(0), st.evlog_retain_records.value_or(0));
    if (!pruned) Log("evidence log retention: " + pruned.error().Message());
    else if (*pruned > 0) Log("evidence log retention: pruned " + std::to_string(*pruned) + " records (docs/evidence.md \"Retention\")");
  }
  next_sweep_ns_ = opts_.sweep_interval_s ? sys::MonotonicNs() + opts_.sweep_interval_s * 1'000'000'000ull : 0;
}

}  // namespace cordon::daemon::internal
