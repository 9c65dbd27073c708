// cordon-run: the lean `cordon run` (docs/performance.md "The lean run"). `cordon` execs it from its
// ELF entry point (cli/lean/entry.cc) for `run`, before its own start-up. It is the same code as
// `cordon run` (cli/run.cc) linked with what a one-shot needs (policy, bindings, the seccomp
// filter and its cache, cgroups, the task and its egress proxy, the evidence record) and nothing
// else: no signed evidence log, protobuf, SQLite, RE2, libssl or the other subcommands.
//
// A run with --evidence-log needs the signed log (Ed25519 keys, RE2 redaction): this program hands
// it, unchanged, to `cordon` (bin/cordon beside libexec/cordon), with CORDON_LEAN_START=off so that
// `cordon` runs it itself instead of starting this program again.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/setup_step.h"
#include "supervisor/cli/run.h"

namespace {

// .../libexec/cordon/cordon-run -> .../bin/cordon, or "" when this program is not installed that way.
std::string FullCordon() {
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return "";
  const std::string self(exe, static_cast<size_t>(n));
  const std::string tail = "/" CORDON_INSTALL_LIBEXECDIR "/cordon/cordon-run";
  if (self.size() <= tail.size() || self.compare(self.size() - tail.size(), tail.size(), tail) != 0) return "";
  return self.substr(0, self.size() - tail.size()) + "/" CORDON_INSTALL_BINDIR "/cordon";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cordon;
  if (argc < 2 || std::strcmp(argv[1], "run") != 0) {
    const char* cmd = argc > 1 ? argv[1] : "";
    std::fprintf(stderr,
                 "cordon-run: runs only `run`, not '%s'\n"
                 "cordon-run: hint: run `cordon %s` instead (cordon starts this program itself)\n",
                 cmd, cmd);
    return kExitCordonFailure;
  }
  const int rc = cli::CmdRun(argc - 2, argv + 2, cli::RunSupport{});
  if (rc != cli::kRunNeedsFullCordon) return rc;
  const std::string cordon = FullCordon();
  if (!cordon.empty()) {
    ::setenv("CORDON_LEAN_START", "off", 1);
    ::execv(cordon.c_str(), argv);
  }
  std::fprintf(stderr,
               "cordon: --evidence-log needs the full cordon, %s, which could not be started: %s\n"
               "cordon: hint: reinstall Cordon (cmake --install) so that bin/cordon sits beside libexec/cordon\n",
               cordon.empty() ? "(not beside this program)" : cordon.c_str(),
               cordon.empty() ? "no such file" : std::strerror(errno));
  return kExitCordonFailure;
}
