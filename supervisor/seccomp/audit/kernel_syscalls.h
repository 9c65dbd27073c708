// supervisor/seccomp/audit/kernel_syscalls.h: which Linux release added a syscall (x86_64), for
// `cordon seccomp lint`'s "names unknown to this kernel" and "known to Linux but not to this
// libseccomp" findings. The table is in kernel_syscalls.cc.
//
// Supervisor side only, pure.
#pragma once

#include <optional>
#include <string_view>

#include "supervisor/seccomp/profile.h"

namespace cordon::seccomp::audit {

// The release that added `name` on x86_64, for every syscall added since Linux 3.0; nullopt for
// older calls and for names Linux never had.
std::optional<KernelVersion> KernelAdded(std::string_view name);
// The newest release the table knows about ("6.17"), to say how far it reaches.
KernelVersion KernelTableNewest();

}  // namespace cordon::seccomp::audit
