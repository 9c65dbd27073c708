// supervisor/cli/run.cc: `cordon run` (run.h): the options, admission (policy, bindings, the
// filter, the cgroup layout), the task followed to its end, and its evidence written.
#include "supervisor/cli/run.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/bindings/grant.h"
#include "common/setup_step.h"
#include "common/syscalls.h"
#include "supervisor/cgroup/layout.h"
#include "supervisor/cgroup/ready_layout.h"
#include "supervisor/cli/landlock_run.h"
#include "supervisor/cli/report.h"
#include "supervisor/cli/run_artifact.h"
#include "supervisor/identity/identity.h"
#include "supervisor/policy_loader.h"
#include "supervisor/seccomp/filter.h"
#include "supervisor/task/task.h"

namespace cordon::cli {
namespace {

constexpr const char* kRunUsage =
    "Usage: cordon run [OPTIONS] [--] CMD [ARGS...]\n"
    "\n"
    "Runs CMD once in a new sandbox: fresh user, mount, PID, network, IPC, UTS and cgroup\n"
    "namespaces; a read-only runtime (/usr, /lib*, a few /etc files); a private /tmp and /work;\n"
    "no network but loopback; no capabilities; no_new_privs; a seccomp allowlist. stdin, stdout\n"
    "and stderr pass through. Exits with CMD's exit code, 128+N if a signal N killed it, 125 if\n"
    "Cordon itself failed, 126 if CMD cannot be executed, 127 if CMD was not found, and 123 if\n"
    "CMD ran but the --evidence record could not be written (CMD's own status is then on stderr).\n"
    "\n"
    "Options:\n"
    "  --policy NAME|PATH   Policy to apply (default: the built-in `default`). A NAME is looked up\n"
    "                       in /etc/cordon/policies and the installed share/cordon/policies.\n"
    "  --evidence PATH|-    Append the task's evidence record (one JSON line) to PATH, or write it\n"
    "                       to stdout with `-`.\n"
    "  --evidence-log DIR   Append the task's evidence record, redacted, to the tamper-evident log\n"
    "                       in DIR (created with its own key at first use) and sign a checkpoint\n"
    "                       (`cordon evidence verify --log DIR`; docs/evidence.md).\n"
    "  --artifact FILE      With --evidence(-log): declare FILE (generated code, at most 512 KiB) as\n"
    "                       the task's artifact; its SHA-256 goes into the record. The executable\n"
    "                       and the scripts CMD names are hashed anyway (docs/evidence.md).\n"
    "  --artifact-sha256 HEX  Declare the artifact by its SHA-256; --artifact-name NAME names it.\n"
    "  --cwd DIR            Working directory inside the sandbox (default /work).\n"
    "  --env K=V            Set a variable for CMD; `--env K` passes K from this environment.\n"
    "                       Repeatable. The policy's env.allow decides which names are allowed.\n"
    "                       Nothing from the caller's environment is passed otherwise.\n"
    "  --fd NAME=N          Hand this process's fd N to the task as binding NAME; the policy must\n"
    "                       declare NAME with \"source\": \"caller\" (docs/bindings.md).\n"
    "  --app ID             App id of the task (default `default`): keys its state bindings.\n"
    "  --tenant NAME        Root only: the tenant whose state bindings the task gets (default: the\n"
    "                       calling user's name).\n"
    "  --limit NAME=VALUE   Change one of the policy's limits for this run: max_wall_ms, max_cpu_ms,\n"
    "                       memory_bytes, pids, nofile, output_bytes, tmpfs_bytes, max_calls.\n"
    "                       VALUE is an integer (ms, bytes or a count); 0 or none lifts the limit.\n"
    "                       Repeatable. Every policy is bounded unless asked (docs/policy.md).\n"
    "  --per-process-limits Accept per-process rlimits for memory_bytes and max_cpu_ms when\n"
    "                       neither a cgroup nor the supervisor's monitor can hold the whole\n"
    "                       sandbox to them (otherwise such a run is refused).\n"
    "  --allow-landlock-mode  Where user namespaces cannot be created, run the task degraded\n"
    "                       instead of refusing: no namespaces, held by Landlock, seccomp,\n"
    "                       no_new_privs and rlimits (docs/landlock.md). The evidence says\n"
    "                       sandbox.mode landlock and lists what is missing. A policy\n"
    "                       with \"allow_landlock_mode\": true allows it too.\n"
    "  --tty                Also bind /dev/tty into the sandbox.\n"
    "  --id-range S:C       Rootful only: host uids/gids for tasks (default 524288:65536, or\n"
    "                       CORDON_ID_RANGE).\n"
    "  -h, --help           Show this help.\n"
    "\n"
    "Exit codes: CMD's own; 128+N (signal N); 123 (evidence not written); 125 (Cordon failed);\n"
    "126 (not executable); 127 (not found).\n"
    "\n"
    "Example:\n"
    "  cordon run --evidence - -- python3 -c 'import os; print(os.getuid())'\n";

// Environment knobs of the test suite (docs/sandbox.md): set when the variable's value is "1".
bool TestKnobSet(const char* name) {
  const char* v = ::getenv(name);
  return v != nullptr && std::strcmp(v, "1") == 0;
}

int UsageError(const std::string& msg, const char* usage_hint) {
  std::fprintf(stderr, "cordon: %s\nTry '%s' for more information.\n", msg.c_str(), usage_hint);
  return kExitCordonFailure;
}

int Failed(const Error& e) { return ReportFailure(e); }

bool TakeValue(int argc, char** argv, int* i, const char* flag, std::string* out) {
  std::string a = argv[*i];
  std::string prefix = std::string(flag) + "=";
  if (a.rfind(prefix, 0) == 0) {
    *out = a.substr(prefix.size());
    return true;
  }
  if (a != flag) return false;
  if (*i + 1 >= argc) {
    out->clear();
    *out = "\x01missing";
    return true;
  }
  *out = argv[++*i];
  return true;
}

// "exited 3 (cordon run would exit 3)", "was killed by signal 9 (…)": for the stderr line that
// replaces the exit status when the evidence could not be written.
std::string OutcomeText(const TaskOutcome& o) {
  std::string s;
  if (o.task_signal != 0) {
    s = "was killed by signal " + std::to_string(o.task_signal);
  } else if (o.task_exit_code >= 0) {
    s = "exited " + std::to_string(o.task_exit_code);
  } else {
    s = "did not run to an exit (" + std::string(FailureClassName(o.failure)) + ")";
  }
  return s + "; without --evidence cordon run would have exited " + std::to_string(o.exit_code);
}

// Appends `json` and a newline to `fd`, all of it or nothing: a short write (a full disk) is cut
// back off a regular file, so that the file keeps whole JSON lines.
Result<void> WriteEvidenceLine(int fd, const std::string& json) {
  const std::string line = json + "\n";
  struct stat st{};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  const off_t before = regular ? ::lseek(fd, 0, SEEK_END) : -1;
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      if (regular && before >= 0 && off > 0) (void)!::ftruncate(fd, before);
      return Fail(err, "write of " + std::to_string(line.size()) + " bytes");
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

// The end of a run, full or landlock mode: the outcome's line, the evidence record where asked for.
int FinishRun(const TaskOutcome& o, const std::string& evidence_json, const std::string& evidence, int evidence_fd,
              RunLog* run_log, const std::string& artifact, const std::string& evidence_log) {
  if (!o.message.empty() && o.failure != FailureClass::kNone) std::fprintf(stderr, "cordon: %s\n", o.message.c_str());
  if (!evidence.empty()) {
    // A caller that asked for evidence learns from the exit status when there is none: 123, with
    // the task's own status on stderr (README "Exit codes").
    if (auto w = WriteEvidenceLine(evidence == "-" ? STDOUT_FILENO : evidence_fd, WithArtifact(evidence_json, artifact));
        !w) {
      std::fprintf(stderr, "cordon: writing the evidence record to %s failed: %s; the task %s\n",
                   evidence == "-" ? "stdout" : evidence.c_str(), w.error().Message().c_str(),
                   OutcomeText(o).c_str());
      return kExitEvidenceNotWritten;
    }
  }
  if (run_log)
    if (auto a = run_log->Append(WithArtifact(evidence_json, artifact)); !a) {
      std::fprintf(stderr, "cordon: appending the evidence record to the log in %s failed: %s; the task %s\n",
                   evidence_log.c_str(), a.error().Message().c_str(), OutcomeText(o).c_str());
      return kExitEvidenceNotWritten;
    }
  return o.exit_code;
}

}  // namespace

int CmdRun(int argc, char** argv, const RunSupport& support) {
  const uint64_t received = sys::MonotonicNs();
  std::string policy_name = "default", evidence, evidence_log, cwd = "/work", id_range, app = "default", tenant;
  std::string artifact_file, artifact_sha256, artifact_name;  // docs/evidence.md "Artifact hash"
  std::vector<std::string> env_args, fd_args, limit_args;
  bool tty = false, per_process_limits = false, allow_landlock_mode = false;
  int i = 0;
  for (; i < argc; ++i) {
    std::string a = argv[i], v;
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "-h" || a == "--help") {
      std::fputs(kRunUsage, stdout);
      return 0;
    }
    if (a == "--tty") {
      tty = true;
      continue;
    }
    if (a == "--allow-landlock-mode") {
      allow_landlock_mode = true;
      continue;
    }
    if (a == "--per-process-limits") {
      per_process_limits = true;
      continue;
    }
    bool matched = false;
    for (auto [flag, dst] : {std::pair<const char*, std::string*>{"--policy", &policy_name},
                             {"--evidence", &evidence}, {"--evidence-log", &evidence_log}, {"--cwd", &cwd}, {"--id-range", &id_range},
                             {"--app", &app}, {"--tenant", &tenant}, {"--artifact", &artifact_file},
                             {"--artifact-sha256", &artifact_sha256}, {"--artifact-name", &artifact_name}}) {
      if (TakeValue(argc, argv, &i, flag, &v)) {
        if (v == "\x01missing") return UsageError(std::string(flag) + " needs a value", "cordon run --help");
        *dst = v;
        matched = true;
        break;
      }
    }
    if (!matched && TakeValue(argc, argv, &i, "--fd", &v)) {
      if (v == "\x01missing") return UsageError("--fd needs NAME=N", "cordon run --help");
      fd_args.push_back(v);
      matched = true;
    }
    if (!matched && TakeValue(argc, argv, &i, "--limit", &v)) {
      if (v == "\x01missing") return UsageError("--limit needs NAME=VALUE", "cordon run --help");
      limit_args.push_back(v);
      matched = true;
    }
    if (!matched && TakeValue(argc, argv, &i, "--env", &v)) {
      if (v == "\x01missing") return UsageError("--env needs K=V or K", "cordon run --help");
      env_args.push_back(v);
      matched = true;
    }
    if (matched) continue;
    if (a.size() > 1 && a[0] == '-') return UsageError("unknown option '" + a + "'", "cordon run --help");
    break;  // first non-option: the command
  }
  if (i >= argc) return UsageError("no command given", "cordon run --help");
  // The signed log is not in every binary that runs this (cordon-run): hand the run over before
  // anything has been opened, created or checked.
  if (!evidence_log.empty() && support.open_log == nullptr) return kRunNeedsFullCordon;
  if (cwd.empty() || cwd[0] != '/') return UsageError("--cwd must be an absolute path inside the sandbox", "cordon run --help");

