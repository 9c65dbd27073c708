// supervisor/cli/suspend.cc: `cordon suspensions` and `cordon resume` (docs/incident-response.md
// "Auto-suspend"): what cordond has suspended for repeated policy violations, and the operator's
// resume. Each is one call.
#include "supervisor/cli/suspend.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/cli/operands.h"
#include "supervisor/cli/report.h"
#include "supervisor/daemon/client.h"
#include "supervisor/daemon/paths.h"
#include "supervisor/governance/clock.h"

namespace cordon::cli {
namespace {

namespace v1 = ::cordon::api::v1;

constexpr const char* kUsage =
    "Usage:\n"
    "  cordon suspensions [--json]                    Apps and principals suspended for policy violations\n"
    "  cordon resume --app ID|--principal NAME [--reason TEXT]\n"
    "                                                 Lift a suspension (operators)\n"
    "Options: --socket PATH (cordond's socket), --json (print JSON).\n"
    "See docs/incident-response.md \"Auto-suspend\".\n";

std::string When(int64_t unix_ms) { return governance::Iso8601(unix_ms); }

}  // namespace

int RunSuspendCommand(const std::string& cmd, int argc, char** argv) {
  for (int i = 0; i < argc; ++i)
    if (std::string_view(argv[i]) == "-h" || std::string_view(argv[i]) == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  DaemonArgs d;
  std::vector<std::string> with_value = {"--reason"};
  if (cmd == "resume") with_value.insert(with_value.end(), {"--app", "--principal"});
  if (std::string err = ReadDaemonArgs(argc, argv, with_value, {}, &d, "argument"); !err.empty())
    return ReportFailure(err, "cordon " + cmd + " --help");
  if (!d.positional.empty())
    return ReportFailure("unknown argument '" + d.positional[0] + "'", "cordon " + cmd + " --help");
  const std::string& socket = d.socket;
  const bool json = d.json;
  std::string kind, value, reason;
  for (const auto& [name, v] : d.values) {
    if (name == "--reason") {
      reason = v;
      continue;
    }
    if (!kind.empty()) return ReportFailure("name one of --app and --principal", "cordon resume --help");
    if (v.empty()) return ReportFailure(name + " needs a value", "cordon resume --help");
    kind = name.substr(2);
    value = v;
  }
  v1::Request req;
  if (cmd == "resume") {
    if (kind.empty()) return ReportFailure("resume needs --app ID or --principal NAME", "cordon resume --help");
    req.mutable_resume()->set_kind(kind);
    req.mutable_resume()->set_value(value);
    req.mutable_resume()->set_reason(reason);
  } else {
    if (!reason.empty()) return ReportFailure("--reason is for resume");
    req.mutable_suspensions();
  }
  auto conn = daemon::ClientConnection::Open(socket.empty() ? daemon::ClientSocketPath() : socket);
  if (!conn) return ReportFailure(conn.error());
  auto resp = conn->Call(req, nullptr, 0, 30000);
  if (!resp) return ReportFailure(resp.error());
  if (resp->has_error()) return ReportFailure("cordond refused: " + resp->error().message());
  if (cmd == "resume") {
    const bool was = resp->resume().was_suspended();
    if (json) std::printf("%s\n", nlohmann::json({{"was_suspended", was}}).dump().c_str());
    else std::printf(was ? "resumed %s %s\n" : "%s %s was not suspended; nothing changed\n", kind.c_str(), value.c_str());
    return 0;
  }
  const auto& r = resp->suspensions();
  if (json) {
    nlohmann::json j = {{"violations", r.violations()}, {"window_ms", r.window_ms()}, {"principals", r.principals()},
                        {"suspensions", nlohmann::json::array()}};
    for (const auto& s : r.suspensions()) {
      nlohmann::json vs = nlohmann::json::array();
      for (const auto& v : s.violations())
        vs.push_back({{"at_unix_ms", v.at_unix_ms()}, {"kind", v.kind()}, {"detail", v.detail()}});
      j["suspensions"].push_back(
          {{"kind", s.kind()}, {"value", s.value()}, {"since_unix_ms", s.since_unix_ms()}, {"violations", vs}});
    }
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  if (r.violations() == 0) std::printf("auto-suspend is off (daemon.json \"auto_suspend\": {\"violations\": 0})\n");
  else
    std::printf("suspends an app%s at %u policy violations within %lld s\n", r.principals() ? " or principal" : "",
                r.violations(), static_cast<long long>(r.window_ms() / 1000));
  for (const auto& s : r.suspensions()) {
    std::printf("%-9s %-20s since %s after %d violation(s):\n", s.kind().c_str(), s.value().c_str(),
                When(s.since_unix_ms()).c_str(), s.violations_size());
    for (const auto& v : s.violations())
      std::printf("  %s %-17s %s\n", When(v.at_unix_ms()).c_str(), v.kind().c_str(), v.detail().c_str());
  }
  if (r.suspensions_size() == 0) std::printf("nothing is suspended\n");
  return 0;
}

}  // namespace cordon::cli
