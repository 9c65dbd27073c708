// common/bindings/resolve.h: the one verified open of a binding's host path, used by both ends of
// the bindings module (docs/bindings.md): the supervisor when it grants a binding
// (common/bindings/grant.cc) and the shim when it re-opens the path to mount it
// (common/bindings/receive.cc). Exception-free and parser-free: the shim links it.
#pragma once

#include <sys/types.h>

#include "common/result.h"
#include "common/unique_fd.h"

namespace cordon::bindings {

// What the opened object must be.
enum class Kind { kAny, kDirectory, kRegular };

// Device and inode of an opened binding: what the supervisor recorded, what the shim must find.
struct Identity {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const Identity&) const = default;
};

struct Resolved {
  UniqueFd fd;
  Identity id;
};

// Opens `path` with `flags` | O_CLOEXEC through openat2(RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS),
// so a symlink anywhere in the path is refused instead of followed, then fstat()s what it opened:
// it must be of `kind`, and, when `expect` is given, the very inode `expect` names. Errors carry
// the errno a caller words its message from: ELOOP (a symlink), ENOENT, ENOTDIR or EACCES from
// the open, EISDIR/ENOTDIR when the type is wrong (kRegular/kDirectory), ESTALE for another inode.
Result<Resolved> OpenVerified(const char* path, int flags, Kind kind, const Identity* expect = nullptr);

// The same for an fd already open: its identity and type (for a caller's --fd).
Result<Identity> IdentityOf(int fd, Kind kind);

}  // namespace cordon::bindings
