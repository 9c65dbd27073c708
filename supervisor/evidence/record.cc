// supervisor/evidence/record.cc: the task's evidence record (docs/evidence.md).
#include <signal.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "supervisor/egress/record.h"
#include "supervisor/task/task.h"

namespace cordon {
namespace {

int64_t Us(uint64_t t, uint64_t origin) {
  // Negative for what happened before the request (a pooled sandbox was built ahead of it).
  return t == 0 ? -1 : static_cast<int64_t>(t - origin) / 1000;
}

}  // namespace

std::string Task::EvidenceJson() const {
  return Evidence().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json Task::Evidence() const {
  using nlohmann::json;
  const uint64_t t0 = timing_.received;
  json ev;
  ev["task_id"] = id_;
  ev["command"] = req_.argv;
  ev["cwd"] = spec_.cwd;
  ev["policy"] = {{"name", policy_->name},     {"version", policy_->version}, {"role", policy_->role},
                  {"sha256", policy_->sha256}, {"source", policy_->source}};
  char map[64];
  json sandbox;
  sandbox["mode"] = identity_.rootful ? "rootful" : "rootless";
  sandbox["namespaces"] = {"user", "mount", "pid", "net", "ipc", "uts", "cgroup"};
  snprintf(map, sizeof map, "%u %u 1", spec_.task_uid, spec_.host_uid);
  sandbox["uid_map"] = map;
  snprintf(map, sizeof map, "%u %u 1", spec_.task_gid, spec_.host_gid);
  sandbox["gid_map"] = map;
  sandbox["task_uid"] = spec_.task_uid;
  sandbox["host_uid"] = spec_.host_uid;
  sandbox["hostname"] = spec_.hostname;
  sandbox["tmpfs_bytes"] = spec_.tmpfs_bytes;
  sandbox["shim_pid"] = shim_pid_;
  sandbox["pooled"] = pooled_;
  ev["sandbox"] = sandbox;
  json denied = json::array();
  const seccomp::DenialLog& slog = seccomp_log_;
  for (const auto& d : slog.denied) {
    json args = json::array();
    for (uint64_t a : d.args) args.push_back(a);
    json jd = {{"syscall", d.name}, {"nr", d.nr},       {"arch", d.arch}, {"action", d.action}, {"rule", d.rule},
               {"count", d.count},  {"first_us", Us(d.first_ns, t0)}, {"args", args}};
    if (d.has_errno) {
      // By name where glibc has one, by number otherwise: any errno 1..4095 is legal in a profile.
      const char* name = d.errno_ret ? strerrorname_np(d.errno_ret) : nullptr;
      jd["errno"] = name ? json(name) : json(d.errno_ret);
      jd["errno_nr"] = d.errno_ret;
    }
    denied.push_back(jd);
  }
  json seccomp_j = {{"profile", filter_->name},
                    {"notify", filter_->notify},
                    {"denied_total", slog.total},
                    {"denied", denied},
                    {"denied_max_entries", seccomp::kMaxDenialEntries},
                    {"omitted_entries", slog.omitted_entries},
                    {"omitted_calls", slog.omitted_calls},
                    {"profile_source", filter_->source},
                    {"profile_sha256", filter_->profile_sha256},
                    {"bpf_sha256", filter_->bpf_sha256},
                    {"bpf_bytes", filter_->bpf_bytes},
                    {"from_cache", filter_->from_cache}};
  if (slog.fatal) {
    seccomp_j["killed"] = {{"syscall", slog.fatal->name}, {"nr", slog.fatal->nr}, {"arch", slog.fatal->arch},
                           {"action", slog.fatal->action}, {"rule", slog.fatal->rule},
                           {"signal", slog.fatal_signal == SIGKILL ? "SIGKILL" : "SIGSYS"}};
  }
  if (!slog.notes.empty()) seccomp_j["notes"] = slog.notes;
  ev["seccomp"] = seccomp_j;
  ev["timing"] = {{"received_us", 0},
                  {"admitted_us", Us(timing_.admitted, t0)},
                  {"cgroup_us", Us(timing_.cgroup, t0)},
                  {"spawned_us", Us(timing_.spawned, t0)},
                  {"ready_us", Us(timing_.ready, t0)},
                  {"exec_us", Us(timing_.exec, t0)},
                  {"exit_us", Us(timing_.exit, t0)},
                  {"done_us", Us(timing_.done, t0)}};
  if (pooled_) {
    ev["timing"]["prepared_us"] = Us(timing_.prepared, t0);
    ev["timing"]["pool_ready_us"] = Us(timing_.pool_ready, t0);
  }
  json steps = json::array();
  for (const auto& m : timing_.steps)
    steps.push_back({{"step", SetupStepName(m.step)}, {"start_us", Us(m.ns, t0)}});
  ev["timing"]["steps"] = steps;
  json exit_j = {{"code", outcome_.task_exit_code >= 0 ? json(outcome_.task_exit_code) : json(nullptr)},
                 {"signal", outcome_.task_signal ? json(outcome_.task_signal) : json(nullptr)},
                 {"cordon_exit_code", outcome_.exit_code}};
  ev["exit"] = exit_j;
  ev["failure_class"] = FailureClassName(outcome_.failure);
  if (outcome_.setup_error) {
    const auto& e = *outcome_.setup_error;
    ev["error"] = {{"step", SetupStepName(e.step)},
                   {"step_number", static_cast<uint32_t>(e.step)},
                   {"errno", e.err},
                   {"errno_name", e.err && strerrorname_np(e.err) ? strerrorname_np(e.err) : ""},
                   {"message", e.msg}};
  }
  if (!outcome_.message.empty()) ev["message"] = outcome_.message;
  json usage;
  if (exit_) {
    const rusage& ru = exit_->usage;
    usage = {{"source", exit_->task_reported
                            ? "getrusage(RUSAGE_CHILDREN) of the sandbox's PID 1 after it reaped every process"
                            : "wait4 rusage of the sandbox's PID 1 (it died before the task)"},
             {"cpu_user_usec", ru.ru_utime.tv_sec * 1000000ll + ru.ru_utime.tv_usec},
             {"cpu_system_usec", ru.ru_stime.tv_sec * 1000000ll + ru.ru_stime.tv_usec},
             {"max_rss_kib", ru.ru_maxrss},
             {"minor_faults", ru.ru_minflt},
             {"major_faults", ru.ru_majflt},
             {"block_reads", ru.ru_inblock},
             {"block_writes", ru.ru_oublock},
             {"voluntary_switches", ru.ru_nvcsw},
             {"involuntary_switches", ru.ru_nivcsw}};
  } else {
    usage = {{"source", "unavailable: the sandbox's PID 1 was not reaped by the shim"}};
  }
  // The sandbox as a whole, from its cgroup: one {value, source} per figure, or why it is missing.
  json cg = {{"mode", cgroup_mode_}};
  if (cgroup_usage_) {
    auto fig = [](const cgroup::Figure& f) {
      if (f.value) return json{{"value", *f.value}, {"source", f.source}};
      return json{{"value", nullptr}, {"unavailable", f.unavailable}};
    };
    auto psi = [](const cgroup::PressureFigure& f) {
      if (!f.value) return json{{"value", nullptr}, {"unavailable", f.unavailable}};
      json j = {{"source", f.source}};
      auto line = [](const cgroup::PressureLine& l) {
        return json{{"avg10", l.avg10}, {"avg60", l.avg60}, {"avg300", l.avg300}, {"total_usec", l.total_usec}};
      };
      if (f.value->some) j["some"] = line(*f.value->some);
      if (f.value->full) j["full"] = line(*f.value->full);
      return j;
    };
    const auto& u = *cgroup_usage_;
    cg["cpu_user_usec"] = fig(u.cpu_user_usec);
    cg["cpu_system_usec"] = fig(u.cpu_system_usec);
    cg["memory_peak_bytes"] = fig(u.memory_peak_bytes);
    cg["pids_peak"] = fig(u.pids_peak);
    cg["pids_limit_hits"] = fig(u.pids_limit_hits);
    cg["io_read_bytes"] = fig(u.io_read_bytes);
    cg["io_write_bytes"] = fig(u.io_write_bytes);
    cg["oom_kills"] = fig(u.oom_kills);
    cg["pressure"] = {{"cpu", psi(u.cpu_pressure)}, {"memory", psi(u.memory_pressure)}, {"io", psi(u.io_pressure)}};
  }
  usage["cgroup"] = cg;
  if (policy_->limits.output_bytes) usage["output_bytes"] = output_total_;
  if (monitor_)
    usage["monitor"] = {{"source", "supervisor samples of /proc/PID/stat over the sandbox's processes, "
                                   "smaps_rollup (PSS) when their RSS sum passes memory_bytes"},
                        {"period_ms", kMonitorPeriodNs / 1000000},
                        {"samples", monitor_samples_},
                        {"pss_samples", monitor_pss_samples_},
                        {"peak_memory_bytes", monitor_peak_rss_},
                        {"peak_processes", monitor_peak_processes_},
                        {"cpu_usec", monitor_cpu_usec_}};
  ev["usage"] = usage;
  // The capability map: what the task could reach, and exactly which objects those were.
  json bindings = json::array();
  if (req_.bindings) {
    for (size_t i = 0; i < req_.bindings->size(); ++i) {
      const OpenBinding& ob = (*req_.bindings)[i];
      const Binding& b = ob.binding;
      json jb = {{"name", b.name},
                 {"kind", BindingKindName(b.kind)},
                 {"source", b.from_caller() ? std::string("caller") : ob.host_path},
                 {"target", b.target.empty() ? json(nullptr) : json(b.target)},
                 {"access", b.writable || b.kind == Binding::Kind::kState ? "rw" : "ro"},
                 {"fd", 3 + i},
                 {"dev", static_cast<uint64_t>(ob.dev)},
                 {"inode", static_cast<uint64_t>(ob.ino)},
                 {"data_domain", b.data_domain.empty() ? json(nullptr) : json(b.data_domain)}};
      if (b.kind == Binding::Kind::kState) {
        uint64_t after = i < state_bytes_after_.size() ? state_bytes_after_[i] : 0;
        jb["state_bytes_before"] = ob.state_bytes;
        jb["state_bytes_after"] = after;
        jb["max_bytes"] = b.max_bytes;
        jb["over_quota"] = b.max_bytes > 0 && after > b.max_bytes;
      }
      bindings.push_back(jb);
    }
  }
  ev["bindings"] = bindings;
  // Structured egress telemetry: destination, method, decision, sizes; never payloads or credentials.
  json egress_records = json::array();
  for (const auto& r : egress_) egress_records.push_back(egress::ToJson(r));
  ev["egress"] = egress_records;
  ev["outbound"] = {{"mode", egress::OutboundModeName(policy_->outbound.mode)},
                    {"calls", egress_calls_},
                    {"max_calls", policy_->limits.max_calls},
                    {"records_dropped", egress_dropped_}};
  const PolicyLimits& lim = policy_->limits;
  ev["limits"] = {{"max_wall_ms", lim.max_wall_ms},   {"max_cpu_ms", lim.max_cpu_ms}, {"memory_bytes", lim.memory_bytes},
                  {"pids", lim.pids},                 {"output_bytes", lim.output_bytes}, {"tmpfs_bytes", lim.tmpfs_bytes},
                  {"nofile", lim.nofile},
                  {"enforced_by", cgroup_usage_ || cgroup_mode_.rfind("none", 0) != 0 ? "cgroup"
                                  : monitor_                                          ? "monitor"
                                                                                      : "rlimit"},
                  {"enforcement",
                   {{"memory_bytes", enforce_memory_},
                    {"max_cpu_ms", enforce_cpu_},
                    {"pids", enforce_pids_},
                    {"nofile", "rlimit"},
                    {"max_wall_ms", lim.max_wall_ms ? "supervisor" : "none"},
                    {"output_bytes", lim.output_bytes ? "supervisor" : "none"}}},
                  {"overrides", policy_->limit_overrides}};
  // A command line or path need not be UTF-8: replace invalid bytes instead of failing the record.
  return ev;
}

}  // namespace cordon