  IdRange ids;
  if (id_range.empty()) {
    const char* e = ::getenv("CORDON_ID_RANGE");
    if (e && *e) id_range = e;
  }
  if (!id_range.empty()) {
    auto r = ParseIdRange(id_range);
    if (!r) return Failed(r.error());
    ids = *r;
  }

  auto rt = LocateRuntime();
  if (!rt) return Failed(rt.error());
  auto policy = LoadPolicy(policy_name, rt->data_dir);
  if (!policy) return Failed(policy.error());
  for (const auto& l : limit_args)
    if (auto o = OverrideLimit(&*policy, l); !o) return Failed(o.error());

  TaskRequest req;
  req.per_process_limits = per_process_limits;
  // CORDON_LIMITS_MONITOR=off: no supervisor-side monitor for a sandbox without a cgroup (then
  // memory and CPU budgets need --per-process-limits or a cgroup). For operators and the tests.
  if (const char* m = ::getenv("CORDON_LIMITS_MONITOR"); m && *m) {
    if (std::strcmp(m, "off") != 0 && std::strcmp(m, "auto") != 0)
      return Failed(Error{0, std::string("CORDON_LIMITS_MONITOR=") + m + " is not auto or off", "unset it, or use one of those"});
    req.no_monitor = std::strcmp(m, "off") == 0;
  }
  req.argv.assign(argv + i, argv + argc);
  req.cwd = cwd;
  req.tty = tty;
  for (const auto& kv : env_args) {
    auto eq = kv.find('=');
    std::string name = kv.substr(0, eq);
    if (name.empty()) return UsageError("--env '" + kv + "': empty variable name", "cordon run --help");
    if (name.rfind("CORDON_", 0) == 0)
      return Failed(Error{0, "--env " + name + ": names starting with CORDON_ are reserved for Cordon", ""});
    if (policy->env.set.contains(name))
      return Failed(Error{0, "--env " + name + ": policy '" + policy->name + "' forces this variable",
                          "drop --env " + name + ", or use a policy that does not set it in env.set"});
    if (!EnvNameAllowed(policy->env, name))
      return Failed(Error{0, "--env " + name + ": not allowed by policy '" + policy->name + "' (env.allow)",
                          "use a policy whose env.allow lists " + name});
    if (eq == std::string::npos) {
      const char* val = ::getenv(name.c_str());
      if (val == nullptr)
        return Failed(Error{0, "--env " + name + ": not set in this environment", "use --env " + name + "=VALUE"});
      req.env.push_back(name + "=" + val);
    } else {
      req.env.push_back(kv);
    }
  }

