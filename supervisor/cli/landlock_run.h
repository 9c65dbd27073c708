// supervisor/cli/landlock_run.h: `cordon run --allow-landlock-mode` on a host where user namespaces
// cannot be created (docs/landlock.md "Landlock mode"). The task runs without namespaces, as a
// child of `cordon run`, held by Landlock (the runtime read-only, its bindings, a scratch directory
// of its own), a seccomp rule against IPv4/IPv6/packet sockets, the policy's seccomp filter,
// no_new_privs and rlimits. The evidence says `sandbox.mode: landlock` and lists every guarantee
// of a full sandbox it lacks. Never chosen silently: only with the flag, and only where the
// namespaces were refused.
#pragma once

#include <string>

#include "common/result.h"
#include "supervisor/evidence/outcome.h"
#include "supervisor/policy.h"
#include "supervisor/seccomp/filter.h"
#include "supervisor/task/launcher.h"

namespace cordon::cli {

// Why this host cannot build full sandboxes (host/landlock_mode.h NamespaceRefusal, from a fresh
// probe), or "" when it can: then --allow-landlock-mode changes nothing.
std::string FullSandboxRefusal();

struct LandlockRunResult {
  TaskOutcome outcome;   // exit_code is what `cordon run` exits with
  std::string evidence;  // the run's record, one JSON object (docs/landlock.md "Evidence")
};

// Runs req.argv in landlock mode, the task started by a keeper (landlock_keeper.h) that forwards
// our signals and kills what the task leaves. `filter` must be compiled without user notification
// (nobody answers a listener here). `refusal` is FullSandboxRefusal()'s line and `allowed_by`
// ("flag" or "policy") what allowed the mode, both kept in the evidence.
// Refuses, before anything runs, a kernel without Landlock and a policy whose egress is not `none`
// (landlock mode cannot tell one host from another).
Result<LandlockRunResult> RunInLandlockMode(const Policy& policy, const SeccompFilter& filter, const TaskRequest& req,
                                            const std::string& refusal, const std::string& allowed_by);

}  // namespace cordon::cli
