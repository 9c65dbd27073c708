// bench/oci_bundle.h: the crun and runc rows of cordon-bench (docs/performance.md). A throw-away OCI
// bundle that runs one program with what bubblewrap's row gets: its own mount, PID, network, IPC and
// UTS namespaces (a user namespace too when not root), a read-only root holding /usr (and the
// usual /bin, /lib symlinks into it), /proc, a tmpfs /dev and /tmp. No cgroup limits: the runtimes
// are timed starting a sandbox, not enforcing budgets.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace bench {

// Writes the bundle into a new temporary directory; returns it, or "" when it could not be made.
inline std::string MakeOciBundle(const std::vector<std::string>& argv) {
  char tmpl[] = "/tmp/cordon-bench-oci-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return {};
  const std::string dir = tmpl;
  chmod(tmpl, 0755);
  const std::string root = dir + "/rootfs";
  for (const char* d : {"", "/usr", "/proc", "/dev", "/tmp", "/etc"}) mkdir((root + d).c_str(), 0755);
  for (const char* l : {"bin", "lib", "lib64", "sbin"})
    if (symlink((std::string("usr/") + l).c_str(), (root + "/" + l).c_str()) < 0) return {};
  using nlohmann::json;
  json ns = json::array({{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                         {{"type", "mount"}}});
  json linux_ = {{"namespaces", ns},
                 {"maskedPaths", {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"}},
                 {"readonlyPaths", {"/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/fs", "/proc/irq"}}};
  if (geteuid() != 0) {
    linux_["namespaces"].push_back({{"type", "user"}});
    linux_["uidMappings"] = json::array({{{"containerID", 0}, {"hostID", geteuid()}, {"size", 1}}});
    linux_["gidMappings"] = json::array({{{"containerID", 0}, {"hostID", getegid()}, {"size", 1}}});
  }
  json config = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", argv},
        {"env", {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp"}},
        {"cwd", "/"},
        {"noNewPrivileges", true},
        {"capabilities", {{"bounding", json::array()}, {"effective", json::array()}, {"permitted", json::array()}}}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "bench"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/usr"}, {"type", "bind"}, {"source", "/usr"}, {"options", {"rbind", "ro", "nosuid", "nodev"}}},
        {{"destination", "/tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"nosuid", "nodev", "mode=1777"}}}}},
      {"linux", linux_}};
  std::ofstream(dir + "/config.json") << config.dump(1);
  return dir;
}

inline void RemoveOciBundle(const std::string& dir) {
  if (dir.empty()) return;
  for (const char* l : {"bin", "lib", "lib64", "sbin"}) unlink((dir + "/rootfs/" + l).c_str());
  for (const char* d : {"/usr", "/proc", "/dev", "/tmp", "/etc", ""}) rmdir((dir + "/rootfs" + d).c_str());
  unlink((dir + "/config.json").c_str());
  rmdir((dir + "/state").c_str());  // the runtimes' state root (`--root`), empty once each run is deleted
  rmdir(dir.c_str());
}

}  // namespace bench
