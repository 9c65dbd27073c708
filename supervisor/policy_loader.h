// supervisor/policy_loader.h: finds a policy by name or path and parses it.
#pragma once

#include <string>

#include "common/result.h"
#include "supervisor/policy.h"

namespace cordon {

// A value containing '/' or ending in ".json" is a path. A name is looked up as
// /etc/cordon/policies/NAME.json, then DATA_DIR/policies/NAME.json; "default" falls back to the
// policy compiled into the binary, so `cordon run` works with no files installed.
Result<Policy> LoadPolicy(const std::string& name_or_path, const std::string& data_dir);

}  // namespace cordon
