#include "supervisor/cli/session.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "supervisor/cli/operands.h"
#include "supervisor/cli/report.h"
#include "supervisor/daemon/client.h"
#include "supervisor/daemon/paths.h"
#include "supervisor/governance/clock.h"
#include "supervisor/governance/retry.h"

namespace cordon::cli {
namespace {

namespace api = ::cordon::api::v1;
using nlohmann::json;

constexpr const char* kUsage =
    "Usage:\n"
    "  cordon session list [--json]                 Sessions of your tenant (an operator: all)\n"
    "  cordon session show [--json] SESSION         One session: budget, spent, markers, actions\n"
    "  cordon session mark SESSION MARKER [--restrict R]... [--reason TEXT] [--clear]\n"
    "                                               Mark a session (operator). R: outbound_none,\n"
    "                                               refuse_new, deny_domain=DOMAIN\n"
    "  cordon session budget SESSION [--tasks N] [--cpu-ms N] [--wall-ms N] [--calls N] [--fanout N]\n"
    "                        [--unlimit NAME]...    Raise or lower a live session's budget (operator)\n"
    "  cordon envelope [--json] [--app ID] [--tenant T]   App and tenant envelopes and their spend\n"
    "Options: --socket PATH (default: CORDON_SOCKET or cordond's default socket)\n"
    "Sessions are opened by `cordon submit --session S [--session-class C] [--action A]`; see\n"
    "docs/governance.md.\n";

using Args = DaemonArgs;

// Flags with a value, and the bare ones (cli/operands.h).
bool Parse(int argc, char** argv, const std::vector<std::string>& with_value, const std::vector<std::string>& bare,
           Args* a, std::string* err) {
  *err = ReadDaemonArgs(argc, argv, with_value, bare, a);
  return err->empty();
}

bool Number(const std::string& name, const std::string& v, uint64_t* out, std::string* err) {
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || *end != '\0' || errno != 0)
    return (*err = name + " '" + v + "' is not a non-negative whole number"), false;
  *out = n;
  return true;
}

std::string Opt(bool has, uint64_t v) { return has ? std::to_string(v) : std::string("unlimited"); }

json BudgetJson(const api::SessionBudget& b) {
  json j = json::object();
  if (b.has_cpu_ms()) j["cpu_ms"] = b.cpu_ms();
  if (b.has_wall_ms()) j["wall_ms"] = b.wall_ms();
  if (b.has_tasks()) j["tasks"] = b.tasks();
  if (b.has_calls()) j["calls"] = b.calls();
  if (b.has_fanout()) j["fanout"] = b.fanout();
  return j;
}

json SessionJson(const api::SessionInfo& s) {
  json markers = json::array();
  for (const auto& m : s.markers())
    markers.push_back({{"name", m.name()},
                       {"restrictions", std::vector<std::string>(m.restrictions().begin(), m.restrictions().end())},
                       {"reason", m.reason()},
                       {"by", m.by()},
                       {"at_unix_ms", m.at_unix_ms()}});
  json actions = json::object();
  for (const auto& [k, v] : s.actions()) actions[k] = v;
  return {{"session", s.session()},     {"class", s.class_()},
          {"tenant", s.tenant()},       {"opened_by", s.opened_by()},
          {"opened_unix_ms", s.opened_unix_ms()}, {"budget", BudgetJson(s.budget())},
          {"spent", BudgetJson(s.spent())}, {"markers", markers},
          {"actions", actions}};
}

void PrintSession(const api::SessionInfo& s) {
  const api::SessionBudget& b = s.budget();
  const api::SessionBudget& u = s.spent();
  std::printf("session     %s\nclass       %s\ntenant      %s\nopened by   %s at %s\n", s.session().c_str(),
              s.class_().c_str(), s.tenant().c_str(), s.opened_by().c_str(),
              governance::Iso8601(s.opened_unix_ms()).c_str());
  std::printf("tasks       %llu of %s\n", static_cast<unsigned long long>(u.tasks()), Opt(b.has_tasks(), b.tasks()).c_str());
  std::printf("cpu ms      %llu of %s\n", static_cast<unsigned long long>(u.cpu_ms()), Opt(b.has_cpu_ms(), b.cpu_ms()).c_str());
  std::printf("wall ms     %llu of %s\n", static_cast<unsigned long long>(u.wall_ms()),
              Opt(b.has_wall_ms(), b.wall_ms()).c_str());
  std::printf("calls       %llu of %s\n", static_cast<unsigned long long>(u.calls()), Opt(b.has_calls(), b.calls()).c_str());
  std::printf("fanout      %llu of %s (largest action)\n", static_cast<unsigned long long>(u.fanout()),
              Opt(b.has_fanout(), b.fanout()).c_str());
  for (const auto& m : s.markers()) {
    std::string r;
    for (const auto& x : m.restrictions()) r += (r.empty() ? "" : ",") + x;
    std::printf("marker      %s [%s] by %s: %s\n", m.name().c_str(), r.empty() ? "label only" : r.c_str(),
                m.by().c_str(), m.reason().c_str());
  }
}

int FailCall(const api::Response& r) {
  return ReportFailure(r.error().message(), {}, kExitCordonFailure);
}

Result<api::Response> Call(const Args& a, const api::Request& req) {
  CORDON_ASSIGN_OR_RETURN(auto conn,
                          daemon::ClientConnection::Open(a.socket.empty() ? daemon::ClientSocketPath() : a.socket));
  return conn.Call(req);
}

int Envelope(int argc, char** argv) {
  Args a;
  std::string err;
  if (!Parse(argc, argv, {"--app", "--tenant"}, {}, &a, &err)) return ReportFailure(err + "\n" + kUsage);
  if (!a.positional.empty()) return ReportFailure("cordon envelope takes no operands (--app ID, --tenant T)");
  api::Request req;
  for (const auto& [n, v] : a.values) {
    if (n == "--app") req.mutable_envelope_show()->set_app_id(v);
    if (n == "--tenant") req.mutable_envelope_show()->set_tenant(v);
  }
  req.mutable_envelope_show();
  auto resp = Call(a, req);
  if (!resp) return ReportFailure(resp.error());
  if (resp->has_error()) return FailCall(*resp);
  json all = json::array();
  for (const auto& e : resp->envelope_show().envelopes()) {
    json periods = json::array();
    for (const auto& p : e.periods()) {
      json jp = {{"period", p.period()}, {"key", p.key()}, {"ends_unix_ms", p.ends_unix_ms()},
                 {"tasks_spent", p.tasks_spent()}, {"cpu_ms_spent", p.cpu_ms_spent()}};
      if (p.has_tasks_limit()) jp["tasks_limit"] = p.tasks_limit();
      if (p.has_cpu_ms_limit()) jp["cpu_ms_limit"] = p.cpu_ms_limit();
      periods.push_back(jp);
      if (!a.json)
        std::printf("%-6s %-20s %-5s %-10s tasks %llu of %s, cpu ms %llu of %s (until %s)\n", e.scope().c_str(),
                    e.id().c_str(), p.period().c_str(), p.key().c_str(),
                    static_cast<unsigned long long>(p.tasks_spent()), Opt(p.has_tasks_limit(), p.tasks_limit()).c_str(),
                    static_cast<unsigned long long>(p.cpu_ms_spent()),
                    Opt(p.has_cpu_ms_limit(), p.cpu_ms_limit()).c_str(), governance::Iso8601(p.ends_unix_ms()).c_str());
    }
    json je = {{"scope", e.scope()}, {"id", e.id()}, {"owner_team", e.owner_team()}, {"risk_class", e.risk_class()},
               {"periods", periods}};
    je["connectors"] = e.connectors_any() ? json("any")
                                          : json(std::vector<std::string>(e.connectors().begin(), e.connectors().end()));
    all.push_back(je);
  }
  if (a.json) std::printf("%s\n", all.dump().c_str());
  return 0;
}

}  // namespace

