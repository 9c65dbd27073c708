#include "shim/mnt.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "common/fs_util.h"
#include "common/proc_view.h"
#include "common/unique_fd.h"

namespace cordon::shim::mnt {
namespace {

using proto::LaunchSpec;
using proto::MountEntry;
using proto::MountKind;

// The scratch tmpfs is mounted over the old root's /tmp. The mount namespace is private by then,
// so the host never sees it; bubblewrap uses the same base for the same reason.
constexpr const char* kScratch = "/tmp";
constexpr const char* kNewRoot = "/tmp/root";

// Binds `src` (recursively: with its submounts) on `dst`, then applies `attr` to the new mount (and
// its submounts) where it now is: always more restrictive flags, since a user namespace may add but
// never clear locked ones. mount_setattr sets the flags on the whole tree at once, where a
// MS_BIND|MS_RDONLY remount only touches the top mount and leaves submounts writable. Two system
// calls where a detached clone takes four (open_tree, mount_setattr, move_mount, close); nothing
// runs in the sandbox yet, so the moment between the two is seen by no one. `what` names the
// source in a failure (`src` may be a /proc/self/fd link).
bool BindTree(const char* src, const std::string& dst, uint64_t attr, bool recursive, SetupStep step,
              Failure* f, const char* what = nullptr) {
  if (::mount(src, dst.c_str(), nullptr, MS_BIND | (recursive ? MS_REC : 0), nullptr) < 0)
    return SetFailure(f, step, errno, "bind %s on %s", what ? what : src, dst.c_str());
  mount_attr a{};
  a.attr_set = attr;
  if (::mount_setattr(AT_FDCWD, dst.c_str(), recursive ? AT_RECURSIVE : 0, &a, sizeof a) < 0)
    return SetFailure(f, step, errno, "mount_setattr %s", dst.c_str());
  return true;
}

// Creates the empty regular file `path` as a mount point, its parent through `dirs`. mknod makes
// it in one call, where open+close take two; an existing entry goes the way of TouchFile
// (common/fs_util.h): a file is fine, a symlink is not followed.
bool MakeFileMountPoint(KnownDirs* dirs, const std::string& path) {
  if (!dirs->Make(path.substr(0, path.rfind('/')), 0755)) return false;
  if (::mknod(path.c_str(), S_IFREG | 0444, 0) == 0) return true;
  return errno == EEXIST && TouchFile(path);
}

constexpr uint64_t kRoAttrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

// Opens every read-only bind's host source (O_PATH) while the host's tree is still what the spec
// names. BuildRoot mounts the scratch tmpfs over /tmp before it applies the binds: a source under
// /tmp opened by path afterwards would be looked up in the scratch tmpfs instead (ENOENT).
// `out` is parallel to spec.mounts (-1 for entries that are not binds).
bool OpenBindSources(const LaunchSpec& spec, std::vector<UniqueFd>* out, Failure* f) {
  out->clear();
  out->resize(spec.mounts.size());
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const MountEntry& m = spec.mounts[i];
    if (m.kind != MountKind::kRoBind) continue;
    (*out)[i].Reset(::open(m.source.c_str(), O_PATH | O_CLOEXEC));
    if (!(*out)[i]) return SetFailure(f, SetupStep::kBindMounts, errno, "open %s", m.source.c_str());
  }
  return true;
}

bool ApplyEntry(const MountEntry& m, int source_fd, KnownDirs* dirs, Failure* f) {
  std::string dst = std::string(kNewRoot) + m.target;
  switch (m.kind) {
    case MountKind::kRoBind: {
      struct stat st;
      if (source_fd < 0 || ::fstat(source_fd, &st) < 0)
        return SetFailure(f, SetupStep::kBindMounts, source_fd < 0 ? EBADF : errno, "stat %s", m.source.c_str());
      bool ok = S_ISDIR(st.st_mode) ? dirs->Make(dst, 0755) : MakeFileMountPoint(dirs, dst);
      if (!ok) return SetFailure(f, SetupStep::kBindMounts, errno, "create mount point %s", m.target.c_str());
      // The source by its fd (MakeMountsPrivate opened it before /tmp was hidden): the magic link
      // resolves to the very file or directory the fd holds, not to a new lookup of its name.
      char by_fd[32];
      snprintf(by_fd, sizeof by_fd, "/proc/self/fd/%d", source_fd);
      if (!BindTree(by_fd, dst, kRoAttrs, true, SetupStep::kBindMounts, f, m.source.c_str())) return false;
      dirs->Covered(dst);
      return true;
    }
    case MountKind::kSymlink: {
      auto slash = dst.rfind('/');
      if (!dirs->Make(dst.substr(0, slash), 0755) || ::symlink(m.source.c_str(), dst.c_str()) < 0)
        return SetFailure(f, SetupStep::kBindMounts, errno, "symlink %s -> %s", m.target.c_str(),
                          m.source.c_str());
      return true;
    }
    case MountKind::kDir:
      if (!dirs->Make(dst, m.mode ? m.mode : 0755) || ::chmod(dst.c_str(), m.mode ? m.mode : 0755) < 0)
        return SetFailure(f, SetupStep::kBindMounts, errno, "mkdir %s", m.target.c_str());
      return true;
    case MountKind::kFile: {
      auto slash = dst.rfind('/');
      if (!dirs->Make(dst.substr(0, slash), 0755))
        return SetFailure(f, SetupStep::kEtcFiles, errno, "mkdir for %s", m.target.c_str());
      UniqueFd fd(::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                         m.mode ? m.mode : 0644));
      if (!fd) return SetFailure(f, SetupStep::kEtcFiles, errno, "create %s", m.target.c_str());
      size_t off = 0;
      while (off < m.source.size()) {
        ssize_t n = ::write(fd.Get(), m.source.data() + off, m.source.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return SetFailure(f, SetupStep::kEtcFiles, errno, "write %s", m.target.c_str());
        off += static_cast<size_t>(n);
      }
      return true;
    }
  }
  return SetFailure(f, SetupStep::kBindMounts, EINVAL, "unknown mount entry kind");
}

// Reads a whole (small, generated) file: /proc files report no size, so read until EOF.
std::string ReadAll(const std::string& path) {
  std::string out;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.Get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

bool WriteNewFile(const std::string& path, std::string_view text, Failure* f) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444));
  if (!fd) return SetFailure(f, SetupStep::kMountProc, errno, "create %s", path.c_str());
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd.Get(), text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SetFailure(f, SetupStep::kMountProc, errno, "write %s", path.c_str());
    off += static_cast<size_t>(n);
  }
  return true;
}

