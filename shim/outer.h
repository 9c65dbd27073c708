// shim/outer.h: the outer shim as a callable entry. It is `cordon-shim`'s main (shim/main.cc, the
// program cordond and `cordon` exec once per task) and, linked into cordon-run, the code that a fork
// of the one-shot runs instead of exec'ing cordon-shim (supervisor/task/shim_process.h Fork).
#pragma once

namespace cordon::shim {

// Runs the outer shim on the host side of the clone: reads the launch message on the control
// socket, clones PID 1 into its new namespaces, drops its own privileges, relays records both ways
// until the sandbox is gone, and returns the process's exit status (a setup failure is reported on
// the socket and exits from inside). It expects the state a fresh exec of cordon-shim has: the
// control socket at fd 3 (no other fd above 2), an empty signal mask and no signal handler, a
// single thread, its own process group, and a parent that is the supervisor. Never throws.
int RunOuter();

}  // namespace cordon::shim
