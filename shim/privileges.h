// shim/privileges.h: the privilege drops that the task, PID 1 and the rootful outer shim share.
// Each returns 0 or the errno of the failing call, so that every caller reports it under its own
// setup step. Raw system calls, no libcap: its cap_reset_ambient probes every capability with one
// prctl each before the one that clears them (41 calls on a 6.x kernel), and its constructor probes
// the last capability in every exec of the shim (docs/performance.md, "The sandbox's own setup").
#pragma once

#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace cordon::shim {

// Locked: no capabilities regained through uid 0 semantics, setuid fixups, KEEPCAPS or ambient
// raising, even in a nested user namespace.
inline constexpr unsigned long kLockedSecurebits =
    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
    SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

// Empties the bounding set (needs CAP_SETPCAP, so before the capabilities go): one PR_CAPBSET_DROP
// per capability, until the kernel says EINVAL past its last one. On failure `*failed_cap` names
// the capability that could not be dropped.
inline int DropBoundingSet(int* failed_cap) {
  for (int c = 0; c < 64; ++c) {
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == 0) continue;
    if (errno == EINVAL) return 0;  // past the kernel's last capability
    *failed_cap = c;
    return errno;
  }
  return 0;
}

inline int LockSecurebits() { return ::prctl(PR_SET_SECUREBITS, kLockedSecurebits) < 0 ? errno : 0; }

// Clears the ambient set (one PR_CAP_AMBIENT_CLEAR_ALL), then the inheritable, permitted and
// effective sets (one capset of all zeroes, both 32-bit halves).
inline int ClearCapabilities() {
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) return errno;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3]{};
  return ::syscall(SYS_capset, &header, none) < 0 ? errno : 0;
}

}  // namespace cordon::shim
