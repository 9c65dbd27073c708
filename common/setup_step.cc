#include "common/setup_step.h"

namespace cordon {

const char* SetupStepName(SetupStep step) {
  switch (step) {
    case SetupStep::kNone: return "none";
    case SetupStep::kReadSpec: return "read-spec";
    case SetupStep::kStageBindings: return "stage-bindings";
    case SetupStep::kClone: return "clone";
    case SetupStep::kOuterDrop: return "outer-drop";
    case SetupStep::kPdeathsig: return "pdeathsig";
    case SetupStep::kIdMaps: return "id-maps";
    case SetupStep::kResolveBindings: return "resolve-bindings";
    case SetupStep::kSetIds: return "set-ids";
    case SetupStep::kMountPrivate: return "mount-private";
    case SetupStep::kMountRoot: return "mount-root";
    case SetupStep::kBindMounts: return "bind-mounts";
    case SetupStep::kScratchMounts: return "scratch-mounts";
    case SetupStep::kMountBindings: return "mount-bindings";
    case SetupStep::kMountProc: return "mount-proc";
    case SetupStep::kMountDev: return "mount-dev";
    case SetupStep::kEtcFiles: return "etc-files";
    case SetupStep::kPivotRoot: return "pivot-root";
    case SetupStep::kRemountReadOnly: return "remount-readonly";
    case SetupStep::kBindingFds: return "binding-fds";
    case SetupStep::kLoopback: return "loopback";
    case SetupStep::kProxySocket: return "proxy-socket";
    case SetupStep::kHostname: return "hostname";
    case SetupStep::kCgroupNs: return "cgroup-ns";
    case SetupStep::kForkTask: return "fork-task";
    case SetupStep::kStdioFds: return "stdio-fds";
    case SetupStep::kSession: return "session";
    case SetupStep::kDropBounding: return "drop-bounding";
    case SetupStep::kSecurebits: return "securebits";
    case SetupStep::kDropCaps: return "drop-caps";
    case SetupStep::kNoNewPrivs: return "no-new-privs";
    case SetupStep::kAwaitTask: return "await-task";
    case SetupStep::kLandlock: return "landlock";
    case SetupStep::kChdir: return "chdir";
    case SetupStep::kAwaitGo: return "await-go";
    case SetupStep::kSeccomp: return "seccomp";
    case SetupStep::kExec: return "exec";
    case SetupStep::kInitLockdown: return "init-lockdown";
  }
  return "unknown";
}

}  // namespace cordon
