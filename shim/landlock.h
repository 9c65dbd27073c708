// shim/landlock.h: Landlock as a second layer behind the mount namespace (docs/landlock.md). The
// task process, after no_new_privs and before its filter, restricts itself to its own view of the
// filesystem as a ruleset: "/" read and execute only; the scratch (/tmp, /work, /dev/shm) and
// writable bindings fully; /dev and /proc read and write of existing files. With ABI >= 6 it also
// scopes abstract unix sockets and signals to its own domain (PID 1 and the host are outside it).
#pragma once

#include "common/protocol.h"
#include "shim/failure.h"

namespace cordon::shim {

// The ruleset, made and enforced on the calling thread; false with *f filled on failure. The task's
// fds 0..nfds-1 (stdio and bound fds, already in place) keep working when reopened by name
// (/dev/stdout, /proc/self/fd/N) or used as a directory to open beneath: each file, device or
// directory among them gets a rule of its own, for the access it was opened with (a directory:
// its binding's, read-only unless `rw`).
bool ApplyLandlockLayer(const proto::LaunchSpec& spec, int nfds, Failure* f);

}  // namespace cordon::shim
