// `cordon doctor`: what this host lets Cordon do, and the mode it will run tasks in (doctor.h).
#include "supervisor/cli/doctor.h"

#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "common/landlock.h"
#include "common/setup_step.h"
#include "common/syscalls.h"
#include "common/unique_fd.h"
#include "supervisor/cgroup/layout.h"
#include "supervisor/host/facts.h"
#include "supervisor/host/landlock_mode.h"
#include "supervisor/host/namespace_refusal.h"

namespace cordon {
namespace {

constexpr const char* kDoctorUsage =
    "Usage: cordon doctor [--json]\n"
    "\n"
    "Inspect this host and say which mode Cordon will run tasks in here, and why: cgroup layout\n"
    "(v1, hybrid, v2) and delegation, user namespaces (probed in a throw-away child), a fresh\n"
    "procfs, seccomp user notification, pidfd, clone3, Landlock's ABI, and a container around\n"
    "cordon. Where full sandboxes cannot be built it names the missing right and how to grant it\n"
    "(docs/environments.md). Changes nothing on the host.\n"
    "\n"
    "Options:\n"
    "  --json     One JSON object on stdout (fields in docs/environments.md)\n"
    "  -h, --help Show this help\n"
    "\n"
    "Modes: full (every namespace); landlock (namespaces refused: `cordon run --allow-landlock-mode`\n"
    "runs tasks degraded, docs/landlock.md); none; unknown (the probe could not run).\n"
    "\n"
    "Exit codes: 0 full sandboxes can be built here; 1 they cannot (the report says why); 125 bad usage.\n";

std::string Errno(int err) { return err == 0 ? "ok" : std::strerror(err); }

bool SeccompNotifyAvailable() {
  uint32_t action = SECCOMP_RET_USER_NOTIF;
  return sys::Seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

int PidfdErrno() {
  UniqueFd fd(sys::PidfdOpen(::getpid(), 0));
  return fd ? 0 : errno;
}

}  // namespace

int CmdDoctor(int argc, char** argv) {
  bool json = false;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kDoctorUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "cordon: doctor: unknown argument '%s'\nTry 'cordon doctor --help' for more information.\n",
                   a.c_str());
      return kExitCordonFailure;
    }
  }

  const host::Facts facts = host::ReadFacts();
  const host::UsernsProbe probe = host::ProbeUserns();
  utsname u{};
  ::uname(&u);
  const int landlock_abi = landlock::Abi();
  const int landlock_err = landlock_abi < 0 ? -landlock_abi : 0;
  const bool notify = SeccompNotifyAvailable();
  const int pidfd_err = PidfdErrno();

  // The verdict: the first thing a full sandbox needs that this host refuses, with its fix.
  std::string mode = "full", why;
  const std::string ns_refusal = host::NamespaceRefusal(probe, facts);
  if (probe.probe_err != 0) {
    mode = "unknown";
    why = ns_refusal;
  } else if (!ns_refusal.empty() && landlock_abi > 0) {
    // Namespaces refused, Landlock there: the degraded mode, only when a run asks for it.
    mode = "landlock";
    why = ns_refusal + "; `cordon run --allow-landlock-mode` (or a policy's allow_landlock_mode) runs tasks degraded "
          "here (Landlock ABI " +
          std::to_string(landlock_abi) + ", no namespaces; docs/landlock.md)";
  } else if (!ns_refusal.empty()) {
    mode = "none";
    why = ns_refusal + "; and no Landlock for --allow-landlock-mode";
  } else if (!notify) {
    mode = "none";
    why = "this kernel has no seccomp user notification (SECCOMP_RET_USER_NOTIF, Linux 5.0 or later)";
  } else if (pidfd_err != 0) {
    mode = "none";
    why = "pidfd_open failed (" + Errno(pidfd_err) + "): Linux 5.3 or later is needed";
  } else {
    why = "user, mount, PID, network, IPC and UTS namespaces, a fresh procfs, seccomp user notification and pidfds "
          "are all available to uid " + std::to_string(facts.euid);
  }

  // Cgroups: detected as `cordon run` does (CORDON_CGROUPS / CORDON_CGROUP_SUBTREE are not read:
  // this is what the host offers), without creating anything.
  std::string cg_mode = "none", cg_v2, cg_limits, cg_reason;
  bool cg_delegated = false;
  std::string v1_list, v2_list;
  if (auto l = cgroup::DetectLayout(); l) {
    cg_mode = std::string(cgroup::ModeName(l->mode));
    cg_v2 = l->v2_mount;
    cg_delegated = l->delegated;
    for (const auto& c : l->v2_controllers) v2_list += (v2_list.empty() ? "" : " ") + c;
    for (const auto& h : l->v1)
      for (const auto& c : h.controllers)
        if (c.rfind("name=", 0) != 0) v1_list += (v1_list.empty() ? "" : " ") + c;
    cg_reason = l->no_cgroup_reason;
    cg_limits = cg_reason.empty() ? "per-task cgroups" : "rlimits and the supervisor's /proc monitor";
  } else {
    cg_reason = l.error().Message();
    cg_limits = "rlimits and the supervisor's /proc monitor";
  }

  const std::string landlock_text =
      landlock_abi > 0 ? "ABI " + std::to_string(landlock_abi)
                       : std::string("unavailable (") +
                             (landlock_err == EOPNOTSUPP ? "disabled at boot: add landlock to lsm=" : Errno(landlock_err)) +
                             ")";
  if (json) {
    nlohmann::json j = {
        {"mode", mode},
        {"why", why},
        {"kernel", u.release},
        {"euid", facts.euid},
        {"container", facts.container},
        {"cgroup", {{"layout", cg_mode}, {"v2_mount", cg_v2}, {"v2_controllers", v2_list}, {"v1_controllers", v1_list},
                    {"delegated", cg_delegated}, {"limits", cg_limits}, {"no_cgroup_reason", cg_reason}}},
        {"user_namespaces", {{"clone3", Errno(probe.clone3_err)}, {"unshare", Errno(probe.unshare_err)},
                             {"fresh_procfs", probe.proc_tried ? Errno(probe.proc_err) : "not tried"},
                             {"sethostname", probe.proc_tried ? Errno(probe.uts_err) : "not tried"}}},
        {"sysctl", {{"user.max_user_namespaces", facts.max_user_namespaces ? nlohmann::json(*facts.max_user_namespaces) : nullptr},
                    {"kernel.unprivileged_userns_clone", facts.unprivileged_userns_clone ? nlohmann::json(*facts.unprivileged_userns_clone) : nullptr},
                    {"kernel.apparmor_restrict_unprivileged_userns", facts.apparmor_restrict_userns ? nlohmann::json(*facts.apparmor_restrict_userns) : nullptr}}},
        {"seccomp", {{"user_notify", notify}, {"filter_on_cordon", facts.seccomp_mode == 2}}},
        {"pidfd", pidfd_err == 0},
        {"clone3", probe.clone3_err != ENOSYS},
        {"landlock_abi", landlock_abi > 0 ? landlock_abi : 0},
    };
    if (mode == "landlock") {
      nlohmann::json missing = nlohmann::json::array();
      for (const auto& g : host::LandlockModeGaps(landlock_abi, facts.euid == 0))
        missing.push_back({{"guarantee", g.guarantee}, {"effect", g.effect}});
      j["landlock_mode_missing"] = missing;
    }
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("mode:            %s\n", mode.c_str());
    std::printf("why:             %s\n", why.c_str());
    std::printf("kernel:          %s\n", u.release);
    std::printf("uid:             %u%s\n", facts.euid, facts.euid == 0 ? " (rootful: host id ranges)" : " (rootless)");
    std::printf("container:       %s\n", facts.container.empty() ? "none detected" : facts.container.c_str());
    std::printf("cgroups:         %s%s%s\n", cg_mode.c_str(), cg_v2.empty() ? "" : ", cgroup2 at ", cg_v2.c_str());
    std::printf("  v2 controllers %s\n", v2_list.empty() ? "(none)" : v2_list.c_str());
    std::printf("  v1 controllers %s\n", v1_list.empty() ? "(none)" : v1_list.c_str());
    std::printf("  delegated      %s\n", cg_delegated ? "yes" : "no");
    std::printf("  limits         %s%s%s\n", cg_limits.c_str(), cg_reason.empty() ? "" : ": ", cg_reason.c_str());
    std::printf("user namespaces: clone3 %s, unshare %s, fresh procfs %s, sethostname %s\n",
              Errno(probe.clone3_err).c_str(), Errno(probe.unshare_err).c_str(),
              probe.proc_tried ? Errno(probe.proc_err).c_str() : "not tried",
              probe.proc_tried ? Errno(probe.uts_err).c_str() : "not tried");
    auto sysctl = [](const char* name, const std::optional<long>& v) {
      if (v) std::printf("  %-41s %ld\n", name, *v);
    };
    sysctl("user.max_user_namespaces", facts.max_user_namespaces);
    sysctl("kernel.unprivileged_userns_clone", facts.unprivileged_userns_clone);
    sysctl("kernel.apparmor_restrict_unprivileged_userns", facts.apparmor_restrict_userns);
    std::printf("seccomp notify:  %s%s\n", notify ? "yes" : "no",
                facts.seccomp_mode == 2 ? " (a seccomp filter is already on cordon)" : "");
    std::printf("pidfd:           %s\n", pidfd_err == 0 ? "yes" : Errno(pidfd_err).c_str());
    std::printf("clone3:          %s\n", probe.clone3_err == ENOSYS ? "refused (ENOSYS)" : "yes");
    std::printf("landlock:        %s\n", landlock_text.c_str());
    if (mode == "landlock") {
      std::printf("landlock mode lacks, against a full sandbox:\n");
      for (const auto& g : host::LandlockModeGaps(landlock_abi, facts.euid == 0))
        std::printf("  %-19s %s\n", g.guarantee.c_str(), g.effect.c_str());
    }
  }
  return mode == "full" ? 0 : 1;
}

}  // namespace cordon
