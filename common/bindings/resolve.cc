#include "common/bindings/resolve.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace cordon::bindings {
namespace {

int KindError(const struct stat& st, Kind kind) {
  if (kind == Kind::kDirectory && !S_ISDIR(st.st_mode)) return ENOTDIR;
  if (kind == Kind::kRegular && !S_ISREG(st.st_mode)) return S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
  return 0;
}

}  // namespace

Result<Identity> IdentityOf(int fd, Kind kind) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return Fail(errno, "fstat");
  if (int err = KindError(st, kind)) return Fail(err, "not of the declared type");
  return Identity{st.st_dev, st.st_ino};
}

Result<Resolved> OpenVerified(const char* path, int flags, Kind kind, const Identity* expect) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC | (kind == Kind::kDirectory ? O_DIRECTORY : 0));
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  Resolved r;
  r.fd.Reset(static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how)));
  if (!r.fd) return Fail(errno, std::string("open ") + path + " without symlinks");
  struct stat st;
  if (::fstat(r.fd.Get(), &st) < 0) return Fail(errno, std::string("fstat ") + path);
  if (int err = KindError(st, kind))
    return Fail(err, std::string(path) + (kind == Kind::kRegular ? " is not a regular file" : " is not a directory"));
  r.id = Identity{st.st_dev, st.st_ino};
  if (expect != nullptr && !(r.id == *expect))
    return Fail(ESTALE, std::string(path) + " is not the inode the supervisor opened");
  return r;
}

}  // namespace cordon::bindings
