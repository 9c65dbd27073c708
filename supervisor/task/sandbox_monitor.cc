#include "supervisor/task/sandbox_monitor.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/proc_stat.h"
#include "common/unique_fd.h"

namespace cordon {
namespace {

// Reads a small /proc file at `dir_fd`/`name` into `buf`; false if it cannot be opened or read.
bool ReadSmall(int dir_fd, const char* name, std::string* buf) {
  UniqueFd fd(::openat(dir_fd, name, O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  buf->resize(4096);
  size_t off = 0;
  for (;;) {
    ssize_t n = ::read(fd.Get(), buf->data() + off, buf->size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    off += static_cast<size_t>(n);
    if (off == buf->size()) buf->resize(buf->size() * 2);
  }
  buf->resize(off);
  return true;
}

bool ParseU64(std::string_view s, size_t* pos, uint64_t* out) {
  while (*pos < s.size() && s[*pos] == ' ') ++*pos;
  size_t start = *pos;
  uint64_t v = 0;
  while (*pos < s.size() && s[*pos] >= '0' && s[*pos] <= '9') v = v * 10 + static_cast<uint64_t>(s[(*pos)++] - '0');
  if (*pos == start) return false;
  *out = v;
  return true;
}

void AppendChildrenOf(int dir_fd, const char* rel, std::vector<pid_t>* out, std::string* buf) {
  if (!ReadSmall(dir_fd, rel, buf)) return;
  size_t pos = 0;
  uint64_t child;
  while (ParseU64(*buf, &pos, &child)) out->push_back(static_cast<pid_t>(child));
}

// Children of every thread of the process whose /proc directory is `pid_fd`. A single-threaded
// process (`pid`, `threads` == 1) has one children file: no listing of its task directory.
void AppendChildren(int pid_fd, pid_t pid, uint64_t threads, std::vector<pid_t>* out, std::string* buf) {
  if (threads == 1) {
    const std::string rel = "task/" + std::to_string(pid) + "/children";
    AppendChildrenOf(pid_fd, rel.c_str(), out, buf);
    return;
  }
  UniqueFd task(::openat(pid_fd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!task) return;
  DIR* d = ::fdopendir(task.Get());
  if (d == nullptr) return;
  (void)task.Release();  // the DIR owns it now
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string rel = std::string(e->d_name) + "/children";
    AppendChildrenOf(::dirfd(d), rel.c_str(), out, buf);
  }
  ::closedir(d);
}

}  // namespace

std::optional<ProcStatTimes> ParseProcStatTimes(std::string_view stat) {
  // utime, stime, cutime, cstime are fields 14-17, num_threads 20, rss 24 (proc(5)). cutime and
  // cstime are signed in the kernel's format (long); never negative in practice.
  uint64_t v[4] = {};
  for (int i = 0; i < 4; ++i) {
    auto f = ProcStatU64(stat, 14 + i);
    if (!f) return std::nullopt;
    v[i] = *f;
  }
  auto threads = ProcStatU64(stat, 20), rss = ProcStatU64(stat, 24);
  if (!threads || !rss) return std::nullopt;
  return ProcStatTimes{v[0] + v[1], v[2] + v[3], *threads, *rss};
}

std::optional<uint64_t> ParseStatmResidentPages(std::string_view statm) {
  size_t pos = 0;
  uint64_t size, resident;
  if (!ParseU64(statm, &pos, &size) || !ParseU64(statm, &pos, &resident)) return std::nullopt;
  return resident;
}

std::optional<uint64_t> ParseSmapsRollupPssBytes(std::string_view rollup) {
  for (size_t pos = 0; pos < rollup.size();) {
    size_t end = rollup.find('\n', pos);
    if (end == std::string_view::npos) end = rollup.size();
    std::string_view line = rollup.substr(pos, end - pos);
    if (line.starts_with("Pss:")) {
      size_t p = 4;
      uint64_t kib;
      if (!ParseU64(line, &p, &kib)) return std::nullopt;
      return kib * 1024;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

bool SandboxMonitorAvailable() {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/children", static_cast<int>(::gettid()));
  return ::access(path, R_OK) == 0;
}

Result<SandboxSample> SampleSandbox(pid_t shim_pid, uint64_t pss_above) {
  static const uint64_t kPage = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  static const uint64_t kTick = static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  std::string buf;
  std::vector<pid_t> todo;
  {
    UniqueFd shim(::open(("/proc/" + std::to_string(shim_pid)).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!shim) return Fail(errno, "open /proc/" + std::to_string(shim_pid));
    // The outer shim is single-threaded (shim/main.cc): its one children file names PID 1.
    AppendChildren(shim.Get(), shim_pid, 1, &todo, &buf);
  }
  SandboxSample s;
  uint64_t ticks = 0;
  struct Seen {
    pid_t pid;
    uint64_t rss;
  };
  std::vector<Seen> seen;
  // Bounded: a fork bomb cannot make one sample unbounded (pids/RLIMIT_NPROC bound it anyway).
  // Per process: its stat (CPU, threads, RSS) and its children file, by path: the fewest system
  // calls, which is what a sample costs on a paravirtualised host (docs/cgroups.md).
  for (size_t i = 0; i < todo.size() && i < 100000; ++i) {
    const std::string dir = "/proc/" + std::to_string(todo[i]);
    if (!ReadSmall(AT_FDCWD, (dir + "/stat").c_str(), &buf)) continue;  // exited meanwhile
    auto t = ParseProcStatTimes(buf);
    if (!t) continue;
    ticks += t->self_ticks + t->children_ticks;
    const uint64_t rss = t->rss_pages * kPage;
    s.memory_bytes += rss;
    seen.push_back({todo[i], rss});
    ++s.processes;
    if (t->threads == 1) {
      AppendChildrenOf(AT_FDCWD, (dir + "/task/" + std::to_string(todo[i]) + "/children").c_str(), &todo, &buf);
    } else {
      UniqueFd pid(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (pid) AppendChildren(pid.Get(), todo[i], t->threads, &todo, &buf);
    }
  }
  s.cpu_usec = kTick ? ticks * 1000000 / kTick : 0;
  if (pss_above && s.memory_bytes > pss_above) {
    uint64_t pss_total = 0;
    for (const Seen& p : seen) {
      std::string path = "/proc/" + std::to_string(p.pid) + "/smaps_rollup";
      std::optional<uint64_t> pss;
      if (ReadSmall(AT_FDCWD, path.c_str(), &buf)) pss = ParseSmapsRollupPssBytes(buf);
      pss_total += pss ? *pss : p.rss;
    }
    s.memory_bytes = pss_total;
    s.proportional = true;
  }
  return s;
}

}  // namespace cordon
