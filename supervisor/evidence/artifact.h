// supervisor/evidence/artifact.h: the artifact hash of a task (docs/evidence.md "Artifact hash"):
// the SHA-256 of what the task runs, taken on the host before the task starts, and the optional
// artifact a client declares for generated code (Submit's `artifact`, `cordon run --artifact`).
//
// What is hashed, as the sandbox names it:
//   - the executable: argv[0], looked up in the task's PATH the way the shim's exec does (a name
//     with a '/' is taken as it is, relative to the working directory);
//   - scripts: every later argument that names a regular file lying in a mounted binding (the
//     working directory is one when a binding is mounted there).
// A sandbox path is mapped to the host through the binding mounted there (opened beneath its
// directory fd, never through a symlink out of it), else through the runtime the sandbox binds
// read-only from the host at the same path (/usr, /bin, /sbin, /lib*). Anything else (the
// sandbox's own tmpfs: /work without a binding, /tmp) holds nothing before the task starts; such
// an executable is listed under `unhashed` with the reason.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/bindings/grant.h"
#include "common/result.h"

namespace cordon::evlog {

inline constexpr size_t kMaxDeclaredArtifactBytes = 512u << 10;  // Submit's artifact.content

// The artifact a client declares: its bytes (hashed here) or only their SHA-256.
struct DeclaredArtifact {
  std::string sha256;         // lower-case hex, 64 characters
  std::optional<uint64_t> bytes;  // known when the bytes themselves were hashed
  std::string name;           // free-form, e.g. the generated file's name ("" = none)
  std::string hashed_by;      // "cordond", "cordon run" (the bytes were hashed there) or "client" (a hash was sent)
};

// Checks a declared artifact (proto Artifact or CLI flags): `content` and/or `sha256`. Refuses a
// malformed hash, a hash that does not match the content, or neither being given; the error
// names the field and what to send instead.
Result<DeclaredArtifact> DeclareArtifact(const std::optional<std::string>& content, const std::string& sha256,
                                         const std::string& name, const std::string& hashed_by);

struct HashedFile {
  std::string role;   // "executable" or "script"
  std::string path;   // as the sandbox names it (absolute)
  std::string named;  // as the command gave it (argv[i])
  std::string from;   // "runtime" or "binding <name>"
  std::string sha256;
  uint64_t bytes = 0;
};

struct ArtifactReport {
  std::vector<HashedFile> files;
  std::vector<std::pair<std::string, std::string>> unhashed;  // (argv[i], why)
  std::optional<DeclaredArtifact> declared;
};

// A cache of file hashes keyed by what identifies a file's content on the host (device, inode,
// size, mtime and ctime in ns): a file written since has a new ctime. Bounded; not thread-safe.
class FileHashCache {
 public:
  static constexpr size_t kMaxEntries = 512;
  // SHA-256 (hex) and size of the regular file open at `fd` (read with pread from offset 0).
  Result<std::pair<std::string, uint64_t>> Hash(int fd);
  size_t hits() const { return hits_; }

 private:
  using Key = std::tuple<dev_t, ino_t, off_t, int64_t, int64_t>;
  std::map<Key, std::string> map_;
  size_t hits_ = 0;
};

struct ArtifactQuery {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // K=V; PATH is read from here (default /usr/local/bin:/usr/bin:/bin)
  std::string cwd = "/work";
  const std::vector<OpenBinding>* bindings = nullptr;  // the sandbox's, as opened for it
  std::string host_root = "/";   // where the runtime paths are found on the host (tests; OCI images: not hashed)
};

// Hashes the executable and the scripts (see above). Never fails as a whole: what cannot be hashed
// is listed under `unhashed` with the reason. `cache` may be nullptr.
ArtifactReport HashArtifacts(const ArtifactQuery& q, FileHashCache* cache);

// openat2(dirfd, rel, O_RDONLY|O_NONBLOCK|O_CLOEXEC) with `resolve` (RESOLVE_BENEATH...).
Result<UniqueFd> OpenBeneath(int dirfd, const std::string& rel, uint64_t resolve);

// The evidence record's "artifact" object (docs/evidence.md): {"executed": [...], "unhashed":
// [...], "declared": {...}} with "matches" naming the executed files whose hash is the declared one.
nlohmann::json ArtifactJson(const ArtifactReport& r);

}  // namespace cordon::evlog
