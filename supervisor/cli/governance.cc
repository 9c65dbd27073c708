// supervisor/cli/governance.cc: `cordon freeze|thaw|kill|freezes`, the operator's kill-switch on
// cordond (docs/incident-response.md). Each is one call; cordond checks the operator role.
#include "supervisor/cli/governance.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "supervisor/cli/operands.h"
#include "supervisor/cli/approvals.h"
#include "supervisor/cli/report.h"
#include "supervisor/cli/suspend.h"
#include "supervisor/daemon/client.h"
#include "supervisor/daemon/paths.h"

namespace cordon {
namespace {

namespace v1 = ::cordon::api::v1;
using daemon::ClientConnection;

constexpr const char* kUsage =
    "Usage (operators: a role with \"operator\": true in principals.json):\n"
    "  cordon freeze SCOPE [--reason TEXT]   Refuse new tasks of SCOPE and freeze its running ones\n"
    "  cordon thaw SCOPE                     Admit SCOPE again and resume its frozen tasks\n"
    "  cordon kill SCOPE [--reason TEXT]     End SCOPE's running tasks (failure_class killed_by_operator)\n"
    "  cordon freezes                        List the scopes frozen and their frozen tasks\n"
    "  cordon breakers                       Show the circuit breakers (any principal)\n"
    "  cordon breakers set NAME MODE         MODE: normal, forced_open or metrics_only (operators)\n"
    "\n"
    "SCOPE is one of: --class interactive|batch|privileged, --tenant T, --app A, --session S.\n"
    "Options: --socket PATH (cordond's socket), --json (print the response as JSON).\n"
    "See docs/incident-response.md.\n";

struct Args {
  std::string socket;
  bool json = false;
  std::string kind, value, reason;
};

// "" when the arguments parse, else the one-line error.
std::string Parse(const std::string& cmd, int argc, char** argv, Args* a) {
  cli::DaemonArgs d;
  if (std::string err = cli::ReadDaemonArgs(argc, argv, {"--class", "--tenant", "--app", "--session", "--reason"}, {},
                                            &d, "argument");
      !err.empty())
    return err;
  if (!d.positional.empty()) return "unknown argument '" + d.positional[0] + "'";
  a->socket = d.socket;
  a->json = d.json;
  for (const auto& [name, value] : d.values) {
    if (name == "--reason") {
      if (cmd == "thaw" || cmd == "freezes") return "--reason is for freeze and kill";
      a->reason = value;
    } else {
      if (cmd == "freezes") return "freezes takes no scope";
      if (!a->kind.empty()) return "name one scope, not --" + a->kind + " and " + name;
      a->kind = name.substr(2);
      a->value = value;
    }
  }
  if (cmd != "freezes" && a->kind.empty()) return cmd + " needs a scope: --class, --tenant, --app or --session";
  return "";
}

const char* Kind(std::string_view k) { return k.empty() ? "?" : k.data(); }

nlohmann::json TasksJson(const google::protobuf::RepeatedPtrField<v1::ScopedTask>& tasks) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : tasks) {
    nlohmann::json j = {{"task_id", t.task_id()}, {"done", t.done()}};
    if (!t.message().empty()) j["message"] = t.message();
    out.push_back(std::move(j));
  }
  return out;
}

// Prints one line per task; returns how many the call could not act on.
int PrintTasks(const google::protobuf::RepeatedPtrField<v1::ScopedTask>& tasks, const char* verb) {
  int failed = 0;
  for (const auto& t : tasks) {
    if (t.done()) {
      std::printf("  %s %s\n", verb, t.task_id().c_str());
    } else {
      ++failed;
      std::printf("  NOT %s %s: %s\n", verb, t.task_id().c_str(), t.message().c_str());
    }
  }
  return failed;
}

}  // namespace

bool IsGovernanceCommand(const std::string& cmd) {
  return cmd == "freeze" || cmd == "thaw" || cmd == "kill" || cmd == "freezes" || cmd == "breakers" ||
         cmd == "approvals" || cmd == "suspensions" || cmd == "resume";
}

