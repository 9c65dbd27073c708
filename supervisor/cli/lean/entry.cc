// supervisor/cli/lean/entry.cc: the ELF entry point of `cordon` (linked with -e cordon_entry). For
// `cordon submit|ps|status|wait|cancel` it execs the lean client, libexec/cordon/cordon-client
// (cli/lean/main.cc), before any of `cordon`'s own start-up has run; every other command goes on to
// glibc's _start as before.
//
// Why at the entry point: `cordon` is a static PIE of ~11 MB whose start-up (before main) applies
// ~26,000 relocations, writes ~100 pages of .data.rel.ro and runs libcrypto's, protobuf's and
// iostreams' initialisers: ~4 ms of CPU on the test VM, most of what `cordon submit` cost over a
// connected client. A dispatch in main() would come after all of that. The one-shot `cordon run`
// keeps its single exec: the check here is a few compares (docs/performance.md "The lean client").
//
// Nothing here may touch libc or any relocated data: when this runs, the binary is not relocated,
// TLS (and so the stack protector's canary) is not set up and glibc's IFUNCs (memcpy, strcmp) are not
// resolved. String literals are reached PC-relative and need no relocation; system calls are made
// directly. The file is compiled without the stack protector and without loop-to-libcall rewriting
// (supervisor/CMakeLists.txt).
#include <sys/syscall.h>

namespace {

inline long RawSyscall3(long nr, long a, long b, long c) {
  long ret;
  asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
}

bool Equal(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

// The commands cordon-client runs. `evidence` stays in `cordon`: its log subcommands need the rest.
bool LeanCommand(const char* cmd) {
  return Equal(cmd, "submit") || Equal(cmd, "ps") || Equal(cmd, "status") || Equal(cmd, "wait") ||
         Equal(cmd, "cancel");
}

}  // namespace

// `sp` is the initial stack: argc, argv[0..argc-1], NULL, envp..., NULL. Returns when the command is
// not the lean client's, or when the client cannot be exec'd (a partial install, no /proc): `cordon`
// then runs the command itself, as it always could.
extern "C" [[gnu::visibility("hidden"), gnu::used, gnu::no_stack_protector]] void CordonEarlyDispatch(long* sp) {
  const long argc = sp[0];
  char** argv = reinterpret_cast<char**>(sp + 1);
  if (argc < 2 || !LeanCommand(argv[1])) return;
  // .../bin/cordon -> .../libexec/cordon/cordon-client, the way LocateRuntime finds the shim.
  constexpr long kMax = 4096;
  char path[kMax + 64];
  const long n = RawSyscall3(SYS_readlink, reinterpret_cast<long>("/proc/self/exe"), reinterpret_cast<long>(path), kMax);
  if (n <= 0 || n >= kMax) return;
  long cut = n;
  for (int slashes = 0; slashes < 2;) {
    if (cut == 0) return;
    if (path[--cut] == '/') ++slashes;
  }
  const char* tail = "/" CORDON_INSTALL_LIBEXECDIR "/cordon/cordon-client";
  for (; *tail != '\0'; ++tail) {
    if (cut >= kMax + 63) return;
    path[cut++] = *tail;
  }
  path[cut] = '\0';
  char** envp = argv + argc + 1;
  RawSyscall3(SYS_execve, reinterpret_cast<long>(path), reinterpret_cast<long>(argv), reinterpret_cast<long>(envp));
}

// The entry: the kernel (or, for a dynamic build, ld.so) jumps here with the initial stack at %rsp,
// 16-byte aligned, and in %rdx the function _start hands to atexit (ld.so's finaliser, or 0). %r12 is
// callee-saved, so it carries %rdx across the call; _start then sees the same registers and stack.
asm(R"(
  .text
  .globl cordon_entry
  .type cordon_entry, @function
cordon_entry:
  .cfi_startproc
  .cfi_undefined rip
  endbr64
  mov %rdx, %r12
  mov %rsp, %rdi
  call CordonEarlyDispatch
  mov %r12, %rdx
  jmp _start
  .cfi_endproc
  .size cordon_entry, .-cordon_entry
)");
