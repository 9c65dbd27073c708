// supervisor/seccomp/audit/kernel_syscalls.cc: syscall name -> the Linux release that added it on
// x86_64.
//
// Sources: the git history of arch/x86/entry/syscalls/syscall_64.tbl in torvalds/linux (the
// release whose merge window added each line), cross-checked with the VERSIONS/HISTORY sections of
// the man-pages 6.x pages in /usr/share/man/man2 where one exists (close_range 5.9, openat2 5.6,
// pidfd_getfd 5.6, faccessat2 5.8, process_madvise 5.10, mount_setattr 5.12, landlock_* 5.13,
// memfd_secret 5.14, pidfd_open 5.3, mlock2 4.4). Calls that appeared on x86_64 later than on other
// architectures are listed with the x86_64 release. quotactl_path (5.13) was removed before it
// shipped in a release and is not listed; quotactl_fd came in 5.14.
#include "supervisor/seccomp/audit/kernel_syscalls.h"

#include <algorithm>
#include <array>
#include <utility>

namespace cordon::seccomp::audit {
namespace {

struct Added {
  std::string_view name;
  KernelVersion version;
};

constexpr std::array kAdded = std::to_array<Added>({
    {"sendmmsg", {3, 0}}, {"setns", {3, 0}},
    {"process_vm_readv", {3, 2}}, {"process_vm_writev", {3, 2}},
    {"kcmp", {3, 5}}, {"finit_module", {3, 8}},
    {"sched_setattr", {3, 14}}, {"sched_getattr", {3, 14}}, {"renameat2", {3, 15}},
    {"seccomp", {3, 17}}, {"getrandom", {3, 17}}, {"memfd_create", {3, 17}}, {"kexec_file_load", {3, 17}},
    {"bpf", {3, 18}}, {"execveat", {3, 19}},
    {"userfaultfd", {4, 3}}, {"membarrier", {4, 3}}, {"mlock2", {4, 4}}, {"copy_file_range", {4, 5}},
    {"preadv2", {4, 6}}, {"pwritev2", {4, 6}},
    {"pkey_mprotect", {4, 9}}, {"pkey_alloc", {4, 9}}, {"pkey_free", {4, 9}}, {"statx", {4, 11}},
    {"io_pgetevents", {4, 18}}, {"rseq", {4, 18}},
    {"pidfd_send_signal", {5, 1}}, {"io_uring_setup", {5, 1}}, {"io_uring_enter", {5, 1}},
    {"io_uring_register", {5, 1}},
    {"open_tree", {5, 2}}, {"move_mount", {5, 2}}, {"fsopen", {5, 2}}, {"fsconfig", {5, 2}},
    {"fsmount", {5, 2}}, {"fspick", {5, 2}},
    {"pidfd_open", {5, 3}}, {"clone3", {5, 3}},
    {"openat2", {5, 6}}, {"pidfd_getfd", {5, 6}}, {"faccessat2", {5, 8}}, {"close_range", {5, 9}},
    {"process_madvise", {5, 10}}, {"epoll_pwait2", {5, 11}}, {"mount_setattr", {5, 12}},
    {"landlock_create_ruleset", {5, 13}}, {"landlock_add_rule", {5, 13}}, {"landlock_restrict_self", {5, 13}},
    {"quotactl_fd", {5, 14}}, {"memfd_secret", {5, 14}}, {"process_mrelease", {5, 15}},
    {"futex_waitv", {5, 16}}, {"set_mempolicy_home_node", {5, 17}},
    {"cachestat", {6, 5}}, {"fchmodat2", {6, 6}}, {"map_shadow_stack", {6, 6}},
    {"futex_wake", {6, 7}}, {"futex_wait", {6, 7}}, {"futex_requeue", {6, 7}},
    {"statmount", {6, 8}}, {"listmount", {6, 8}},
    {"lsm_get_self_attr", {6, 8}}, {"lsm_set_self_attr", {6, 8}}, {"lsm_list_modules", {6, 8}},
    {"mseal", {6, 10}}, {"uretprobe", {6, 11}},
    {"setxattrat", {6, 13}}, {"getxattrat", {6, 13}}, {"listxattrat", {6, 13}}, {"removexattrat", {6, 13}},
    {"open_tree_attr", {6, 15}},
    {"file_getattr", {6, 17}}, {"file_setattr", {6, 17}},
});

}  // namespace

std::optional<KernelVersion> KernelAdded(std::string_view name) {
  for (const auto& a : kAdded) {
    if (a.name == name) return a.version;
  }
  return std::nullopt;
}

KernelVersion KernelTableNewest() {
  KernelVersion newest;
  for (const auto& a : kAdded) newest = std::max(newest, a.version);
  return newest;
}

}  // namespace cordon::seccomp::audit
