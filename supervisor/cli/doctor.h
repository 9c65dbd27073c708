// supervisor/cli/doctor.h: `cordon doctor [--json]`: inspects this host and says which mode Cordon
// will run tasks in here and why: cgroup layout and delegation, user namespaces (probed), a fresh
// procfs, seccomp user notification, pidfd, clone3, Landlock's ABI, a container around us
// (docs/environments.md). Reads and probes only; changes nothing.
#pragma once

namespace cordon {

// argv[0] is the first argument after `doctor`. Exit 0 when full sandboxes can be built here, 1 when
// they cannot (the report says why and how to fix it), 125 on bad usage.
int CmdDoctor(int argc, char** argv);

}  // namespace cordon