// The sandbox's time namespace, which PID 1 and the task enter. Its CLOCK_BOOTTIME starts at 0
// when the outer shim cloned us (`boot_floor_s`, whole seconds of CLOCK_BOOTTIME read before
// clone3), so /proc/uptime, and the start times in /proc/<pid>/stat, count from the sandbox's start. Not from now: a reader's view
// of a start time is start + offset, unsigned (fs/proc/array.c do_task_stat), and our own start
// must not come out negative. Offsets can only be written
// before a process enters it (time_namespaces(7)); CLOCK_MONOTONIC is left alone, so the stamps
// the supervisor compares stay on the host's clock. Returns the sandbox's boot time (epoch
// seconds), or 0 where the kernel has no time namespaces (CONFIG_TIME_NS: EINVAL).
bool EnterTimeNamespace(uint64_t boot_floor_s, uint64_t* btime, Failure* f) {
  *btime = 0;
  if (::unshare(CLONE_NEWTIME) < 0) {
    if (errno == EINVAL) return true;
    if (errno == ENOSPC)
      return SetFailure(f, SetupStep::kMountProc, errno,
                        "unshare time namespace: the limit of time namespaces is reached (raise the sysctl "
                        "user.max_time_namespaces)");
    return SetFailure(f, SetupStep::kMountProc, errno, "unshare time namespace");
  }
  timespec boot{}, now{};
  ::clock_gettime(CLOCK_BOOTTIME, &boot);
  ::clock_gettime(CLOCK_REALTIME, &now);
  if (boot_floor_s > static_cast<uint64_t>(boot.tv_sec)) boot_floor_s = static_cast<uint64_t>(boot.tv_sec);
  char line[64];
  snprintf(line, sizeof line, "boottime -%llu 0\n", static_cast<unsigned long long>(boot_floor_s));
  UniqueFd fd(::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.Get(), line, std::strlen(line)) < 0)
    return SetFailure(f, SetupStep::kMountProc, errno, "write /proc/self/timens_offsets");
  // The epoch time at which the sandbox's CLOCK_BOOTTIME was 0.
  *btime = static_cast<uint64_t>(now.tv_sec) - (static_cast<uint64_t>(boot.tv_sec) - boot_floor_s);
  // PID 1 enters it too: older kernels (Debian 12's 6.1 among them; 6.18 no longer) refuse a
  // CLONE_VM clone, our vfork of the task, while our time namespace differs from our children's
  // (kernel/fork.c copy_process, EINVAL); found by scripts/v2vm/run.sh. PID 1 reads no
  // CLOCK_BOOTTIME after this.
  UniqueFd ns(::open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC));
  if (!ns || ::setns(ns.Get(), CLONE_NEWTIME) < 0) return SetFailure(f, SetupStep::kMountProc, errno, "enter the time namespace");
  return true;
}

