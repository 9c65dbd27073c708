#include "supervisor/cli/client.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/setup_step.h"
#include "supervisor/cli/approvals.h"
#include "supervisor/cli/artifact_file.h"
#include "supervisor/cli/report.h"
#include "supervisor/cli/retry_exit.h"
#include "supervisor/daemon/client.h"
#include "supervisor/daemon/paths.h"

namespace cordon {
namespace {

namespace api = ::cordon::api::v1;
using daemon::ClientConnection;

constexpr int kExitWaitTimeout = 124;  // like timeout(1)

constexpr const char* kClientUsage =
    "Usage:\n"
    "  cordon submit [OPTIONS] [--] CMD [ARGS...]   Run CMD through cordond (attached by default)\n"
    "  cordon ps [--all] [--limit N] [--json]       List your running tasks (--all: finished too)\n"
    "  cordon status [--json] ID                    Show one task\n"
    "  cordon wait [--timeout SECONDS] [--json] ID  Wait for a task; exit with its exit code\n"
    "  cordon cancel [--json] ID                    Kill a task's sandbox\n"
    "  cordon evidence ID                           Print the task's evidence record (JSON)\n"
    "\n"
    "Options of every client command:\n"
    "  --socket PATH    cordond's socket (default: CORDON_SOCKET, else /run/cordon/cordond.sock as\n"
    "                   root and $XDG_RUNTIME_DIR/cordon/cordond.sock otherwise)\n"
    "  --json           Print JSON instead of a table\n"
    "\n"
    "Options of submit:\n"
    "  --policy NAME    Policy (default: default). Your roles in principals.json must allow it.\n"
    "  --app ID         Application id recorded with the task.\n"
    "  --class C        interactive, batch (default) or privileged.\n"
    "  --request-id ID  Idempotency key: submitting the same request again returns the same task.\n"
    "  --env K=V        Set a variable (--env K passes K from this environment). Repeatable.\n"
    "  --cwd DIR        Working directory inside the sandbox (default /work).\n"
    "  --fd NAME=N      Hand this process's fd N to the task as the policy's caller binding NAME.\n"
    "  --detach         Print the task id and return; the task's stdio is /dev/null.\n"
    "  --session S      Spend session S's budget (opened at first use; docs/governance.md).\n"
    "  --session-class C  The class of a session this submit opens (default: the task's class).\n"
    "  --action A       The user action this task serves (the session's fanout budget per action).\n"
    "  --artifact FILE  Declare FILE (generated code, at most 512 KiB) as the task's artifact: cordond\n"
    "                   records its SHA-256 in the signed evidence (docs/evidence.md \"Artifact hash\").\n"
    "  --artifact-sha256 HEX  Declare the artifact by its SHA-256 instead (any size).\n"
    "  --artifact-name NAME   A name recorded with it (default: FILE's name).\n"
    "  --side-effect C  The task has side-effect class C (deploy, write, ...): held for a human's approval\n"
    "                   when its policy's approval_required_for names C; submit waits for the decision.\n"
    "  --approval ID    Run under approval request ID, already approved (the same request, once).\n"
    "  --retry-exit-codes  (submit, wait) Exit by retry verdict instead of the task's code: 0 success,\n"
    "                   75 retry later, 76 repair then retry once, 77 never retry (docs/governance.md).\n"
    "Attached, the task reads this process's stdin and writes to its stdout and stderr directly\n"
    "(the fds are passed to cordond); Ctrl-C cancels the task; the exit code is the task's, as\n"
    "for `cordon run`.\n";


const char* CodeName(api::ErrorCode c) {
  switch (c) {
    case api::ERROR_CODE_MALFORMED: return "malformed";
    case api::ERROR_CODE_TOO_LARGE: return "too large";
    case api::ERROR_CODE_TRUNCATED: return "truncated";
    case api::ERROR_CODE_TIMEOUT: return "timeout";
    case api::ERROR_CODE_UNAUTHENTICATED: return "refused (unknown principal)";
    case api::ERROR_CODE_PERMISSION_DENIED: return "refused";
    case api::ERROR_CODE_INVALID_ARGUMENT: return "invalid request";
    case api::ERROR_CODE_NOT_FOUND: return "not found";
    case api::ERROR_CODE_CONFLICT: return "refused (request_id conflict)";
    case api::ERROR_CODE_UNAVAILABLE: return "unavailable";
    case api::ERROR_CODE_INTERNAL: return "cordond failed";
    case api::ERROR_CODE_BUDGET_EXHAUSTED: return "refused (budget spent)";
    case api::ERROR_CODE_RESTRICTED: return "refused (restricted)";
    case api::ERROR_CODE_FROZEN: return "refused (frozen)";  // governance (wip/govb)
    case api::ERROR_CODE_BREAKER_OPEN: return "refused (circuit breaker open)";
    case api::ERROR_CODE_NOT_APPROVED: return "refused (not approved)";
    case api::ERROR_CODE_SUSPENDED: return "refused (suspended)";
    default: return "error";
  }
}

// With `retry_exit`, the exit code is the error's retry verdict's (cli/retry_exit.h).
int FailResponse(const api::Response& r, bool retry_exit = false) {
  const api::Error& e = r.error();
  std::string hint;
  if (e.retry() != api::RETRY_VERDICT_UNSPECIFIED) {
    hint = std::string("retry: ") + cli::RetryVerdictName(e.retry());
    if (e.retry() == api::RETRY_VERDICT_LATER && e.retry_after_ms() > 0)
      hint += " (after " + std::to_string((e.retry_after_ms() + 999) / 1000) + " s)";
    if (!e.budget().empty()) hint += "; budget spent: " + e.budget();
  }
  const int code = retry_exit && e.retry() != api::RETRY_VERDICT_UNSPECIFIED ? cli::RetryExitCode(e.retry())
                                                                            : kExitCordonFailure;
  return cli::ReportFailure(std::string(CodeName(e.code())) + ": " + e.message(), hint, code);
}

const char* ClassName(api::TaskClass c) {
  switch (c) {
    case api::TASK_CLASS_INTERACTIVE: return "interactive";
    case api::TASK_CLASS_PRIVILEGED: return "privileged";
    default: return "batch";
  }
}

const char* StateName(api::TaskState s) {
  switch (s) {
    case api::TASK_STATE_ADMITTED: return "admitted";
    case api::TASK_STATE_RUNNING: return "running";
    case api::TASK_STATE_FINISHED: return "finished";
    case api::TASK_STATE_FROZEN: return "frozen";  // governance (wip/govb)
    case api::TASK_STATE_PENDING: return "pending";  // approvals (wip/govc)
    default: return "unknown";
  }
}

nlohmann::json InfoJson(const api::TaskInfo& t) {
  nlohmann::json j = {{"task_id", t.task_id()},
                      {"principal", t.principal()},
                      {"tenant", t.tenant()},
                      {"app_id", t.app_id()},
                      {"class", ClassName(t.class_())},
                      {"policy", t.policy()},
                      {"policy_version", t.policy_version()},
                      {"state", StateName(t.state())},
                      {"argv", std::vector<std::string>(t.argv().begin(), t.argv().end())},
                      {"request_id", t.request_id()},
                      {"session", t.session()},  // governance (wip/govc)
                      {"created_unix_ms", t.created_unix_ms()}};
  if (t.state() == api::TASK_STATE_FINISHED) {
    j["exit_code"] = t.exit_code();
    j["failure_class"] = t.failure_class();
    j["finished_unix_ms"] = t.finished_unix_ms();
    if (!t.message().empty()) j["message"] = t.message();
    if (t.record_pending()) j["record_pending"] = true;
    j["retry"] = {{"verdict", cli::RetryVerdictName(t.retry().verdict())},
                  {"retry_after_ms", t.retry().retry_after_ms()},
                  {"why", t.retry().why()}};
  } else {
    j["shim_pid"] = t.shim_pid();
  }
  return j;
}

std::string Command(const api::TaskInfo& t, size_t max) {
  std::string s;
  for (const auto& a : t.argv()) s += (s.empty() ? "" : " ") + a;
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

std::string Age(int64_t unix_ms) {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  int64_t s = (static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000 - unix_ms) / 1000;
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 172800) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

void PrintStatus(const api::TaskInfo& t) {
  std::printf("task        %s\n", t.task_id().c_str());
  std::printf("state       %s%s\n", StateName(t.state()),
              t.record_pending() ? ", record pending (cordond could not write it to its database yet)" : "");
  std::printf("principal   %s (tenant %s)\n", t.principal().c_str(), t.tenant().c_str());
  std::printf("policy      %s v%llu\n", t.policy().c_str(), static_cast<unsigned long long>(t.policy_version()));
  std::printf("class       %s\n", ClassName(t.class_()));
  if (!t.app_id().empty()) std::printf("app         %s\n", t.app_id().c_str());
  if (!t.request_id().empty()) std::printf("request id  %s\n", t.request_id().c_str());
  std::printf("command     %s\n", Command(t, 200).c_str());
  std::printf("age         %s\n", Age(t.created_unix_ms()).c_str());
  if (t.state() == api::TASK_STATE_FINISHED) {
    std::printf("exit code   %d\n", t.exit_code());
    std::printf("failure     %s\n", t.failure_class().c_str());
    if (!t.message().empty()) std::printf("message     %s\n", t.message().c_str());
  } else {
    std::printf("shim pid    %d\n", t.shim_pid());
  }
}

struct CommonFlags {
  std::string socket;
  bool json = false;
  std::vector<std::string> positional;
};

// Parses the flags every client command shares plus `extra` (name -> takes a value); unknown
// options are errors. Values of extra flags land in `values`.
bool ParseFlags(int argc, char** argv, CommonFlags* f, const std::vector<std::pair<std::string, bool>>& extra,
                std::vector<std::pair<std::string, std::string>>* values, std::string* err, bool stop_at_positional) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (++i; i < argc; ++i) f->positional.push_back(argv[i]);
      return true;
    }
    if (a.size() > 1 && a[0] == '-') {
      std::string name = a.substr(0, a.find('='));
      std::string value;
      bool has_inline = a.find('=') != std::string::npos;
      if (has_inline) value = a.substr(a.find('=') + 1);
      bool takes_value = name == "--socket";
      bool known = name == "--socket" || name == "--json";
      for (const auto& [n, v] : extra)
        if (n == name) {
          known = true;
          takes_value = v;
        }
      if (!known) return (*err = "unknown option '" + a + "'"), false;
      if (takes_value && !has_inline) {
        if (i + 1 >= argc) return (*err = name + " needs a value"), false;
        value = argv[++i];
      }
      if (name == "--socket") {
        f->socket = value;
      } else if (name == "--json") {
        f->json = true;
      } else {
        values->emplace_back(name, value);
      }
      continue;
    }
    f->positional.push_back(a);
    if (stop_at_positional) {
      for (++i; i < argc; ++i) f->positional.push_back(argv[i]);
      return true;
    }
  }
  return true;
}

