// try_syscall: a sandboxee that makes one raw system call and prints what came back.
//
//   try_syscall NAME|NR [ARG...]     -> "ok RET" or "err ERRNO_NAME"
//   try_syscall --x32 NAME [ARG...]  -> the same call through the x32 ABI (nr | 0x40000000)
//   try_syscall --int80 NR [ARG...]  -> an i386 call through `int $0x80` (NR is an i386 number)
//
// Numbers are decimal or 0x hex. Names are resolved for x86_64 at build time by libseccomp's
// table (linked statically, so nothing beyond libc is needed inside the sandbox).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long ParseNum(const char* s) { return (long)strtoull(s, NULL, 0); }

int main(int argc, char** argv) {
  int x32 = 0, int80 = 0, i = 1;
  if (i < argc && strcmp(argv[i], "--x32") == 0) x32 = 1, ++i;
  if (i < argc && strcmp(argv[i], "--int80") == 0) int80 = 1, ++i;
  if (i >= argc) {
    fprintf(stderr, "usage: try_syscall [--x32|--int80] NAME|NR [ARG...]\n");
    return 2;
  }
  char* end;
  long nr = strtol(argv[i], &end, 0);
  if (*end != '\0') nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, argv[i]);
  if (nr < 0) {
    fprintf(stderr, "try_syscall: unknown syscall %s\n", argv[i]);
    return 2;
  }
  long a[6] = {0};
  for (int k = 0; k < 6 && i + 1 + k < argc; ++k) a[k] = ParseNum(argv[i + 1 + k]);
  long ret;
  if (int80) {
    long r = nr;
    __asm__ volatile("int $0x80" : "+a"(r) : "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4]) : "memory");
    if (r < 0 && r > -4096) {
      errno = (int)-r;
      ret = -1;
    } else {
      ret = r;
    }
  } else {
    ret = syscall(x32 ? (nr | 0x40000000L) : nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  }
  if (ret == -1) {
    const char* n = strerrorname_np(errno);
    if (n) printf("err %s\n", n); else printf("err %d\n", errno);  // errnos glibc cannot name
  } else {
    printf("ok %ld\n", ret);
  }
  return 0;
}
