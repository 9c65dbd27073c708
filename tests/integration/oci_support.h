// tests/integration/oci_support.h: a bundle for cordon-runc built in a temp dir (a busybox-static
// image), a config.json like the one engines write, and a runner that gives the runtime files for
// its stdio (the container's monitor keeps them: a pipe would not see EOF until it ends) while
// this test process is the subreaper that waits for the container, as conmon and containerd's
// shim are. Header-only, shared by the oci_* tests.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/run.h"

extern char** environ;

namespace cordon::test::oci {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// A private directory, world-readable (the rootful sandbox's ids must reach the image).
inline std::string MakeDir() {
  char tmpl[] = "/tmp/cordon-oci-XXXXXX";
  std::string d = ::mkdtemp(tmpl);
  ::chmod(d.c_str(), 0755);
  return d;
}

// bin/ of busybox-static and its applets; "" when the host has no static busybox.
inline bool MakeImage(const std::string& root) {
  const char* bb = "/bin/busybox";
  struct stat st;
  if (::stat(bb, &st) < 0) return false;
  for (const char* d : {"", "/bin", "/etc", "/proc", "/dev", "/sys", "/tmp"}) ::mkdir((root + d).c_str(), 0755);
  std::ifstream in(bb, std::ios::binary);
  std::ofstream out(root + "/bin/busybox", std::ios::binary);
  out << in.rdbuf();
  out.close();
  ::chmod((root + "/bin/busybox").c_str(), 0755);
  for (const char* a : {"sh", "echo", "cat", "id", "ls", "sleep", "grep", "true", "false", "readlink", "mkdir",
                        "hostname", "test", "head", "wc", "tty", "env", "touch", "seq"})
    (void)!::symlink("busybox", (root + "/bin/" + a).c_str());
  WriteFile(root + "/etc/image-marker", "from the image\n");
  return true;
}

// A config.json as podman writes one (namespaces, the usual mounts, a capability set, rlimits).
inline nlohmann::json BaseConfig(const std::vector<std::string>& args) {
  return {{"ociVersion", "1.0.2"},
          {"process",
           {{"terminal", false},
            {"user", {{"uid", 0}, {"gid", 0}}},
            {"args", args},
            {"env", {"PATH=/bin", "TERM=xterm", "FROM_CONFIG=yes"}},
            {"cwd", "/"},
            {"capabilities", {{"bounding", {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"}},
                              {"effective", {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"}}}},
            {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
            {"noNewPrivileges", true}}},
          {"root", {{"path", "rootfs"}, {"readonly", true}}},
          {"hostname", "oci-test-host"},
          {"mounts",
           {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
            {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"nosuid", "mode=755"}}},
            {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"}},
            {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"}, {"options", {"ro"}}}}},
          {"linux",
           {{"namespaces", {{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                            {{"type", "mount"}}}},
            {"maskedPaths", {"/proc/kcore"}},
            {"readonlyPaths", {"/proc/sys"}}}}};
}

struct Proc {
  int exit_code = -1;
  std::string out, err;
};

// The test process adopts orphans (the container's monitor once `create` exits), like conmon.
inline void BecomeSubreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

// Runs argv with stdout/stderr into files under `dir`; waits for it (bounded: 60 s).
inline Proc RunCapture(const std::vector<std::string>& argv, const std::string& dir, const std::string& tag = "cmd") {
  Proc p;
  std::string out = dir + "/" + tag + ".out", err = dir + "/" + tag + ".err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> av;
  for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  pid_t pid;
  if (::posix_spawn(&pid, av[0], &fa, nullptr, av.data(), environ) != 0) return p;
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  p.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  p.out = ReadFile(out);
  p.err = ReadFile(err);
  return p;
}

// Waits (bounded) for the adopted process `pid` and returns its status as 128+signal or the code.
inline int WaitAdopted(pid_t pid, int timeout_s = 60) {
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() > deadline) return -2;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls `pred` every 5 ms for up to `timeout_s`.
template <class F>
bool WaitFor(F pred, int timeout_s = 30) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

}  // namespace cordon::test::oci
