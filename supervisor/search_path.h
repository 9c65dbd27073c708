// supervisor/search_path.h: where a named policy or seccomp profile is found. A name (not a path)
// NAME of kind KIND ("policies", "seccomp-profiles") is looked up as /etc/cordon/KIND/NAME.json
// (the operator's), then DATA_DIR/KIND/NAME.json (the shipped ones, share/cordon).
#pragma once

#include <string>

namespace cordon {

// The first of the files above that exists, or "" when none does. With `etc_only`, only the
// operator's directory is looked in (a name whose shipped copy is compiled into the binary).
std::string FindNamedJson(const std::string& kind, const std::string& name, const std::string& data_dir,
                          bool etc_only = false);

// "/etc/cordon/KIND or DATA_DIR/KIND", for the error that says where a name was looked for.
std::string SearchPathText(const std::string& kind, const std::string& data_dir);

}  // namespace cordon
