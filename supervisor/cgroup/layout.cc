// supervisor/cgroup/layout.cc: cgroup layout detection (pure parts first, host probing last).
#include "supervisor/cgroup/layout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "common/unique_fd.h"
#include "supervisor/cgroup/parse.h"

namespace cordon::cgroup {
namespace {

constexpr std::string_view kControllerNames[kControllerCount] = {"memory", "pids",    "cpu",
                                                                 "cpuacct", "freezer", "io"};

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    size_t p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo (proc(5), show_mountinfo → mangle).
std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && s.size() - i >= 4 && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' &&
        s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Mount {
  std::string root;
  std::string mountpoint;
  std::string fstype;
  std::vector<std::string> super_options;
};

// One mountinfo line: "id parent maj:min root mountpoint opts [optional…] - fstype source superopts".
Result<std::optional<Mount>> ParseMountinfoLine(std::string_view line, int number) {
  std::vector<std::string_view> f;
  for (std::string_view w : Split(line, ' ')) {
    if (!w.empty()) f.push_back(w);
  }
  auto sep = std::find(f.begin(), f.end(), std::string_view("-"));
  if (f.size() < 6 || sep == f.end() || sep - f.begin() < 6 || f.end() - sep < 3) {
    return FailMsg("/proc/self/mountinfo:" + std::to_string(number) + ": malformed line");
  }
  std::string_view fstype = *(sep + 1);
  if (fstype != "cgroup" && fstype != "cgroup2") return std::optional<Mount>();
  Mount m;
  m.root = Unescape(f[3]);
  m.mountpoint = Unescape(f[4]);
  m.fstype = std::string(fstype);
  if (f.end() - sep >= 4) {
    for (std::string_view o : Split(*(sep + 3), ',')) m.super_options.emplace_back(o);
  }
  return std::optional<Mount>(std::move(m));
}

bool IsV1Controller(std::string_view opt) {
  // Super options of a v1 mount mix flags with controller names; these are the flags.
  static constexpr std::string_view kFlags[] = {"rw", "ro", "xattr", "noprefix", "clone_children",
                                                "cpuset_v2_mode", "none", "all", "favordynmods",
                                                "nofavordynmods"};
  if (opt.starts_with("release_agent=")) return false;
  if (opt.starts_with("name=")) return true;  // a named hierarchy (no controller, but matches /proc/self/cgroup)
  return std::find(std::begin(kFlags), std::end(kFlags), opt) == std::end(kFlags);
}

// Maps our own cgroup path onto the mount: a mount whose root is "/a" shows cgroup "/a/b" as
// <mountpoint>/b. Paths outside the mount root (or "/.." from a foreign cgroup namespace) are not
// visible.
std::optional<std::string> SelfDir(const std::string& mountpoint, const std::string& mount_root,
                                   const std::string& self_path) {
  if (self_path.find("/..") != std::string::npos) return std::nullopt;
  std::string_view rel = self_path;
  if (mount_root != "/") {
    if (!rel.starts_with(mount_root)) return std::nullopt;
    rel.remove_prefix(mount_root.size());
    if (!rel.empty() && rel.front() != '/') return std::nullopt;
  }
  while (!rel.empty() && rel.back() == '/') rel.remove_suffix(1);
  return mountpoint + std::string(rel);
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

std::string_view ModeName(Mode m) {
  switch (m) {
    case Mode::kV2: return "v2";
    case Mode::kHybrid: return "hybrid";
    case Mode::kV1: return "v1";
  }
  return "?";
}

std::string_view ControllerName(Controller c) { return kControllerNames[static_cast<size_t>(c)]; }

bool Layout::V2TaskHas(std::string_view controller) const { return Contains(v2_task_controllers, controller); }

std::vector<int> Layout::UsedV1() const {
  std::vector<int> out;
  for (size_t i = 0; i < v1.size(); ++i) {
    if (!v1[i].base_dir.empty()) out.push_back(static_cast<int>(i));
  }
  return out;
}

Result<Layout> DetectLayout(const std::string& mountinfo_text, const std::string& self_cgroup_text,
                            const std::string& v2_root_controllers_text) {
  Layout l;
  bool have_v2 = false;
  int number = 0;
  for (std::string_view line : Split(mountinfo_text, '\n')) {
    ++number;
    if (line.empty()) continue;
    CORDON_ASSIGN_OR_RETURN(std::optional<Mount> m, ParseMountinfoLine(line, number));
    if (!m) continue;
    if (m->fstype == "cgroup2") {
      // The same tree can be mounted more than once (containers, bind mounts): the first wins,
      // and one showing the whole tree (root "/") is preferred over a subtree bind.
      if (!have_v2 || (l.v2_mount_root != "/" && m->root == "/")) {
        l.v2_mount = m->mountpoint;
        l.v2_mount_root = m->root;
        have_v2 = true;
      }
      continue;
    }
    V1Hierarchy h;
    h.mountpoint = m->mountpoint;
    h.mount_root = m->root;
    for (const std::string& o : m->super_options) {
      if (IsV1Controller(o)) h.controllers.push_back(o);
    }
    if (h.controllers.empty()) continue;
    bool duplicate = std::any_of(l.v1.begin(), l.v1.end(), [&](const V1Hierarchy& e) {
      return e.controllers == h.controllers;
    });
    if (!duplicate) l.v1.push_back(std::move(h));
  }

  // /proc/self/cgroup: "hierarchy-id:controller-list:path"; the v2 line is "0::path".
  number = 0;
  for (std::string_view line : Split(self_cgroup_text, '\n')) {
    ++number;
    if (line.empty()) continue;
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos || line.size() == c2 + 1 || line[c2 + 1] != '/') {
      return FailMsg("/proc/self/cgroup:" + std::to_string(number) + ": expected \"id:controllers:/path\"");
    }
    std::string_view ctrls = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path(line.substr(c2 + 1));
    if (ctrls.empty()) {
      l.v2_self_path = path;
      continue;
    }
    std::vector<std::string_view> names = Split(ctrls, ',');
    for (V1Hierarchy& h : l.v1) {
      bool match = std::any_of(names.begin(), names.end(), [&](std::string_view n) { return Contains(h.controllers, n); });
      if (match) h.self_path = path;
    }
  }

  if (have_v2 && l.v2_self_path) l.v2_self_dir = SelfDir(l.v2_mount, l.v2_mount_root, *l.v2_self_path);
  for (V1Hierarchy& h : l.v1) {
    if (h.self_path) h.self_dir = SelfDir(h.mountpoint, h.mount_root, *h.self_path);
  }
  l.v2_controllers = ParseControllerList(v2_root_controllers_text);

  bool have_v1_controllers = std::any_of(l.v1.begin(), l.v1.end(), [](const V1Hierarchy& h) {
    return std::any_of(h.controllers.begin(), h.controllers.end(), [](const std::string& c) { return !c.starts_with("name="); });
  });
  if (!have_v2 && !have_v1_controllers) {
    return FailMsg("no cgroup filesystem is mounted (no cgroup2 or cgroup v1 controller in /proc/self/mountinfo)",
                   "mount cgroup2 at /sys/fs/cgroup, or run without resource limits");
  }
  l.mode = !have_v1_controllers ? Mode::kV2 : have_v2 ? Mode::kHybrid : Mode::kV1;

  auto v1_index = [&](std::string_view name) {
    for (size_t i = 0; i < l.v1.size(); ++i) {
      if (Contains(l.v1[i].controllers, name)) return static_cast<int>(i);
    }
    return -1;
  };
  // Rule: v2 wherever the controller is available there, v1 otherwise. cpuacct and freezer have no
  // v2 controller; their v2 equivalents are core files (cpu.stat usage/user/system, cgroup.freeze,
  // cgroup.kill) present in every non-root cgroup2 directory, so a v2 tree is enough.
  for (size_t i = 0; i < kControllerCount; ++i) {
    auto c = static_cast<Controller>(i);
    std::string_view v2_name = kControllerNames[i];
    std::string_view v1_name = c == Controller::kIo ? "blkio" : v2_name;
    bool core = c == Controller::kCpuacct || c == Controller::kFreezer;
    Placement& p = l.controllers[i];
    if (have_v2 && (core || Contains(l.v2_controllers, v2_name))) {
      p.where = Where::kV2;
    } else if (int idx = v1_index(v1_name); idx >= 0) {
      p = Placement{Where::kV1, idx};
    }
  }
  return l;
}

void PlaceBase(Layout& l, const BaseOptions& options, const HostFacts& facts) {
  l.rootless = !facts.root;
  l.delegated = false;
  l.v2_base_dir.clear();
  l.no_cgroup_reason.clear();
  l.v1_freezer_index = -1;
  for (V1Hierarchy& h : l.v1) h.base_dir.clear();

  const bool have_v2 = !l.v2_mount.empty();
  std::string v2_reason;
  if (have_v2) {
    const bool self_is_root = l.v2_self_dir && *l.v2_self_dir == l.v2_mount;
    const bool have_parent = l.v2_self_dir && !self_is_root;
    if (facts.root) {
      using P = BaseOptions::Placement;
      if (options.placement == P::kHierarchyRoot || (options.placement == P::kAuto && !facts.v2_parent_delegated &&
                                                     !facts.v2_self_delegated)) {
        l.v2_base_dir = fs::Join(l.v2_mount, options.subtree);
      } else if (options.placement == P::kAuto && facts.v2_parent_delegated && have_parent) {
        // systemd DelegateSubgroup=: we sit in a leaf of the delegated cgroup; tasks go next to it.
        l.v2_base_dir = fs::Join(fs::Parent(*l.v2_self_dir), options.subtree);
        l.delegated = true;
      } else if (l.v2_self_dir) {
        l.v2_base_dir = fs::Join(*l.v2_self_dir, options.subtree);
        l.delegated = true;
      } else {
        v2_reason = "our own cgroup2 directory is not visible through " + l.v2_mount;
      }
    } else if (facts.v2_parent_delegated && have_parent) {
      // A user unit with Delegate=yes and DelegateSubgroup=: tasks go next to our leaf, inside the
      // unit the user manager handed us.
      l.v2_base_dir = fs::Join(fs::Parent(*l.v2_self_dir), options.subtree);
      l.delegated = true;
    } else if (facts.v2_self_delegated && have_parent) {
      // A user unit with plain Delegate=yes: only our own cgroup is ours; its parent (app.slice)
      // belongs to the user manager even though the user may write there. PrepareBase moves us
      // into a leaf first, as for the rootful case.
      l.v2_base_dir = fs::Join(*l.v2_self_dir, options.subtree);
      l.delegated = true;
    } else if (facts.v2_parent_writable && have_parent) {
      // e.g. user@UID.service delegation: the user manager owns app.slice/, we run in a unit below it.
      l.v2_base_dir = fs::Join(fs::Parent(*l.v2_self_dir), options.subtree);
      l.delegated = true;
    } else {
      v2_reason = "no delegated cgroup: rootless, and the parent of our cgroup2 directory is not writable by us";
    }
  } else if (!facts.root) {
    v2_reason = "cgroup v1 host: v1 hierarchies are not delegated to unprivileged users";
  }

  if (facts.root) {
    auto use_v1 = [&](Controller c) {
      const Placement& p = l.Of(c);
      if (p.where != Where::kV1) return -1;
      V1Hierarchy& h = l.v1[static_cast<size_t>(p.v1_index)];
      if (h.base_dir.empty()) h.base_dir = fs::Join(h.mountpoint, options.subtree);
      return p.v1_index;
    };
    use_v1(Controller::kMemory);
    use_v1(Controller::kPids);
    if (options.v1_io) use_v1(Controller::kIo);
    if (l.v2_base_dir.empty()) {
      // Without a v2 tree to use, CPU time comes from cpuacct and Kill() needs the v1 freezer,
      // even on a hybrid host where the placement rule put them on (unusable) v2.
      auto use_named = [&](std::string_view name) {
        for (size_t i = 0; i < l.v1.size(); ++i) {
          if (!Contains(l.v1[i].controllers, name)) continue;
          if (l.v1[i].base_dir.empty()) l.v1[i].base_dir = fs::Join(l.v1[i].mountpoint, options.subtree);
          return static_cast<int>(i);
        }
        return -1;
      };
      use_named("cpuacct");
      l.v1_freezer_index = use_named("freezer");
    }
  }

  if (l.v2_base_dir.empty() && l.UsedV1().empty()) {
    l.no_cgroup_reason = v2_reason.empty() ? "no usable cgroup hierarchy" : v2_reason;
  }
}

namespace fs {

Result<std::string> ReadFileAt(int dirfd, const char* name, ReadMode mode) {
  UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC));
  if (!fd) return Fail(errno, std::string("open ") + name);
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd.Get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(errno, std::string("read ") + name);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (mode == ReadMode::kSingleShow && static_cast<size_t>(n) < sizeof buf) break;
  }
  return out;
}

