// supervisor/cli/run_artifact.h: what `cordon run` hashes into its evidence record's "artifact"
// (docs/evidence.md "Artifact hash"). Apart from the evidence log (cli/evidence_log.cc) so that
// the lean cordon-run links it without the log's keys and redaction.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "common/bindings/grant.h"

namespace cordon {

// `cordon run`: the record's "artifact" object, hashed before the task starts: the executable and
// scripts of `req`, and the artifact declared by --artifact/--artifact-sha256 (`declared_*` empty:
// none). An error only for a bad declaration.
Result<std::string> RunArtifactJson(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                    const std::string& cwd, const std::vector<OpenBinding>* bindings,
                                    const std::string& declared_file, const std::string& declared_sha256,
                                    const std::string& declared_name);
// The evidence record with `artifact_json` as its "artifact" (unchanged when either is not JSON).
std::string WithArtifact(const std::string& evidence_json, const std::string& artifact_json);

}  // namespace cordon
