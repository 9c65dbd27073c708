// supervisor/task/rootfs.h: what the sandbox's filesystem holds, decided on the host side. The shim only
// applies the list (common/protocol.h MountEntry); names, NSS data and symlinks are resolved here.
#pragma once

#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/result.h"
#include "supervisor/policy.h"

namespace cordon {

struct RootfsOptions {
  uint32_t task_uid = 1000, task_gid = 1000;
  std::string user_name = "cordon";
  std::string hostname = "cordon";
  std::string host_root = "/";  // for tests: resolve host paths below this directory
  // An OCI bundle's root (cordon-runc, supervisor/oci/): its top-level entries and those of its
  // /etc replace the host's runtime paths, read-only; the generated /etc files stay Cordon's.
  std::string image_root;
  std::string trust_dir;  // its files copied to /etc/cordon/tls (TaskRequest::trust_dir); "" = none
};

// The runtime every task gets: /usr and the /bin, /sbin, /lib* entries (recreated as symlinks where
// the host has merged-/usr links), the /etc files dynamic linking, TLS and name lookups need, and
// generated passwd/group/hosts/hostname/resolv.conf/nsswitch.conf. Then the policy's extra `mounts`,
// each of which must exist (an error names the path otherwise).
Result<std::vector<proto::MountEntry>> BuildRootfs(const Policy& policy, const RootfsOptions& opts);

}  // namespace cordon
