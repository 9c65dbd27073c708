// supervisor/evidence/record.cc: the task's evidence record (docs/evidence.md), from its report.
#include "supervisor/evidence/record.h"

#include <signal.h>

#include <cstring>

namespace cordon {
namespace {

int64_t Us(uint64_t t, uint64_t origin) {
  // Negative for what happened before the request (a pooled sandbox was built ahead of it).
  return t == 0 ? -1 : static_cast<int64_t>(t - origin) / 1000;
}

}  // namespace

std::string EvidenceText(const nlohmann::json& record) {
  return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json BuildEvidence(const TaskReport& r) {
  using nlohmann::json;
  const Policy& policy = *r.policy;
  const SeccompFilter& filter = *r.filter;
  const AccountingReport& acc = r.accounting;
  const uint64_t t0 = r.timing.received;
  json ev;
  ev["task_id"] = r.task_id;
  ev["command"] = r.argv;
  ev["cwd"] = r.cwd;
  ev["policy"] = {{"name", policy.name},     {"version", policy.version}, {"role", policy.role},
                  {"sha256", policy.sha256}, {"source", policy.source}};
  char map[64];
  json sandbox;
  sandbox["mode"] = r.rootful ? "rootful" : "rootless";
  sandbox["namespaces"] = {"user", "mount", "pid", "net", "ipc", "uts", "cgroup"};
  snprintf(map, sizeof map, "%u %u 1", r.task_uid, r.host_uid);
  sandbox["uid_map"] = map;
  snprintf(map, sizeof map, "%u %u 1", r.task_gid, r.host_gid);
  sandbox["gid_map"] = map;
  sandbox["task_uid"] = r.task_uid;
  sandbox["host_uid"] = r.host_uid;
  sandbox["hostname"] = r.hostname;
  sandbox["tmpfs_bytes"] = r.tmpfs_bytes;
  sandbox["shim_pid"] = r.shim_pid;
  sandbox["pooled"] = r.pooled;
  // Landlock as a second layer (docs/landlock.md): the ABI used, and the scopes it gave.
  if (r.landlock_abi > 0)
    sandbox["landlock"] = {{"abi", r.landlock_abi},
                           {"layer", "second"},
                           {"net", false},
                           {"scoped", r.landlock_abi >= 6 ? json{"abstract_unix_socket", "signal"} : json::array()}};
  else
    sandbox["landlock"] = nullptr;
  ev["sandbox"] = sandbox;
  json denied = json::array();
  const seccomp::DenialLog& slog = r.seccomp;
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
  json seccomp_j = {{"profile", filter.name},
                    {"notify", filter.notify},
                    {"denied_total", slog.total},
                    {"denied", denied},
                    {"denied_max_entries", seccomp::kMaxDenialEntries},
                    {"omitted_entries", slog.omitted_entries},
                    {"omitted_calls", slog.omitted_calls},
                    {"profile_source", filter.source},
                    {"profile_sha256", filter.profile_sha256},
                    {"bpf_sha256", filter.bpf_sha256},
                    {"bpf_bytes", filter.bpf_bytes},
                    {"from_cache", filter.from_cache}};
  if (slog.fatal) {
    seccomp_j["killed"] = {{"syscall", slog.fatal->name}, {"nr", slog.fatal->nr}, {"arch", slog.fatal->arch},
                           {"action", slog.fatal->action}, {"rule", slog.fatal->rule},
                           {"signal", slog.fatal_signal == SIGKILL ? "SIGKILL" : "SIGSYS"}};
  }
  if (!slog.notes.empty()) seccomp_j["notes"] = slog.notes;
  ev["seccomp"] = seccomp_j;
  ev["timing"] = {{"received_us", 0},
                  {"admitted_us", Us(r.timing.admitted, t0)},
                  {"cgroup_us", Us(r.timing.cgroup, t0)},
                  {"spawned_us", Us(r.timing.spawned, t0)},
                  {"ready_us", Us(r.timing.ready, t0)},
                  {"exec_us", Us(r.timing.exec, t0)},
                  {"exit_us", Us(r.timing.exit, t0)},
                  {"done_us", Us(r.timing.done, t0)}};
  if (r.pooled) {
    ev["timing"]["prepared_us"] = Us(r.timing.prepared, t0);
    ev["timing"]["pool_ready_us"] = Us(r.timing.pool_ready, t0);
  }
  json steps = json::array();
  for (const auto& m : r.timing.steps)
    steps.push_back({{"step", SetupStepName(m.step)}, {"start_us", Us(m.ns, t0)}});
  ev["timing"]["steps"] = steps;
  json exit_j = {{"code", r.outcome.task_exit_code >= 0 ? json(r.outcome.task_exit_code) : json(nullptr)},
                 {"signal", r.outcome.task_signal ? json(r.outcome.task_signal) : json(nullptr)},
                 {"cordon_exit_code", r.outcome.exit_code}};
  ev["exit"] = exit_j;
  ev["failure_class"] = FailureClassName(r.outcome.failure);
  if (r.outcome.setup_error) {
    const auto& e = *r.outcome.setup_error;
    ev["error"] = {{"step", SetupStepName(e.step)},
                   {"step_number", static_cast<uint32_t>(e.step)},
                   {"errno", e.err},
                   {"errno_name", e.err && strerrorname_np(e.err) ? strerrorname_np(e.err) : ""},
                   {"message", e.msg}};
  }
  if (!r.outcome.message.empty()) ev["message"] = r.outcome.message;
  json usage;
  if (r.exit) {
    const rusage& ru = r.exit->usage;
    usage = {{"source", r.exit->task_reported
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
  json cg = {{"mode", acc.cgroup_mode}};
  if (acc.cgroup) {
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
    const auto& u = *acc.cgroup;
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
  if (policy.limits.output_bytes) usage["output_bytes"] = r.output_bytes;
  if (acc.monitor)
    usage["monitor"] = {{"source", "supervisor samples of /proc/PID/stat over the sandbox's processes, "
                                   "smaps_rollup (PSS) when their RSS sum passes memory_bytes"},
                        {"period_ms", acc.monitor->period_ms},
                        {"samples", acc.monitor->samples},
                        {"pss_samples", acc.monitor->pss_samples},
                        {"peak_memory_bytes", acc.monitor->peak_memory_bytes},
                        {"peak_processes", acc.monitor->peak_processes},
                        {"cpu_usec", acc.monitor->cpu_usec}};
  ev["usage"] = usage;
  // The capability map: what the task could reach, and exactly which objects those were.
  json bindings = json::array();
  if (r.bindings) {
    for (size_t i = 0; i < r.bindings->size(); ++i) {
      const OpenBinding& ob = (*r.bindings)[i];
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
        uint64_t after = i < r.state_bytes_after.size() ? r.state_bytes_after[i] : 0;
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
  for (const auto& e : r.egress) egress_records.push_back(egress::ToJson(e));
  ev["egress"] = egress_records;
  ev["outbound"] = {{"mode", egress::OutboundModeName(policy.outbound.mode)},
                    {"calls", r.egress_calls},
                    {"max_calls", policy.limits.max_calls},
                    {"records_dropped", r.egress_dropped}};
  const PolicyLimits& lim = policy.limits;
  ev["limits"] = {{"max_wall_ms", lim.max_wall_ms},   {"max_cpu_ms", lim.max_cpu_ms}, {"memory_bytes", lim.memory_bytes},
                  {"pids", lim.pids},                 {"output_bytes", lim.output_bytes}, {"tmpfs_bytes", lim.tmpfs_bytes},
                  {"nofile", lim.nofile},
                  {"enforced_by", acc.cgroup || acc.cgroup_mode.rfind("none", 0) != 0 ? "cgroup"
                                  : acc.monitor                                       ? "monitor"
                                                                                      : "rlimit"},
                  {"enforcement",
                   {{"memory_bytes", acc.enforce_memory},
                    {"max_cpu_ms", acc.enforce_cpu},
                    {"pids", acc.enforce_pids},
                    {"nofile", "rlimit"},
                    {"max_wall_ms", lim.max_wall_ms ? "supervisor" : "none"},
                    {"output_bytes", lim.output_bytes ? "supervisor" : "none"}}},
                  {"overrides", policy.limit_overrides}};
  return ev;
}

}  // namespace cordon
