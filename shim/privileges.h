// shim/privileges.h: the privilege drops that the task, PID 1 and the rootful outer shim share.
// Each returns 0 or the errno of the failing call, so that every caller reports it under its own
// setup step.
#pragma once

#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include <cerrno>

namespace cordon::shim {

// Locked: no capabilities regained through uid 0 semantics, setuid fixups, KEEPCAPS or ambient
// raising, even in a nested user namespace.
inline constexpr unsigned long kLockedSecurebits =
    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
    SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

// Empties the bounding set (needs CAP_SETPCAP, so before the capabilities go). On failure
// `*failed_cap` names the capability that could not be dropped.
inline int DropBoundingSet(int* failed_cap) {
  for (cap_value_t c = 0; c < 64; ++c) {
    if (cap_drop_bound(c) == 0) continue;
    if (errno == EINVAL) return 0;  // past the kernel's last capability
    *failed_cap = c;
    return errno;
  }
  return 0;
}

inline int LockSecurebits() { return ::prctl(PR_SET_SECUREBITS, kLockedSecurebits) < 0 ? errno : 0; }

}  // namespace cordon::shim
