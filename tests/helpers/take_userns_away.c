// take_userns_away: runs a program on a host whose user namespaces are taken away, the ways real
// hosts do it (docs/environments.md), for the tests of Cordon's refusal and of `cordon doctor`.
//
//   take_userns_away sysctl  PROG [ARG...]  a new user namespace, we uid/gid 1000 in it (unprivileged),
//                                           with user.max_user_namespaces = 0 set inside it
//   take_userns_away seccomp PROG [ARG...]  a container runtime's default seccomp profile's answer:
//                                           clone3 -> ENOSYS, unshare/clone with CLONE_NEWUSER -> EPERM
//
// Exits 126 when the host will not let it set this up (its message says why): a test skips then.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int WriteFile(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  int err = errno;
  close(fd);
  errno = err;
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int Fail(const char* what) {
  fprintf(stderr, "take_userns_away: %s: %s\n", what, strerror(errno));
  return 126;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: take_userns_away sysctl|seccomp PROG [ARG...]\n");
    return 2;
  }
  if (strcmp(argv[1], "sysctl") == 0) {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER) != 0) return Fail("unshare(CLONE_NEWUSER)");
    char map[64];
    snprintf(map, sizeof map, "1000 %u 1\n", (unsigned)uid);
    if (WriteFile("/proc/self/uid_map", map) != 0) return Fail("write uid_map");
    if (WriteFile("/proc/self/setgroups", "deny") != 0) return Fail("write setgroups");
    snprintf(map, sizeof map, "1000 %u 1\n", (unsigned)gid);
    if (WriteFile("/proc/self/gid_map", map) != 0) return Fail("write gid_map");
    // We still hold every capability of the namespace we created (until execve as uid 1000).
    if (WriteFile("/proc/sys/user/max_user_namespaces", "0") != 0) return Fail("set user.max_user_namespaces=0");
  } else if (strcmp(argv[1], "seccomp") == 0) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL) return Fail("seccomp_init");
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) != 0 ||
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)) != 0 ||
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)) != 0)
      return Fail("seccomp_rule_add");
    if (seccomp_load(ctx) != 0) return Fail("seccomp_load");
    seccomp_release(ctx);
  } else {
    fprintf(stderr, "take_userns_away: unknown mode %s (sysctl or seccomp)\n", argv[1]);
    return 2;
  }
  execv(argv[2], argv + 2);
  return Fail(argv[2]);
}
