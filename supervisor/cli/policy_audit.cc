#include "supervisor/cli/policy_audit.h"

#include <sys/utsname.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/setup_step.h"
#include "supervisor/cli/principals_lint.h"
#include "supervisor/cli/operands.h"
#include "supervisor/cli/report.h"
#include "supervisor/daemon/config.h"
#include "supervisor/policy.h"
#include "supervisor/policy_loader.h"
#include "supervisor/seccomp/audit/policy_lint.h"
#include "supervisor/seccomp/filter.h"

namespace cordon {
namespace {

constexpr int kExitFound = 1;

constexpr const char* kUsage =
    "Usage: cordon policy lint [POLICY...] [--principals FILE] [--json] [--fail-on SEVERITY|none]\n"
    "       cordon policy diff A B [--json]\n"
    "\n"
    "POLICY is a shipped policy name (default, analyst) or a path to a policy JSON file.\n"
    "\n"
    "lint   Findings with severity, JSON path and fix: literal secrets, env.allow [\"*\"], writable\n"
    "       bindings with outbound `monitored`, wildcard egress entries, lifted budgets, mixed data\n"
    "       domains, and the findings of the policy's seccomp profile. Exit 1 when a finding is at\n"
    "       least --fail-on (default: high). --principals FILE also reviews cordond's principals.json:\n"
    "       a role granting the privileged class is a finding (Cordon has no approvals yet).\n"
    "diff   What B grants or takes away compared with A: bindings, egress, budgets, environment, mounts\n"
    "       and the seccomp profile's decisions. Exit 1 when they differ.\n"
    "\n"
    "Examples:\n"
    "  cordon policy lint policies/*.json --fail-on high\n"
    "  cordon policy lint --principals /etc/cordon/principals.json\n"
    "  cordon policy diff default analyst\n";

// A refusal of this command: the cause, and by default where its usage is (cli/report.h).
int Refuse(std::string_view msg, std::string_view hint = "see cordon policy --help") { return cli::ReportFailure(msg, hint); }

struct Loaded {
  Policy policy;
  std::string raw;
  seccomp::Profile profile;
};

// The policy as `cordon run` loads it, its raw text (a name resolves like LoadPolicy), and its profile.
Result<Loaded> LoadAll(const std::string& name, const char* data_dir) {
  CORDON_ASSIGN_OR_RETURN(Policy p, LoadPolicy(name, data_dir));
  Loaded l;
  if (p.source == "<embedded default>") {
    l.raw = std::string(EmbeddedDefaultPolicy());
  } else {
    CORDON_ASSIGN_OR_RETURN(l.raw, ReadFileToString(p.source));
  }
  CORDON_ASSIGN_OR_RETURN(auto found, ReadSeccompProfile(p.seccomp_profile, data_dir));
  seccomp::LoadOptions lo;
  lo.source_name = found.first;
  utsname u{};
  ::uname(&u);
  if (auto kv = seccomp::ParseKernelRelease(u.release)) lo.context.kernel = *kv;
  auto prof = seccomp::ParseProfile(found.second, lo);
  if (!prof) return Wrap(prof.error(), name + ": seccomp_profile");
  l.profile = std::move(*prof);
  l.policy = std::move(p);
  return l;
}

void Print(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

int Lint(int argc, char** argv, const char* data_dir) {
  std::vector<std::string> policies, principals;  // principals: --principals files (cordond's principals.json)
  bool json = false, gate = true;
  seccomp::audit::Severity fail_on = seccomp::audit::Severity::kHigh;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--fail-on") {
      if (i + 1 >= argc) return Refuse("policy lint: --fail-on needs a severity", "info, low, medium, high, critical or none");
      std::string v = argv[++i];
      if (v == "none") {
        gate = false;
      } else if (auto s = seccomp::audit::ParseSeverity(v)) {
        fail_on = *s;
      } else {
        return Refuse("policy lint: --fail-on '" + v + "' is not a severity", "info, low, medium, high, critical or none");
      }
    } else if (a == "--principals") {
      if (i + 1 >= argc) return Refuse("policy lint: --principals needs a file", "e.g. /etc/cordon/principals.json");
      principals.push_back(argv[++i]);
    } else if (a.size() > 1 && a[0] == '-') {
      return Refuse("policy lint: unknown option '" + a + "'");
    } else {
      policies.push_back(a);
    }
  }
  if (policies.empty() && principals.empty()) return Refuse("policy lint: no POLICY and no --principals FILE given");
  bool failed = false;
  std::string js = "[";
  size_t reports = 0;
  auto report = [&](const std::string& source, const std::vector<seccomp::audit::Finding>& findings) {
    failed = failed || (gate && seccomp::audit::AnyAtLeast(findings, fail_on));
    if (json) {
      std::string one = seccomp::audit::RenderJson(source, findings);
      js += (reports++ ? "," : "") + one.substr(0, one.size() - 1);
    } else {
      Print(seccomp::audit::RenderText(source, findings));
    }
  };
  for (const auto& file : principals) {
    auto text = ReadFileToString(file);
    if (!text) return Refuse("policy lint: --principals " + file + ": " + text.error().Message());
    auto parsed = daemon::ParsePrincipals(*text, file);
    if (!parsed) return Refuse(parsed.error().Message(), parsed.error().hint);
    report(file, LintPrincipals(*parsed));
  }
  for (size_t i = 0; i < policies.size(); ++i) {
    auto l = LoadAll(policies[i], data_dir);
    if (!l) return Refuse(l.error().Message(), l.error().hint);
    report(l->policy.source, seccomp::audit::LintPolicy(l->policy, l->raw, &l->profile));
  }
  if (json) Print(js + "]\n");
  return failed ? kExitFound : 0;
}

int Diff(int argc, char** argv, const char* data_dir) {
  cli::JsonAndPair args;
  if (auto refused = cli::ReadJsonAndPair(argc, argv, "policy diff", "policies", "see cordon policy --help", &args))
    return *refused;
  const bool json = args.json;
  const std::vector<std::string> pos{args.a, args.b};
  auto a = LoadAll(pos[0], data_dir);
  if (!a) return Refuse(a.error().Message(), a.error().hint);
  auto b = LoadAll(pos[1], data_dir);
  if (!b) return Refuse(b.error().Message(), b.error().hint);
  auto sc = seccomp::audit::DiffProfiles(a->profile, b->profile);
  auto changes = seccomp::audit::DiffPolicies(a->policy, b->policy, sc);
  Print(json ? seccomp::audit::RenderPolicyDiffJson(pos[0], pos[1], changes)
             : seccomp::audit::RenderPolicyDiffText(pos[0], pos[1], changes));
  return changes.empty() ? 0 : kExitFound;
}

}  // namespace

int CmdPolicyAudit(int argc, char** argv, const char* data_dir) {
  if (argc < 1 || std::strcmp(argv[0], "-h") == 0 || std::strcmp(argv[0], "--help") == 0) {
    std::fputs(kUsage, argc < 1 ? stderr : stdout);
    return argc < 1 ? kExitCordonFailure : 0;
  }
  std::string sub = argv[0];
  if (sub == "lint") return Lint(argc - 1, argv + 1, data_dir);
  if (sub == "diff") return Diff(argc - 1, argv + 1, data_dir);
  return Refuse("unknown policy command '" + sub + "'", "use lint or diff; see cordon policy --help");
}

}  // namespace cordon
