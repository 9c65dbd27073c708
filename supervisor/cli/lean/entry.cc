// supervisor/cli/lean/entry.cc: the ELF entry point of `cordon` (linked with -e cordon_entry). For
// `cordon submit|ps|status|wait|cancel` it execs the lean client, libexec/cordon/cordon-client
// (cli/lean/main.cc), and for `cordon run` the lean one-shot, libexec/cordon/cordon-run
// (cli/lean/run_main.cc), before any of `cordon`'s own start-up has run; every other command goes
// on to glibc's _start as before. CORDON_LEAN_START=off in the environment keeps every command in
// `cordon` (cordon-run sets it when it hands a run with --evidence-log back to `cordon`).
//
// Why at the entry point: `cordon` is a static PIE of ~11 MB whose start-up (before main) applies
// ~26,000 relocations, writes ~100 pages of .data.rel.ro and runs libcrypto's, protobuf's and
// iostreams' initialisers: ~4 ms of CPU on the test VM, most of what `cordon submit` cost over a
// connected client. A dispatch in main() would come after all of that (docs/performance.md "The
// lean client", "The lean run").
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

// The lean program for `cmd`, or nullptr: cordon-client for the daemon's client commands
// (`evidence` stays in `cordon`: its log subcommands need the rest), cordon-run for `run`.
const char* LeanProgram(const char* cmd) {
  if (Equal(cmd, "submit") || Equal(cmd, "ps") || Equal(cmd, "status") || Equal(cmd, "wait") || Equal(cmd, "cancel"))
    return "cordon-client";
  if (Equal(cmd, "run")) return "cordon-run";
  return nullptr;
}

// True when `envp` holds CORDON_LEAN_START=off.
bool LeanStartOff(char** envp) {
  for (; *envp != nullptr; ++envp)
    if (Equal(*envp, "CORDON_LEAN_START=off")) return true;
  return false;
}

}  // namespace

// `sp` is the initial stack: argc, argv[0..argc-1], NULL, envp..., NULL. Returns when the command is
// not a lean program's, or when that program cannot be exec'd (a partial install, no /proc): `cordon`
// then runs the command itself, as it always could.
extern "C" [[gnu::visibility("hidden"), gnu::used, gnu::no_stack_protector]] void CordonEarlyDispatch(long* sp) {
  const long argc = sp[0];
  char** argv = reinterpret_cast<char**>(sp + 1);
  if (argc < 2) return;
  const char* program = LeanProgram(argv[1]);
  char** envp = argv + argc + 1;
  if (program == nullptr || LeanStartOff(envp)) return;
  // .../bin/cordon -> .../libexec/cordon/PROGRAM, the way LocateRuntime finds the shim.
  constexpr long kMax = 4096;
  char path[kMax + 64];
  const long n = RawSyscall3(SYS_readlink, reinterpret_cast<long>("/proc/self/exe"), reinterpret_cast<long>(path), kMax);
  if (n <= 0 || n >= kMax) return;
  long cut = n;
  for (int slashes = 0; slashes < 2;) {
    if (cut == 0) return;
    if (path[--cut] == '/') ++slashes;
  }
  // Two plain loops, not a loop over an array of the two: such an array could be laid out as
  // relocated data, which is not relocated yet.
  for (const char* tail = "/" CORDON_INSTALL_LIBEXECDIR "/cordon/"; *tail != '\0'; ++tail) {
    if (cut >= kMax + 63) return;
    path[cut++] = *tail;
  }
  for (const char* tail = program; *tail != '\0'; ++tail) {
    if (cut >= kMax + 63) return;
    path[cut++] = *tail;
  }
  path[cut] = '\0';
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
