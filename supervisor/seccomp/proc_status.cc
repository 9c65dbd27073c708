// supervisor/seccomp/proc_status.cc: /proc/<tid>/status, the fields the kill and trap paths use.
#include "supervisor/seccomp/proc_status.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <string>

#include "common/unique_fd.h"

namespace cordon::seccomp {
namespace {

// The value after "Name:\t" on its own line, or empty.
std::string_view Field(std::string_view text, std::string_view name) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.size() > name.size() && line.starts_with(name) && line[name.size()] == ':') {
      std::string_view v = line.substr(name.size() + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      return v;
    }
    pos = end + 1;
  }
  return {};
}

template <class T>
bool Number(std::string_view v, int base, T* out) {
  if (v.empty()) return false;
  auto r = std::from_chars(v.data(), v.data() + v.size(), *out, base);
  return r.ec == std::errc() && r.ptr == v.data() + v.size();
}

}  // namespace

Result<ThreadStatus> ParseThreadStatus(std::string_view text) {
  ThreadStatus s;
  long tgid = 0;
  if (!Number(Field(text, "Tgid"), 10, &tgid) || tgid <= 0) return FailMsg("/proc status: no Tgid");
  s.tgid = static_cast<pid_t>(tgid);
  if (!Number(Field(text, "Threads"), 10, &s.threads)) return FailMsg("/proc status: no Threads");
  if (!Number(Field(text, "SigBlk"), 16, &s.sig_blk)) return FailMsg("/proc status: no SigBlk");
  if (!Number(Field(text, "SigIgn"), 16, &s.sig_ign)) return FailMsg("/proc status: no SigIgn");
  if (!Number(Field(text, "SigCgt"), 16, &s.sig_cgt)) return FailMsg("/proc status: no SigCgt");
  return s;
}

Result<ThreadStatus> ReadThreadStatus(pid_t tid) {
  std::string path = "/proc/" + std::to_string(tid) + "/status";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Fail(errno, "open " + path);
  char buf[4096];
  size_t len = 0;
  for (;;) {
    ssize_t n = ::read(fd.Get(), buf + len, sizeof buf - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(errno, "read " + path);
    if (n == 0 || (len += static_cast<size_t>(n)) == sizeof buf) break;
  }
  return ParseThreadStatus(std::string_view(buf, len));
}

}  // namespace cordon::seccomp
