// tests/support/cgroup_child.h: what the cgroup tests (tests/integration/cgroup_test.cc and the v2
// VM's tests/vm/v2_host_test.cc) do with the children they put in a task cgroup: wait for one's
// status, make one use memory, read a cgroup file. Header-only: the VM tests link no test library.
#pragma once

#include <sys/mman.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>

namespace cordon::test {

// The whole file (a cgroup file, /proc/self/cgroup); "" when it cannot be read.
inline std::string ReadAll(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// waitpid's status for `pid`, retried on EINTR.
inline int WaitStatus(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Touches `mib` MiB of fresh anonymous memory (a child's body, to meet a memory limit); 2 when the
// mapping fails.
inline int TouchMiB(size_t mib) {
  const size_t n = mib << 20;
  auto* p = static_cast<volatile char*>(::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (p == MAP_FAILED) return 2;
  for (size_t i = 0; i < n; i += 4096) p[i] = 1;
  return 0;
}

}  // namespace cordon::test