Result<ClientConnection> Connect(const CommonFlags& f) {
  return ClientConnection::Open(f.socket.empty() ? daemon::ClientSocketPath() : f.socket);
}

int ExitFor(const api::TaskInfo& t, bool retry_exit = false) {
  if (!t.message().empty() && t.failure_class() != "none" && t.failure_class() != "exit_nonzero")
    std::fprintf(stderr, "cordon: %s\n", t.message().c_str());
  if (!retry_exit) return t.exit_code();
  if (t.retry().verdict() != api::RETRY_VERDICT_UNSPECIFIED)
    std::fprintf(stderr, "cordon: %s: retry %s: %s\n", t.failure_class().c_str(),
                 cli::RetryVerdictName(t.retry().verdict()), t.retry().why().c_str());
  return cli::RetryExitCode(t.retry().verdict());
}

int CmdSubmit(int argc, char** argv) {
  CommonFlags f;
  std::vector<std::pair<std::string, std::string>> v;
  std::string err;
  if (!ParseFlags(argc, argv, &f,
                  {{"--policy", true}, {"--app", true}, {"--class", true}, {"--request-id", true},
                   {"--env", true}, {"--cwd", true}, {"--fd", true}, {"--detach", false}, {"-h", false}, {"--help", false},
                   {"--session", true}, {"--session-class", true}, {"--action", true}, {"--retry-exit-codes", false},
                   {"--artifact", true}, {"--artifact-sha256", true}, {"--artifact-name", true},
                   {"--side-effect", true}, {"--approval", true}},
                  &v, &err, true))
    return cli::ReportFailure(err + "\nTry 'cordon submit --help' for more information.");
  api::Request req;
  api::SubmitRequest* s = req.mutable_submit();
  bool detach = false, retry_exit = false;
  std::vector<int> bound;  // --fd NAME=N, after stdio in the frame's SCM_RIGHTS
  for (const auto& [name, value] : v) {
    if (name == "-h" || name == "--help") {
      std::fputs(kClientUsage, stdout);
      return 0;
    }
    if (name == "--policy") s->set_policy(value);
    if (name == "--app") s->set_app_id(value);
    if (name == "--request-id") s->set_request_id(value);
    if (name == "--cwd") s->set_cwd(value);
    if (name == "--detach") detach = true;
    if (name == "--session") s->set_session(value);
    if (name == "--session-class") s->set_session_class(value);
    if (name == "--action") s->set_action(value);
    if (name == "--retry-exit-codes") retry_exit = true;
    if (name == "--artifact") {
      auto bytes = ReadArtifactFile(value);
      if (!bytes) return cli::ReportFailure(bytes.error());
      s->mutable_artifact()->set_content(std::move(*bytes));
      if (s->artifact().name().empty()) s->mutable_artifact()->set_name(value.substr(value.rfind('/') + 1));
    }
    if (name == "--artifact-sha256") s->mutable_artifact()->set_sha256(value);
    if (name == "--artifact-name") s->mutable_artifact()->set_name(value);
    if (name == "--side-effect") s->add_side_effects(value);  // approvals (cli/approvals.cc)
    if (name == "--approval") s->set_approval_id(value);
    if (name == "--fd") {
      auto eq = value.find('=');
      int n = eq == std::string::npos ? -1 : std::atoi(value.c_str() + eq + 1);
      if (eq == std::string::npos || eq == 0 || n < 0 || std::to_string(n) != value.substr(eq + 1))
        return cli::ReportFailure("--fd '" + value + "' is not NAME=N");
      s->add_fd_bindings(value.substr(0, eq));
      bound.push_back(n);
    }
    if (name == "--class") {
      if (value == "interactive") s->set_class_(api::TASK_CLASS_INTERACTIVE);
      else if (value == "batch") s->set_class_(api::TASK_CLASS_BATCH);
      else if (value == "privileged") s->set_class_(api::TASK_CLASS_PRIVILEGED);
      else return cli::ReportFailure("--class must be interactive, batch or privileged, not '" + value + "'");
    }
    if (name == "--env") {
      if (value.find('=') != std::string::npos) {
        s->add_env(value);
      } else {
        const char* e = ::getenv(value.c_str());
        if (e == nullptr) return cli::ReportFailure("--env " + value + ": not set in this environment", "use --env " + value + "=VALUE");
        s->add_env(value + "=" + e);
      }
    }
  }
  if (f.positional.empty()) return cli::ReportFailure("no command given\nTry 'cordon submit --help' for more information.");
  for (const auto& a : f.positional) s->add_argv(a);
  s->set_stdio(!detach);

  auto conn = Connect(f);
  if (!conn) return cli::ReportFailure(conn.error());
  std::vector<int> fds;
  if (!detach) fds = {0, 1, 2};
  fds.insert(fds.end(), bound.begin(), bound.end());
  auto resp = conn->Call(req, fds.empty() ? nullptr : fds.data(), fds.size());
  if (!resp) return cli::ReportFailure(resp.error());
  if (resp->has_error()) return FailResponse(*resp, retry_exit);
  if (resp->submit().task().state() == api::TASK_STATE_PENDING) {  // held for approval: cli/approvals.cc
    if (auto code = cli::AwaitApproval(*conn, resp->submit().task(), &req)) return *code;
    resp = conn->Call(req, fds.empty() ? nullptr : fds.data(), fds.size());
    if (!resp) return cli::ReportFailure(resp.error());
    if (resp->has_error()) return FailResponse(*resp, retry_exit);
  }
  const api::TaskInfo task = resp->submit().task();
  if (detach) {
    if (f.json) {
      nlohmann::json j = InfoJson(task);
      j["replayed"] = resp->submit().replayed();
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::printf("%s\n", task.task_id().c_str());
    }
    return 0;
  }

  // Attached: wait for the end; Ctrl-C (or SIGTERM/SIGHUP) cancels the task rather than leaving it.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&sigs, sig);
  ::sigprocmask(SIG_BLOCK, &sigs, nullptr);
  UniqueFd sigfd(::signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK));
  api::Request wait;
  const uint64_t wait_id = conn->NextCallId();
  wait.set_call_id(wait_id);
  wait.mutable_wait()->set_task_id(task.task_id());
  if (auto sent = conn->Send(wait); !sent) return cli::ReportFailure(sent.error());
  bool cancelled = false;
  for (;;) {
    pollfd p[2] = {{conn->fd(), POLLIN, 0}, {sigfd.Get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return cli::ReportFailure(Error{errno, "poll", ""});
    }
    if (p[1].revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(sigfd.Get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      }
      if (!cancelled) {
        api::Request cancel;
        cancel.set_call_id(conn->NextCallId());
        cancel.mutable_cancel()->set_task_id(task.task_id());
        (void)conn->Send(cancel);
        cancelled = true;
      }
    }
    if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    auto r = conn->Receive();
    if (!r) return cli::ReportFailure(r.error());
    if (r->call_id() != wait_id && r->call_id() != 0) continue;  // the Cancel's answer
    if (r->has_error()) return FailResponse(*r, retry_exit);
    if (!r->wait().timed_out()) return ExitFor(r->wait().task(), retry_exit);
    // A wait without a deadline does not time out; ask again if the daemon says otherwise.
    if (auto sent = conn->Send(wait); !sent) return cli::ReportFailure(sent.error());
  }
}

