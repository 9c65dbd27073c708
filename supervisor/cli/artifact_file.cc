#include "supervisor/cli/artifact_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/unique_fd.h"
#include "supervisor/evidence/artifact.h"

namespace cordon {

Result<std::string> ReadArtifactFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return Fail(errno, "--artifact " + path, "give the generated file's path, or --artifact-sha256 HEX");
  struct stat st{};
  if (::fstat(fd.Get(), &st) != 0) return Fail(errno, "--artifact " + path);
  if (!S_ISREG(st.st_mode)) return FailMsg("--artifact " + path + " is not a regular file", "give the generated file itself");
  if (static_cast<uint64_t>(st.st_size) > evlog::kMaxDeclaredArtifactBytes)
    return FailMsg("--artifact " + path + " holds " + std::to_string(st.st_size) + " bytes, more than " +
                       std::to_string(evlog::kMaxDeclaredArtifactBytes),
                   "declare it by its hash: --artifact-sha256 $(sha256sum " + path + " | cut -c1-64)");
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::read(fd.Get(), bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(errno, "--artifact " + path);
    if (n == 0) break;
    off += static_cast<size_t>(n);
  }
  bytes.resize(off);
  return bytes;
}

}  // namespace cordon
