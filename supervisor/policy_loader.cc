#include "supervisor/policy_loader.h"

#include <unistd.h>

#include "common/fs_util.h"

namespace cordon {

Result<Policy> LoadPolicy(const std::string& name, const std::string& data_dir) {
  std::string path;
  if (name.find('/') != std::string::npos || name.ends_with(".json")) {
    path = name;
  } else {
    for (const std::string& dir : {std::string("/etc/cordon/policies"), data_dir + "/policies"}) {
      std::string p = dir + "/" + name + ".json";
      if (::access(p.c_str(), F_OK) == 0) {
        path = p;
        break;
      }
      if (name == "default") break;  // the embedded copy is the shipped default: skip share/
    }
    if (path.empty()) {
      if (name == "default") return ParsePolicy(EmbeddedDefaultPolicy(), "<embedded default>");
      return FailMsg("policy '" + name + "' not found in /etc/cordon/policies or " + data_dir + "/policies",
                     "name a shipped policy (default, analyst) or give a path to a policy JSON file");
    }
  }
  auto text = ReadFileToString(path, 4u << 20);
  if (!text) return Wrap(text.error(), "policy");
  return ParsePolicy(*text, path);
}

}  // namespace cordon
