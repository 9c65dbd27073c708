// supervisor/evidence/secret_values.cc: reading a secret binding's values (secret_values.h).
#include "supervisor/evidence/secret_values.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "supervisor/evidence/artifact.h"

namespace cordon::evlog {
namespace {

std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

void Add(std::string_view v, const std::string& what, SecretValues* out) {
  v = Trim(v);
  if (v.empty()) return;
  if (v.size() < 6) {
    out->notes.push_back(what + ": a value of " + std::to_string(v.size()) +
                         " bytes is too short to redact by value (6 or more); records may show it");
    return;
  }
  if (std::find(out->values.begin(), out->values.end(), v) == out->values.end()) out->values.emplace_back(v);
}

// Reads all of a regular file through `fd` (pread from 0), at most kSecretFileMaxBytes.
void ReadFd(int fd, const std::string& what, SecretValues* out) {
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    out->notes.push_back(what + ": not a regular file, not read for redaction");
    return;
  }
  if (static_cast<size_t>(st.st_size) > kSecretFileMaxBytes) {
    out->notes.push_back(what + ": " + std::to_string(st.st_size) + " bytes, more than a secret binding's file may hold (" +
                         std::to_string(kSecretFileMaxBytes) + "), not read for redaction");
    return;
  }
  std::string buf(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < buf.size()) {
    const ssize_t n = ::pread(fd, buf.data() + got, buf.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out->notes.push_back(what + ": read: " + std::strerror(errno) + ", not redacted by value");
      return;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  SecretValuesOf(buf, what, out);
}

void ReadDir(int dirfd, const std::string& what, SecretValues* out) {
  // A readable fd of the directory itself (the binding's may be O_PATH).
  auto self = OpenBeneath(dirfd, ".", RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
  if (!self) {
    out->notes.push_back(what + ": open: " + self.error().Message() + ", not redacted by value");
    return;
  }
  DIR* d = ::fdopendir(self->Get());
  if (d == nullptr) {
    out->notes.push_back(what + ": list: " + std::string(std::strerror(errno)) + ", not redacted by value");
    return;
  }
  (void)self->Release();  // the DIR owns it now
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;  // ., .., and Kubernetes' ..data (its files are linked at the top)
    names.emplace_back(e->d_name);
  }
  std::sort(names.begin(), names.end());  // the same files read first every time
  if (names.size() > kSecretDirMaxFiles) {
    out->notes.push_back(what + ": " + std::to_string(names.size()) + " entries, only the first " +
                         std::to_string(kSecretDirMaxFiles) + " are read for redaction");
    names.resize(kSecretDirMaxFiles);
  }
  for (const std::string& n : names) {
    auto fd = OpenBeneath(::dirfd(d), n, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
    if (!fd) continue;  // gone, or a link out of the directory
    struct stat st{};
    if (::fstat(fd->Get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;  // subdirectories are not read
    ReadFd(fd->Get(), what + " file " + n, out);
  }
  ::closedir(d);
}

}  // namespace

void SecretValuesOf(std::string_view content, const std::string& what, SecretValues* out) {
  Add(content, what, out);
  if (content.find('\n') == std::string_view::npos && content.find('=') == std::string_view::npos &&
      content.find(':') == std::string_view::npos)
    return;
  size_t pos = 0;
  while (pos <= content.size()) {
    size_t nl = content.find('\n', pos);
    if (nl == std::string_view::npos) nl = content.size();
    const std::string_view line = Trim(content.substr(pos, nl - pos));
    pos = nl + 1;
    if (line.empty() || line.front() == '#') continue;
    Add(line, what, out);
    // NAME=VALUE (NAME: VALUE): the value alone, as the task would use it.
    const size_t sep = line.find_first_of("=:");
    if (sep == std::string_view::npos || sep == 0) continue;
    const std::string_view name = Trim(line.substr(0, sep));
    if (!std::all_of(name.begin(), name.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
        }))
      continue;
    std::string_view value = Trim(line.substr(sep + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    Add(value, what, out);
  }
}

SecretValues ReadSecretBinding(const OpenBinding& b) {
  SecretValues out;
  if (!b.binding.secret || !b.fd) return out;
  const std::string what = "secret binding '" + b.binding.name + "'";
  if (b.binding.kind == Binding::Kind::kFile) ReadFd(b.fd.Get(), what, &out);
  if (b.binding.kind == Binding::Kind::kDir) ReadDir(b.fd.Get(), what, &out);
  return out;
}

SecretValues ReadSecretBindingAt(const Binding& b) {
  SecretValues out;
  if (!b.secret || b.from_caller() || b.source.empty()) return out;
  const std::string what = "secret binding '" + b.name + "' (" + b.source + ")";
  const int flags = O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (b.kind == Binding::Kind::kDir ? O_PATH | O_DIRECTORY : O_RDONLY);
  UniqueFd fd(::open(b.source.c_str(), flags));
  if (!fd) {
    out.notes.push_back(what + ": open: " + std::strerror(errno) + "; its values are read when a task opens it");
    return out;
  }
  if (b.kind == Binding::Kind::kFile) ReadFd(fd.Get(), what, &out);
  if (b.kind == Binding::Kind::kDir) ReadDir(fd.Get(), what, &out);
  return out;
}

}  // namespace cordon::evlog
