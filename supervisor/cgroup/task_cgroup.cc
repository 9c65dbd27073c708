// supervisor/cgroup/task_cgroup.cc: per-task cgroup lifecycle. The hot path is Create + limits +
// ReadUsage + Remove; everything layout-related was decided once in DetectLayout/PrepareBase, and
// files are opened relative to the task directories' fds, so no path walk per figure.
#include "supervisor/cgroup/task_cgroup.h"

#include "common/procfs.h"

#include <dirent.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>
#include <thread>
#include <utility>

namespace cordon::cgroup {
namespace {

using Clock = std::chrono::steady_clock;

// Reads dir/name; nullopt when the file does not exist (older kernel, controller not enabled).
Result<std::optional<std::string>> ReadOptional(int dirfd, const char* name) {
  auto r = fs::ReadFileAt(dirfd, name, fs::ReadMode::kSingleShow);
  if (!r) {
    if (r.error().err == ENOENT) return std::optional<std::string>();
    return std::unexpected(std::move(r).error());
  }
  return std::optional<std::string>(std::move(*r));
}

// Writes dir/name; a missing file is fine when the setting is optional (memory.swap.max without
// swap accounting, memory.memsw.* with swapaccount=0, memory.oom.group before 4.19).
Result<void> WriteOptional(int dirfd, const char* name, std::string_view text) {
  auto r = fs::WriteFileAt(dirfd, name, text);
  if (!r && r.error().err == ENOENT) return {};
  return r;
}

// Figure from a single-value file (memory.peak, pids.current, …).
Result<void> SingleFigure(int dirfd, const std::string& dir, const char* name, Figure& out, const char* why_missing) {
  CORDON_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadOptional(dirfd, name));
  const std::string path = fs::Join(dir, name);
  if (!text) {
    out.unavailable = why_missing;
    return {};
  }
  CORDON_ASSIGN_OR_RETURN(out.value, ParseSingleValue(*text, path));
  out.source = path;
  return {};
}

// pids.current, for the best-effort peak of a kernel without pids.peak: `seen_max` keeps the
// largest value read. Used by ReadUsage and by the running CPU check (ReadCpu).
Result<Figure> SamplePidsCurrent(int dirfd, const std::string& dir, uint64_t& seen_max) {
  Figure cur;
  CORDON_TRY(SingleFigure(dirfd, dir, "pids.current", cur, "pids.current missing"));
  if (cur.value) seen_max = std::max(seen_max, *cur.value);
  return cur;
}

void PressureFrom(int dirfd, const std::string& dir, const char* name, PressureFigure& out) {
  // PSI files exist in every cgroup2 directory when CONFIG_PSI=y, but reading them fails with
  // EOPNOTSUPP when the kernel was booted with psi=0: report unavailable, not an error.
  auto text = fs::ReadFileAt(dirfd, name, fs::ReadMode::kSingleShow);
  if (!text) {
    out.unavailable = text.error().Message();
    return;
  }
  const std::string path = fs::Join(dir, name);
  auto p = ParsePressure(*text, path);
  if (!p) {
    out.unavailable = p.error().Message();
    return;
  }
  out.value = *p;
  out.source = path;
}

void Unavailable(Figure& f, const char* why) {
  f.value.reset();
  f.unavailable = why;
}

bool ValidTaskId(const std::string& id) {
  return !id.empty() && id != "." && id != ".." && id.find('/') == std::string::npos && id.size() < 200;
}

// SIGKILLs every pid listed in dir/cgroup.procs. Returns how many were listed.
Result<size_t> SignalProcs(int dirfd, const std::string& dir) {
  CORDON_ASSIGN_OR_RETURN(std::string text, fs::ReadFileAt(dirfd, "cgroup.procs"));
  CORDON_ASSIGN_OR_RETURN(std::vector<int> pids, ParsePidList(text, fs::Join(dir, "cgroup.procs")));
  // A pid read here can only be reused after its process was reaped; our task processes are
  // reaped by their parents inside the task (or by us for the first one, which is not reaped
  // before Kill() returns), so the window is the usual kill-by-pid race the v1 API leaves open.
  for (int pid : pids) ::kill(pid, SIGKILL);
  return pids.size();
}

void Nap() { std::this_thread::sleep_for(std::chrono::microseconds(500)); }

}  // namespace

