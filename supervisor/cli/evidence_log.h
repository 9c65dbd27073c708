// supervisor/cli/evidence_log.h: `cordon evidence verify|export|checkpoint|prove` (docs/evidence.md), the
// offline side of the tamper-evident evidence log. `cordon evidence ID` (a task's record from
// cordond) stays with the daemon client.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include <vector>

#include "common/bindings/grant.h"
#include "supervisor/cli/artifact_file.h"  // ReadArtifactFile
#include "supervisor/evidence/log.h"

namespace cordon {

// `cordon run --evidence-log DIR`: the log in DIR (created at first use, with its own signing and
// redaction keys), opened before the task runs so that a bad DIR fails first. Waits for another
// `cordon run` that is appending to the same DIR.
Result<std::unique_ptr<evlog::LogWriter>> OpenRunLog(const std::string& dir);
// Appends the run's evidence record (redacted, kind "task") and seals it with a checkpoint.
Result<uint64_t> AppendRunEvidence(evlog::LogWriter& log, const std::string& evidence_json);

// True for the subcommands this file handles.
bool IsEvidenceLogCommand(const char* sub);
// argv[0] is the subcommand. Exit status as documented in kEvidenceUsage.
int CmdEvidenceLog(int argc, char** argv);

}  // namespace cordon
