// supervisor/cli/operands.h: the command line of a `cordon` subcommand that takes `--json` and two
// operands, A and B (`cordon seccomp diff`, `cordon policy diff`). An unknown option or another
// number of operands is refused by name, through cli/report.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/cli/report.h"

namespace cordon::cli {

struct JsonAndPair {
  bool json = false;
  std::string a, b;
};

// `cmd` names the command in messages ("seccomp diff"), `what` its operands ("profiles"), `hint`
// where its usage is. On a refusal, returns the exit code instead.
inline std::optional<int> ReadJsonAndPair(int argc, char** argv, std::string_view cmd, std::string_view what,
                                          std::string_view hint, JsonAndPair* out) {
  std::vector<std::string> pos;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--json") {
      out->json = true;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return ReportFailure(std::string(cmd) + ": unknown option '" + arg + "'", hint);
    } else {
      pos.push_back(arg);
    }
  }
  if (pos.size() != 2)
    return ReportFailure(std::string(cmd) + ": needs exactly two " + std::string(what) + ", A and B", hint);
  out->a = pos[0];
  out->b = pos[1];
  return std::nullopt;
}

}  // namespace cordon::cli