// RetryExitCode and RetryVerdictName: cli/retry_exit.cc (linked into the lean client too).

bool IsSessionCommand(const char* cmd) {
  return std::string(cmd) == "session" || std::string(cmd) == "envelope";
}

int RunSessionCommand(const char* cmd, int argc, char** argv) {
  for (int i = 0; i < argc; ++i)
    if (std::string(argv[i]) == "-h" || std::string(argv[i]) == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  if (std::string(cmd) == "envelope") return Envelope(argc, argv);
  // The subcommand is the first operand; options (--socket PATH) may come before it.
  std::vector<char*> rest;
  std::string sub;
  for (int i = 0; i < argc; ++i) {
    const std::string s = argv[i];
    if (sub.empty() && (s.size() < 2 || s[0] != '-')) {
      sub = s;
      continue;
    }
    rest.push_back(argv[i]);
    if (sub.empty() && s == "--socket" && i + 1 < argc) rest.push_back(argv[++i]);
  }
  if (sub.empty()) return ReportFailure(std::string("cordon session needs a subcommand\n") + kUsage);
  argc = static_cast<int>(rest.size()) + 1;
  rest.insert(rest.begin(), nullptr);
  argv = rest.data();
  Args a;
  std::string err;
  api::Request req;
  if (sub == "list") {
    if (!Parse(argc - 1, argv + 1, {}, {}, &a, &err)) return ReportFailure(err);
    req.mutable_session_list();
  } else if (sub == "show") {
    if (!Parse(argc - 1, argv + 1, {}, {}, &a, &err)) return ReportFailure(err);
    if (a.positional.size() != 1) return ReportFailure("cordon session show takes one session name");
    req.mutable_session_show()->set_session(a.positional[0]);
  } else if (sub == "mark") {
    if (!Parse(argc - 1, argv + 1, {"--restrict", "--reason"}, {"--clear"}, &a, &err)) return ReportFailure(err);
    if (a.positional.size() != 2) return ReportFailure("cordon session mark takes a session and a marker name");
    api::SessionMarkRequest* m = req.mutable_session_mark();
    m->set_session(a.positional[0]);
    m->set_marker(a.positional[1]);
    for (const auto& [n, v] : a.values) {
      if (n == "--restrict") m->add_restrictions(v);
      if (n == "--reason") m->set_reason(v);
      if (n == "--clear") m->set_clear(true);
    }
  } else if (sub == "budget") {
    if (!Parse(argc - 1, argv + 1, {"--tasks", "--cpu-ms", "--wall-ms", "--calls", "--fanout", "--unlimit"}, {}, &a,
               &err))
      return ReportFailure(err);
    if (a.positional.size() != 1) return ReportFailure("cordon session budget takes one session name");
    api::SessionBudgetRequest* b = req.mutable_session_budget();
    b->set_session(a.positional[0]);
    for (const auto& [n, v] : a.values) {
      uint64_t x = 0;
      if (n == "--unlimit") {
        b->add_unlimit(v);
        continue;
      }
      if (!Number(n, v, &x, &err)) return ReportFailure(err);
      if (n == "--tasks") b->mutable_set()->set_tasks(x);
      if (n == "--cpu-ms") b->mutable_set()->set_cpu_ms(x);
      if (n == "--wall-ms") b->mutable_set()->set_wall_ms(x);
      if (n == "--calls") b->mutable_set()->set_calls(x);
      if (n == "--fanout") b->mutable_set()->set_fanout(x);
    }
    if (a.values.empty()) return ReportFailure("cordon session budget: nothing to change", "give --tasks N, --cpu-ms N, ...");
  } else {
    return ReportFailure("unknown session subcommand '" + sub + "'", "cordon session list|show|mark|budget");
  }
  auto resp = Call(a, req);
  if (!resp) return ReportFailure(resp.error());
  if (resp->has_error()) return FailCall(*resp);
  if (sub == "list") {
    if (a.json) {
      json all = json::array();
      for (const auto& s : resp->session_list().sessions()) all.push_back(SessionJson(s));
      std::printf("%s\n", all.dump().c_str());
      return 0;
    }
    std::printf("%-24s %-12s %-12s %10s %10s %s\n", "SESSION", "CLASS", "TENANT", "TASKS", "CPU_MS", "MARKERS");
    for (const auto& s : resp->session_list().sessions()) {
      std::string m;
      for (const auto& x : s.markers()) m += (m.empty() ? "" : ",") + x.name();
      std::printf("%-24s %-12s %-12s %10llu %10llu %s\n", s.session().c_str(), s.class_().c_str(), s.tenant().c_str(),
                  static_cast<unsigned long long>(s.spent().tasks()), static_cast<unsigned long long>(s.spent().cpu_ms()),
                  m.empty() ? "-" : m.c_str());
    }
    return 0;
  }
  const api::SessionInfo& s = sub == "show"   ? resp->session_show().session()
                              : sub == "mark" ? resp->session_mark().session()
                                              : resp->session_budget().session();
  if (a.json) std::printf("%s\n", SessionJson(s).dump().c_str());
  else PrintSession(s);
  return 0;
}

}  // namespace cordon::cli
