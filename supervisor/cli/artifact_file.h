// supervisor/cli/artifact_file.h: `--artifact FILE` read for `cordon run` and `cordon submit`. Its
// own file so that the lean client (cli/lean/) links it without the evidence log's code.
#pragma once

#include <string>

#include "common/result.h"

namespace cordon {

// The artifact hash (docs/evidence.md "Artifact hash"). --artifact FILE's bytes (a regular file of
// at most evlog::kMaxDeclaredArtifactBytes), or an error naming FILE and what to do instead.
Result<std::string> ReadArtifactFile(const std::string& path);

}  // namespace cordon
