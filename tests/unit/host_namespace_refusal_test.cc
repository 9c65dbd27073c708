// The one-line refusal (supervisor/host/namespace_refusal.h) for the hosts the CI machine cannot
// be turned into: Ubuntu's AppArmor userns restriction, Debian's unprivileged_userns_clone, a
// Kubernetes pod, a user-namespace limit used up. The real hosts the CI can build are in
// tests/integration/no_userns_test.cc and container_podman_test.cc.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "supervisor/host/namespace_refusal.h"

namespace cordon::host {
namespace {

bool Has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

TEST(NamespaceRefusal, UbuntuAppArmorRestrictionNamesItsSysctlAndTheProfileRule) {
  Facts f;
  f.euid = 1000;
  f.apparmor_restrict_userns = 1;
  const std::string m = ExplainCloneRefusal(EPERM, f);
  EXPECT_TRUE(Has(m, "AppArmor restricts unprivileged user namespaces")) << m;
  EXPECT_TRUE(Has(m, "`userns,` rule")) << m;
  EXPECT_TRUE(Has(m, "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0")) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(NamespaceRefusal, DebianSysctlWinsForAnUnprivilegedCallerOnly) {
  Facts f;
  f.euid = 1000;
  f.unprivileged_userns_clone = 0;
  EXPECT_TRUE(Has(ExplainCloneRefusal(EPERM, f), "sysctl -w kernel.unprivileged_userns_clone=1"));
  f.cap_sys_admin = true;  // the sysctl does not bind a caller with CAP_SYS_ADMIN: look elsewhere
  EXPECT_FALSE(Has(ExplainCloneRefusal(EPERM, f), "unprivileged_userns_clone"));
}

TEST(NamespaceRefusal, ContainersGetTheirEnginesOption) {
  Facts f;
  f.seccomp_mode = 2;
  f.container = "kubernetes";
  EXPECT_TRUE(Has(ExplainCloneRefusal(EPERM, f), "seccompProfile.type to Unconfined"));
  EXPECT_TRUE(Has(ExplainProcRefusal(EPERM, f), "procMount: Unmasked"));
  f.container = "docker";
  EXPECT_TRUE(Has(ExplainCloneRefusal(ENOSYS, f), "docker run --security-opt seccomp=unconfined"));
  f.container = "podman";
  EXPECT_TRUE(Has(ExplainHostnameRefusal(EPERM, f), "podman run --security-opt seccomp=unconfined"));
}

TEST(NamespaceRefusal, LimitsSayWhichLimit) {
  Facts f;
  f.max_user_namespaces = 0;
  EXPECT_TRUE(Has(ExplainCloneRefusal(ENOSPC, f), "user namespaces are disabled here (user.max_user_namespaces = 0)"));
  f.max_user_namespaces = 5;
  EXPECT_TRUE(Has(ExplainCloneRefusal(ENOSPC, f), "user.max_user_namespaces (5) is used up"));
  EXPECT_TRUE(Has(ExplainCloneRefusal(EUSERS, f), "nested 32 deep"));
  EXPECT_TRUE(Has(ExplainCloneRefusal(ENOSYS, Facts{}), "no clone3 (Linux 5.3 or later"));
}

}  // namespace
}  // namespace cordon::host