TaskCgroup::TaskCgroup(TaskCgroup&& o) noexcept
    : v2_(std::exchange(o.v2_, Dir{})),
      v1_(std::exchange(o.v1_, {})),
      memory_v1_(o.memory_v1_),
      pids_v1_(o.pids_v1_),
      io_v1_(o.io_v1_),
      cpuacct_v1_(o.cpuacct_v1_),
      freezer_v1_(o.freezer_v1_),
      v2_memory_(o.v2_memory_),
      v2_pids_(o.v2_pids_),
      v2_io_(o.v2_io_),
      v2_has_kill_(o.v2_has_kill_),
      pids_seen_max_(o.pids_seen_max_) {}

TaskCgroup& TaskCgroup::operator=(TaskCgroup&& o) noexcept {
  if (this != &o) {
    (void)Remove();
    v2_ = std::exchange(o.v2_, Dir{});
    v1_ = std::exchange(o.v1_, {});
    memory_v1_ = o.memory_v1_;
    pids_v1_ = o.pids_v1_;
    io_v1_ = o.io_v1_;
    cpuacct_v1_ = o.cpuacct_v1_;
    freezer_v1_ = o.freezer_v1_;
    v2_memory_ = o.v2_memory_;
    v2_pids_ = o.v2_pids_;
    v2_io_ = o.v2_io_;
    v2_has_kill_ = o.v2_has_kill_;
    pids_seen_max_ = o.pids_seen_max_;
  }
  return *this;
}

TaskCgroup::~TaskCgroup() { (void)Remove(); }

Result<TaskCgroup> TaskCgroup::Adopt(const Layout& layout, const std::string& task_id) {
  return Open(layout, task_id, false);
}

Result<TaskCgroup> TaskCgroup::Open(const Layout& layout, const std::string& task_id, bool create) {
  if (!layout.no_cgroup_reason.empty()) return FailMsg("no cgroup for tasks: " + layout.no_cgroup_reason);
  if (!ValidTaskId(task_id)) return Fail(EINVAL, "task cgroup name \"" + task_id + "\"", "use one path component");

  TaskCgroup t;
  auto make = [&](const std::string& base, Dir& d) -> Result<void> {
    std::string path = fs::Join(base, task_id);
    if (create && ::mkdir(path.c_str(), 0755) != 0) return Fail(errno, "mkdir " + path);
    if (create) {
      const std::string mark = OwnerMark();
      (void)::setxattr(path.c_str(), kOwnerXattr, mark.data(), mark.size(), 0);  // best effort (see header)
    }
    // Adopting: a hierarchy where the directory is already gone is simply not used.
    if (!create && ::access(path.c_str(), F_OK) != 0) return {};
    d.path = std::move(path);  // from here on Remove() owns it
    d.fd.Reset(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d.fd) return Fail(errno, "open " + d.path);
    return {};
  };

  if (!layout.v2_base_dir.empty()) {
    CORDON_TRY(make(layout.v2_base_dir, t.v2_));
    t.v2_memory_ = layout.Of(Controller::kMemory).where == Where::kV2 && layout.V2TaskHas("memory");
    t.v2_pids_ = layout.Of(Controller::kPids).where == Where::kV2 && layout.V2TaskHas("pids");
    t.v2_io_ = layout.Of(Controller::kIo).where == Where::kV2 && layout.V2TaskHas("io");
    t.v2_has_kill_ = layout.v2_has_kill;
  }
  const std::vector<int> used = layout.UsedV1();
  t.v1_.reserve(used.size());
  for (int idx : used) {
    Dir& d = t.v1_.emplace_back();
    CORDON_TRY(make(layout.v1[static_cast<size_t>(idx)].base_dir, d));
    const int pos = static_cast<int>(t.v1_.size()) - 1;
    auto here = [&](Controller c) { return layout.Of(c).where == Where::kV1 && layout.Of(c).v1_index == idx; };
    if (here(Controller::kMemory)) t.memory_v1_ = pos;
    if (here(Controller::kPids)) t.pids_v1_ = pos;
    if (here(Controller::kIo)) t.io_v1_ = pos;
    const std::vector<std::string>& names = layout.v1[static_cast<size_t>(idx)].controllers;
    if (t.v2_.path.empty() && std::find(names.begin(), names.end(), "cpuacct") != names.end()) t.cpuacct_v1_ = pos;
    if (layout.v1_freezer_index == idx) t.freezer_v1_ = pos;
  }
  return t;
}

