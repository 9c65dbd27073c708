#include "common/procfs.h"

#include <charconv>
#include <string>

#include "common/fs_util.h"
#include "common/proc_stat.h"

namespace cordon {

std::optional<uint64_t> ParseStatStartTime(std::string_view s) { return ProcStatU64(s, 22); }

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

}  // namespace cordon
