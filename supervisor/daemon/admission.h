// supervisor/daemon/admission.h: deny-by-default admission of a Submit (docs/daemon.md).
// Pure: the daemon passes the peer's SO_PEERCRED and the loaded config, and records whatever
// Decision comes back. No system calls, so tests/unit/daemon_admission_test.cc covers it all.
#pragma once

#include "supervisor/evidence/artifact.h"

#include <cstdint>
#include <string>
#include <vector>

#include "supervisor/daemon/config.h"

namespace cordon::daemon {

struct PeerCred {
  int32_t pid = 0;
  uint32_t uid = 0, gid = 0;
};

// A Submit with the defaults filled in (docs/api.md): class "batch", policy "default", cwd "/work".
struct Submission {
  std::string request_id;
  std::string app_id;
  std::string cls = "batch";
  std::string policy = "default";
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd = "/work";
  bool stdio = false;
  std::vector<std::string> fd_bindings;  // caller bindings the frame carries fds for
  std::string session, session_class, action;  // governance (docs/governance.md); "" = none
  // evidence (wip/evlog): the artifact the client declared (docs/evidence.md "Artifact hash"), or
  // why it is refused ("" = fine; absent = none declared).
  std::optional<evlog::DeclaredArtifact> artifact;
  std::string artifact_error;
  std::vector<std::string> side_effects;  // approvals (wip/govc): declared side-effect classes
  std::string approval_id;                // approvals: run under this approved request
};

// sha256 (hex) of a canonical serialisation of what the request asks for: argv, env, cwd, policy,
// app_id and class, each length-prefixed in that fixed order. request_id and the fds are not part
// of it: a replay carries the same id and fresh fds.
std::string Fingerprint(const Submission& s);

enum class Verdict { kAllow, kUnauthenticated, kPermissionDenied, kInvalidArgument };

struct Decision {
  Verdict verdict = Verdict::kPermissionDenied;
  std::string reason;                    // for the caller and the record: who, what, what is missing
  const Principal* principal = nullptr;  // into the Config passed to Admit; nullptr if unknown
  const LoadedPolicy* policy = nullptr;  // likewise; nullptr if the policy is not loaded
  bool allowed() const { return verdict == Verdict::kAllow; }
};

// Authenticates the peer, then authorizes the policy, the class and the environment.
Decision Admit(const Config& cfg, const PeerCred& peer, const Submission& s);

// True when `p` may see and act on tasks of `owner` (its own, or any with manage_all_tasks).
bool MayManage(const Principals& cfg, const Principal& p, const std::string& owner);

}  // namespace cordon::daemon
