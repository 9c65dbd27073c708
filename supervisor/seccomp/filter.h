// supervisor/seccomp/filter.h: a policy's seccomp profile, compiled to BPF once and handed to shims
// as a sealed memfd. Compiled filters are cached on disk by a key over the profile bytes, the
// compile options and the libseccomp version, so a one-shot `cordon run` pays ~0.1 ms to read the
// cache instead of ~2 ms to compile.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/fs_util.h"  // ReadFileToString, which callers of this header use
#include "common/result.h"
#include "common/unique_fd.h"

namespace cordon {
namespace seccomp {
struct Profile;
}

struct SeccompFilter {
  std::string name;            // as the policy names it: "default", "strict" or a path
  std::string source;          // the file it was read from, or "<embedded default>"
  std::string profile_sha256;  // of the profile's bytes
  std::string bpf_sha256;      // of the BPF program the shim installs
  size_t bpf_bytes = 0;
  uint32_t filter_flags = 0;   // SECCOMP_FILTER_FLAG_* for seccomp(2), NEW_LISTENER included
  bool notify = false;         // denials reach the supervisor on a listener fd (user notification)
  bool from_cache = false;
  // The filter allows recvfrom and exit_group whatever their arguments, so a held task (kStartHold)
  // can load it before it waits for kGo: the load then overlaps the decision's fdatasync.
  bool allows_held_wait = false;
  // The filter allows clock_gettime whatever the arguments, so the shim may stamp the exec step
  // after loading it (where the vDSO falls back to the system call). Otherwise that stamp is taken
  // before the load.
  bool allows_clock = false;
  std::string text;            // the profile's bytes, parsed again only when a denial needs Evaluate()
  bool strict = false;
  UniqueFd memfd;              // sealed (no write, grow, shrink), read by the shim
  std::vector<std::string> warnings;

  // The profile as parsed, for Evaluate() on notifications: parsed once, on first use, from any
  // thread (the seccomp notifier's), then shared by every task that uses this filter. nullptr if
  // the text no longer parses (it did when the filter was compiled).
  std::shared_ptr<const seccomp::Profile> ParsedProfile() const;

 private:
  struct Parsed {
    std::once_flag once;
    std::shared_ptr<const seccomp::Profile> profile;
  };
  std::shared_ptr<Parsed> parsed_ = std::make_shared<Parsed>();
};

struct FilterOptions {
  std::string data_dir;    // .../share/cordon: shipped profiles live in data_dir/seccomp-profiles
  std::string cache_dir;   // empty: /var/cache/cordon/bpf as root, $XDG_CACHE_HOME/cordon/bpf otherwise
  bool use_cache = true;
  bool strict = false;     // unknown syscalls and duplicate rules are errors instead of warnings
  bool notify = true;      // compile denials and kill rules as SECCOMP_RET_USER_NOTIF (evidence)
};

// Resolves `name_or_path` (a name is looked up in /etc/cordon/seccomp-profiles, then the shipped
// profiles; "default" falls back to the embedded profile), compiles or loads it from the cache.
Result<SeccompFilter> LoadSeccompFilter(const std::string& name_or_path, const FilterOptions& opts);

// Finds a profile by name or path the way LoadSeccompFilter does; returns {source, bytes}.
Result<std::pair<std::string, std::string>> ReadSeccompProfile(const std::string& name_or_path,
                                                               const std::string& data_dir);

}  // namespace cordon
