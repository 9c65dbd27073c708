// supervisor/host/namespace_refusal.h: the one line a user gets when the kernel refused the
// sandbox's namespaces: which right is missing on this host and how to grant it
// (docs/environments.md). Decided from the errno the shim got and the host's facts (facts.h).
#pragma once

#include <string>

#include "supervisor/host/facts.h"

namespace cordon::host {

// clone3(CLONE_NEWUSER|NEWNS|NEWPID|NEWNET|NEWIPC|NEWUTS) failed with `err`.
std::string ExplainCloneRefusal(int err, const Facts& facts);

// PID 1 of a new user and PID namespace could not mount a fresh procfs (`err`): a masked or
// read-only /proc over the container's, which the kernel will not let a new namespace see past.
std::string ExplainProcRefusal(int err, const Facts& facts);

// sethostname in the sandbox's new UTS namespace failed (`err`): a container's seccomp profile.
std::string ExplainHostnameRefusal(int err, const Facts& facts);

}  // namespace cordon::host
