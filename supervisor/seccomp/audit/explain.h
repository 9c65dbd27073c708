// supervisor/seccomp/audit/explain.h: `cordon seccomp explain`, which rule decides a call, per ABI.
//
// Supervisor side only, pure. Two views of one profile:
//   ExplainCall: one syscall (with arguments, or without: then every rule for it), for each ABI, as
//     Cordon enforces it (foreign ABIs killed) and as runc/crun would (listed architectures accepted);
//   ExplainTable: every syscall this libseccomp knows on the native ABI: allowed, denied (with what)
//     or conditional (on which arguments).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "supervisor/seccomp/audit/decide.h"

namespace cordon::seccomp::audit {

struct AbiVerdict {
  std::string abi;            // "x86_64", "x32", "i386"
  bool exists = true;         // the ABI has this syscall
  Decision cordon;            // what a Cordon task gets
  Decision runtime;           // what runc/crun give (the profile's listed architectures accepted)
  bool depends_on_args = false;  // no ARGS were given and the decision varies with them
};

struct RuleView {
  std::string path;
  std::string outcome;       // Outcome() of the rule
  std::string conditions;    // ConditionsText()
};

struct CallExplanation {
  std::string syscall;
  std::optional<Args> args;  // as given; nullopt: none given
  std::vector<AbiVerdict> abis;
  std::vector<RuleView> rules;   // every rule for the syscall, file order
  std::string default_outcome;   // the default action, for calls no rule matches
};

// `abis` empty: every ABI of this machine.
CallExplanation ExplainCall(const Profile& p, const std::string& syscall, const std::optional<Args>& args,
                            const std::vector<Abi>& abis);
std::string RenderCallText(const CallExplanation& e);
std::string RenderCallJson(const CallExplanation& e);

// One line of the decision table.
struct TableRow {
  std::string syscall;
  int nr = -1;
  std::string kind;              // "allowed", "denied", "conditional"
  std::string outcome;           // the unconditional outcome, or the outcome for all-zero arguments
  std::string rule;              // the deciding rule path (unconditional), or "" for conditional
  std::vector<RuleView> rules;   // for conditional: the rules that decide
};
std::vector<TableRow> ExplainTable(const Profile& p, const Abi& abi);
std::string RenderTableText(const std::string& source, const Abi& abi, const std::vector<TableRow>& rows);
std::string RenderTableJson(const std::string& source, const Abi& abi, const std::vector<TableRow>& rows);

}  // namespace cordon::seccomp::audit
