// cordon-client: the lean `cordon submit|ps|status|wait|cancel` (docs/performance.md "The lean
// client"). `cordon` (cli/main.cc) execs it from its ELF entry point, before its own start-up
// (cli/lean/entry.cc), when the command is one of these. It links the daemon client, the API's
// messages and nothing of the one-shot supervisor: no libcrypto, RE2, libseccomp or SQLite, about a
// fifth of `cordon`'s code and a tenth of its start-up relocations. The commands are the same code
// as in `cordon` (cli/client.cc).
#include <cstdio>
#include <string>

#include "common/setup_step.h"
#include "supervisor/cli/client.h"

int main(int argc, char** argv) {
  using namespace cordon;
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (argc > 1 && IsClientCommand(cmd) && cmd != "evidence") return RunClientCommand(cmd, argc - 2, argv + 2);
  std::fprintf(stderr,
               "cordon-client: runs only `submit`, `ps`, `status`, `wait` and `cancel`, not '%s'\n"
               "cordon-client: hint: run `cordon %s` instead (cordon starts this program itself)\n",
               cmd.c_str(), cmd.c_str());
  return kExitCordonFailure;
}