Result<void> WriteFileAt(int dirfd, const char* name, std::string_view text) {
  UniqueFd fd(::openat(dirfd, name, O_WRONLY | O_CLOEXEC));
  if (!fd) return Fail(errno, std::string("open ") + name + " for writing");
  ssize_t n;
  do {
    n = ::write(fd.Get(), text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Fail(errno, std::string("write \"") + std::string(text) + "\" to " + name);
  if (static_cast<size_t>(n) != text.size()) return FailMsg(std::string("short write to ") + name);
  return {};
}

std::string Join(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

std::string Parent(std::string_view dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  size_t p = dir.rfind('/');
  if (p == std::string_view::npos) return ".";
  if (p == 0) return "/";
  return std::string(dir.substr(0, p));
}

}  // namespace fs

namespace {

bool HasDelegateXattr(const std::string& dir) {
  // systemd >= 251 marks cgroups it delegated with trusted.delegate=1 (user.delegate for the user
  // manager, >= 252). Presence is enough; ENODATA/ENOTSUP mean "not delegated".
  char v[8];
  return ::getxattr(dir.c_str(), "trusted.delegate", v, sizeof v) >= 0 ||
         ::getxattr(dir.c_str(), "user.delegate", v, sizeof v) >= 0;
}

Result<std::vector<std::string>> ReadControllers(const std::string& dir, const char* file) {
  CORDON_ASSIGN_OR_RETURN(std::string text, fs::ReadFileAt(AT_FDCWD, fs::Join(dir, file).c_str()));
  return ParseControllerList(text);
}

Result<bool> HasProcesses(const std::string& dir) {
  CORDON_ASSIGN_OR_RETURN(std::string text, fs::ReadFileAt(AT_FDCWD, fs::Join(dir, "cgroup.procs").c_str()));
  return text.find_first_not_of(" \n") != std::string::npos;
}

Result<void> MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Fail(errno, "mkdir " + dir, errno == EACCES || errno == EPERM || errno == EROFS
                                           ? "run as root, or give Cordon a delegated cgroup (systemd Delegate=yes)"
                                           : "");
  }
  return {};
}

// Enables `wanted` controllers (those listed in dir/cgroup.controllers) in dir/cgroup.subtree_control.
// One write per controller, so one refused controller names itself in the error.
Result<void> EnableControllers(const std::string& dir, const std::vector<std::string>& wanted) {
  CORDON_ASSIGN_OR_RETURN(std::vector<std::string> available, ReadControllers(dir, "cgroup.controllers"));
  CORDON_ASSIGN_OR_RETURN(std::vector<std::string> enabled, ReadControllers(dir, "cgroup.subtree_control"));
  const std::string file = fs::Join(dir, "cgroup.subtree_control");
  for (const std::string& c : wanted) {
    if (!Contains(available, c) || Contains(enabled, c)) continue;
    auto r = fs::WriteFileAt(AT_FDCWD, file.c_str(), "+" + c);
    if (!r) {
      // EBUSY: "no internal processes" — dir holds processes, so it cannot delegate domain controllers.
      return Wrap(r.error(), "enable " + c + " for children of " + dir);
    }
  }
  return {};
}

}  // namespace

