#include "supervisor/task/rootfs.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <memory>
#include <sstream>

namespace cordon {
namespace {

using proto::MountEntry;
using proto::MountKind;

// Adds `path` as a read-only bind, or as the same symlink when the host has a symlink there.
// Returns ENOENT when it does not exist so callers decide whether that is an error.
int AddHostPath(const std::string& host_root, const std::string& path, std::vector<MountEntry>* out,
                const std::string& target = {}) {
  std::string host = host_root == "/" ? path : host_root + path;
  const std::string& dst = target.empty() ? path : target;
  struct stat st;
  if (::lstat(host.c_str(), &st) < 0) return errno;
  if (S_ISLNK(st.st_mode)) {
    char buf[4096];
    ssize_t n = ::readlink(host.c_str(), buf, sizeof buf - 1);
    if (n < 0) return errno;
    out->push_back({MountKind::kSymlink, 0, std::string(buf, static_cast<size_t>(n)), dst});
    return 0;
  }
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) return EINVAL;
  out->push_back({MountKind::kRoBind, 0, host, dst});
  return 0;
}

// The generated files below, which an image's own never replace.
bool Generated(const std::string& etc_name) {
  for (const char* g : {"passwd", "group", "hosts", "hostname", "resolv.conf", "nsswitch.conf"})
    if (etc_name == g) return true;
  return false;
}

// An image root: each top-level entry but the ones the sandbox makes itself, then /etc entry by
// entry (so that the generated files can still be written beside them).
Result<void> AddImageRoot(const std::string& root, std::vector<MountEntry>* m) {
  auto list = [](const std::string& dir) -> Result<std::vector<std::string>> {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) return Fail(errno, "open the image root directory " + dir, "check the bundle's root.path");
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d.get())) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  CORDON_ASSIGN_OR_RETURN(auto top, list(root));
  for (const auto& n : top) {
    if (n == "proc" || n == "dev" || n == "sys" || n == "tmp" || n == "work" || n == "etc") continue;
    int err = AddHostPath(root, "/" + n, m);
    if (err != 0 && err != EINVAL) return Fail(err, "inspect " + root + "/" + n);
  }
  struct stat st;
  if (::lstat((root + "/etc").c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    CORDON_ASSIGN_OR_RETURN(auto etc, list(root + "/etc"));
    for (const auto& n : etc) {
      if (Generated(n)) continue;
      int err = AddHostPath(root, "/etc/" + n, m);
      if (err != 0 && err != EINVAL) return Fail(err, "inspect " + root + "/etc/" + n);
    }
  }
  return {};
}

}  // namespace

Result<std::vector<MountEntry>> BuildRootfs(const Policy& policy, const RootfsOptions& o) {
  std::vector<MountEntry> m;
  if (!o.image_root.empty()) {
    CORDON_TRY(AddImageRoot(o.image_root, &m));
  } else {
  // Runtime directories: the only ones that may hold executables.
  for (const char* p : {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    int err = AddHostPath(o.host_root, p, &m);
    if (err != 0 && err != ENOENT) return Fail(err, std::string("inspect host path ") + p);
  }
  // /etc entries programs need: dynamic linker config, TLS roots, alternatives (python3, node and
  // many tools resolve through /etc/alternatives on Debian), time zone, MIME and service tables.
  for (const char* p : {"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/ssl",
                        "/etc/ca-certificates.conf", "/etc/alternatives", "/etc/localtime", "/etc/mime.types",
                        "/etc/protocols", "/etc/services", "/etc/debian_version", "/etc/os-release"}) {
    int err = AddHostPath(o.host_root, p, &m);
    if (err != 0 && err != ENOENT) return Fail(err, std::string("inspect host path ") + p);
  }
  }
  for (size_t i = 0; i < policy.mounts.size(); ++i) {
    int err = AddHostPath(o.host_root, policy.mounts[i].source, &m, policy.mounts[i].target);
    if (err != 0)
      return Fail(err, "policy " + policy.name + ": mounts[" + std::to_string(i) + "] " + policy.mounts[i].source,
                  "the host must have this path (a directory, regular file or symlink); fix the policy's mounts");
  }
  // Egress TLS interception's CA and a bundle with it (egress/tls_ca.h), as the sandbox's own
  // files: cordond's state dir is its alone, so they are copied rather than bound.
  for (const char* f : {"egress-ca.pem", "ca-bundle.pem"}) {
    if (o.trust_dir.empty()) break;
    std::ifstream in(o.trust_dir + "/" + f, std::ios::binary);
    std::stringstream text;
    if (!in || !(text << in.rdbuf()))
      return Fail(errno ? errno : EIO, "read " + o.trust_dir + "/" + f, "restart cordond to recreate it");
    m.push_back({MountKind::kFile, 0644, text.str(), std::string("/etc/cordon/tls/") + f});
  }
  // Generated identity and name-service files: the task user exists, nothing of the host's does.
  const std::string uid = std::to_string(o.task_uid), gid = std::to_string(o.task_gid);
  m.push_back({MountKind::kFile, 0644,
               "root:x:0:0:root:/root:/usr/sbin/nologin\n" + o.user_name + ":x:" + uid + ":" + gid +
                   ":Cordon task:/work:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
               "/etc/passwd"});
  m.push_back({MountKind::kFile, 0644, "root:x:0:\n" + o.user_name + ":x:" + gid + ":\nnogroup:x:65534:\n",
               "/etc/group"});
  m.push_back({MountKind::kFile, 0644,
               "127.0.0.1\tlocalhost\n127.0.1.1\t" + o.hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n",
               "/etc/hosts"});
  m.push_back({MountKind::kFile, 0644, o.hostname + "\n", "/etc/hostname"});
  m.push_back({MountKind::kFile, 0644,
               "# Cordon: this sandbox has no direct network; there is no resolver to reach.\n",
               "/etc/resolv.conf"});
  m.push_back({MountKind::kFile, 0644, "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
               "/etc/nsswitch.conf"});
  return m;
}

}  // namespace cordon
