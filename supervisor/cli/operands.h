// supervisor/cli/operands.h: reading a `cordon` subcommand's command line: one that takes `--json`
// and two operands, A and B (`cordon seccomp diff`, `cordon policy diff`), and the prelude shared
// by the subcommands that call cordond (`cordon freeze|thaw|kill|freezes`, `cordon session`,
// `cordon envelope`): `--json`, `--socket PATH`, their own options and operands. An unknown option
// or another number of operands is refused by name.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
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

// The command line of a subcommand that calls cordond.
struct DaemonArgs {
  std::string socket;  // --socket PATH; empty: CORDON_SOCKET or cordond's default
  bool json = false;   // --json
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> values;  // in order; a flag of `bare` with ""
};

// Reads `--json`, `--socket PATH`, the flags in `bare`, the options in `with_value` (each as
// `--name V` or `--name=V`) and the operands (any word not starting with '-', and '-'). Returns ""
// or the one-line error, which calls an unknown word an `unknown_word` ("option", "argument").
inline std::string ReadDaemonArgs(int argc, char** argv, const std::vector<std::string>& with_value,
                                  const std::vector<std::string>& bare, DaemonArgs* a,
                                  std::string_view unknown_word = "option") {
  auto in = [](const std::vector<std::string>& v, const std::string& s) {
    for (const auto& x : v)
      if (x == s) return true;
    return false;
  };
  for (int i = 0; i < argc; ++i) {
    std::string s = argv[i];
    if (s.size() < 2 || s[0] != '-') {
      a->positional.push_back(s);
      continue;
    }
    std::string name = s.substr(0, s.find('=')), value;
    const bool inline_value = s.find('=') != std::string::npos;
    if (inline_value) value = s.substr(s.find('=') + 1);
    if (name == "--json" || in(bare, name)) {
      if (name == "--json") a->json = true;
      else a->values.emplace_back(name, "");
      continue;
    }
    if (name != "--socket" && !in(with_value, name)) return "unknown " + std::string(unknown_word) + " '" + s + "'";
    if (!inline_value) {
      if (i + 1 >= argc) return name + " needs a value";
      value = argv[++i];
    }
    if (name == "--socket") a->socket = value;
    else a->values.emplace_back(name, value);
  }
  return "";
}

}  // namespace cordon::cli
