// supervisor/policy.h: task policies (docs/policy.md). JSON in, a validated Policy out.
// Unknown fields and wrong types are errors that name the field's JSON path.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "supervisor/egress/policy.h"

namespace cordon {

// Budgets of one task. A policy that omits a limit gets the default below (bounded unless asked,
// docs/policy.md "Default budgets"); 0 lifts it, where the field allows 0.
struct PolicyLimits {
  uint64_t max_wall_ms = 600'000;        // 10 min; 0 = no wall-clock limit
  uint64_t tmpfs_bytes = 64ull << 20;    // one budget for /tmp, /work and /dev/shm (never 0)
  uint64_t max_cpu_ms = 300'000;         // 5 min of CPU of the whole sandbox; 0 = none
  uint64_t memory_bytes = 1ull << 30;    // 1 GiB for the whole sandbox, no swap; 0 = none
  uint64_t pids = 512;                   // processes and threads of the sandbox; 0 = none
  uint64_t output_bytes = 0;             // 0 = none: stdout+stderr together; past it the output is cut and the task stopped
  uint64_t nofile = 1024;                // RLIMIT_NOFILE of the task, soft and hard (never inherited, never 0)
  uint64_t max_calls = 0;                // 0 = none: outbound requests through the proxy (docs/network.md)
};

// The limit names of PolicyLimits, as in JSON ("memory_bytes"…), for messages and --limit.
const std::vector<std::string>& LimitNames();

struct PolicyEnv {
  // Names (or prefixes ending in '*') a caller may set with --env; "*" allows any name.
  std::vector<std::string> allow;
  // Variables the policy forces; a caller cannot override them.
  std::map<std::string, std::string> set;
};

// A capability the task receives as a file descriptor (docs/bindings.md).
struct Binding {
  enum class Kind { kDir, kFile, kSocket, kState, kPipe };
  std::string name;         // [A-Za-z0-9_]+; the task finds it as $CORDON_FD_<NAME> (upper case)
  Kind kind = Kind::kDir;
  std::string source;       // host path (dir, file, socket); empty for state; "caller" = --fd NAME=N
  std::string target;       // mount point inside the sandbox (dir, state; optional for file)
  bool writable = false;    // access "rw" (default "ro")
  std::string data_domain;  // empty = none
  uint64_t max_bytes = 0;   // state: quota, 0 = none
  std::string side_effect;  // governance: a side-effect class using it needs approval for ("" = none)
  bool secret = false;      // evidence (docs/evidence.md "Redaction"): its values are redacted from all cordond stores
  bool from_caller() const { return source == "caller"; }
};
const char* BindingKindName(Binding::Kind k);

// ---- identity (docs/identity.md): per-task tokens and secrets that never enter the sandbox ----
// A token cordond mints for each task of the policy, for one audience.
struct TokenGrant {
  std::string audience;
  std::string binding;                 // "" or a pipe binding ("source": "caller") cordond fills with the token
  std::vector<egress::AllowEntry> attach;  // destinations the egress proxy sends it to (Authorization: Bearer)
};
// A secret the task sees only as a placeholder; the egress proxy puts the value in for `destinations`.
struct SecretDecl {
  std::string name;                    // [A-Za-z0-9_]+
  std::string source;                  // absolute path of a file readable only by cordond (mode 0600 or stricter)
  std::vector<egress::AllowEntry> destinations;
  std::string env;                     // variable holding the placeholder ("" = the name)
  bool body = false;                   // also substituted in request bodies
};
struct PolicyIdentity {
  std::vector<TokenGrant> tokens;
  std::vector<SecretDecl> secrets;
  uint64_t max_token_ttl_s = 300;      // a token's life at most (also never past the task's max_wall_ms)
  bool empty() const { return tokens.empty() && secrets.empty(); }
};
struct Policy;
// Parses the `identity` object (policy_identity.cc); `p` is the policy parsed so far (its source and
// bindings). Errors name the JSON path: "policy x.json: identity.tokens[0].binding: ...".
Result<PolicyIdentity> ParsePolicyIdentity(const nlohmann::json& j, const Policy& p);
// ---- end identity ----

struct Policy {
  std::string name;
  uint64_t version = 1;
  std::string role;
  std::string seccomp_profile = "default";  // a shipped profile name or a path
  PolicyLimits limits;
  PolicyEnv env;
  struct Mount {
    std::string source;  // host path
    std::string target;  // path inside the sandbox (same as source unless given)
  };
  std::vector<Mount> mounts;  // extra read-only runtime paths
  std::vector<Binding> bindings;
  std::string data_domain;    // when set, every binding must carry the same data_domain
  egress::OutboundPolicy outbound;  // mode none (default), allowlist or monitored
  PolicyIdentity identity;          // tokens and secrets (docs/identity.md); default none
  // governance (wip/govc, docs/governance.md "Approvals"): side-effect classes that hold a task
  // for a human's approval when the Submit declares one or uses a binding tagged with one.
  std::vector<std::string> approval_required_for;
  // The app's circuit breaker counts a nonzero exit (failure_class exit_nonzero) as a failure
  // ("breaker_counts_exit_nonzero": true); by default a nonzero exit is the task's own answer.
  bool breaker_counts_exit_nonzero = false;
  // Where user namespaces cannot be created, run this policy's tasks in the degraded landlock mode
  // instead of refusing them ("allow_landlock_mode": true; docs/landlock.md), as `cordon run
  // --allow-landlock-mode` does. Default false: never chosen silently.
  bool allow_landlock_mode = false;

  std::string source;  // where it was loaded from: a path, or "<embedded default>"
  std::string sha256;  // of the exact bytes loaded
  std::string text;    // those bytes: the evidence log stores them once, content-addressed
  // Limits the caller changed after loading (`cordon run --limit NAME=VALUE`), "NAME=VALUE" each,
  // recorded in the evidence beside the file's sha256.
  std::vector<std::string> limit_overrides;
};

// Applies "NAME=VALUE" to `policy->limits` with the policy file's own checks (VALUE an integer,
// or "none"/"unlimited" for 0 where 0 lifts the limit). `cordon run --limit`.
Result<void> OverrideLimit(Policy* policy, const std::string& name_eq_value);

// Parses and validates policy JSON. `source` names the file in error messages.
Result<Policy> ParsePolicy(std::string_view json_text, const std::string& source);

// True when `name` may be set by the caller under `env.allow` (exact name or a "PREFIX*" entry).
bool EnvNameAllowed(const PolicyEnv& env, std::string_view name);

// The policy compiled into the binary (policies/default.json at build time).
std::string_view EmbeddedDefaultPolicy();
// The default seccomp profile compiled into the binary (seccomp-profiles/default.json).
std::string_view EmbeddedDefaultSeccompProfile();

}  // namespace cordon
