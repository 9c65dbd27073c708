#include "supervisor/daemon/recovery.h"

#include <signal.h>

#include <nlohmann/json.hpp>

#include "common/setup_step.h"
#include "common/syscalls.h"
#include "common/unique_fd.h"
#include "supervisor/cgroup/task_cgroup.h"
#include "common/procfs.h"
#include "supervisor/daemon/evidence_log.h"

namespace cordon::daemon {
namespace {

nlohmann::json AdmissionJson(const TaskRow& r) {
  return {{"supervisor", "cordond"},      {"principal", r.principal},    {"tenant", r.tenant},
          {"app_id", r.app_id},           {"class", r.cls},              {"request_id", r.request_id},
          {"fingerprint", r.fingerprint}, {"decision_id", r.decision_id}};
}

// Kills the shim if (pid, start time) still names it. Returns what happened, for the record.
std::string KillLeftover(const TaskRow& t, bool* killed) {
  *killed = false;
  if (t.shim_pid <= 0) return "no shim pid was recorded (the daemon stopped while starting it)";
  // Open the pidfd first, then compare start times: the pidfd pins the process we compared.
  UniqueFd pidfd(sys::PidfdOpen(t.shim_pid, 0));
  if (!pidfd) return "shim pid " + std::to_string(t.shim_pid) + " is gone";
  auto start = ReadStartTime(t.shim_pid);
  if (!start) return "shim pid " + std::to_string(t.shim_pid) + " is gone";
  if (*start != t.shim_start_time)
    return "pid " + std::to_string(t.shim_pid) + " now belongs to another process (start time " +
           std::to_string(*start) + ", the shim's was " + std::to_string(t.shim_start_time) + "); left alone";
  if (sys::PidfdSendSignal(pidfd.Get(), SIGKILL) < 0)
    return "SIGKILL to shim pid " + std::to_string(t.shim_pid) + " failed: " + std::strerror(errno);
  *killed = true;
  return "the shim (pid " + std::to_string(t.shim_pid) + ") was still running and was killed";
}

// The sandbox's cgroup holds every process it ever had, even one that escaped the parent-death
// chain: kill through it and remove the directories, which would otherwise stay behind.
std::string KillThroughCgroup(const cgroup::Layout& layout, const std::string& task_id, bool* found) {
  *found = false;
  auto cg = cgroup::TaskCgroup::Adopt(layout, "task-" + task_id);
  if (!cg) return "; its cgroup could not be opened: " + cg.error().Message();
  if (cg->Dirs().empty()) return "; no cgroup was left";
  *found = true;
  std::string out = "; its cgroup (" + cg->Dirs().front() + ") was killed";
  if (auto k = cg->Kill(); !k) out += " (kill: " + k.error().Message() + ")";
  if (auto r = cg->Remove(); !r) return out + " but not removed: " + r.error().Message();
  return out + " and removed";
}

}  // namespace

Result<RecoveryReport> RecoverUnfinished(Store& store, int64_t now_ms, const cgroup::Layout* cgroups,
                                         const std::set<std::string>& finished_elsewhere, EvidenceLog* evlog) {
  RecoveryReport rep;
  CORDON_ASSIGN_OR_RETURN(std::vector<TaskRow> rows, store.UnfinishedTasks());
  for (const TaskRow& t : rows) {
    if (finished_elsewhere.contains(t.id)) continue;
    bool killed = false;
    std::string what = KillLeftover(t, &killed);
    if (killed) ++rep.killed;
    bool cgroup_found = false;
    if (cgroups) what += KillThroughCgroup(*cgroups, t.id, &cgroup_found);
    const std::string message =
        "cordond stopped while the task ran (crash or kill -9) and the next cordond ended it: " + what;
    nlohmann::json ev = {
        {"task_id", t.id},
        {"command", t.argv},
        {"policy", {{"name", t.policy}, {"version", t.policy_version}, {"sha256", t.policy_sha256}}},
        {"exit", {{"code", nullptr}, {"signal", nullptr}, {"cordon_exit_code", kExitCordonFailure}}},
        {"failure_class", "supervisor_restart"},
        {"message", message},
        {"recovery",
         {{"shim_pid", t.shim_pid}, {"shim_start_time", t.shim_start_time}, {"killed", killed},
          {"cgroup_found", cgroup_found},
          {"recovered_unix_ms", now_ms}}},
        {"admission", AdmissionJson(t)}};
    // replace: an argument that is not UTF-8 must not stop the recovery (JSON text is UTF-8).
    std::string text = ev.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    TaskRow fin = t;
    fin.exit_code = kExitCordonFailure;
    fin.failure_class = "supervisor_restart";
    fin.message = message;
    fin.finished_unix_ms = now_ms;
    if (evlog) evlog->RedactTask(&fin, &text);
    CORDON_TRY(store.FinishTask(fin, text));
    if (evlog)
      if (auto a = evlog->Task(fin, text); !a) rep.log.push_back("evidence log: task " + t.id + ": " + a.error().Message());
    rep.log.push_back("recovered task " + t.id + " (principal " + t.principal + "): " + what);
  }
  if (evlog && !rows.empty())
    if (auto c = evlog->Seal(); !c) rep.log.push_back("evidence log: sealing the recovered tasks: " + c.error().Message());
  return rep;
}

std::string AddAdmissionToEvidence(nlohmann::json evidence, const TaskRow& row) {
  return AddAdmissionToEvidence(&evidence, row);
}

std::string AddAdmissionToEvidence(nlohmann::json* evidence, const TaskRow& row) {
  (*evidence)["admission"] = AdmissionJson(row);
  return evidence->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cordon::daemon
