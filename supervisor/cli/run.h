// supervisor/cli/run.h: `cordon run`, the one-shot sandbox (README, docs/performance.md "The lean
// run"). The same code runs in `cordon` and in the lean libexec/cordon/cordon-run that `cordon`
// execs from its entry point (cli/lean/entry.cc); what differs is given by RunSupport: the signed
// evidence log (RE2 redaction, Ed25519 keys, libcrypto's EVP layer) is linked into `cordon` only.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"

namespace cordon::cli {

// `--evidence-log DIR` (docs/evidence.md): the tamper-evident log the run's record is appended to.
class RunLog {
 public:
  virtual ~RunLog() = default;
  // Appends the record (redacted) and seals it with a checkpoint.
  virtual Result<void> Append(const std::string& evidence_json) = 0;
};

struct RunSupport {
  // Opens (or creates) the log in DIR before the task runs, so that a bad DIR fails first.
  // nullptr: this binary does not link the log; CmdRun then returns kRunNeedsFullCordon.
  Result<std::unique_ptr<RunLog>> (*open_log)(const std::string& dir) = nullptr;
  // Build the sandbox the warm pool's way (Task::Prepare, then Task::Launch): the test build
  // tests/ cordon-pooled only; the shipped binaries never set it.
  bool pooled = false;
};

// Returned by CmdRun, before it has done anything, when the run needs what `support` lacks (an
// --evidence-log without open_log): the caller hands the whole command to `cordon`.
inline constexpr int kRunNeedsFullCordon = -1;

// argv[0] is the first argument after `run`. Returns the exit status `cordon run` documents, or
// kRunNeedsFullCordon.
int CmdRun(int argc, char** argv, const RunSupport& support);

}  // namespace cordon::cli
