#include "supervisor/host/namespace_refusal.h"

#include <cerrno>
#include <cstring>

namespace cordon::host {
namespace {

constexpr const char* kDoc = " (docs/environments.md)";

// "a podman container", "this host".
std::string Where(const Facts& f) {
  if (f.container.empty()) return "this host";
  return "this " + f.container + " container";
}

// How to lift a container's seccomp profile, for the engine it runs under.
std::string UnconfineSeccomp(const Facts& f) {
  if (f.container.empty())
    return "start cordon without that filter (inherited from whoever started cordon, Seccomp: 2 in "
           "/proc/self/status; a container engine's: --security-opt seccomp=unconfined)";
  if (f.container == "kubernetes")
    return "set the pod's securityContext.seccompProfile.type to Unconfined (or a Localhost profile that allows "
           "clone3 and unshare)";
  const std::string engine = f.container == "docker" ? "docker" : "podman";
  return "start it with `" + engine + " run --security-opt seccomp=unconfined` (or a profile that allows clone3 and "
         "unshare)";
}

}  // namespace

std::string ExplainCloneRefusal(int err, const Facts& f) {
  const std::string what = "cannot create the sandbox's user namespace (clone3: " + std::string(std::strerror(err)) + "): ";
  if (err == ENOSYS && f.seccomp_mode == 2)
    return what + "a seccomp filter on " + Where(f) + " refuses clone3; " + UnconfineSeccomp(f) + kDoc;
  if (err == ENOSYS) return what + "this kernel has no clone3 (Linux 5.3 or later is needed)" + kDoc;
  if (err == ENOSPC && f.max_user_namespaces && *f.max_user_namespaces == 0)
    return what + "user namespaces are disabled here (user.max_user_namespaces = 0); allow them as root in the namespace "
           "that set it: `sysctl -w user.max_user_namespaces=15000`" + kDoc;
  if (err == ENOSPC)
    return what + "the limit user.max_user_namespaces (" +
           (f.max_user_namespaces ? std::to_string(*f.max_user_namespaces) : std::string("?")) +
           ") is used up by this user's namespaces; raise it: `sysctl -w user.max_user_namespaces=15000`" + kDoc;
  if (err == EUSERS)
    return what + "user namespaces are nested 32 deep already (the kernel's limit); run Cordon nearer the host's "
           "initial user namespace" + kDoc;
  if (err == EPERM) {
    if (f.unprivileged_userns_clone && *f.unprivileged_userns_clone == 0 && !f.cap_sys_admin)
      return what + "kernel.unprivileged_userns_clone = 0 forbids unprivileged user namespaces; allow them as root: "
             "`sysctl -w kernel.unprivileged_userns_clone=1`, or run cordon as root" + kDoc;
    if (f.apparmor_restrict_userns && *f.apparmor_restrict_userns == 1)
      return what + "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = "
             "1); load an AppArmor profile with the `userns,` rule for cordon and cordon-shim, or as root "
             "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`" + kDoc;
    if (f.seccomp_mode == 2 && !f.container.empty())
      return what + "the seccomp profile of " + Where(f) + " refuses new namespaces to a process without "
             "CAP_SYS_ADMIN; " + UnconfineSeccomp(f) + kDoc;
    if (f.seccomp_mode == 2)
      return what + "a seccomp filter on this process refuses new namespaces; " + UnconfineSeccomp(f) + kDoc;
    return what + "refused by a security module or a chroot on " + Where(f) +
           "; check SELinux/AppArmor user_namespace rules and that cordon does not run chrooted" + kDoc;
  }
  if (err == EINVAL)
    return what + "this kernel was built without user namespaces (CONFIG_USER_NS) or refused CLONE_INTO_CGROUP" + kDoc;
  return what + "run `cordon doctor` to see what this host allows" + kDoc;
}

std::string ExplainProcRefusal(int err, const Facts& f) {
  std::string line = "cannot mount the sandbox's own /proc (" + std::string(std::strerror(err)) + "): ";
  if (!f.container.empty())
    return line + "the kernel refuses a fresh procfs under the masked /proc paths of " + Where(f) +
           "; start it with `--security-opt unmask=/proc/*`" +
           (f.seccomp_mode == 2 ? " and `--security-opt seccomp=unconfined`" : "") +
           " (podman), or `--privileged`; Kubernetes: securityContext.procMount: Unmasked" + kDoc;
  return line + "/proc on this host has paths mounted over (masked) or is read-only, which the kernel will not let "
         "a new namespace see past" + kDoc;
}

std::string ExplainHostnameRefusal(int err, const Facts& f) {
  std::string line = "sethostname in the sandbox's UTS namespace failed (" + std::string(std::strerror(err)) + "): ";
  if (f.seccomp_mode == 2)
    return line + "the seccomp filter on " + Where(f) + " refuses it (a container engine's default profile allows "
           "it only with CAP_SYS_ADMIN); " + UnconfineSeccomp(f) + kDoc;
  return line + "run `cordon doctor` to see what this host allows" + kDoc;
}

}  // namespace cordon::host