Result<TaskCgroup> TaskCgroup::Create(const Layout& layout, const std::string& task_id, const Limits& limits) {
  CORDON_ASSIGN_OR_RETURN(TaskCgroup t, Open(layout, task_id, true));
  if (limits.memory_bytes) {
    const std::string v = std::to_string(*limits.memory_bytes);
    if (t.v2_memory_) {
      CORDON_TRY(fs::WriteFileAt(t.v2_.fd.Get(), "memory.max", v));
      // Swap would let the task exceed memory.max without an OOM kill; 0 keeps the limit honest.
      CORDON_TRY(WriteOptional(t.v2_.fd.Get(), "memory.swap.max", "0"));
      if (limits.oom_group) CORDON_TRY(WriteOptional(t.v2_.fd.Get(), "memory.oom.group", "1"));
    } else if (t.memory_v1_ >= 0) {
      const int fd = t.v1_[static_cast<size_t>(t.memory_v1_)].fd.Get();
      CORDON_TRY(fs::WriteFileAt(fd, "memory.limit_in_bytes", v));
      // memsw (memory+swap) must be >= limit_in_bytes, so it is written second; equal = no swap.
      // memory.oom_control keeps its default oom_kill_disable=0: the kernel kills inside the
      // cgroup instead of pausing the task at the limit.
      CORDON_TRY(WriteOptional(fd, "memory.memsw.limit_in_bytes", v));
    } else {
      return FailMsg("memory limit requested but no memory controller is available to Cordon",
                     "on v2, enable memory in the delegated cgroup; otherwise the caller uses RLIMIT_AS");
    }
  }
  if (limits.pids) {
    const std::string v = std::to_string(*limits.pids);
    if (t.v2_pids_) {
      CORDON_TRY(fs::WriteFileAt(t.v2_.fd.Get(), "pids.max", v));
    } else if (t.pids_v1_ >= 0) {
      CORDON_TRY(fs::WriteFileAt(t.v1_[static_cast<size_t>(t.pids_v1_)].fd.Get(), "pids.max", v));
    } else {
      return FailMsg("pids limit requested but no pids controller is available to Cordon",
                     "the caller uses RLIMIT_NPROC instead");
    }
  }
  return t;
}

int TaskCgroup::V2DirFd() const { return v2_.fd.Get(); }

std::vector<std::string> TaskCgroup::Dirs() const {
  std::vector<std::string> out;
  if (!v2_.path.empty()) out.push_back(v2_.path);
  for (const Dir& d : v1_) {
    if (!d.path.empty()) out.push_back(d.path);
  }
  return out;
}

Result<void> TaskCgroup::AttachPid(pid_t pid, V2Entry entry) {
  const std::string v = std::to_string(pid);
  for (const Dir& d : v1_) {
    auto r = fs::WriteFileAt(d.fd.Get(), "cgroup.procs", v);
    if (!r) return Wrap(r.error(), d.path);
  }
  if (v2_.fd && entry == V2Entry::kWriteProcs) {
    auto r = fs::WriteFileAt(v2_.fd.Get(), "cgroup.procs", v);
    if (!r) return Wrap(r.error(), v2_.path);
  }
  return {};
}

Result<void> TaskCgroup::ReadCpuInto(Usage& u) const {
  const Dir* acct = cpuacct_v1_ >= 0 ? &v1_[static_cast<size_t>(cpuacct_v1_)] : nullptr;
  // CPU: v2 cpu.stat is core (no cpu controller needed), so it works on hybrid hosts too.
  if (v2_.fd) {
    const std::string path = fs::Join(v2_.path, "cpu.stat");
    CORDON_ASSIGN_OR_RETURN(std::string text, fs::ReadFileAt(v2_.fd.Get(), "cpu.stat", fs::ReadMode::kSingleShow));
    CORDON_ASSIGN_OR_RETURN(CpuStat s, ParseCpuStat(text, path));
    u.cpu_user_usec = {s.user_usec, path, {}};
    u.cpu_system_usec = {s.system_usec, path, {}};
  } else if (acct) {
    Figure user_ns;
    Figure sys_ns;
    CORDON_TRY(SingleFigure(acct->fd.Get(), acct->path, "cpuacct.usage_user", user_ns, "missing"));
    CORDON_TRY(SingleFigure(acct->fd.Get(), acct->path, "cpuacct.usage_sys", sys_ns, "missing"));
    if (user_ns.value && sys_ns.value) {
      u.cpu_user_usec = {*user_ns.value / 1000, user_ns.source, {}};
      u.cpu_system_usec = {*sys_ns.value / 1000, sys_ns.source, {}};
    } else {
      // COMPAT(kernel 4.6): cpuacct.usage_user/usage_sys; before that only tick-based cpuacct.stat.
      static const long clk_tck = ::sysconf(_SC_CLK_TCK);
      const std::string path = fs::Join(acct->path, "cpuacct.stat");
      CORDON_ASSIGN_OR_RETURN(std::string text, fs::ReadFileAt(acct->fd.Get(), "cpuacct.stat", fs::ReadMode::kSingleShow));
      CORDON_ASSIGN_OR_RETURN(CpuTimes t, ParseCpuacctStat(text, path, clk_tck));
      u.cpu_user_usec = {t.user_usec, path, {}};
      u.cpu_system_usec = {t.system_usec, path, {}};
    }
  } else {
    Unavailable(u.cpu_user_usec, "no cgroup2 tree and no cpuacct hierarchy");
    Unavailable(u.cpu_system_usec, "no cgroup2 tree and no cpuacct hierarchy");
  }

  return {};
}