Result<Layout> DetectLayout(const BaseOptions& options) {
  CORDON_ASSIGN_OR_RETURN(std::string mountinfo, fs::ReadFileAt(AT_FDCWD, "/proc/self/mountinfo"));
  CORDON_ASSIGN_OR_RETURN(std::string self, fs::ReadFileAt(AT_FDCWD, "/proc/self/cgroup"));
  if (options.ignore_v2) {
    // Drop the cgroup2 mounts and our "0::" membership line: the pure parser then sees a v1 host.
    auto keep = [](const std::string& text, auto&& drop) {
      std::string out;
      size_t pos = 0;
      while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos + 1);
        if (!drop(line)) out += line;
        if (nl == std::string::npos) break;
        pos = nl + 1;
      }
      return out;
    };
    mountinfo = keep(mountinfo, [](const std::string& l) { return l.find(" - cgroup2 ") != std::string::npos; });
    self = keep(self, [](const std::string& l) { return l.rfind("0::", 0) == 0; });
  }
  CORDON_ASSIGN_OR_RETURN(Layout l, DetectLayout(mountinfo, self));
  if (!l.v2_mount.empty()) {
    auto text = fs::ReadFileAt(AT_FDCWD, fs::Join(l.v2_mount, "cgroup.controllers").c_str());
    if (!text) return Wrap(text.error(), "read the cgroup2 root's controllers");
    CORDON_ASSIGN_OR_RETURN(l, DetectLayout(mountinfo, self, *text));
  }
  HostFacts facts;
  facts.root = ::geteuid() == 0;
  if (l.v2_self_dir && *l.v2_self_dir != l.v2_mount) {
    const std::string parent = fs::Parent(*l.v2_self_dir);
    facts.v2_self_delegated = HasDelegateXattr(*l.v2_self_dir);
    facts.v2_parent_delegated = parent != l.v2_mount && HasDelegateXattr(parent);
    facts.v2_parent_writable = ::access(parent.c_str(), W_OK) == 0 &&
                               ::access(fs::Join(parent, "cgroup.subtree_control").c_str(), W_OK) == 0;
  }
  PlaceBase(l, options, facts);
  return l;
}

