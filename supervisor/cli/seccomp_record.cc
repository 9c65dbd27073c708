// `cordon seccomp record`: run a command under `cordon run` again and again, each time allowing
// what the previous run was refused, until a run is refused nothing new; then write the profile.
//
// Every run is a real `cordon run` of the policy (--policy), so namespaces, capabilities, the
// filesystem and the network stay exactly as the policy has them; only the seccomp profile grows,
// from a deny-everything start (or --base, or the -o file with --merge). Refused calls are read
// from the evidence (seccomp.denied: the first occurrence of each, with its arguments).
#include "supervisor/cli/seccomp_audit.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/setup_step.h"
#include "supervisor/cli/report.h"
#include "supervisor/policy.h"
#include "supervisor/policy_loader.h"
#include "supervisor/seccomp/audit/record.h"
#include "supervisor/seccomp/profile.h"
#include "supervisor/seccomp/filter.h"

extern char** environ;

namespace cordon {
namespace {

using J = nlohmann::ordered_json;

constexpr const char* kRecordUsage =
    "Usage: cordon seccomp record [--policy P] [-o PROFILE] [--merge] [--base PROFILE] [--max-runs N] -- CMD [ARGS...]\n"
    "\n"
    "Runs CMD in a Cordon sandbox of policy P (default: default) until it is refused no system call the\n"
    "profile could allow, then writes the smallest allowlist that ran it (to PROFILE, or stdout).\n"
    "Each run starts from what the previous one was refused: deny-everything at first, or --base PROFILE\n"
    "(record only what it would deny), or PROFILE itself with --merge (add this command to it).\n"
    "socket families, ioctl requests, personality values and clone without CLONE_NEW* are recorded as\n"
    "argument rules. The sandbox is the policy's own in every run. CMD's output is discarded.\n"
    "Exit: 0 when CMD exited 0 under the recorded profile, 1 when it did not (the profile is still\n"
    "written), 125 on bad input or a failed run.\n";

// A refusal of this command: the cause, and by default where its usage is (cli/report.h).
int Usage(std::string_view msg, std::string_view hint = "see cordon seccomp record --help") { return cli::ReportFailure(msg, hint); }

Result<void> WriteFile(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return cordon::Fail(errno, "open " + path);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok) return cordon::Fail(errno, "write " + path);
  return {};
}

// Runs `cordon run` (this binary) and returns its exit code; its stdout and stderr go to `log`.
Result<int> RunOnce(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return cordon::Fail(rc, "spawn cordon run");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return cordon::Fail(errno, "waitpid cordon run");
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string Slurp(const std::string& path) {
  auto r = ReadFileToString(path);
  return r ? *r : std::string();
}

}  // namespace

int CmdSeccompRecord(int argc, char** argv, const char* data_dir) {
  std::string policy_name = "default", out, base;
  bool merge = false;
  int max_runs = 64;
  int i = 0;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "-h" || a == "--help") {
      std::fputs(kRecordUsage, stdout);
      return 0;
    }
    if ((a == "--policy" || a == "-o" || a == "--base" || a == "--max-runs") && i + 1 >= argc)
      return Usage("seccomp record: " + a + " needs a value");
    if (a == "--policy") {
      policy_name = argv[++i];
    } else if (a == "-o") {
      out = argv[++i];
    } else if (a == "--base") {
      base = argv[++i];
    } else if (a == "--max-runs") {
      max_runs = std::atoi(argv[++i]);
      if (max_runs < 1 || max_runs > 1000) return Usage("seccomp record: --max-runs must be 1..1000");
    } else if (a == "--merge") {
      merge = true;
    } else {
      return Usage("seccomp record: unexpected argument '" + a + "' before --", "put the command after --");
    }
  }
  if (i >= argc) return Usage("seccomp record: no command given after --");
  std::vector<std::string> cmd(argv + i, argv + argc);
  if (merge && out.empty()) return Usage("seccomp record: --merge needs -o PROFILE (the profile to add to)");
  if (merge && !base.empty()) return Usage("seccomp record: --merge and --base both name the starting profile", "use one");

  // The starting profile.
  J start = seccomp::audit::MinimalProfile();
  std::string start_name = merge ? out : base;
  if (!start_name.empty()) {
    auto text = ReadSeccompProfile(start_name, data_dir);
    if (!text) return Usage(text.error().Message(), text.error().hint);
    seccomp::LoadOptions lo;
    lo.source_name = text->first;
    if (auto p = seccomp::ParseProfile(text->second, lo); !p) return Usage(p.error().Message(), p.error().hint);
    start = J::parse(text->second, nullptr, false);
  }
  // The policy, with its profile replaced by the one being recorded.
  auto policy = LoadPolicy(policy_name, data_dir);
  if (!policy) return Usage(policy.error().Message(), policy.error().hint);
  std::string raw = policy->source == "<embedded default>" ? std::string(EmbeddedDefaultPolicy()) : Slurp(policy->source);
  J pj = J::parse(raw, nullptr, false);
  if (!pj.is_object()) return Usage("seccomp record: cannot read policy " + policy->source);

  char tmpl[] = "/tmp/cordon-record-XXXXXX";
  const char* tmpdir = ::mkdtemp(tmpl);
  if (!tmpdir) return Usage(std::string("mkdtemp: ") + std::strerror(errno));
  const std::string dir = tmpdir, prof_path = dir + "/profile.json", pol_path = dir + "/policy.json",
                    ev_path = dir + "/evidence.json", log_path = dir + "/run.log";
  pj["seccomp_profile"] = prof_path;
  auto cleanup = [&] {
    for (const auto& f : {prof_path, pol_path, ev_path, log_path}) ::unlink(f.c_str());
    ::rmdir(dir.c_str());
  };
  if (auto w = WriteFile(pol_path, pj.dump(1)); !w) {
    cleanup();
    return Usage(w.error().Message());
  }

  seccomp::audit::Recorder rec(start);
  int runs = 0, last_exit = -1;
  bool converged = false;
  while (runs < max_runs) {
    ++runs;
    if (auto w = WriteFile(prof_path, rec.Profile().dump(1)); !w) {
      cleanup();
      return Usage(w.error().Message());
    }
    ::unlink(ev_path.c_str());
    std::vector<std::string> run{"cordon", "run", "--policy", pol_path, "--evidence", ev_path, "--"};
    run.insert(run.end(), cmd.begin(), cmd.end());
    auto rc = RunOnce(run, log_path);
    if (!rc) {
      cleanup();
      return Usage(rc.error().Message());
    }
    last_exit = *rc;
    J ev = J::parse(Slurp(ev_path), nullptr, false);
    if (*rc == kExitCordonFailure && !ev.is_object()) {
      std::string log = Slurp(log_path);
      cleanup();
      return Usage("seccomp record: run " + std::to_string(runs) + " failed before CMD ran:\n" + log);
    }
    std::vector<seccomp::audit::RefusedCall> refused;
    if (ev.is_object() && ev.contains("seccomp") && ev["seccomp"].contains("denied")) {
      for (const auto& d : ev["seccomp"]["denied"]) {
        seccomp::audit::RefusedCall c;
        c.syscall = d.value("syscall", "");
        c.arch = d.value("arch", "");
        c.rule = d.value("rule", "");
        if (d.contains("args") && d["args"].is_array())
          for (size_t k = 0; k < 6 && k < d["args"].size(); ++k) c.args[k] = d["args"][k].get<uint64_t>();
        refused.push_back(std::move(c));
      }
    }
    if (rec.Add(refused) == 0) {
      converged = true;
      break;
    }
  }
  cleanup();
  // The result must load as any profile does.
  const std::string text = rec.Profile().dump(1) + "\n";
  seccomp::LoadOptions lo;
  lo.source_name = out.empty() ? "<recorded>" : out;
  if (auto p = seccomp::ParseProfile(text, lo); !p) return Usage("seccomp record: the recorded profile does not load: " + p.error().Message());
  if (!converged) {
    return Usage("seccomp record: CMD was still refused new calls after " + std::to_string(runs) + " runs",
                "raise --max-runs, or make the command deterministic");
  }
  if (out.empty() || out == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else if (auto w = WriteFile(out, text); !w) {
    return Usage(w.error().Message());
  }
  for (const auto& n : rec.Notes()) std::fprintf(stderr, "cordon: record: %s\n", n.c_str());
  std::fprintf(stderr, "cordon: record: %zu call(s) recorded in %d run(s); under the recorded profile CMD exited %d%s%s\n",
               rec.RecordedCount(), runs, last_exit, out.empty() ? "" : "; written to ", out.c_str());
  return last_exit == 0 ? 0 : 1;
}

}  // namespace cordon