namespace {

nlohmann::json BreakerJson(const v1::BreakerInfo& b) {
  nlohmann::json j = {{"name", b.name()},     {"state", b.state()},       {"mode", b.mode()},
                      {"calls", b.calls()},   {"failures", b.failures()}, {"opened_unix_ms", b.opened_unix_ms()}};
  if (b.half_open_unix_ms()) j["half_open_unix_ms"] = b.half_open_unix_ms();
  return j;
}

void PrintBreaker(const v1::BreakerInfo& b) {
  std::printf("%-24s %-10s %-13s %u/%u failed", b.name().c_str(), b.state().c_str(), b.mode().c_str(), b.failures(),
              b.calls());
  if (b.half_open_unix_ms()) std::printf(", trial tasks from unix ms %lld", static_cast<long long>(b.half_open_unix_ms()));
  std::printf("\n");
}

// `cordon breakers [--json]`, `cordon breakers set NAME MODE`.
int CmdBreakers(int argc, char** argv) {
  std::string socket;
  bool json = false;
  std::vector<std::string> pos;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--socket" && i + 1 < argc) {
      socket = argv[++i];
    } else if (a.rfind("--socket=", 0) == 0) {
      socket = a.substr(9);
    } else if (!a.empty() && a[0] == '-') {
      return cli::ReportFailure("unknown argument '" + a + "'", "cordon breakers --help");
    } else {
      pos.push_back(a);
    }
  }
  v1::Request req;
  if (pos.empty()) {
    req.mutable_breakers();
  } else if (pos[0] == "set" && pos.size() == 3) {
    req.mutable_breaker_mode()->set_name(pos[1]);
    req.mutable_breaker_mode()->set_mode(pos[2]);
  } else {
    return cli::ReportFailure("expected `cordon breakers` or `cordon breakers set NAME MODE`", "cordon breakers --help");
  }
  auto conn = ClientConnection::Open(socket.empty() ? daemon::ClientSocketPath() : socket);
  if (!conn) return cli::ReportFailure(conn.error());
  auto resp = conn->Call(req, nullptr, 0, 30000);
  if (!resp) return cli::ReportFailure(resp.error());
  if (resp->has_error()) return cli::ReportFailure("cordond refused: " + resp->error().message());
  if (resp->has_breaker_mode()) {
    if (json) std::printf("%s\n", BreakerJson(resp->breaker_mode().breaker()).dump(2).c_str());
    else PrintBreaker(resp->breaker_mode().breaker());
    return 0;
  }
  const auto& r = resp->breakers();
  if (json) {
    nlohmann::json j = {{"breakers", nlohmann::json::array()},
                        {"params",
                         {{"failure_rate_pct", r.failure_rate_pct()},
                          {"minimum_calls", r.minimum_calls()},
                          {"window_ms", r.window_ms()},
                          {"open_ms", r.open_ms()},
                          {"half_open_trials", r.half_open_trials()}}}};
    for (const auto& b : r.breakers()) j["breakers"].push_back(BreakerJson(b));
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("open at >= %u%% failed of >= %u outcomes in %lld ms; open %lld ms; %u trial task(s)\n",
              r.failure_rate_pct(), r.minimum_calls(), static_cast<long long>(r.window_ms()),
              static_cast<long long>(r.open_ms()), r.half_open_trials());
  for (const auto& b : r.breakers()) PrintBreaker(b);
  return 0;
}

}  // namespace

