// shim/test_hooks.h: failure injection, in the test build of the shim only. `cordon-shim-testhooks`
// (built with the tests, never installed) is this shim compiled with CORDON_TEST_HOOKS; a test
// copies it into a directory of its own, writes a step number into `fail-step` beside it, and
// points CORDON_SHIM at the copy. That step then fails with EPERM, so the test can check that each
// step reports itself by name. The shipped shim reads no such file and has no hook: the check
// below is a constant there and the compiler drops it.
#pragma once

#include <cstdint>

#ifdef CORDON_TEST_HOOKS
#include <fcntl.h>
#include <unistd.h>
#endif

namespace cordon::shim {

#ifdef CORDON_TEST_HOOKS
inline uint32_t g_fail_at_step = 0;

// Reads <directory of this executable>/fail-step (a decimal step number), if it is there.
inline void LoadTestHooks() {
  char path[4096];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 16);
  if (n <= 0) return;
  while (n > 0 && path[n - 1] != '/') --n;
  const char kName[] = "fail-step";
  for (size_t i = 0; i < sizeof kName; ++i) path[n + static_cast<ssize_t>(i)] = kName[i];
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[16];
  ssize_t got = ::read(fd, buf, sizeof buf);
  ::close(fd);
  uint32_t step = 0;
  for (ssize_t i = 0; i < got && buf[i] >= '0' && buf[i] <= '9'; ++i) step = step * 10 + static_cast<uint32_t>(buf[i] - '0');
  g_fail_at_step = step;
}
#else
inline constexpr uint32_t g_fail_at_step = 0;
inline void LoadTestHooks() {}
#endif

}  // namespace cordon::shim
