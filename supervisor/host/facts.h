// supervisor/host/facts.h: what this host lets this process do about namespaces, read from /proc
// (sysctls, our own status, container markers), and a fresh probe of user-namespace creation in a
// throw-away child. Used by `cordon doctor` and by the one-line explanation a refused clone gets
// (namespace_refusal.h). Reads only; never changes the host.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace cordon::host {

struct Facts {
  uid_t euid = 0;
  // Sysctls; nullopt where the file does not exist on this kernel.
  std::optional<long> max_user_namespaces;             // user.max_user_namespaces (of our user namespace)
  std::optional<long> unprivileged_userns_clone;       // kernel.unprivileged_userns_clone (Debian's patch)
  std::optional<long> apparmor_restrict_userns;        // kernel.apparmor_restrict_unprivileged_userns (Ubuntu)
  int seccomp_mode = 0;                                // Seccomp: of /proc/self/status (2: a filter is on us)
  bool no_new_privs = false;                           // NoNewPrivs: of /proc/self/status
  bool cap_sys_admin = false;                          // CAP_SYS_ADMIN in our effective set
  bool initial_user_ns = true;                         // /proc/self/uid_map is the identity over all ids
  std::string container;                               // "podman", "docker", "kubernetes", a $container value, or ""
};

Facts ReadFacts();

// What a throw-away child got from the kernel when it tried what the shim needs. 0 = allowed.
struct UsernsProbe {
  int clone3_err = 0;   // clone3(CLONE_NEWUSER|NEWNS|NEWPID|NEWNET|NEWIPC|NEWUTS)
  int unshare_err = 0;  // unshare(CLONE_NEWUSER), which a seccomp profile can filter by flag
  int proc_err = 0;     // mount of a fresh procfs by PID 1 of a new user+PID namespace (masked /proc)
  int uts_err = 0;      // sethostname in a new UTS namespace (a container's seccomp profile)
  bool proc_tried = false;  // false when unshare(CLONE_NEWUSER) was refused: proc_err says nothing
  int probe_err = 0;    // the probe itself could not run (fork, pipe): then the rest says nothing
};

// Forks; waits at most 10 s. Never leaves a process behind.
UsernsProbe ProbeUserns();

}  // namespace cordon::host
