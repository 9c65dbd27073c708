// supervisor/oci/container.h: the lifecycle commands of cordon-runc that change a container:
// create (config.json checked, a monitor process forked to be the container's init), start,
// kill, delete (the evidence record written out). docs/kubernetes.md.
//
// Process model. `create` forks the monitor and exits once the monitor says it is ready, so that
// the monitor is re-parented to the caller's subreaper (conmon, containerd's shim), which waits
// for it as for runc's init. The monitor waits on start.fifo until `start`, then builds and runs
// the Cordon sandbox (supervisor/task/: cordon-shim, namespaces, seccomp, cgroup) and follows it
// to its end, forwarding the signals `kill` sends it. It writes the evidence record into the
// container's directory, then ends the way the task did (its exit code, or its signal), which is
// what the caller observes as the container's exit.
#pragma once

#include <string>

#include "common/result.h"

namespace cordon::oci {

struct Globals {
  std::string root;           // --root
  std::string log;            // --log FILE (errors as lines, --log-format text|json)
  bool log_json = false;
  bool systemd_cgroup = false;  // accepted: Cordon places the sandbox in its own cgroup
  std::string evidence_dir;     // --evidence-dir (podman --runtime-flag evidence-dir=DIR); else EvidenceDir()
};

struct CreateOptions {
  std::string id, bundle = ".", pid_file, console_socket;
  int preserve_fds = 0;
};
Result<void> Create(const Globals& g, const CreateOptions& o);
Result<void> Start(const Globals& g, const std::string& id);
// `signal` as runc takes it: a name with or without SIG, or a number. SIGKILL ends the sandbox at
// once through Cordon (the monitor records it and removes the cgroup).
Result<void> Kill(const Globals& g, const std::string& id, const std::string& signal, bool all);
// Writes the evidence record to the evidence directory, then removes the container. `force`: a
// container still running is killed first.
Result<void> Delete(const Globals& g, const std::string& id, bool force);

// Where delete writes evidence unless --evidence-dir said (at create: the directory is kept in the
// container's state): $CORDON_OCI_EVIDENCE_DIR, else /var/lib/cordon/oci-evidence as
// host root (HostRoot), $XDG_STATE_HOME/cordon/oci-evidence (~/.local/state/...) otherwise.
std::string EvidenceDir();

// The real-time signal that asks the monitor to kill the sandbox through Cordon (SIGRTMIN+1).
int KillRequestSignal();

}  // namespace cordon::oci
