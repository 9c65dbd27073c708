// cordon: the command-line front of the supervisor. `cordon run` (cli/run.cc) runs one task
// in-process with the supervisor core library, as the lean cordon-run does (cli/lean/run_main.cc);
// the other subcommands talk to cordond or read files.

#include <cstdio>
#include <memory>
#include <string>

#include "common/setup_step.h"

#include "supervisor/cli/client.h"
#include "supervisor/cli/governance.h"
#include "supervisor/cli/evidence_log.h"
#include "supervisor/cli/session.h"
#include "supervisor/cli/policy_audit.h"
#include "supervisor/cli/report.h"
#include "supervisor/cli/run.h"
#include "supervisor/cli/seccomp.h"
#include "supervisor/cli/token.h"
#include "supervisor/cli/metrics.h"
#include "supervisor/cli/doctor.h"
#include "supervisor/task/launcher.h"  // LocateRuntime

namespace cordon {
namespace {

constexpr const char* kUsage =
    "Usage: cordon COMMAND [OPTIONS]\n"
    "\n"
    "Run untrusted code in a fresh, throw-away Linux sandbox.\n"
    "\n"
    "Commands:\n"
    "  run       Run one command in a new sandbox and exit with its exit code\n"
    "  seccomp   Compile, print (pseudo-C) and query seccomp profiles; lint, explain, diff, export\n"
    "  policy    Lint task policies and diff two versions (docs/seccomp.md, for security teams)\n"
    "  doctor    Say which mode Cordon runs tasks in on this host, and why (docs/environments.md)\n"
    "\n"
    "Clients of the cordond daemon (docs/daemon.md; `cordon submit --help`):\n"
    "  submit    Submit a task to cordond (attached by default: stdio and exit code pass through)\n"
    "  ps        List tasks\n"
    "  status    Show one task\n"
    "  wait      Wait for a task and exit with its exit code\n"
    "  cancel    Kill a running task\n"
    "  token     Verify a task's identity token, print cordond's key set (docs/identity.md)\n"
    "  evidence  Print a task's evidence record; `evidence verify|export|checkpoint`: the signed log\n"
    "  metrics   Print cordond's metrics (Prometheus text; docs/metrics.md)\n"
    "  session   Sessions' budgets and incident markers: list|show|mark|budget (docs/governance.md)\n"
    "  envelope  App and tenant envelopes and what they spent (docs/governance.md)\n"
    "  freeze    Kill-switch (operators): freeze|thaw|kill a class, tenant, app or session; `freezes`\n"
    "  approvals Side effects held for a human: list|approve|deny|wait (docs/governance.md)\n"
    "  suspensions  Apps suspended for repeated policy violations; `resume` lifts one (operators)\n"
    "\n"
    "Options:\n"
    "  -h, --help     Show this help (`cordon run --help` for the run options)\n"
    "  --version      Show the version\n"
    "\n"
    "Documentation: README.md and docs/ (policy.md, evidence.md, security.md).\n";

// `cordon run` builds its sandbox the warm pool's way (Task::Prepare, then Task::Launch) only in
// the test build of this file, tests/ cordon-pooled, which the pooled.* tests run: the shipped
// `cordon` has no switch for it.
#ifdef CORDON_POOLED_RUN
constexpr bool kPooledRun = true;
#else
constexpr bool kPooledRun = false;
#endif

int UsageError(const std::string& msg, const char* usage_hint) {
  std::fprintf(stderr, "cordon: %s\nTry '%s' for more information.\n", msg.c_str(), usage_hint);
  return kExitCordonFailure;
}

// `cordon run --evidence-log DIR`: the signed log (cli/evidence_log.cc), which only this binary
// links; the lean cordon-run hands such a run to `cordon` (cli/run.h).
class SignedRunLog final : public cli::RunLog {
 public:
  explicit SignedRunLog(std::unique_ptr<evlog::LogWriter> w) : w_(std::move(w)) {}
  Result<void> Append(const std::string& evidence_json) override {
    CORDON_TRY(AppendRunEvidence(*w_, evidence_json));
    return {};
  }

 private:
  std::unique_ptr<evlog::LogWriter> w_;
};

Result<std::unique_ptr<cli::RunLog>> OpenSignedRunLog(const std::string& dir) {
  CORDON_ASSIGN_OR_RETURN(auto w, OpenRunLog(dir));
  return std::make_unique<SignedRunLog>(std::move(w));
}

}  // namespace
}  // namespace cordon

int main(int argc, char** argv) {
  using namespace cordon;
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitCordonFailure;
  }
  std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "--version") {
    std::printf("cordon %s\n", CORDON_VERSION);
    return 0;
  }
  if (cmd == "run") {
    const int rc = cli::CmdRun(argc - 2, argv + 2, cli::RunSupport{&OpenSignedRunLog, kPooledRun});
    return rc == cli::kRunNeedsFullCordon ? kExitCordonFailure : rc;  // never: this binary has the log
  }
  if (cmd == "metrics") return CmdMetrics(argc - 2, argv + 2);  // ops: docs/metrics.md
  if (cmd == "doctor") return CmdDoctor(argc - 2, argv + 2);  // docs/environments.md
  if (cmd == "token") return CmdToken(argc - 2, argv + 2);  // docs/identity.md
  if (cmd == "evidence" && argc > 2 && IsEvidenceLogCommand(argv[2])) return CmdEvidenceLog(argc - 2, argv + 2);
  // submit, ps, status, wait, cancel, evidence: clients of cordond (supervisor/cli/client.cc).
  if (IsClientCommand(cmd)) return RunClientCommand(cmd, argc - 2, argv + 2);
  if (cli::IsSessionCommand(argv[1])) return cli::RunSessionCommand(argv[1], argc - 2, argv + 2);
  // freeze, thaw, kill, freezes: the operator's kill-switch (supervisor/cli/governance.cc).
  if (IsGovernanceCommand(cmd)) return RunGovernanceCommand(cmd, argc - 2, argv + 2);
  if (cmd == "policy") {
    auto rt = LocateRuntime();
    return CmdPolicyAudit(argc - 2, argv + 2, rt ? rt->data_dir.c_str() : "/usr/share/cordon");
  }
  if (cmd == "seccomp") {
    auto rt = LocateRuntime();
    std::string data_dir = rt ? rt->data_dir : std::string("/usr/share/cordon");
    return CmdSeccomp(argc - 2, argv + 2, data_dir.c_str());
  }
  return UsageError("unknown command '" + cmd + "'", "cordon --help");
}
