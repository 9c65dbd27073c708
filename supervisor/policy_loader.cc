#include "supervisor/policy_loader.h"

#include <unistd.h>

#include "common/fs_util.h"
#include "supervisor/search_path.h"

namespace cordon {

Result<Policy> LoadPolicy(const std::string& name, const std::string& data_dir) {
  std::string path;
  if (name.find('/') != std::string::npos || name.ends_with(".json")) {
    path = name;
  } else {
    // The embedded copy is the shipped default: share/ is not looked in for it.
    path = FindNamedJson("policies", name, data_dir, /*etc_only=*/name == "default");
    if (path.empty()) {
      if (name == "default") return ParsePolicy(EmbeddedDefaultPolicy(), "<embedded default>");
      return FailMsg("policy '" + name + "' not found in " + SearchPathText("policies", data_dir),
                     "name a shipped policy (default, analyst) or give a path to a policy JSON file");
    }
  }
  auto text = ReadFileToString(path, 4u << 20);
  if (!text) return Wrap(text.error(), "policy");
  return ParsePolicy(*text, path);
}

}  // namespace cordon