Result<Usage> TaskCgroup::ReadCpu() const {
  Usage u;
  CORDON_TRY(ReadCpuInto(u));
  // Without pids.peak the peak is the largest pids.current seen: a running check samples it too.
  const Dir* pids = pids_v1_ >= 0 ? &v1_[static_cast<size_t>(pids_v1_)] : nullptr;
  if (v2_pids_ || pids) {
    const int fd = v2_pids_ ? v2_.fd.Get() : pids->fd.Get();
    // Whether pids.peak exists is the kernel's: asked once per process.
    static std::atomic<int> has_peak{-1};
    if (has_peak.load(std::memory_order_relaxed) < 0)
      has_peak.store(::faccessat(fd, "pids.peak", F_OK, 0) == 0 ? 1 : 0, std::memory_order_relaxed);
    if (has_peak.load(std::memory_order_relaxed) == 0)
      CORDON_TRY(SamplePidsCurrent(fd, v2_pids_ ? v2_.path : pids->path, pids_seen_max_));
  }
  return u;
}

Result<std::optional<uint64_t>> TaskCgroup::ReadMemoryCurrent() const {
  Figure f;
  if (v2_memory_) {
    CORDON_TRY(SingleFigure(v2_.fd.Get(), v2_.path, "memory.current", f, "memory.current missing"));
  } else if (memory_v1_ >= 0) {
    const Dir& mem = v1_[static_cast<size_t>(memory_v1_)];
    CORDON_TRY(SingleFigure(mem.fd.Get(), mem.path, "memory.usage_in_bytes", f, "missing"));
  }
  return f.value;
}