  // Bindings: the only way anything of the host reaches the task.
  BindingContext bctx;
  bctx.state_root = DefaultStateRoot();
  bctx.app = app;
  if (!tenant.empty() && ::geteuid() != 0)
    return Failed(Error{0, "--tenant is for root only: a user's tasks use the user's own tenant", "drop --tenant"});
  // The tenant keys state bindings only: look the user name up (NSS) only when one is declared.
  bool has_state = false;
  for (const auto& b : policy->bindings) has_state = has_state || b.kind == Binding::Kind::kState;
  if (tenant.empty() && has_state) {
    const passwd* pw = ::getpwuid(::geteuid());
    tenant = pw ? pw->pw_name : "uid-" + std::to_string(::geteuid());
  }
  bctx.tenant = tenant;
  for (const auto& f : fd_args) {
    auto eq = f.find('=');
    int n = -1;
    if (eq == std::string::npos || eq == 0 || (n = std::atoi(f.c_str() + eq + 1)) < 0 ||
        std::to_string(n) != f.substr(eq + 1))
      return UsageError("--fd '" + f + "' is not NAME=N", "cordon run --help");
    bctx.caller_fds[f.substr(0, eq)] = n;
  }
  if (!policy->identity.empty())  // tokens and secrets need cordond's key and files (docs/identity.md)
    return Failed(Error{0, "policy '" + policy->name + "' has an identity section (tokens, secrets), which only cordond provides",
                        "run it with `cordon submit --policy " + policy->name + "`"});
  auto bindings = OpenBindings(*policy, bctx);
  if (!bindings) return Failed(bindings.error());
  req.bindings = std::make_shared<std::vector<OpenBinding>>(std::move(*bindings));