// Fresh procfs for the new PID namespace, then what docs/sandbox.md "/proc" lists: host-wide
// statistics and kernel internals masked, meminfo/stat/cpuinfo/loadavg replaced by sandbox-scoped
// files, uptime from a time namespace, /proc/sys read-only.
// Cost: every mask is one mount. Their sources are prepared once with their final flags in a
// directory of the scratch tmpfs the task never sees (`kProcView`), so each mask is then a single
// mount(MS_BIND), which copies the source mount's flags (fs/namespace.c clone_mnt).
constexpr const char* kProcView = "/tmp/proc-view";

}  // namespace

bool KnownDirs::Make(const std::string& path, mode_t mode) {
  for (const std::string& d : dirs_)
    if (d.starts_with(path) && (d.size() == path.size() || d[path.size()] == '/')) return true;
  if (!MkdirAll(path, mode)) return false;
  dirs_.push_back(path);
  return true;
}

void KnownDirs::Covered(const std::string& mount_point) {
  std::erase_if(dirs_, [&](const std::string& d) {
    return d.size() > mount_point.size() && d.starts_with(mount_point) && d[mount_point.size()] == '/';
  });
}

bool MountProc(const LaunchSpec& spec, uint64_t boot_floor_s, RootState* st, Failure* f) {
  std::string proc = std::string(kNewRoot) + "/proc";
  if (!st->dirs.Make(proc, 0555)) return SetFailure(f, SetupStep::kMountProc, errno, "mkdir /proc");
  // Mounting procfs in a user namespace needs a fully visible procfs in this mount namespace
  // (fs/namespace.c mnt_already_visible): do it before the old root is detached.
  if (::mount("proc", proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0)
    return SetFailure(f, SetupStep::kMountProc, errno, "mount proc on /proc");

  uint64_t btime = 0;
  if (!EnterTimeNamespace(boot_floor_s, &btime, f)) return false;
  if (btime == 0) btime = proc_view::StatBtime(ReadAll(proc + "/stat"));
  const std::string view(kProcView);
  struct sysinfo si {};
  ::sysinfo(&si);
  const std::string meminfo =
      proc_view::Meminfo(static_cast<uint64_t>(si.totalram) * (si.mem_unit ? si.mem_unit : 1), spec.memory_bytes);
  // The sandbox's CPUs: its affinity, which the task inherits. A sandbox restricted to some of the
  // host's CPUs gets its own cpuinfo. With all of them, the host's file is that same text, live;
  // and reading it costs an IPI per CPU ("cpu MHz").
  cpu_set_t affinity;
  CPU_ZERO(&affinity);
  if (::sched_getaffinity(0, sizeof affinity, &affinity) < 0)
    return SetFailure(f, SetupStep::kMountProc, errno, "sched_getaffinity");
  const unsigned ncpus = static_cast<unsigned>(CPU_COUNT(&affinity));
  const bool all_cpus = static_cast<int>(ncpus) >= ::get_nprocs();
  std::string cpuinfo;
  if (!all_cpus) {
    std::vector<unsigned> cpus;
    for (unsigned c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &affinity)) cpus.push_back(c);
    cpuinfo = proc_view::Cpuinfo(ReadAll(proc + "/cpuinfo"), cpus);
  }
  if (::mkdir(kProcView, 0755) < 0 || ::mkdir((view + "/empty").c_str(), 0555) < 0)
    return SetFailure(f, SetupStep::kMountProc, errno, "mkdir %s", kProcView);
  if (!WriteNewFile(view + "/null", "", f) || !WriteNewFile(view + "/meminfo", meminfo, f) ||
      !WriteNewFile(view + "/stat", proc_view::Stat(ncpus, btime), f) ||
      (!all_cpus && !WriteNewFile(view + "/cpuinfo", cpuinfo, f)) ||
      !WriteNewFile(view + "/loadavg", proc_view::kLoadavg, f))
    return false;
  constexpr uint64_t kMaskAttrs = kRoAttrs | MOUNT_ATTR_NOEXEC;
  if (!BindTree(kProcView, view, kMaskAttrs, false, SetupStep::kMountProc, f) ||
      !BindTree("/dev/null", view + "/null", kMaskAttrs, false, SetupStep::kMountProc, f))
    return false;

  static const char* const kReadOnly[] = {"sys", "sysrq-trigger"};
  for (const char* p : kReadOnly) {
    std::string path = proc + "/" + p;
    if (::access(path.c_str(), F_OK) < 0) continue;
    if (!BindTree(path.c_str(), path, kMaskAttrs, true, SetupStep::kMountProc, f)) return false;
  }
  // Masked files: /dev/null on a nodev mount, so open(2) fails with EACCES. A name the kernel does
  // not have fails with ENOENT and is skipped: a failed lookup (~5 us) costs less than listing the
  // fresh procfs's top directory first (one getdents64 of its ~70 entries, ~30 us; measured).
  // Not masked, because no sandbox process can open them: kpagecount, kpageflags, kpagecgroup,
  // timer_list, slabinfo, pagetypeinfo, vmallocinfo and kmsg are mode 0400 and owned by the host's
  // root, which is not mapped in the sandbox (hardening_test checks they stay unreadable).
  static const char* const kMaskFiles[] = {
      // kernel internals and keys
      "kcore", "kallsyms", "keys", "key-users", "config.gz", "sched_debug", "latency_stats", "timer_stats",
      "modules", "mtrr",
      // host-wide statistics: side channels (interrupt and scheduler timing, memory and I/O activity)
      "interrupts", "softirqs", "vmstat", "schedstat", "diskstats", "buddyinfo", "zoneinfo", "locks", "swaps",
      // host hardware and boot facts
      "partitions", "iomem", "ioports", "cmdline", "bootconfig",
      // host-wide counters under the read-only /proc/sys
      "sys/fs/dentry-state", "sys/fs/inode-nr", "sys/fs/inode-state", "sys/fs/file-nr", "sys/fs/aio-nr",
      "sys/kernel/pty/nr",
      // the host's boot id: tells two sandboxes that they share a host and a boot
      "sys/kernel/random/boot_id"};
  const std::string null_src = view + "/null";
  auto mask = [&](const char* p, const std::string& src) {
    std::string path = proc + "/" + p;
    if (::mount(src.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) == 0 || errno == ENOENT) return true;
    return SetFailure(f, SetupStep::kMountProc, errno, "mask /proc/%s", p);
  };
  for (const char* p : kMaskFiles)
    if (!mask(p, null_src)) return false;
  // Host hardware, drivers and per-device file system statistics, and host-wide pressure: an
  // empty read-only directory.
  static const char* const kMaskDirs[] = {"acpi", "asound", "bus", "driver", "fs", "irq", "pressure", "scsi"};
  const std::string empty_src = view + "/empty";
  for (const char* p : kMaskDirs)
    if (!mask(p, empty_src)) return false;
  // Sandbox-scoped files (static: written now). An empty generated file means the host's could
  // not be parsed: then the host's file is masked rather than shown.
  const struct {
    const char* name;
    bool empty;
    bool bind;
  } kViews[] = {{"meminfo", false, true},
                {"stat", false, true},
                {"cpuinfo", cpuinfo.empty(), !all_cpus},
                {"loadavg", false, true}};
  for (const auto& v : kViews) {
    if (!v.bind) continue;
    std::string path = proc + "/" + v.name;
    std::string src = v.empty ? null_src : view + "/" + v.name;
    if (::mount(src.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) < 0)
      return SetFailure(f, SetupStep::kMountProc, errno, "bind the sandbox's /proc/%s", v.name);
  }
  return true;
}