Result<Usage> TaskCgroup::ReadUsage(Psi psi) const {
  Usage u;
  const Dir* mem = memory_v1_ >= 0 ? &v1_[static_cast<size_t>(memory_v1_)] : nullptr;
  const Dir* pids = pids_v1_ >= 0 ? &v1_[static_cast<size_t>(pids_v1_)] : nullptr;
  const Dir* io = io_v1_ >= 0 ? &v1_[static_cast<size_t>(io_v1_)] : nullptr;

  CORDON_TRY(ReadCpuInto(u));

  // Memory.
  if (v2_memory_) {
    const int fd = v2_.fd.Get();
    CORDON_TRY(SingleFigure(fd, v2_.path, "memory.peak", u.memory_peak_bytes, "memory.peak needs kernel >= 5.19"));
    CORDON_TRY(SingleFigure(fd, v2_.path, "memory.current", u.memory_current_bytes, "memory.current missing"));
    const std::string path = fs::Join(v2_.path, "memory.events");
    CORDON_ASSIGN_OR_RETURN(std::string text, fs::ReadFileAt(fd, "memory.events", fs::ReadMode::kSingleShow));
    CORDON_ASSIGN_OR_RETURN(MemoryEvents e, ParseMemoryEvents(text, path));
    u.oom_kills = {e.oom_kill, path, {}};
  } else if (mem) {
    const int fd = mem->fd.Get();
    CORDON_TRY(SingleFigure(fd, mem->path, "memory.max_usage_in_bytes", u.memory_peak_bytes, "missing"));
    CORDON_TRY(SingleFigure(fd, mem->path, "memory.usage_in_bytes", u.memory_current_bytes, "missing"));
    const std::string path = fs::Join(mem->path, "memory.oom_control");
    CORDON_ASSIGN_OR_RETURN(std::string text, fs::ReadFileAt(fd, "memory.oom_control", fs::ReadMode::kSingleShow));
    CORDON_ASSIGN_OR_RETURN(OomControl c, ParseOomControl(text, path));
    if (c.oom_kill) {
      u.oom_kills = {*c.oom_kill, path, {}};
    } else {
      Unavailable(u.oom_kills, "memory.oom_control has no oom_kill before kernel 4.13");
    }
  } else {
    const char* why = "no memory controller available to Cordon";
    Unavailable(u.memory_peak_bytes, why);
    Unavailable(u.memory_current_bytes, why);
    Unavailable(u.oom_kills, why);
  }

  // Pids: v2 pids.peak is kernel >= 6.1; v1 gained it later. Without it, best effort.
  if (v2_pids_ || pids) {
    const int fd = v2_pids_ ? v2_.fd.Get() : pids->fd.Get();
    const std::string& dir = v2_pids_ ? v2_.path : pids->path;
    CORDON_TRY(SingleFigure(fd, dir, "pids.peak", u.pids_peak, "missing"));
    if (!u.pids_peak.value) {
      CORDON_ASSIGN_OR_RETURN(Figure cur, SamplePidsCurrent(fd, dir, pids_seen_max_));
      if (cur.value) {
        u.pids_peak = {pids_seen_max_, cur.source + " (largest value seen by ReadUsage; no pids.peak)", {}};
      } else {
        Unavailable(u.pids_peak, "no pids.peak or pids.current");
      }
    }
    // pids.events "max": how many forks failed against pids.max (Cordon's pids_limit class).
    auto ev = fs::ReadFileAt(fd, "pids.events");
    if (ev) {
      auto pe = ParsePidsEvents(*ev, fs::Join(dir, "pids.events"));
      if (pe) u.pids_limit_hits = {pe->max, fs::Join(dir, "pids.events"), {}};
    }
    if (!u.pids_limit_hits.value) Unavailable(u.pids_limit_hits, "pids.events unreadable");
  } else {
    Unavailable(u.pids_peak, "no pids controller available to Cordon");
    Unavailable(u.pids_limit_hits, "no pids controller available to Cordon");
  }

  // I/O bytes.
  if (v2_io_) {
    const std::string path = fs::Join(v2_.path, "io.stat");
    CORDON_ASSIGN_OR_RETURN(std::string text, fs::ReadFileAt(v2_.fd.Get(), "io.stat", fs::ReadMode::kSingleShow));
    CORDON_ASSIGN_OR_RETURN(std::vector<IoStatEntry> entries, ParseIoStat(text, path));
    uint64_t r = 0;
    uint64_t w = 0;
    for (const IoStatEntry& e : entries) {
      r += e.rbytes;
      w += e.wbytes;
    }
    u.io_read_bytes = {r, path, {}};
    u.io_write_bytes = {w, path, {}};
  } else if (io) {
    const std::string path = fs::Join(io->path, "blkio.throttle.io_service_bytes");
    CORDON_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadOptional(io->fd.Get(), "blkio.throttle.io_service_bytes"));
    if (text) {
      CORDON_ASSIGN_OR_RETURN(BlkioBytes b, ParseBlkioServiceBytes(*text, path));
      u.io_read_bytes = {b.read, path, {}};
      u.io_write_bytes = {b.write, path, {}};
    } else {
      Unavailable(u.io_read_bytes, "no blkio.throttle.io_service_bytes");
      Unavailable(u.io_write_bytes, "no blkio.throttle.io_service_bytes");
    }
  } else {
    Unavailable(u.io_read_bytes, "no io controller available to Cordon");
    Unavailable(u.io_write_bytes, "no io controller available to Cordon");
  }

  // Pressure (PSI) is core in cgroup2: available on hybrid hosts as well.
  if (psi == Psi::kSkip) {
    u.cpu_pressure.unavailable = u.memory_pressure.unavailable = u.io_pressure.unavailable = "not requested";
  } else if (v2_.fd) {
    PressureFrom(v2_.fd.Get(), v2_.path, "cpu.pressure", u.cpu_pressure);
    PressureFrom(v2_.fd.Get(), v2_.path, "memory.pressure", u.memory_pressure);
    PressureFrom(v2_.fd.Get(), v2_.path, "io.pressure", u.io_pressure);
  } else {
    u.cpu_pressure.unavailable = u.memory_pressure.unavailable = u.io_pressure.unavailable =
        "PSI exists only in cgroup2";
  }
  return u;
}

