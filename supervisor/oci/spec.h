// supervisor/oci/spec.h: an OCI bundle's config.json (runtime-spec 1.x), read and checked against
// what a Cordon sandbox gives (docs/kubernetes.md "What a pod can ask"). What Cordon will not do is
// refused here, at `create`, by an error naming the field; what it provides its own way (its /proc,
// /dev, tmpfs, generated /etc files) is accepted and listed in `notes` for the evidence.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace cordon::oci {

struct ReadOnlyMount {
  std::string source;  // host path
  std::string target;  // inside the container
};

struct OciSpec {
  std::string oci_version;
  std::string root_path;  // absolute (resolved against the bundle)
  bool terminal = false;
  std::vector<std::string> args, env;
  std::string cwd = "/";
  uint32_t uid = 0, gid = 0;
  std::string hostname;
  std::optional<uint64_t> nofile;                  // process.rlimits RLIMIT_NOFILE (hard)
  std::optional<uint64_t> memory_bytes, pids;      // linux.resources.memory.limit, .pids.limit
  std::optional<std::string> seccomp_json;         // linux.seccomp, as a profile for Cordon's compiler
  std::vector<ReadOnlyMount> mounts;               // bind mounts marked "ro"
  std::vector<std::string> capabilities;           // asked for (bounding): never granted, recorded
  std::map<std::string, std::string> annotations;  // org.cordon.policy names a Cordon policy
  std::vector<std::string> notes;                  // accepted but provided Cordon's way, for the evidence
};

inline constexpr const char* kPolicyAnnotation = "org.cordon.policy";

// Parses `text` (the bundle's config.json) and checks it. `bundle` resolves a relative root.path.
// Errors name the field by its JSON path ("linux.namespaces[2].path: ...") and say what to do.
Result<OciSpec> ParseOciSpec(std::string_view text, const std::string& bundle);

// Capabilities that only a privileged container asks for: a config that wants one is refused.
bool IsPrivilegedCapability(std::string_view cap);

}  // namespace cordon::oci
