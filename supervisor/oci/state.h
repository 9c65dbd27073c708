// supervisor/oci/state.h: one container's directory under the runtime root (--root) and what it
// holds: state.json (written by `create`), start.fifo (until `start`), evidence.json (written by
// the monitor when the sandbox ends). The container's status is read from the monitor process
// itself, never cached: its pid and start time identify it (a recycled pid is not it).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace cordon::oci {

struct ContainerState {
  std::string id;
  pid_t pid = 0;              // the monitor: the container's init as the engine sees it
  uint64_t pid_start = 0;     // its start time (/proc/<pid>/stat field 22), against pid reuse
  std::string bundle, rootfs, created;  // created: RFC 3339
  std::map<std::string, std::string> annotations;
  uint32_t uid = 0;           // who created it
  std::string evidence_dir;   // where delete writes the record (decided at create)
};

// Whether cordon-runc is root of the whole host: euid 0 in a user namespace that maps every uid
// (the initial one, or a container that owns the host's ids). False for an ordinary user, and for
// root inside a user namespace that maps only some ids, as rootless Podman runs its OCI runtime:
// there the host's per-task ids, /run and /var/lib are out of reach, and the sandbox is built the
// rootless way (the caller's own uid, 0 inside that namespace, mapped into the task's namespace).
bool HostRoot();

// --root's default: /run/cordon-runc as host root, $XDG_RUNTIME_DIR/cordon-runc (or
// /tmp/cordon-runc-<uid>) otherwise.
std::string DefaultRoot();

// A container id as runc accepts it: [A-Za-z0-9][A-Za-z0-9_.+-]*, at most 1024 bytes.
Result<void> CheckId(const std::string& id);

std::string ContainerDir(const std::string& root, const std::string& id);

// Creates root (0700) and root/id; fails naming the id when it exists already.
Result<std::string> MakeContainerDir(const std::string& root, const std::string& id);

Result<void> WriteState(const std::string& dir, const ContainerState& st);
// Fails with "container <id> does not exist" (the words engines match) when there is no such dir.
Result<ContainerState> ReadState(const std::string& root, const std::string& id);

// "created" (start.fifo still there), "running", "paused" or "stopped" (the monitor is gone, a
// zombie, or another process has its pid).
std::string Status(const std::string& root, const ContainerState& st);
bool MonitorAlive(const ContainerState& st);
uint64_t ProcessStartTime(pid_t pid);  // 0 when it does not exist or is a zombie

// The processes of the container on the host: the monitor's descendants (the shim, the sandbox's
// PID 1 and everything below it), in pid order.
std::vector<pid_t> Descendants(pid_t pid);

// Writes `text` to dir/name atomically (temporary file, fsync, rename).
Result<void> WriteFileAtomic(const std::string& dir, const std::string& name, const std::string& text);
Result<std::string> ReadWholeFile(const std::string& path);
// rm -r of a container's directory (flat: files only).
void RemoveContainerDir(const std::string& dir);

std::string NowRfc3339();

}  // namespace cordon::oci