Result<void> TaskCgroup::KillV1Loop(Clock::time_point until) {
  while (true) {
    size_t remaining = 0;
    const Dir* freezer = freezer_v1_ >= 0 ? &v1_[static_cast<size_t>(freezer_v1_)] : nullptr;
    if (freezer && !freezer->fd) freezer = nullptr;  // an adopted cgroup may lack a hierarchy
    if (freezer) {
      // Freezing first stops a fork bomb from outrunning the kill loop (freezer-subsystem.rst).
      // SIGKILL is delivered to frozen tasks once thawed, so thaw after signalling.
      CORDON_TRY(fs::WriteFileAt(freezer->fd.Get(), "freezer.state", "FROZEN"));
      while (Clock::now() < until) {
        CORDON_ASSIGN_OR_RETURN(std::string s, fs::ReadFileAt(freezer->fd.Get(), "freezer.state", fs::ReadMode::kSingleShow));
        CORDON_ASSIGN_OR_RETURN(FreezerState st, ParseFreezerState(s, fs::Join(freezer->path, "freezer.state")));
        if (st == FreezerState::kFrozen) break;
        Nap();
      }
      CORDON_ASSIGN_OR_RETURN(remaining, SignalProcs(freezer->fd.Get(), freezer->path));
      CORDON_TRY(fs::WriteFileAt(freezer->fd.Get(), "freezer.state", "THAWED"));
    }
    for (const Dir& d : v1_) {
      if (&d == freezer || !d.fd) continue;
      CORDON_ASSIGN_OR_RETURN(size_t n, SignalProcs(d.fd.Get(), d.path));
      remaining += n;
    }
    if (remaining == 0) return {};
    if (Clock::now() >= until) {
      return Fail(ETIMEDOUT, "kill task cgroup processes (" + std::to_string(remaining) + " left)",
                  "processes stuck in uninterruptible sleep exit when their I/O completes");
    }
    Nap();
  }
}

Result<void> TaskCgroup::Kill(std::chrono::milliseconds deadline) {
  const Clock::time_point until = Clock::now() + deadline;
  if (v2_.fd) {
    const int fd = v2_.fd.Get();
    const std::string events = fs::Join(v2_.path, "cgroup.events");
    if (v2_has_kill_) {
      // One write kills every process in the subtree, including ones forking concurrently.
      CORDON_TRY(fs::WriteFileAt(fd, "cgroup.kill", "1"));
    }
    while (true) {
      CORDON_ASSIGN_OR_RETURN(std::string text, fs::ReadFileAt(fd, "cgroup.events", fs::ReadMode::kSingleShow));
      CORDON_ASSIGN_OR_RETURN(CgroupEvents e, ParseCgroupEvents(text, events));
      if (!e.populated) break;
      if (!v2_has_kill_) {
        // COMPAT(kernel 5.14): no cgroup.kill. Freeze, signal each pid, thaw.
        CORDON_TRY(WriteOptional(fd, "cgroup.freeze", "1"));
        CORDON_TRY(SignalProcs(fd, v2_.path));
        CORDON_TRY(WriteOptional(fd, "cgroup.freeze", "0"));
      }
      if (Clock::now() >= until) {
        return Fail(ETIMEDOUT, "kill " + v2_.path, "processes stuck in uninterruptible sleep exit when their I/O completes");
      }
      Nap();
    }
  }
  // With v2 these are normally empty already (same processes); without v2 this is the kill path.
  return KillV1Loop(until);
}

Result<void> TaskCgroup::Remove() {
  std::optional<Error> first;
  auto remove = [&](Dir& d) {
    if (d.path.empty()) return;
    d.fd.Reset();
    // Exiting tasks leave the cgroup a little after they are signalled, and a v1 memcg may still
    // be finishing its offline work: EBUSY is retried briefly.
    const Clock::time_point until = Clock::now() + std::chrono::milliseconds(100);
    while (::rmdir(d.path.c_str()) != 0) {
      if (errno == ENOENT) break;
      if (errno != EBUSY || Clock::now() >= until) {
        if (!first) first = Error{errno, "rmdir " + d.path, errno == EBUSY ? "call Kill() first" : ""};
        return;
      }
      Nap();
    }
    d.path.clear();
  };
  for (Dir& d : v1_) remove(d);
  remove(v2_);
  if (first) return std::unexpected(std::move(*first));
  return {};
}