int RunGovernanceCommand(const std::string& cmd, int argc, char** argv) {
  if (cmd == "approvals") return cli::RunApprovalsCommand(argc, argv);  // cli/approvals.cc
  if (cmd == "suspensions" || cmd == "resume") return cli::RunSuspendCommand(cmd, argc, argv);  // cli/suspend.cc
  for (int i = 0; i < argc; ++i)
    if (std::string_view(argv[i]) == "-h" || std::string_view(argv[i]) == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  if (cmd == "breakers") return CmdBreakers(argc, argv);
  Args a;
  if (std::string err = Parse(cmd, argc, argv, &a); !err.empty())
    return cli::ReportFailure(err, "cordon " + cmd + " --help");
  v1::Request req;
  auto fill = [&](v1::GovernanceScope* s) {
    s->set_kind(a.kind);
    s->set_value(a.value);
  };
  if (cmd == "freeze") {
    fill(req.mutable_freeze()->mutable_scope());
    req.mutable_freeze()->set_reason(a.reason);
  } else if (cmd == "thaw") {
    fill(req.mutable_thaw()->mutable_scope());
  } else if (cmd == "kill") {
    fill(req.mutable_kill_scope()->mutable_scope());
    req.mutable_kill_scope()->set_reason(a.reason);
  } else {
    req.mutable_governance_state();
  }
  auto conn = ClientConnection::Open(a.socket.empty() ? daemon::ClientSocketPath() : a.socket);
  if (!conn) return cli::ReportFailure(conn.error());
  auto resp = conn->Call(req, nullptr, 0, 30000);
  if (!resp) return cli::ReportFailure(resp.error());
  if (resp->has_error()) return cli::ReportFailure("cordond refused: " + resp->error().message());
  const std::string scope = "--" + a.kind + " " + a.value;
  int failed = 0;
  nlohmann::json j;
  if (cmd == "freeze") {
    const auto& r = resp->freeze();
    j = {{"already_frozen", r.already_frozen()}, {"tasks", TasksJson(r.tasks())}};
    if (!a.json) {
      std::printf("%s %s: new tasks refused; %d running task(s)\n", r.already_frozen() ? "still frozen" : "frozen",
                  scope.c_str(), r.tasks_size());
      failed = PrintTasks(r.tasks(), "frozen");
    }
  } else if (cmd == "thaw") {
    const auto& r = resp->thaw();
    j = {{"was_frozen", r.was_frozen()}, {"tasks", TasksJson(r.tasks())}};
    if (!a.json) {
      std::printf(r.was_frozen() ? "thawed %s\n" : "%s was not frozen; nothing changed\n", scope.c_str());
      failed = PrintTasks(r.tasks(), "resumed");
    }
  } else if (cmd == "kill") {
    const auto& r = resp->kill_scope();
    j = {{"tasks", TasksJson(r.tasks())}};
    if (!a.json) {
      std::printf("killed %d running task(s) of %s\n", r.tasks_size(), scope.c_str());
      failed = PrintTasks(r.tasks(), "killed");
    }
  } else {
    j = nlohmann::json::array();
    for (const auto& f : resp->governance_state().freezes()) {
      j.push_back({{"scope", {{"kind", f.scope().kind()}, {"value", f.scope().value()}}},
                   {"principal", f.principal()},
                   {"reason", f.reason()},
                   {"since_unix_ms", f.since_unix_ms()},
                   {"frozen_tasks", std::vector<std::string>(f.frozen_tasks().begin(), f.frozen_tasks().end())}});
      if (a.json) continue;
      const time_t t = static_cast<time_t>(f.since_unix_ms() / 1000);
      char when[32] = "";
      tm utc{};
      if (::gmtime_r(&t, &utc)) std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
      std::printf("%-8s %-20s by %s since %s, %d task(s) frozen%s%s\n", Kind(f.scope().kind()),
                  f.scope().value().c_str(), f.principal().c_str(), when, f.frozen_tasks_size(),
                  f.reason().empty() ? "" : ": ", f.reason().c_str());
    }
    if (!a.json && resp->governance_state().freezes_size() == 0) std::printf("nothing is frozen\n");
  }
  if (a.json) std::printf("%s\n", j.dump(2).c_str());
  return failed == 0 ? 0 : cli::ReportFailure(std::to_string(failed) + " task(s) could not be acted on (see above)");
}

}  // namespace cordon