// A tmpfs /dev holding binds of the host's harmless character devices. Device nodes cannot be
// created in a user namespace, so they are bound; those binds are the only mounts without nodev.
bool MountDev(const LaunchSpec& spec, RootState* st, Failure* f) {
  std::string dev = std::string(kNewRoot) + "/dev";
  if (!st->dirs.Make(dev, 0755) ||
      ::mount("tmpfs", dev.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "size=64k,mode=0755,nr_inodes=64") < 0)
    return SetFailure(f, SetupStep::kMountDev, errno, "mount tmpfs on /dev");
  st->dirs.Covered(dev);
  // The device binds take the host mount's flags here; the recursive mount_setattr below gives
  // them nosuid and noexec all at once, before anything runs in the sandbox.
  auto bind_node = [&](const char* n) {
    std::string host = std::string("/dev/") + n;
    std::string path = dev + "/" + n;
    if (!MakeFileMountPoint(&st->dirs, path)) return SetFailure(f, SetupStep::kMountDev, errno, "create /dev/%s", n);
    if (::mount(host.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) < 0)
      return SetFailure(f, SetupStep::kMountDev, errno, "bind /dev/%s", n);
    return true;
  };
  static const char* const kNodes[] = {"null", "zero", "full", "random", "urandom"};
  for (const char* n : kNodes)
    if (!bind_node(n)) return false;
  if ((spec.flags & proto::kFlagDevTty) && !bind_node("tty")) return false;
  static const char* const kLinks[][2] = {{"/proc/self/fd", "fd"},      {"/proc/self/fd/0", "stdin"},
                                          {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
                                          {"/proc/kcore", "core"}};
  for (const auto& l : kLinks) {
    std::string path = dev + "/" + l[1];
    if (::symlink(l[0], path.c_str()) < 0)
      return SetFailure(f, SetupStep::kMountDev, errno, "symlink /dev/%s", l[1]);
  }
  std::string shm = dev + "/shm";
  std::string scratch_shm = std::string(kScratch) + "/shm";
  if (!st->dirs.Make(shm, 01777))
    return SetFailure(f, SetupStep::kMountDev, errno, "mkdir /dev/shm");
  if (!BindTree(scratch_shm.c_str(), shm, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, false,
                SetupStep::kMountDev, f))
    return false;
  mount_attr a{};
  a.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
  if (::mount_setattr(AT_FDCWD, dev.c_str(), AT_RECURSIVE, &a, sizeof a) < 0)
    return SetFailure(f, SetupStep::kMountDev, errno, "mount_setattr nosuid,noexec on /dev and its binds");
  return true;
}

bool MakeMountsPrivate(const LaunchSpec& spec, RootState* st, Failure* f) {
  // Nothing below may propagate to the host's mounts.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
    return SetFailure(f, SetupStep::kMountPrivate, errno, "make / private");
  // The binds' host sources, before the scratch tmpfs hides the host's /tmp.
  return OpenBindSources(spec, &st->sources, f);
}

bool MountRoot(const LaunchSpec& spec, RootState* st, Failure* f) {
  // The scratch tmpfs (one size budget for /tmp, /work and /dev/shm) and the root tmpfs.
  char opts[64];
  snprintf(opts, sizeof opts, "mode=0755,size=%llu", static_cast<unsigned long long>(spec.tmpfs_bytes));
  if (::mount("tmpfs", kScratch, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
    return SetFailure(f, SetupStep::kMountRoot, errno, "mount scratch tmpfs (size=%llu) on %s",
                      static_cast<unsigned long long>(spec.tmpfs_bytes), kScratch);
  for (const char* d : {"/tmp/tmp", "/tmp/work", "/tmp/shm", kNewRoot}) {
    bool sticky = std::strcmp(d, "/tmp/tmp") == 0 || std::strcmp(d, "/tmp/shm") == 0;
    if (::mkdir(d, sticky ? 01777 : 0755) < 0 || (sticky && ::chmod(d, 01777) < 0))
      return SetFailure(f, SetupStep::kMountRoot, errno, "mkdir %s in scratch tmpfs", d);
  }
  if (::mount("tmpfs", kNewRoot, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=2m,nr_inodes=4096") < 0)
    return SetFailure(f, SetupStep::kMountRoot, errno, "mount root tmpfs");
  st->dirs.Clear();
  st->dirs.Add(kNewRoot);
  return true;
}

bool BindMounts(const LaunchSpec& spec, RootState* st, Failure* f) {
  // The spec's read-only binds, symlinks and directories, in the spec's order (files: kEtcFiles).
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const MountEntry& m = spec.mounts[i];
    if (m.kind == MountKind::kFile) continue;
    if (!ApplyEntry(m, i < st->sources.size() ? st->sources[i].Get() : -1, &st->dirs, f)) return false;
  }
  st->sources.clear();
  return true;
}

bool ScratchMounts(RootState* st, Failure* f) {
  for (const char* d : {"/tmp", "/work"}) {
    std::string dst = std::string(kNewRoot) + d;
    std::string src = std::string(kScratch) + d;
    if (!st->dirs.Make(dst, 0755)) return SetFailure(f, SetupStep::kScratchMounts, errno, "mkdir %s", d);
    // Writable scratch space: never exec, never suid or devices ("only the runtime dirs exec").
    if (!BindTree(src.c_str(), dst, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, false,
                  SetupStep::kScratchMounts, f))
      return false;
    st->dirs.Covered(dst);
  }
  return true;
}

const char* NewRoot() { return kNewRoot; }

bool EtcFiles(const LaunchSpec& spec, RootState* st, Failure* f) {
  for (const MountEntry& m : spec.mounts) {
    if (m.kind == MountKind::kFile && !ApplyEntry(m, -1, &st->dirs, f)) return false;
  }
  return true;
}

bool PivotRoot(Failure* f) {
  // pivot_root(new, new) stacks the old root on top of the new one at "/"; detaching "." then
  // removes it (pivot_root(2) "pivot_root(".", ".")"). The old root must be gone before anything
  // in the sandbox runs.
  if (::chdir(kNewRoot) < 0) return SetFailure(f, SetupStep::kPivotRoot, errno, "chdir new root");
  if (::syscall(SYS_pivot_root, ".", ".") < 0) return SetFailure(f, SetupStep::kPivotRoot, errno, "pivot_root");
  if (::umount2(".", MNT_DETACH) < 0) return SetFailure(f, SetupStep::kPivotRoot, errno, "detach old root");
  if (::chdir("/") < 0) return SetFailure(f, SetupStep::kPivotRoot, errno, "chdir /");
  return true;
}

bool RemountReadOnly(Failure* f) {
  // The root tmpfs is read-only for the task; /tmp and /work below it stay writable.
  mount_attr a{};
  a.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (::mount_setattr(AT_FDCWD, "/", 0, &a, sizeof a) < 0)
    return SetFailure(f, SetupStep::kRemountReadOnly, errno, "make / read-only");
  return true;
}

}  // namespace cordon::shim::mnt