  // Open the evidence destination first: a bad path must fail before anything runs. (Bindings are
  // open by now: tests/integration/bindings_test.cc holds the run here with a FIFO as --evidence.)
  UniqueFd evidence_fd;
  if (!evidence.empty() && evidence != "-") {
    evidence_fd.Reset(::open(evidence.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!evidence_fd)
      return Failed(Error{errno, "--evidence " + evidence, "give a writable file path, or - for stdout"});
  }
  std::unique_ptr<RunLog> run_log;  // --evidence-log: docs/evidence.md
  if (!evidence_log.empty()) {
    auto l = support.open_log(evidence_log);
    if (!l) return Failed(l.error());
    run_log = std::move(*l);
  }

  // What the task runs is hashed before it starts, for the record (docs/evidence.md "Artifact hash").
  std::string artifact;
  if (!evidence.empty() || !evidence_log.empty()) {
    auto a = RunArtifactJson(req.argv, req.env, req.cwd, req.bindings.get(), artifact_file, artifact_sha256, artifact_name);
    if (!a) return Failed(a.error());
    artifact = std::move(*a);
  } else if (!artifact_file.empty() || !artifact_sha256.empty() || !artifact_name.empty()) {
    return UsageError("--artifact goes into the evidence record: give --evidence PATH or --evidence-log DIR too",
                      "cordon run --help");
  }

  // Landlock mode (docs/landlock.md): only when the flag or the policy asks for it, and only where
  // namespaces are refused.
  const char* landlock_allowed_by = allow_landlock_mode ? "flag" : policy->allow_landlock_mode ? "policy" : nullptr;
  const std::string landlock_refusal = landlock_allowed_by ? FullSandboxRefusal() : "";
  FilterOptions fo;
  fo.data_dir = rt->data_dir;
  fo.notify = landlock_refusal.empty();  // landlock mode has no supervisor to answer a listener
  if (TestKnobSet("CORDON_NO_BPF_CACHE")) fo.use_cache = false;
  auto filter = LoadSeccompFilter(policy->seccomp_profile, fo);
  if (!filter) return Failed(filter.error());
  // The profile's warnings (unknown metadata keys, skipped rules), when it was compiled now.
  for (const auto& w : filter->warnings) std::fprintf(stderr, "cordon: warning: seccomp profile %s\n", w.c_str());

  if (!landlock_refusal.empty()) {
    auto lr = RunInLandlockMode(*policy, *filter, req, landlock_refusal, landlock_allowed_by);
    if (!lr) return Failed(lr.error());
    return FinishRun(lr->outcome, lr->evidence, evidence, evidence_fd.Get(), run_log.get(), artifact, evidence_log);
  }

  // Per-task cgroups where this host and this user allow them; otherwise rlimits (and the evidence
  // says which). Detected per run: a one-shot CLI has no state to keep it in.
  // CORDON_CGROUPS=auto (default) | v1 (ignore a cgroup2 tree) | off (rlimits only).
  std::optional<cgroup::Layout> layout;
  std::string cg_mode = ::getenv("CORDON_CGROUPS") ? ::getenv("CORDON_CGROUPS") : "auto";
  if (cg_mode != "auto" && cg_mode != "v1" && cg_mode != "off")
    return Failed(Error{0, "CORDON_CGROUPS=" + cg_mode + " is not auto, v1 or off", "unset it, or use one of those"});
  if (cg_mode != "off") {
    cgroup::BaseOptions bo;
    bo.ignore_v2 = cg_mode == "v1";
    if (const char* sub = ::getenv("CORDON_CGROUP_SUBTREE"); sub && *sub) {
      std::string s = sub;
      if (s.find('/') != std::string::npos || s == "." || s == "..")
        return Failed(Error{0, "CORDON_CGROUP_SUBTREE=" + s + " must be a single directory name", "e.g. cordon.slice"});
      bo.subtree = s;
    }
    layout = cgroup::ReadyLayout(bo);
  }
  auto task = RunTaskToCompletion(*rt, std::make_shared<const Policy>(std::move(*policy)),
                                  std::make_shared<const SeccompFilter>(std::move(*filter)), req, ids, received,
                                  layout ? &*layout : nullptr, support.pooled);
  if (!task) return Failed(task.error());
  return FinishRun((*task)->outcome(), (*task)->EvidenceJson(), evidence, evidence_fd.Get(), run_log.get(), artifact,
                   evidence_log);
}

}  // namespace cordon::cli
