// supervisor/seccomp/audit/export.h: `cordon seccomp export`, a profile in the forms other tools load.
//
// Supervisor side only, pure (compiling goes through libseccomp, compiler.h).
//   bpf, bwrap: the raw struct sock_filter array, with the profile's own actions (no user
//     notification: nothing listens), native architecture only. `bwrap --seccomp FD` loads it as is.
//   systemd:    SystemCallFilter=/SystemCallErrorNumber= lines and the directives that carry some
//     argument rules (RestrictAddressFamilies=, RestrictNamespaces=, LockPersonality=); every rule
//     systemd cannot express is listed in a "# lost:" comment, with which way it loosens or tightens.
//   nsjail:     a Kafel policy (nsjail --seccomp_policy FILE), argument conditions included.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "supervisor/seccomp/profile.h"

namespace cordon::seccomp::audit {

Result<std::vector<uint8_t>> ExportBpf(const Profile& p);

struct TextExport {
  std::string text;
  std::vector<std::string> lost;  // what the format could not say (also in `text` as comments)
};
TextExport ExportSystemd(const Profile& p);
Result<TextExport> ExportKafel(const Profile& p);

}  // namespace cordon::seccomp::audit
