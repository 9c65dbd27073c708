#include "shim/mnt.h"

#include <fcntl.h>
#include <linux/openat2.h>
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

// A mount point for a file is an empty regular file.
bool TouchFile(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0 && !MkdirAll(path.substr(0, slash), 0755)) return false;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// Clones the mount at `src` as a detached tree, applies `attr` (always more restrictive: a user
// namespace may add but never clear locked flags) and attaches it at `dst`. The new mount API makes
// the flags apply to the whole tree at once, where a MS_BIND|MS_RDONLY remount only touches the top
// mount and leaves submounts writable.
// `src_fd` (an O_PATH fd, or AT_FDCWD) with `src` relative to it, or "" for the fd itself.
bool BindTreeAt(int src_fd, const char* src, const std::string& dst, uint64_t attr, bool recursive, SetupStep step,
              Failure* f) {
  unsigned rec = recursive ? AT_RECURSIVE : 0;
  const bool by_fd = src_fd != AT_FDCWD;
  UniqueFd tree(::open_tree(src_fd, by_fd ? "" : src,
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec | (by_fd ? AT_EMPTY_PATH : 0)));
  if (!tree) return SetFailure(f, step, errno, "open_tree %s", src);
  mount_attr a{};
  a.attr_set = attr;
  if (::mount_setattr(tree.Get(), "", AT_EMPTY_PATH | rec, &a, sizeof a) < 0)
    return SetFailure(f, step, errno, "mount_setattr %s", src);
  if (::move_mount(tree.Get(), "", AT_FDCWD, dst.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return SetFailure(f, step, errno, "move_mount %s to %s", src, dst.c_str());
  return true;
}

bool BindTree(const char* src, const std::string& dst, uint64_t attr, bool recursive, SetupStep step,
              Failure* f) {
  return BindTreeAt(AT_FDCWD, src, dst, attr, recursive, step, f);
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

bool ApplyEntry(const MountEntry& m, int source_fd, Failure* f) {
  std::string dst = std::string(kNewRoot) + m.target;
  switch (m.kind) {
    case MountKind::kRoBind: {
      struct stat st;
      if (source_fd < 0 || ::fstat(source_fd, &st) < 0)
        return SetFailure(f, SetupStep::kBindMounts, source_fd < 0 ? EBADF : errno, "stat %s", m.source.c_str());
      bool ok = S_ISDIR(st.st_mode) ? MkdirAll(dst, 0755) : TouchFile(dst);
      if (!ok) return SetFailure(f, SetupStep::kBindMounts, errno, "create mount point %s", m.target.c_str());
      return BindTreeAt(source_fd, m.source.c_str(), dst, kRoAttrs, true, SetupStep::kBindMounts, f);
    }
    case MountKind::kSymlink: {
      auto slash = dst.rfind('/');
      if (!MkdirAll(dst.substr(0, slash), 0755) || ::symlink(m.source.c_str(), dst.c_str()) < 0)
        return SetFailure(f, SetupStep::kBindMounts, errno, "symlink %s -> %s", m.target.c_str(),
                          m.source.c_str());
      return true;
    }
    case MountKind::kDir:
      if (!MkdirAll(dst, m.mode ? m.mode : 0755) || ::chmod(dst.c_str(), m.mode ? m.mode : 0755) < 0)
        return SetFailure(f, SetupStep::kBindMounts, errno, "mkdir %s", m.target.c_str());
      return true;
    case MountKind::kFile: {
      auto slash = dst.rfind('/');
      if (!MkdirAll(dst.substr(0, slash), 0755))
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

// The time namespace the task enters at its execve (fs/exec.c exec_task_namespaces: a CLONE_VM
// child stays in ours until then). Its CLOCK_BOOTTIME starts at 0 when the outer shim cloned us
// (`boot_floor_s`, whole seconds of CLOCK_BOOTTIME read before clone3), so /proc/uptime, and the
// start times in /proc/<pid>/stat, count from the sandbox's start. Not from now: a reader's view
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
  return true;
}

// Fresh procfs for the new PID namespace, then what docs/sandbox.md "/proc" lists: host-wide
// statistics and kernel internals masked, meminfo/stat/cpuinfo/loadavg replaced by sandbox-scoped
// files, uptime from a time namespace, /proc/sys read-only.
// Cost: every mask is one mount. Their sources are prepared once with their final flags in a
// directory of the scratch tmpfs the task never sees (`kProcView`), so each mask is then a single
// mount(MS_BIND), which copies the source mount's flags (fs/namespace.c clone_mnt).
constexpr const char* kProcView = "/tmp/proc-view";

bool MountProc(const LaunchSpec& spec, uint64_t boot_floor_s, Failure* f) {
  std::string proc = std::string(kNewRoot) + "/proc";
  if (!MkdirAll(proc, 0555)) return SetFailure(f, SetupStep::kMountProc, errno, "mkdir /proc");
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
  // not have fails with ENOENT and is skipped: a failed lookup costs less than checking first.
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
bool MountDev(const LaunchSpec& spec, Failure* f) {
  std::string dev = std::string(kNewRoot) + "/dev";
  if (!MkdirAll(dev, 0755) ||
      ::mount("tmpfs", dev.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "size=64k,mode=0755,nr_inodes=64") < 0)
    return SetFailure(f, SetupStep::kMountDev, errno, "mount tmpfs on /dev");
  static const char* const kNodes[] = {"null", "zero", "full", "random", "urandom"};
  for (const char* n : kNodes) {
    std::string host = std::string("/dev/") + n;
    std::string path = dev + "/" + n;
    if (!TouchFile(path)) return SetFailure(f, SetupStep::kMountDev, errno, "create /dev/%s", n);
    if (!BindTree(host.c_str(), path, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false, SetupStep::kMountDev, f))
      return false;
  }
  if (spec.flags & proto::kFlagDevTty) {
    std::string path = dev + "/tty";
    if (!TouchFile(path) ||
        !BindTree("/dev/tty", path, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false, SetupStep::kMountDev, f))
      return f->rec.step == SetupStep::kNone ? SetFailure(f, SetupStep::kMountDev, errno, "bind /dev/tty")
                                             : false;
  }
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
  if (!MkdirAll(shm, 01777))
    return SetFailure(f, SetupStep::kMountDev, errno, "mkdir /dev/shm");
  return BindTree(scratch_shm.c_str(), shm, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, false,
                  SetupStep::kMountDev, f);
}

}  // namespace

int OpenBindingSource(const proto::BindEntry& b) {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC | ((b.flags & proto::kBindDir) ? O_DIRECTORY : 0);
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, b.source.c_str(), &how, sizeof how));
}

bool SameInode(int fd, const proto::BindEntry& b) {
  struct stat st;
  return ::fstat(fd, &st) == 0 && st.st_dev == b.dev && st.st_ino == b.ino;
}

bool StageBindings(LaunchSpec* spec, Failure* f) {
  bool any = false;
  for (const auto& b : spec->binds) any = any || (b.flags & proto::kBindMount);
  if (!any) return true;
  if (::unshare(CLONE_NEWNS) < 0) return SetFailure(f, SetupStep::kStageBindings, errno, "unshare mount namespace");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
    return SetFailure(f, SetupStep::kStageBindings, errno, "make / private");
  const char* stage = nullptr;
  for (const char* d : {"/run", "/mnt", "/srv", "/opt"}) {
    // Never over a directory that holds a read-only bind's source: PID 1 inherits this namespace
    // and opens those sources by path.
    bool holds_source = false;
    const size_t dlen = std::strlen(d);
    for (const MountEntry& m : spec->mounts)
      holds_source = holds_source || (m.kind == MountKind::kRoBind && m.source.compare(0, dlen, d) == 0 &&
                                      (m.source.size() == dlen || m.source[dlen] == '/'));
    if (holds_source) continue;
    if (::mount("cordon-stage", d, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") == 0) {
      stage = d;
      break;
    }
  }
  if (stage == nullptr) return SetFailure(f, SetupStep::kStageBindings, errno, "mount a staging tmpfs");
  for (size_t i = 0; i < spec->binds.size(); ++i) {
    proto::BindEntry& b = spec->binds[i];
    if (!(b.flags & proto::kBindMount)) continue;
    int fd = OpenBindingSource(b);
    if (fd < 0) return SetFailure(f, SetupStep::kStageBindings, errno, "binding %s: re-open without symlinks", b.source.c_str());
    if (!SameInode(fd, b)) {
      ::close(fd);
      return SetFailure(f, SetupStep::kStageBindings, ESTALE,
                        "binding %s changed between admission and mount (not the inode the supervisor opened)",
                        b.source.c_str());
    }
    char staged[64], from[64];
    snprintf(staged, sizeof staged, "%s/b%zu", stage, i);
    snprintf(from, sizeof from, "/proc/self/fd/%d", fd);
    bool ok = (b.flags & proto::kBindDir) ? ::mkdir(staged, 0755) == 0 : TouchFile(staged);
    ok = ok && ::mount(from, staged, nullptr, MS_BIND | MS_REC, nullptr) == 0;
    int err = errno;
    ::close(fd);
    if (!ok) return SetFailure(f, SetupStep::kStageBindings, err, "stage binding %s", b.source.c_str());
    b.source = staged;
  }
  return true;
}

bool ResolveBindings(const LaunchSpec& spec, std::vector<int>* out, Failure* f) {
  out->assign(spec.binds.size(), -1);
  for (size_t i = 0; i < spec.binds.size(); ++i) {
    const proto::BindEntry& b = spec.binds[i];
    if (!(b.flags & proto::kBindMount)) continue;
    int fd = OpenBindingSource(b);
    if (fd < 0) return SetFailure(f, SetupStep::kResolveBindings, errno, "binding %s: re-open without symlinks", b.source.c_str());
    if (!SameInode(fd, b)) {
      ::close(fd);
      return SetFailure(f, SetupStep::kResolveBindings, ESTALE,
                        "binding %s changed between admission and mount (not the inode the supervisor opened)",
                        b.source.c_str());
    }
    (*out)[i] = fd;
  }
  return true;
}

bool BuildRoot(const LaunchSpec& spec, const std::vector<int>& bind_fds, uint64_t boot_floor_s, Failure* f) {
  // Step 4: nothing below may propagate to the host's mounts.
  if (HookFails(spec, SetupStep::kMountPrivate, f)) return false;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
    return SetFailure(f, SetupStep::kMountPrivate, errno, "make / private");

  // The binds' host sources, before the scratch tmpfs hides the host's /tmp.
  std::vector<UniqueFd> sources;
  if (!OpenBindSources(spec, &sources, f)) return false;

  // Step 5: the scratch tmpfs (one size budget for /tmp, /work and /dev/shm) and the root tmpfs.
  if (HookFails(spec, SetupStep::kMountRoot, f)) return false;
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

  // Steps 6-7: the spec's read-only binds, symlinks and generated files, in the spec's order.
  if (HookFails(spec, SetupStep::kBindMounts, f)) return false;
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const MountEntry& m = spec.mounts[i];
    if (m.kind == MountKind::kFile) continue;
    if (!ApplyEntry(m, sources[i].Get(), f)) return false;
  }
  sources.clear();
  for (const char* d : {"/tmp", "/work"}) {
    std::string dst = std::string(kNewRoot) + d;
    std::string src = std::string(kScratch) + d;
    if (!MkdirAll(dst, 0755)) return SetFailure(f, SetupStep::kMountRoot, errno, "mkdir %s", d);
    // Writable scratch space: never exec, never suid or devices ("only the runtime dirs exec").
    if (!BindTree(src.c_str(), dst, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, false,
                  SetupStep::kMountRoot, f))
      return false;
  }
  // Bindings: mounted from PID 1's verified fds, never executable, read-only unless "rw".
  for (size_t i = 0; i < spec.binds.size(); ++i) {
    const proto::BindEntry& b = spec.binds[i];
    if (!(b.flags & proto::kBindMount) || i >= bind_fds.size() || bind_fds[i] < 0) continue;
    std::string dst = std::string(kNewRoot) + b.target;
    bool ok = (b.flags & proto::kBindDir) ? MkdirAll(dst, 0755) : TouchFile(dst);
    if (!ok) return SetFailure(f, SetupStep::kBindMounts, errno, "create mount point %s", b.target.c_str());
    UniqueFd tree(::open_tree(bind_fds[i], "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE));
    if (!tree) return SetFailure(f, SetupStep::kBindMounts, errno, "open_tree binding %s", b.source.c_str());
    mount_attr a{};
    a.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
                 ((b.flags & proto::kBindWritable) ? 0 : MOUNT_ATTR_RDONLY);
    if (::mount_setattr(tree.Get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0)
      return SetFailure(f, SetupStep::kBindMounts, errno, "mount_setattr binding %s", b.target.c_str());
    if (::move_mount(tree.Get(), "", AT_FDCWD, dst.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
      return SetFailure(f, SetupStep::kBindMounts, errno, "mount binding at %s", b.target.c_str());
  }
  if (HookFails(spec, SetupStep::kMountProc, f) || !MountProc(spec, boot_floor_s, f)) return false;
  if (HookFails(spec, SetupStep::kMountDev, f) || !MountDev(spec, f)) return false;
  if (HookFails(spec, SetupStep::kEtcFiles, f)) return false;
  for (const MountEntry& m : spec.mounts) {
    if (m.kind == MountKind::kFile && !ApplyEntry(m, -1, f)) return false;
  }

  // Step 8: pivot_root(new, new) stacks the old root on top of the new one at "/"; detaching "."
  // then removes it (pivot_root(2) "pivot_root(".", ".")"). The old root must be gone before
  // anything in the sandbox runs.
  if (HookFails(spec, SetupStep::kPivotRoot, f)) return false;
  if (::chdir(kNewRoot) < 0) return SetFailure(f, SetupStep::kPivotRoot, errno, "chdir new root");
  if (::syscall(SYS_pivot_root, ".", ".") < 0) return SetFailure(f, SetupStep::kPivotRoot, errno, "pivot_root");
  if (::umount2(".", MNT_DETACH) < 0) return SetFailure(f, SetupStep::kPivotRoot, errno, "detach old root");
  if (::chdir("/") < 0) return SetFailure(f, SetupStep::kPivotRoot, errno, "chdir /");

  // Step 9: the root tmpfs is read-only for the task; /tmp and /work below it stay writable.
  if (HookFails(spec, SetupStep::kRemountReadOnly, f)) return false;
  mount_attr a{};
  a.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (::mount_setattr(AT_FDCWD, "/", 0, &a, sizeof a) < 0)
    return SetFailure(f, SetupStep::kRemountReadOnly, errno, "make / read-only");
  return true;
}

}  // namespace cordon::shim::mnt