namespace {
std::string& OwnerInstance() {
  static std::string instance = "-";
  return instance;
}
}  // namespace

void SetOwnerInstance(const std::string& instance) { OwnerInstance() = instance; }

std::string OwnerMark() {
  static const std::string process = [] {
    struct stat ns{};
    const uint64_t ns_ino = ::stat("/proc/self/ns/pid", &ns) == 0 ? ns.st_ino : 0;
    auto start = ReadStartTime(::getpid());
    return std::to_string(::getpid()) + " " + std::to_string(start ? *start : 0) + " " + std::to_string(ns_ino);
  }();
  return process + " " + OwnerInstance();
}

OwnerState CheckOwner(const std::string& mark, std::string* instance) {
  unsigned long long pid = 0, start = 0, ns_ino = 0;
  char inst[100] = "";
  if (std::sscanf(mark.c_str(), "%llu %llu %llu %99s", &pid, &start, &ns_ino, inst) < 3 || pid == 0 || start == 0)
    return OwnerState::kUnknown;
  if (instance) *instance = inst;
  struct stat ns{};
  if (::stat("/proc/self/ns/pid", &ns) != 0 || ns.st_ino != ns_ino) return OwnerState::kUnknown;
  auto now = ReadStartTime(static_cast<pid_t>(pid));
  if (!now) return OwnerState::kDead;  // no such process
  return *now == start ? OwnerState::kAlive : OwnerState::kDead;
}

std::vector<std::string> SweepStaleTaskCgroups(const Layout& layout, int min_age_s, const std::string& own_instance) {
  std::vector<std::string> bases;
  if (!layout.v2_base_dir.empty()) bases.push_back(layout.v2_base_dir);
  for (int i : layout.UsedV1()) bases.push_back(layout.v1[static_cast<size_t>(i)].base_dir);
  // A task's directories must be old and empty in every hierarchy before any is touched.
  std::set<std::string> names;
  for (const auto& b : bases) {
    DIR* d = ::opendir(b.c_str());
    if (d == nullptr) continue;
    while (dirent* e = ::readdir(d))
      if (std::strncmp(e->d_name, "task-", 5) == 0) names.insert(e->d_name);
    ::closedir(d);
  }
  const time_t now = ::time(nullptr);
  std::vector<std::string> removed;
  for (const auto& name : names) {
    OwnerState owner = OwnerState::kUnknown;
    std::string instance;
    bool old_enough = true;  // in every hierarchy
    for (const auto& b : bases) {
      const std::string dir = fs::Join(b, name);
      struct stat st;
      if (::stat(dir.c_str(), &st) == 0 && now - st.st_mtime < min_age_s) old_enough = false;
      char mark[256];
      ssize_t n = ::getxattr(dir.c_str(), kOwnerXattr, mark, sizeof mark - 1);
      if (n <= 0 || owner != OwnerState::kUnknown) continue;
      owner = CheckOwner(std::string(mark, static_cast<size_t>(n)), &instance);
    }
    if (owner == OwnerState::kAlive) continue;
    if (owner == OwnerState::kDead) {
      if (!old_enough && (own_instance.empty() || instance != own_instance)) continue;
      // Its supervisor is gone: nothing else will ever end what is left in it.
      auto cg = TaskCgroup::Adopt(layout, name);
      if (!cg) continue;
      // Briefly: the caller may be an event loop. What is not gone by then waits for the next sweep.
      if (!cg->Kill(std::chrono::milliseconds(200))) continue;
      if (cg->Remove()) removed.push_back(name);
      continue;
    }
    bool stale = true;
    for (const auto& b : bases) {
      const std::string dir = fs::Join(b, name);
      struct stat st;
      if (::stat(dir.c_str(), &st) != 0) continue;
      if (now - st.st_mtime < min_age_s) stale = false;
      auto procs = fs::ReadFileAt(AT_FDCWD, fs::Join(dir, "cgroup.procs").c_str());
      if (!procs || !procs->empty()) stale = false;
    }
    if (!stale) continue;
    for (const auto& b : bases) ::rmdir(fs::Join(b, name).c_str());
    removed.push_back(name);
  }
  return removed;
}

}  // namespace cordon::cgroup
