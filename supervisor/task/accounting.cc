// supervisor/task/accounting.cc: a task's budgets held and counted, by its cgroup or by the
// supervisor's monitor (accounting.h).
#include "supervisor/task/accounting.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "common/syscalls.h"
#include "supervisor/task/sandbox_monitor.h"

namespace cordon {

Result<TaskAccounting> TaskAccounting::Create(const Policy& policy, const cgroup::Layout* cgroups,
                                              const std::string& cgroup_name, const Options& opts,
                                              proto::LaunchSpec* spec) {
  TaskAccounting a;
  AccountingReport& r = a.report_;
  proto::LaunchSpec& s = *spec;
  const PolicyLimits& lim = policy.limits;
  a.memory_budget_ = lim.memory_bytes;
  a.cpu_budget_ms_ = lim.max_cpu_ms;
  bool monitor = false;
  // Per-task cgroup, created and limited before anything of the task exists.
  if (cgroups != nullptr && cgroups->no_cgroup_reason.empty()) {
    cgroup::Limits cl;
    if (lim.memory_bytes) cl.memory_bytes = lim.memory_bytes;
    // On v1 the outer shim sits in the task's pids cgroup too (launcher.cc Spawn): one more.
    a.shim_in_v1_pids_ = cgroups->Of(cgroup::Controller::kPids).where == cgroup::Where::kV1;
    if (lim.pids) cl.pids = lim.pids + (a.shim_in_v1_pids_ ? 1 : 0);
    auto cg = cgroup::TaskCgroup::Create(*cgroups, cgroup_name, cl);
    if (!cg) return Wrap(cg.error(), "create the task's cgroup");
    a.cgroup_.emplace(std::move(*cg));
    r.cgroup_mode = std::string(cgroup::ModeName(cgroups->mode));
    r.enforce_memory = r.enforce_cpu = r.enforce_pids = "cgroup";
  } else {
    r.cgroup_mode = cgroups ? "none: " + cgroups->no_cgroup_reason : "none: cgroups not used by this supervisor";
    // Without a cgroup: the supervisor's monitor holds the whole sandbox to memory_bytes and
    // max_cpu_ms (docs/cgroups.md "Without a cgroup"). RLIMIT_AS is not its backstop: address
    // space is not memory (runtimes such as V8, the JVM or Go reserve far more than they touch),
    // and a per-process cap is what this mode replaces. RLIMIT_CPU stays as one.
    const bool wants = lim.memory_bytes || lim.max_cpu_ms;
    monitor = wants && !opts.no_monitor && SandboxMonitorAvailable();
    if (wants && !monitor && !opts.per_process_limits)
      return FailMsg("policy " + policy.name + " sets " +
                         std::string(lim.memory_bytes ? "limits.memory_bytes" : "limits.max_cpu_ms") +
                         ", which this run cannot hold the whole sandbox to: there is no per-task cgroup (" +
                         r.cgroup_mode.substr(6) + ") and " +
                         (opts.no_monitor ? "the supervisor's monitor is off (CORDON_LIMITS_MONITOR=off)"
                                          : "this kernel has no /proc/PID/task/TID/children for the supervisor's monitor"),
                     "accept per-process rlimits instead with --per-process-limits, lift the limits with "
                     "--limit memory_bytes=none --limit max_cpu_ms=none, or run with a delegated cgroup "
                     "(docs/cgroups.md)");
    if (monitor) r.monitor = MonitorFigures{.period_ms = kMonitorPeriodNs / 1000000};
    r.enforce_memory = !lim.memory_bytes ? "none" : monitor ? "monitor" : "rlimit";
    r.enforce_cpu = !lim.max_cpu_ms ? "none" : monitor ? "monitor" : "rlimit";
    // Per sandbox, not per host user: RLIMIT_NPROC counts the uid's tasks in the sandbox's own
    // user namespace (kernel/ucount.c is_rlimit_overlimit).
    r.enforce_pids = lim.pids ? "rlimit" : "none";
    s.rlimit_nproc = lim.pids;
    if (!monitor) s.rlimit_as = lim.memory_bytes;
  }
  if (!lim.memory_bytes) r.enforce_memory = "none";
  if (!lim.max_cpu_ms) r.enforce_cpu = "none";
  if (!lim.pids) r.enforce_pids = "none";
  if (lim.max_cpu_ms) s.rlimit_cpu_s = (lim.max_cpu_ms + 999) / 1000 + (a.cgroup_ || monitor ? 1 : 0);
  if (a.cgroup_ && a.cgroup_->V2DirFd() >= 0) s.flags |= proto::kFlagCgroupFd;
  return a;
}

void TaskAccounting::RemoveCgroup() {
  if (!cgroup_) return;
  (void)cgroup_->Remove();
  cgroup_.reset();
}

void TaskAccounting::StartClocks(uint64_t from) {
  // The first check: when half the budget could be spent at the earliest (one second per second
  // per CPU the host could ever have, so a CPU brought online later cannot make it late), between
  // 5 ms and 1 s ahead. The other half covers what a pooled sandbox spent being built before it got
  // its task. A task that ends sooner, as most do under the default 300 s budget, costs the loop
  // no wake-up and no cgroup read for its budget.
  static const uint64_t kCpus = std::max(1L, ::sysconf(_SC_NPROCESSORS_CONF));
  if (cpu_budget_ms_ && cgroup_)
    cpu_check_ns_ = from + std::clamp<uint64_t>(cpu_budget_ms_ * 1'000'000ull / 2 / kCpus, 5'000'000ull,
                                                1'000'000'000ull);
  if (report_.monitor) monitor_check_ns_ = from + kMonitorPeriodNs;
}

uint64_t TaskAccounting::NextDeadlineNs() const {
  if (cpu_check_ns_ && monitor_check_ns_) return std::min(cpu_check_ns_, monitor_check_ns_);
  return cpu_check_ns_ ? cpu_check_ns_ : monitor_check_ns_;
}

std::optional<TaskAccounting::Verdict> TaskAccounting::OnDeadline(uint64_t now, pid_t shim_pid, bool killed) {
  if (killed) {
    cpu_check_ns_ = monitor_check_ns_ = 0;  // the sandbox is on its way out: nothing to check
    return std::nullopt;
  }
  if (cpu_check_ns_ && now >= cpu_check_ns_)
    if (auto v = CheckCpuBudget(now)) return v;
  if (monitor_check_ns_ && now >= monitor_check_ns_) return SampleMonitor(now, shim_pid);
  return std::nullopt;
}

// No cgroup: the sandbox's total resident memory and CPU, from /proc, every kMonitorPeriodNs.
// Past a budget the whole sandbox is killed (PID 1 takes its PID namespace with it), with the
// failure class a cgroup would have given.
std::optional<TaskAccounting::Verdict> TaskAccounting::SampleMonitor(uint64_t now, pid_t shim_pid) {
  monitor_check_ns_ = 0;
  const uint64_t t0 = sys::MonotonicNs();
  auto s = SampleSandbox(shim_pid, memory_budget_);
  // A sample costs system calls per process (~70 us each on the paravirtualised test host):
  // a sandbox with many processes is sampled less often, so that the monitor takes at most
  // ~5% of one CPU.
  const uint64_t period = std::max<uint64_t>(kMonitorPeriodNs, (sys::MonotonicNs() - t0) * 20);
  if (!s) return std::nullopt;  // the shim is gone: its exit settles the task
  MonitorFigures& m = *report_.monitor;
  ++m.samples;
  if (s->proportional) ++m.pss_samples;
  m.peak_memory_bytes = std::max(m.peak_memory_bytes, s->memory_bytes);
  m.peak_processes = std::max(m.peak_processes, s->processes);
  m.cpu_usec = std::max(m.cpu_usec, s->cpu_usec);
  if (memory_budget_ && s->memory_bytes > memory_budget_)
    return Verdict{FailureClass::kOom, "out of memory: the sandbox's processes held " + std::to_string(s->memory_bytes) +
                                           " bytes together, over limits.memory_bytes (" +
                                           std::to_string(memory_budget_) +
                                           "); the supervisor's monitor killed the sandbox"};
  if (cpu_budget_ms_ && s->cpu_usec >= cpu_budget_ms_ * 1000)
    return Verdict{FailureClass::kCpuBudget, "CPU budget of " + std::to_string(cpu_budget_ms_) +
                                                 " ms spent by the sandbox (policy limits.max_cpu_ms); the "
                                                 "supervisor's monitor killed the sandbox"};
  monitor_check_ns_ = now + period;
  return std::nullopt;
}

// The budget is CPU time of the whole sandbox. It cannot be spent faster than one second per
// second per CPU, so the next check is when the rest could be gone at the earliest: cheap for long
// tasks, prompt near the end.
std::optional<TaskAccounting::Verdict> TaskAccounting::CheckCpuBudget(uint64_t now) {
  cpu_check_ns_ = 0;
  if (!cgroup_) return std::nullopt;
  auto u = cgroup_->ReadCpu();
  if (!u || !u->cpu_user_usec.value || !u->cpu_system_usec.value) return std::nullopt;
  const uint64_t budget_usec = cpu_budget_ms_ * 1000;
  uint64_t used = *u->cpu_user_usec.value + *u->cpu_system_usec.value;
  if (used >= budget_usec)
    return Verdict{FailureClass::kCpuBudget, "CPU budget of " + std::to_string(cpu_budget_ms_) +
                                                 " ms spent (policy limits.max_cpu_ms); the sandbox was killed"};
  long ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
  uint64_t wait_ns = (budget_usec - used) * 1000 / static_cast<uint64_t>(ncpu > 0 ? ncpu : 1);
  cpu_check_ns_ = now + std::clamp<uint64_t>(wait_ns, 2'000'000ull, 1'000'000'000ull);
  return std::nullopt;
}

std::optional<uint64_t> TaskAccounting::MemoryBytes() const {
  if (!cgroup_) return std::nullopt;
  auto m = cgroup_->ReadMemoryCurrent();
  if (!m) return std::nullopt;
  return *m;
}

void TaskAccounting::Finish() {
  cpu_check_ns_ = monitor_check_ns_ = 0;
  if (!cgroup_) return;
  auto u = cgroup_->ReadUsage();
  if (u) report_.cgroup = std::move(*u);
  // On v1 the outer shim shares the task's pids cgroup (it was placed there so PID 1 would be
  // born inside): report the sandbox's own processes.
  if (report_.cgroup && shim_in_v1_pids_) {
    cgroup::Figure& peak = report_.cgroup->pids_peak;
    if (peak.value && *peak.value > 0) {
      *peak.value -= 1;
      peak.source += " (minus the outer shim, which shares the v1 cgroup)";
    }
  }
}

void TaskAccounting::RefineOutcome(const PolicyLimits& lim, const std::optional<proto::ExitRecord>& exit,
                                   TaskOutcome* outcome) const {
  TaskOutcome& o = *outcome;
  if (o.failure != FailureClass::kExitNonzero && o.failure != FailureClass::kSignaled) return;
  const std::optional<cgroup::Usage>& usage = report_.cgroup;
  if (usage) {
    const auto& u = *usage;
    if (u.oom_kills.value && *u.oom_kills.value > 0) {
      o.failure = FailureClass::kOom;
      o.message = "out of memory: the sandbox reached limits.memory_bytes (" + std::to_string(lim.memory_bytes) +
                  " bytes) and the kernel's OOM killer killed " + std::to_string(*u.oom_kills.value) + " process(es)";
      return;
    }
    if (lim.pids && u.pids_limit_hits.value && *u.pids_limit_hits.value > 0) {
      o.failure = FailureClass::kPidsLimit;
      o.message = "process limit reached: " + std::to_string(*u.pids_limit_hits.value) +
                  " fork(s) failed against limits.pids (" + std::to_string(lim.pids) + ")";
      return;
    }
  }
  if (lim.max_cpu_ms && (o.task_signal == SIGXCPU || (!usage && o.task_signal == SIGKILL && exit &&
                                                      exit->usage.ru_utime.tv_sec + exit->usage.ru_stime.tv_sec >=
                                                          static_cast<time_t>(lim.max_cpu_ms / 1000)))) {
    o.failure = FailureClass::kCpuBudget;
    o.message = "CPU budget of " + std::to_string(lim.max_cpu_ms) + " ms spent (RLIMIT_CPU backstop)";
  }
}

}  // namespace cordon
