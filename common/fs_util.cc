#include "common/fs_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace cordon {

bool MkdirAll(const std::string& path, mode_t mode, mode_t parent_mode) {
  // Most parents exist already: try the whole path first, walk down only when one is missing.
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return true;
  if (errno != ENOENT) return false;
  for (size_t pos = 1; pos < path.size(); ++pos) {
    if (path[pos] != '/') continue;
    if (::mkdir(path.substr(0, pos).c_str(), parent_mode) < 0 && errno != EEXIST) return false;
  }
  return ::mkdir(path.c_str(), mode) == 0 || errno == EEXIST;
}

bool TouchFile(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0 && !MkdirAll(path.substr(0, slash), 0755)) return false;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444));
  return fd.Valid();
}

Result<UniqueFd> SealedMemfd(const char* name, std::string_view data) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return Fail(errno, std::string("memfd_create ") + name);
  for (size_t off = 0; off < data.size();) {
    ssize_t n = ::write(fd.Get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(errno, std::string("write memfd ") + name);
    off += static_cast<size_t>(n);
  }
  if (::fcntl(fd.Get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
    return Fail(errno, std::string("seal memfd ") + name);
  return fd;
}

Result<std::string> ReadFileToString(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Fail(errno, "open " + path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.Get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(errno, "read " + path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) return Fail(EFBIG, path + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  return out;
}

}  // namespace cordon
