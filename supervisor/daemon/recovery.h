// supervisor/daemon/recovery.h: what cordond does at start about tasks that a previous instance
// left "running" (it crashed or was killed -9), and the admission part of evidence records.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "supervisor/cgroup/layout.h"
#include "supervisor/daemon/store.h"

namespace cordon::daemon {

class EvidenceLog;

struct RecoveryReport {
  std::vector<std::string> log;  // one line per task found
  size_t killed = 0;             // shims that were still alive and got SIGKILL
};

// For every task not finished: if its shim still runs as the same process (pid and /proc start
// time both match), SIGKILL it through a pidfd (the sandbox's PID 1 and the task follow through
// their PDEATHSIG chain). Then records the task finished with failure_class "supervisor_restart".
// Finished tasks and their evidence are not touched.
// Ends every task the store says was running: kills its shim if (pid, start time) still names it,
// then, through the task's cgroup (when `cgroups` is given), kills whatever is left of the sandbox
// and removes the cgroup directories, and records the task as supervisor_restart.
// Tasks in `finished_elsewhere` (their finished record waits in the spool) are left alone.
// With `evlog`, each record is redacted and appended to the evidence log too, as a task that
// ended any other way is (a failing append is logged in `log`; the database has the record).
Result<RecoveryReport> RecoverUnfinished(Store& store, int64_t now_unix_ms, const cgroup::Layout* cgroups = nullptr,
                                         const std::set<std::string>& finished_elsewhere = {},
                                         EvidenceLog* evlog = nullptr);

// The evidence record (Task::Evidence()) with an "admission" object: principal, tenant, app_id,
// class, request_id, request fingerprint, decision id; serialised once.
std::string AddAdmissionToEvidence(nlohmann::json evidence, const TaskRow& row);
// The same, adding "admission" to *evidence in place, for a caller that reads the record further
// (cordond's metrics) without parsing the text again.
std::string AddAdmissionToEvidence(nlohmann::json* evidence, const TaskRow& row);

}  // namespace cordon::daemon