Result<void> PrepareBase(Layout& l) {
  if (!l.no_cgroup_reason.empty()) return FailMsg("no cgroup to prepare: " + l.no_cgroup_reason);
  for (int i : l.UsedV1()) CORDON_TRY(MakeDir(l.v1[static_cast<size_t>(i)].base_dir));
  if (l.v2_base_dir.empty()) return {};

  // Only controllers that were placed on v2 are wanted there; cpu is left off on purpose (core
  // cpu.stat already has usage/user/system, and the cpu controller costs scheduler work).
  std::vector<std::string> wanted;
  for (Controller c : {Controller::kMemory, Controller::kPids, Controller::kIo}) {
    if (l.Of(c).where == Where::kV2) wanted.emplace_back(ControllerName(c));
  }
  const std::string parent = fs::Parent(l.v2_base_dir);
  if (!wanted.empty() && parent != l.v2_mount) {
    CORDON_ASSIGN_OR_RETURN(bool busy, HasProcesses(parent));
    CORDON_ASSIGN_OR_RETURN(std::vector<std::string> enabled, ReadControllers(parent, "cgroup.subtree_control"));
    CORDON_ASSIGN_OR_RETURN(std::vector<std::string> available, ReadControllers(parent, "cgroup.controllers"));
    bool missing = std::any_of(wanted.begin(), wanted.end(), [&](const std::string& c) {
      return Contains(available, c) && !Contains(enabled, c);
    });
    if (busy && missing && l.v2_self_dir && *l.v2_self_dir == parent) {
      // No internal processes (cgroup-v2.rst): a cgroup with processes cannot enable domain
      // controllers for its children. Move ourselves (the whole thread group: cgroup.procs, "0" =
      // the writer) into a leaf, as systemd's DelegateSubgroup= would have done.
      const std::string leaf = fs::Join(parent, "supervisor");
      CORDON_TRY(MakeDir(leaf));
      CORDON_TRY(fs::WriteFileAt(AT_FDCWD, fs::Join(leaf, "cgroup.procs").c_str(), "0"));
      l.v2_self_dir = leaf;
      if (l.v2_self_path) *l.v2_self_path = fs::Join(*l.v2_self_path, "supervisor");
    }
    auto r = EnableControllers(parent, wanted);
    if (!r) {
      Error e = r.error();
      if (e.err == EBUSY) e.hint = "other processes share our cgroup; run cordond with systemd DelegateSubgroup=supervisor";
      return std::unexpected(std::move(e));
    }
  } else if (!wanted.empty()) {
    // The root is exempt from the no-internal-processes rule; systemd hosts already enable these.
    CORDON_TRY(EnableControllers(parent, wanted));
  }
  CORDON_TRY(MakeDir(l.v2_base_dir));
  if (!wanted.empty()) CORDON_TRY(EnableControllers(l.v2_base_dir, wanted));
  CORDON_ASSIGN_OR_RETURN(l.v2_task_controllers, ReadControllers(l.v2_base_dir, "cgroup.subtree_control"));
  // COMPAT(kernel 5.14): cgroup.kill; without it Kill() signals each pid after cgroup.freeze.
  l.v2_has_kill = ::access(fs::Join(l.v2_base_dir, "cgroup.kill").c_str(), F_OK) == 0;
  return {};
}

}  // namespace cordon::cgroup
