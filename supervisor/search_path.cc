// supervisor/search_path.cc: see search_path.h.
#include "supervisor/search_path.h"

#include <unistd.h>

namespace cordon {

std::string FindNamedJson(const std::string& kind, const std::string& name, const std::string& data_dir,
                          bool etc_only) {
  for (const std::string& dir : {"/etc/cordon/" + kind, data_dir + "/" + kind}) {
    const std::string p = dir + "/" + name + ".json";
    if (::access(p.c_str(), F_OK) == 0) return p;
    if (etc_only) break;
  }
  return "";
}

std::string SearchPathText(const std::string& kind, const std::string& data_dir) {
  return "/etc/cordon/" + kind + " or " + data_dir + "/" + kind;
}

}  // namespace cordon
