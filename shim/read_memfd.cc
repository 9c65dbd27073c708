#include "shim/read_memfd.h"

#include <sys/stat.h>
#include <unistd.h>

namespace cordon::shim {

bool ReadMemfd(int fd, std::vector<uint8_t>* out, size_t max, SetupStep step, const char* what, Failure* f) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return SetFailure(f, step, errno, "fstat %s", what);
  if (st.st_size < 0 || static_cast<size_t>(st.st_size) > max)
    return SetFailure(f, step, EMSGSIZE, "%s is %lld bytes, limit %zu", what, static_cast<long long>(st.st_size), max);
  out->resize(static_cast<size_t>(st.st_size));
  size_t off = 0;
  while (off < out->size()) {
    ssize_t n = ::pread(fd, out->data() + off, out->size() - off, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return SetFailure(f, step, n < 0 ? errno : EIO, "read %s", what);
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace cordon::shim