int CmdPs(int argc, char** argv) {
  CommonFlags f;
  std::vector<std::pair<std::string, std::string>> v;
  std::string err;
  if (!ParseFlags(argc, argv, &f, {{"--all", false}, {"-a", false}, {"--limit", true}}, &v, &err, false))
    return cli::ReportFailure(err);
  if (!f.positional.empty()) return cli::ReportFailure("cordon ps takes no arguments");
  api::Request req;
  for (const auto& [name, value] : v) {
    if (name == "--all" || name == "-a") req.mutable_list()->set_all(true);
    if (name == "--limit") req.mutable_list()->set_limit(static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10)));
  }
  req.mutable_list();
  auto conn = Connect(f);
  if (!conn) return cli::ReportFailure(conn.error());
  auto resp = conn->Call(req);
  if (!resp) return cli::ReportFailure(resp.error());
  if (resp->has_error()) return FailResponse(*resp);
  if (f.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& t : resp->list().tasks()) j.push_back(InfoJson(t));
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("%-32s  %-12s  %-10s  %-11s  %-8s  %4s  %5s  %s\n", "TASK ID", "PRINCIPAL", "POLICY", "CLASS", "STATE",
              "EXIT", "AGE", "COMMAND");
  for (const auto& t : resp->list().tasks()) {
    std::string exit = t.state() == api::TASK_STATE_FINISHED ? std::to_string(t.exit_code()) : "-";
    std::printf("%-32s  %-12s  %-10s  %-11s  %-8s  %4s  %5s  %s\n", t.task_id().c_str(), t.principal().c_str(),
                t.policy().c_str(), ClassName(t.class_()), StateName(t.state()), exit.c_str(),
                Age(t.created_unix_ms()).c_str(), Command(t, 60).c_str());
  }
  return 0;
}

