#include "supervisor/daemon/procfs.h"

#include <charconv>
#include <string>

#include "supervisor/seccomp_filter.h"

namespace cordon::daemon {

std::optional<uint64_t> ParseStatStartTime(std::string_view s) {
  size_t close = s.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  // After ") " comes field 3 (state); starttime is field 22, i.e. the 20th field from here.
  size_t pos = close + 1;
  for (int field = 3; field <= 22; ++field) {
    while (pos < s.size() && s[pos] == ' ') ++pos;
    size_t end = s.find(' ', pos);
    if (end == std::string_view::npos) end = s.size();
    if (pos >= end) return std::nullopt;
    if (field == 22) {
      uint64_t v = 0;
      std::string_view tok = s.substr(pos, end - pos);
      while (!tok.empty() && (tok.back() == '\n')) tok.remove_suffix(1);
      auto r = std::from_chars(tok.data(), tok.data() + tok.size(), v);
      if (r.ec != std::errc() || r.ptr != tok.data() + tok.size()) return std::nullopt;
      return v;
    }
    pos = end;
  }
  return std::nullopt;
}

std::optional<pid_t> ParsePidfdFdinfoPid(std::string_view text) {
  size_t at = text.find("\nPid:");
  if (at == std::string_view::npos) {
    if (!text.starts_with("Pid:")) return std::nullopt;
    at = 0;
  } else {
    at += 1;
  }
  at += 4;
  while (at < text.size() && (text[at] == ' ' || text[at] == '\t')) ++at;
  int v = 0;
  auto r = std::from_chars(text.data() + at, text.data() + text.size(), v);
  if (r.ec != std::errc() || v <= 0) return std::nullopt;  // -1: the process is gone and reaped
  return static_cast<pid_t>(v);
}

Result<uint64_t> ReadStartTime(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  CORDON_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 4096));
  auto v = ParseStatStartTime(text);
  if (!v) return Fail(EINVAL, "parse " + path);
  return *v;
}

Result<pid_t> PidOfPidfd(int pidfd) {
  const std::string path = "/proc/self/fdinfo/" + std::to_string(pidfd);
  CORDON_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 4096));
  auto v = ParsePidfdFdinfoPid(text);
  if (!v) return Fail(ESRCH, "no Pid: line in " + path);
  return *v;
}

}  // namespace cordon::daemon
