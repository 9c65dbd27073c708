// tests/support/host.h: can this host run a sandbox at all? Decided from the host (what the kernel
// lets this uid do), never from Cordon's own output: when the host can and Cordon cannot, a test
// must fail, not skip.
#pragma once

#include <string>

namespace cordon::test {

// "" when this uid can do what every Cordon sandbox needs; otherwise the missing host feature, by
// name, with the setting to look at. Probed once per test binary, in a forked child:
//   - unshare(CLONE_NEWUSER|NEWNS|NEWPID|NEWNET|NEWIPC|NEWUTS|NEWCGROUP) (user.max_user_namespaces,
//     kernel.unprivileged_userns_clone, an AppArmor/SELinux userns restriction, a container's
//     seccomp profile);
//   - PID 1 of the new PID namespace mounts a fresh procfs (refused under a masked /proc, e.g. in
//     an unprivileged container);
//   - prctl(PR_SET_NO_NEW_PRIVS) and a seccomp filter with SECCOMP_FILTER_FLAG_NEW_LISTENER
//     (CONFIG_SECCOMP_FILTER, user notification: kernel >= 5.0).
std::string HostSandboxMissing();

// Skips the current test, naming the missing host feature, when this host cannot run sandboxes.
// When it can, the test runs, and a Cordon that fails to build a sandbox fails it.
#define REQUIRE_SANDBOX()                                                                      \
  do {                                                                                         \
    if (auto why = ::cordon::test::HostSandboxMissing(); !why.empty()) GTEST_SKIP() << why;    \
  } while (0)

// Landlock's ABI version as this kernel reports it (landlock_create_ruleset with
// LANDLOCK_CREATE_RULESET_VERSION): 0 when it has none.
int HostLandlockAbi();

// Skips the current test when this kernel's Landlock ABI is below `min_abi`.
#define REQUIRE_LANDLOCK(min_abi)                                                                     \
  do {                                                                                                \
    if (::cordon::test::HostLandlockAbi() < (min_abi))                                                \
      GTEST_SKIP() << "this kernel's Landlock ABI is " << ::cordon::test::HostLandlockAbi() << ", below " \
                   << (min_abi) << " (CONFIG_SECURITY_LANDLOCK, lsm=landlock)";                       \
  } while (0)

}  // namespace cordon::test