// status, wait, cancel, evidence: one task id each.
int CmdTask(const std::string& cmd, int argc, char** argv) {
  CommonFlags f;
  std::vector<std::pair<std::string, std::string>> v;
  std::string err;
  std::vector<std::pair<std::string, bool>> extra;
  if (cmd == "wait") extra.push_back({"--timeout", true});
  if (cmd == "wait") extra.push_back({"--retry-exit-codes", false});
  bool retry_exit = false;
  if (!ParseFlags(argc, argv, &f, extra, &v, &err, false)) return cli::ReportFailure(err);
  if (f.positional.size() != 1) return cli::ReportFailure("cordon " + cmd + " takes one task id");
  const std::string& id = f.positional[0];
  api::Request req;
  uint64_t timeout_ms = 0;
  for (const auto& [name, value] : v)
    if (name == "--timeout") timeout_ms = static_cast<uint64_t>(std::strtod(value.c_str(), nullptr) * 1000);
    else if (name == "--retry-exit-codes") retry_exit = true;
  if (cmd == "status") req.mutable_status()->set_task_id(id);
  if (cmd == "wait") {
    req.mutable_wait()->set_task_id(id);
    req.mutable_wait()->set_timeout_ms(timeout_ms);
  }
  if (cmd == "cancel") req.mutable_cancel()->set_task_id(id);
  if (cmd == "evidence") req.mutable_evidence()->set_task_id(id);
  auto conn = Connect(f);
  if (!conn) return cli::ReportFailure(conn.error());
  auto resp = conn->Call(req);
  if (!resp) return cli::ReportFailure(resp.error());
  if (resp->has_error()) return FailResponse(*resp);
  if (cmd == "evidence") {
    std::printf("%s\n", resp->evidence().evidence_json().c_str());
    return 0;
  }
  const api::TaskInfo& t = cmd == "status" ? resp->status().task()
                           : cmd == "wait" ? resp->wait().task()
                                           : resp->cancel().task();
  if (f.json) {
    nlohmann::json j = InfoJson(t);
    if (cmd == "wait") j["timed_out"] = resp->wait().timed_out();
    if (cmd == "cancel") j["already_finished"] = resp->cancel().already_finished();
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else if (cmd == "cancel") {
    std::printf("%s %s\n", resp->cancel().already_finished() ? "already finished:" : "cancelled:", t.task_id().c_str());
  } else if (cmd == "status") {
    PrintStatus(t);
  }
  if (cmd == "wait") {
    if (resp->wait().timed_out()) {
      std::fprintf(stderr, "cordon: task %s still runs after %.1f s\n", id.c_str(), timeout_ms / 1000.0);
      return kExitWaitTimeout;
    }
    return ExitFor(t, retry_exit);
  }
  return 0;
}

}  // namespace

bool IsClientCommand(const std::string& cmd) {
  for (const char* c : {"submit", "ps", "status", "wait", "cancel", "evidence"})
    if (cmd == c) return true;
  return false;
}

int RunClientCommand(const std::string& cmd, int argc, char** argv) {
  for (int i = 0; i < argc && cmd != "submit"; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kClientUsage, stdout);
      return 0;
    }
  }
  if (cmd == "submit") return CmdSubmit(argc, argv);
  if (cmd == "ps") return CmdPs(argc, argv);
  return CmdTask(cmd, argc, argv);
}

}  // namespace cordon
