// supervisor/daemon/pool.cc: cordond's warm pool. Per pooled policy it keeps --pool-size sandboxes
// built ahead of their tasks (Task::Prepare: cgroup, namespaces, mounts, bindings, BPF, on the
// sandbox builder's thread: sandbox_builder.h), each waiting before its task's clone. A Submit
// takes one and hands it the task (Task::Launch); the next one is built afterwards. A pooled
// sandbox serves one task and is never reused; one whose policy or seccomp filter changed is
// discarded, never handed out.
#include "supervisor/daemon/daemon_internal.h"

namespace cordon::daemon::internal {
namespace {

constexpr uint64_t kFirstBackoffNs = 500'000'000ull;  // after a failed build; doubles up to the max
constexpr uint64_t kMaxBackoffNs = 30'000'000'000ull;

bool SameBuild(const LoadedPolicy& a, const LoadedPolicy& b) {
  return a.policy && b.policy && a.filter && b.filter && a.policy->sha256 == b.policy->sha256 &&
         a.filter->bpf_sha256 == b.filter->bpf_sha256 && a.filter->filter_flags == b.filter->filter_flags &&
         a.policy->limit_overrides == b.policy->limit_overrides;  // a session's restricted copy (budget_gate.cc)
}

}  // namespace

std::string WhyNotPoolable(const Policy& policy) {
  for (const Binding& b : policy.bindings) {
    if (b.from_caller()) return "binding '" + b.name + "' comes from the caller";
    if (b.kind == Binding::Kind::kState) return "state binding '" + b.name + "' depends on the tenant and app";
    // A connection made ahead of time could be closed by the service before the task uses it.
    if (b.kind == Binding::Kind::kSocket) return "socket binding '" + b.name + "' is connected per task";
  }
  return "";
}

void Daemon::PlanPool() {
  pool_plan_.clear();
  if (opts_.pool_size == 0) {
    Log("warm pool: off (--pool-size 0)");
    return;
  }
  std::string pooled;
  for (const auto& [name, lp] : config_->policies) {
    const bool listed = opts_.pool_policies.empty() ||
                        std::find(opts_.pool_policies.begin(), opts_.pool_policies.end(), name) != opts_.pool_policies.end();
    if (!listed) continue;
    if (std::string why = WhyNotPoolable(*lp.policy); !why.empty()) {
      // Only worth a line when the operator asked for this policy by name.
      if (!opts_.pool_policies.empty()) Log("warm pool: policy '" + name + "' is not pooled: " + why);
      continue;
    }
    pooled += (pooled.empty() ? "" : ", ") + name;
    pool_plan_.push_back(name);
  }
  for (const auto& name : opts_.pool_policies)
    if (!config_->policies.contains(name)) Log("warm pool: --pool-policies names '" + name + "', which is not loaded");
  Log("warm pool: " + std::to_string(opts_.pool_size) + " sandboxes each for " + (pooled.empty() ? "no policy" : pooled) +
      " (at most " + std::to_string(opts_.pool_memory_max >> 20) + " MiB together)");
}

uint64_t Daemon::PoolMemory() const {
  uint64_t sum = 0;
  for (const auto& [s, p] : pool_) sum += p->memory_bytes ? p->memory_bytes : pool_estimate_bytes_;
  return sum + pool_builds_.size() * pool_estimate_bytes_;  // and those still on the builder's thread
}

uint64_t Daemon::RetireOldPooled(uint64_t now) {
  if (opts_.pool_max_age_s == 0) return 0;
  // The loop asks on every turn: nothing is due before the earliest due time found last, which
  // OnPoolBuilt lowers for each sandbox it adds (a sandbox taken since only makes it early).
  if (pool_next_retire_ns_ && now < pool_next_retire_ns_) return pool_next_retire_ns_;
  const uint64_t max_age_ns = opts_.pool_max_age_s * 1'000'000'000ull;
  std::vector<uint64_t> old;
  uint64_t next = 0;
  for (const auto& [s, p] : pool_) {
    const uint64_t due = p->task->timing().prepared + max_age_ns;
    if (due <= now) {
      old.push_back(s);
    } else if (next == 0 || due < next) {
      next = due;
    }
  }
  for (uint64_t s : old) DropPooled(s, "");
  if (!old.empty())
    Log("warm pool: discarded " + std::to_string(old.size()) + " sandboxes older than --pool-max-age " +
        std::to_string(opts_.pool_max_age_s) + " s (they are rebuilt)");
  return next;
}

void Daemon::RefillPool() {
  if (refill_not_before_ns_ && sys::MonotonicNs() < refill_not_before_ns_) return;
  refill_not_before_ns_ = 0;  // past (or never set): it must not keep the loop's timeout at 0
  if (stopping_ || opts_.pool_size == 0) return;
  // Asked on every turn of the loop: with every planned sandbox there or being built (the steady
  // state between tasks), there is nothing to count.
  if (pool_.size() + pool_builds_.size() >= pool_plan_.size() * opts_.pool_size) return;
  size_t building = 0;
  std::map<std::string, size_t> have;
  for (const auto& [s, p] : pool_) {
    ++have[p->policy];
    if (!p->task->ready()) ++building;
  }
  for (const auto& [s, b] : pool_builds_) {
    ++have[b.policy];
    ++building;
  }
  const uint64_t now = sys::MonotonicNs();
  for (const std::string& name : pool_plan_) {
    const LoadedPolicy& lp = config_->policies.at(name);
    if (auto b = pool_backoff_.find(name); b != pool_backoff_.end() && now < b->second.until_ns) continue;
    while (have[name] < opts_.pool_size && building < opts_.pool_refill &&
           PoolMemory() + pool_estimate_bytes_ <= opts_.pool_memory_max) {
      if (!PrepareOne(name, lp)) break;  // failed: backing off
      ++have[name];
      ++building;
    }
  }
}

uint64_t Daemon::BackOff(const std::string& policy) {
  Backoff& b = pool_backoff_[policy];
  b.delay_ns = b.delay_ns ? std::min(b.delay_ns * 2, kMaxBackoffNs) : kFirstBackoffNs;
  b.until_ns = sys::MonotonicNs() + b.delay_ns;
  return b.delay_ns / 1'000'000;
}

namespace {

// Builds one pooled sandbox: only policies without caller, state or socket bindings are pooled,
// so what is left opens the same way for every request. On the builder's thread, or the loop's
// when there is no builder.
BuiltSandbox BuildPooled(const DaemonOptions& opts, const LoadedPolicy& lp, const cgroup::Layout* cgroups) {
  BuiltSandbox b;
  auto identity = AcquireIdentity(opts.ids, opts.id_lock_dir);
  if (!identity) {
    b.error = identity.error();
    return b;
  }
  auto opened = OpenBindings(*lp.policy, BindingContext{});
  if (!opened) {
    b.error = opened.error();
    return b;
  }
  TaskRequest shape;
  shape.bindings = std::make_shared<std::vector<OpenBinding>>(std::move(*opened));
  shape.trust_dir = IdentityTrustDir(opts, *lp.policy);  // tokens.cc (wip/ident)
  auto task = Task::Prepare(opts.runtime, lp.policy, lp.filter, std::move(*identity), shape, cgroups);
  if (!task) {
    b.error = task.error();
    return b;
  }
  b.task = std::move(*task);
  b.task->DeferCgroupRemoval();  // by ~Task on the chores thread (DiscardTask), off the loop
  return b;
}

}  // namespace

bool Daemon::PrepareOne(const std::string& name, const LoadedPolicy& lp) {
  const uint64_t serial = next_serial_++;
  const cgroup::Layout* cgroups = cgroups_ ? &*cgroups_ : nullptr;
  if (builder_) {
    pool_builds_[serial] = PoolBuild{name, lp};
    // opts_ lives as long as the daemon, and so does the builder's thread that reads it.
    builder_->Post(serial, SandboxBuilder::kPoolOwner,
                   [&opts = opts_, lp, cgroups] { return BuildPooled(opts, lp, cgroups); });
    return true;
  }
  BuiltSandbox b = BuildPooled(opts_, lp, cgroups);
  b.serial = serial;
  const bool built = b.task != nullptr;
  OnPoolBuilt(PoolBuild{name, lp}, std::move(b));
  return built;
}

void Daemon::OnPoolBuilt(const PoolBuild& pb, BuiltSandbox b) {
  if (b.error) {
    const uint64_t ms = BackOff(pb.policy);
    Log("warm pool: building a sandbox for policy '" + pb.policy + "' failed, next try in " + std::to_string(ms) +
        " ms: " + b.error->Message());
    return;
  }
  // Built for a policy or filter a reload has changed since, or for a daemon now stopping: it
  // would never be handed out.
  auto it = config_->policies.find(pb.policy);
  if (stopping_ || it == config_->policies.end() || !SameBuild(pb.built_for, it->second) ||
      std::find(pool_plan_.begin(), pool_plan_.end(), pb.policy) == pool_plan_.end()) {
    DiscardTask(std::move(b.task));
    return;
  }
  auto p = std::make_unique<Pooled>();
  p->serial = b.serial;
  p->policy = pb.policy;
  p->built_for = pb.built_for;
  p->task = std::move(b.task);
  Pooled& ref = *p;
  pool_[p->serial] = std::move(p);
  SyncWatchSet(ref.serial, *ref.task, &ref.watched);
  if (opts_.pool_max_age_s) {  // RetireOldPooled's next due time
    const uint64_t due = ref.task->timing().prepared + opts_.pool_max_age_s * 1'000'000'000ull;
    if (pool_next_retire_ns_ == 0 || due < pool_next_retire_ns_) pool_next_retire_ns_ = due;
  }
}

void Daemon::OnPooled(Pooled& p, int fd) {
  const uint64_t serial = p.serial;
  p.task->OnReady(fd);
  SyncWatchSet(serial, *p.task, &p.watched);
  if (p.task->finished()) {
    // It died or failed before it had a task: nothing ran in it. Say why, and slow down.
    const uint64_t ms = BackOff(p.policy);
    return DropPooled(serial, "warm pool: a sandbox for policy '" + p.policy + "' ended before its task (" +
                                  p.task->outcome().message + "); next build in " + std::to_string(ms) + " ms");
  }
  if (p.task->ready() && p.memory_bytes == 0) {
    pool_backoff_.erase(p.policy);
    if (auto m = p.task->MemoryBytes()) {
      p.memory_bytes = std::max<uint64_t>(*m, 1);
      pool_estimate_bytes_ = p.memory_bytes;
    } else {
      p.memory_bytes = pool_estimate_bytes_;
    }
  }
}

void Daemon::DropPooled(uint64_t serial, const std::string& why) {
  auto it = pool_.find(serial);
  if (it == pool_.end()) return;
  Unwatch(it->second->watched);
  if (!why.empty()) Log(why);
  // ~Task kills what is left of the sandbox and waits (up to 2 s) for its cgroup to empty.
  DiscardTask(std::move(it->second->task));
  pool_.erase(it);
}

void Daemon::DiscardTask(std::unique_ptr<Task> task) {
  if (task) chores_.Post([gone = std::move(task)] {});
}

std::unique_ptr<Pooled> Daemon::TakePooled(const std::string& name, const LoadedPolicy& lp) {
  for (auto it = pool_.begin(); it != pool_.end(); ++it) {
    Pooled& p = *it->second;
    if (p.policy != name || !p.task->ready() || !SameBuild(p.built_for, lp)) continue;
    std::unique_ptr<Pooled> out = std::move(it->second);
    pool_.erase(it);
    return out;
  }
  return nullptr;
}

void Daemon::DiscardStalePool(bool all, const std::string& why) {
  std::vector<uint64_t> stale;
  for (const auto& [s, p] : pool_) {
    auto it = config_->policies.find(p->policy);
    if (all || it == config_->policies.end() || !SameBuild(p->built_for, it->second)) stale.push_back(s);
  }
  for (uint64_t s : stale) DropPooled(s, "");
  if (!stale.empty()) Log("warm pool: discarded " + std::to_string(stale.size()) + " sandboxes (" + why + ")");
}

}  // namespace cordon::daemon::internal
