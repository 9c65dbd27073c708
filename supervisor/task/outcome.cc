// supervisor/task/outcome.cc: how a finished task ended, from what its sandbox reported
// (outcome.h).
#include "supervisor/task/outcome.h"

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>

#include "supervisor/host/namespace_refusal.h"
#include "supervisor/seccomp/task_watch.h"

namespace cordon {
namespace {

// The outcome of a task that ended by a seccomp kill (or by a SIGSYS of its own).
void SettleSeccompDeath(const TaskEnd& end, TaskOutcome* outcome) {
  TaskOutcome& o = *outcome;
  o.failure = FailureClass::kSeccompViolation;
  const seccomp::DenialLog& log = end.seccomp;
  // A process the supervisor had to SIGKILL for a seccomp kill (it caught or blocked SIGSYS), or
  // a task that vanished without a status, ended as the profile's kill: by SIGSYS.
  if (log.fatal && (o.task_signal == SIGKILL || o.task_signal == SIGSYS || (o.task_signal == 0 && o.task_exit_code < 0))) {
    o.task_signal = SIGSYS;
    o.task_exit_code = -1;
    o.exit_code = 128 + SIGSYS;
  }
  o.message = seccomp::SigsysDeathMessage(log, end.profile_name);
}

}  // namespace

void SetExecFailed(int err, const std::string& detail, TaskOutcome* outcome) {
  TaskOutcome& o = *outcome;
  const bool missing = err == ENOENT || err == ENOTDIR;
  o.failure = FailureClass::kExecFailed;
  o.exit_code = missing ? kExitNotFound : kExitNotExecutable;
  o.message = (missing ? "command not found: " : "command cannot be executed: ") + detail +
              (missing ? " (the sandbox sees only /usr, /bin, /lib* and the policy's mounts; "
                         "give a path inside it or install the program on the host)"
                       : " (check the file's mode and that it is a binary or a script with a #! line)");
}

// In order, each later step overriding: PID 1's report of the task's status; a setup error, or the
// lack of any report; what the cgroup (or the rlimits) says; a seccomp kill; last, the
// supervisor's own kill and its reason.
void SettleOutcome(const TaskEnd& end, TaskOutcome* outcome) {
  TaskOutcome& o = *outcome;
  const std::optional<proto::ExitRecord>& exit = end.exit;
  if (exit && exit->task_reported) {
    int st = exit->status;
    if (WIFEXITED(st)) {
      o.task_exit_code = WEXITSTATUS(st);
      o.exit_code = o.task_exit_code;
      o.failure = o.task_exit_code == 0 ? FailureClass::kNone : FailureClass::kExitNonzero;
    } else if (WIFSIGNALED(st)) {
      o.task_signal = WTERMSIG(st);
      o.exit_code = 128 + o.task_signal;
      o.failure = FailureClass::kSignaled;
      if (o.task_signal == SIGSYS) SettleSeccompDeath(end, outcome);
    }
  }
  if (o.setup_error) {
    const proto::ErrorRecord& e = *o.setup_error;
    std::string detail = e.msg;
    if (e.err != 0) detail += std::string(": ") + std::strerror(e.err);
    if (e.step == SetupStep::kExec) {
      SetExecFailed(e.err, detail, &o);
    } else {
      o.failure = FailureClass::kSetupFailed;
      o.exit_code = kExitCordonFailure;
      o.message = std::string("sandbox setup failed at step ") + SetupStepName(e.step) + ": " + detail;
      // The kernel refused the namespaces: which right is missing here and how to grant it (host/).
      if (e.step == SetupStep::kClone && e.err != 0 && std::strncmp(e.msg, "clone3", 6) == 0)
        o.message = "sandbox setup failed at step clone: " + host::ExplainCloneRefusal(e.err, host::ReadFacts());
      if (e.step == SetupStep::kMountProc && e.err == EPERM && std::strcmp(e.msg, "mount proc on /proc") == 0)
        o.message = "sandbox setup failed at step mount-proc: " + host::ExplainProcRefusal(e.err, host::ReadFacts());
      if (e.step == SetupStep::kHostname && e.err == EPERM && std::strncmp(e.msg, "sethostname", 11) == 0)
        o.message = "sandbox setup failed at step hostname: " + host::ExplainHostnameRefusal(e.err, host::ReadFacts());
      if (e.step == SetupStep::kChdir) o.message += " (--cwd must name a directory inside the sandbox)";
    }
  } else if (!exit || !exit->task_reported) {
    if (!end.killed && WIFSIGNALED(exit ? exit->init_status : 0) && WTERMSIG(exit->init_status) == SIGKILL) {
      // Killed from outside with the task, before it could report: on pure v2, memory.oom.group's
      // kill takes PID 1 too (scripts/v2vm/run.sh found it); the cgroup's count tells (RefineOutcome).
      o.task_signal = SIGKILL;
      o.exit_code = 128 + SIGKILL;
      o.failure = FailureClass::kSignaled;
      o.message = "the sandbox's PID 1 was killed by SIGKILL with the task, before it reported";
    } else if (!end.killed) {
      o.failure = FailureClass::kSetupFailed;
      o.exit_code = kExitCordonFailure;
      char buf[160];
      snprintf(buf, sizeof buf, "the shim ended without a report (shim wait status %d, PID 1 status %d)",
               end.shim_status, exit ? exit->init_status : -1);
      o.message = std::string(buf) + "; run with the same policy again, and report a bug if it repeats";
    }
  }
  end.accounting.RefineOutcome(end.limits, exit, outcome);
  // A seccomp kill of any process of the sandbox makes the task a seccomp violation.
  if (end.seccomp.fatal && !end.killed) SettleSeccompDeath(end, outcome);
  if (end.killed) {
    o.failure = *end.killed;
    o.message = end.kill_message;
    if (o.task_signal == 0 && o.task_exit_code < 0) {
      o.task_signal = SIGKILL;
      o.exit_code = 128 + SIGKILL;
    }
    // Output past the budget was cut however the task ended: one that wrote it and exited by
    // itself before the supervisor read the pipe (and killed) did not deliver it either, and must
    // not exit 0. Its own status stays in task_exit_code; cordon exits 137 (docs/evidence.md).
    if (*end.killed == FailureClass::kOutputLimit) o.exit_code = 128 + SIGKILL;
  }
}

}  // namespace cordon
