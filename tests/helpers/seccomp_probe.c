// seccomp_probe: a sandboxee for the seccomp actions that one raw call cannot show.
//
//   seccomp_probe thread NAME [ARG...]  a second thread makes the call; the main thread joins it
//                                       and prints "main alive" (KILL_THREAD: only that thread ends)
//   seccomp_probe trap NAME [ARG...]    with a SIGSYS handler installed, makes the call and prints
//                                       what the handler saw: "trap code=C syscall=N arch=0xA ret=R"
//                                       (the handler emulates the call's result as 4242)
//   seccomp_probe catch NAME [ARG...]   installs a SIGSYS handler, then makes the call (a kill must
//                                       still end the process)
//   seccomp_probe loop N NAME [ARG...]  makes the call N times, prints "ns_per_call X" (median of
//                                       5 rounds of N/5 calls each) and the last result
//   seccomp_probe range FROM TO         calls every syscall number in [FROM, TO) once (no args),
//                                       prints "done"
//   seccomp_probe load BPF PROG [ARG...] installs the raw sock_filter array in file BPF (as
//                                       `cordon seccomp compile -o` writes it) and execs PROG: the
//                                       kernel's own answer, to compare with Cordon's
//   seccomp_probe native ERRNO NAME N   installs its own filter (NAME -> SECCOMP_RET_ERRNO(ERRNO),
//                                       the rest allowed), then runs `loop N NAME`: the bare
//                                       filter's cost, for the benchmark
//
// Static like every helper. Names are resolved for x86_64 by libseccomp's table.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static long g_nr;
static long g_args[6];

static long Resolve(const char* s) {
  char* end;
  long nr = strtol(s, &end, 0);
  if (*end != '\0') nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, s);
  if (nr < 0) {
    fprintf(stderr, "seccomp_probe: unknown syscall %s\n", s);
    exit(2);
  }
  return nr;
}

static void ParseCall(int argc, char** argv, int i) {
  g_nr = Resolve(argv[i]);
  for (int k = 0; k < 6 && i + 1 + k < argc; ++k) g_args[k] = (long)strtoull(argv[i + 1 + k], NULL, 0);
}

static long Call(void) {
  return syscall(g_nr, g_args[0], g_args[1], g_args[2], g_args[3], g_args[4], g_args[5]);
}

static void PrintResult(long ret) {
  if (ret == -1) {
    const char* n = strerrorname_np(errno);
    if (n) printf("err %s\n", n); else printf("err %d\n", errno);
  } else {
    printf("ok %ld\n", ret);
  }
}

static void* ThreadMain(void* arg) {
  (void)arg;
  long ret = Call();
  PrintResult(ret);
  fflush(stdout);
  return NULL;
}

static volatile sig_atomic_t g_code, g_syscall, g_arch_lo, g_arch_hi;

static void OnSigsys(int sig, siginfo_t* si, void* uc_void) {
  (void)sig;
  ucontext_t* uc = uc_void;
  g_code = si->si_code;
  g_syscall = si->si_syscall;
  g_arch_lo = (int)(si->si_arch & 0xffff);
  g_arch_hi = (int)(si->si_arch >> 16);
  uc->uc_mcontext.gregs[REG_RAX] = 4242;  // emulate the call, as a trap handler does
}

static uint64_t NowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int CmpU64(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

static int Loop(long n) {
  if (n < 5) n = 5;
  uint64_t per[5];
  long ret = 0;
  for (int r = 0; r < 5; ++r) {
    uint64_t t0 = NowNs();
    for (long k = 0; k < n / 5; ++k) ret = Call();
    per[r] = (NowNs() - t0) / (uint64_t)(n / 5);
  }
  qsort(per, 5, sizeof per[0], CmpU64);
  printf("ns_per_call %llu\n", (unsigned long long)per[2]);
  PrintResult(ret);
  return 0;
}

static int InstallNative(int err, long nr) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof f / sizeof f[0], f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 3) {
    fprintf(stderr, "usage: seccomp_probe thread|trap|catch NAME [ARG...] | loop N NAME [ARG...] | native ERRNO NAME N\n");
    return 2;
  }
  const char* mode = argv[1];
  if (strcmp(mode, "thread") == 0) {
    ParseCall(argc, argv, 2);
    pthread_t t;
    if (pthread_create(&t, NULL, ThreadMain, NULL) != 0) return 3;
    pthread_join(t, NULL);
    printf("main alive\n");
    return 0;
  }
  if (strcmp(mode, "trap") == 0 || strcmp(mode, "catch") == 0) {
    ParseCall(argc, argv, 2);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = OnSigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, NULL);
    long ret = Call();
    printf("trap code=%d syscall=%d arch=0x%x ret=%ld\n", (int)g_code, (int)g_syscall,
           (unsigned)((g_arch_hi << 16) | g_arch_lo), ret);
    return 0;
  }
  if (strcmp(mode, "loop") == 0 && argc >= 4) {
    long n = strtol(argv[2], NULL, 0);
    ParseCall(argc, argv, 3);
    return Loop(n);
  }
  if (strcmp(mode, "range") == 0 && argc >= 4) {
    long from = strtol(argv[2], NULL, 0), to = strtol(argv[3], NULL, 0);
    for (long nr = from; nr < to; ++nr) syscall(nr, 0, 0, 0, 0, 0, 0);
    printf("done\n");
    return 0;
  }
  if (strcmp(mode, "load") == 0 && argc >= 4) {
    static struct sock_filter insns[4096];
    FILE* f = fopen(argv[2], "rb");
    if (!f) {
      perror("seccomp_probe: open BPF");
      return 3;
    }
    size_t n = fread(insns, sizeof insns[0], sizeof insns / sizeof insns[0], f);
    fclose(f);
    struct sock_fprog prog = {(unsigned short)n, insns};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
      perror("seccomp_probe: seccomp");
      return 3;
    }
    execv(argv[3], argv + 3);
    perror("seccomp_probe: execv");
    return 127;
  }
  if (strcmp(mode, "native") == 0 && argc >= 5) {
    int err = (int)strtol(argv[2], NULL, 0);
    ParseCall(argc, argv, 3);
    long n = strtol(argv[4], NULL, 0);
    memset(g_args, 0, sizeof g_args);
    if (InstallNative(err, g_nr) != 0) {
      perror("seccomp_probe: seccomp");
      return 3;
    }
    return Loop(n);
  }
  fprintf(stderr, "seccomp_probe: unknown mode %s\n", mode);
  return 2;
}
