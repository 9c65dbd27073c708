// supervisor/cli/approvals.cc: `cordon approvals list|approve|deny|wait` (docs/governance.md
// "Approvals"), and what `cordon submit` does with a Submit that cordond holds PENDING: it waits
// for the decision, then submits the same request again under the approval.
#include "supervisor/cli/approvals.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/cli/operands.h"
#include "supervisor/cli/report.h"
#include "supervisor/daemon/paths.h"
#include "supervisor/governance/clock.h"
#include "supervisor/governance/retry.h"

namespace cordon::cli {
namespace {

namespace v1 = ::cordon::api::v1;
using daemon::ClientConnection;

constexpr int kExitWaitTimeout = 124;  // like timeout(1) and `cordon wait`

constexpr const char* kUsage =
    "Usage:\n"
    "  cordon approvals [list] [--all] [--json]      Pending requests you may decide, and your own\n"
    "                                                (--all: decided ones too)\n"
    "  cordon approvals approve ID [--reason TEXT]   Approve a pending request (a role with \"approve\")\n"
    "  cordon approvals deny ID [--reason TEXT]      Deny it\n"
    "  cordon approvals wait ID [--timeout SECONDS] [--json]\n"
    "                                                Wait until it is decided or expires\n"
    "Options: --socket PATH (cordond's socket), --json (print JSON).\n"
    "wait exits 0 approved (or already used), 77 denied, 75 expired, 124 still pending at --timeout.\n"
    "A Submit is held for approval when it declares (cordon submit --side-effect CLASS), or its policy's\n"
    "bindings are tagged with, a side-effect class its policy's approval_required_for names; `cordon submit`\n"
    "waits for the decision and then runs it. See docs/governance.md \"Approvals\".\n";

std::string When(int64_t unix_ms) { return unix_ms > 0 ? governance::Iso8601(unix_ms) : ""; }

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

nlohmann::json InfoJson(const v1::ApprovalInfo& a) {
  nlohmann::json j = {{"id", a.id()},
                      {"state", a.state()},
                      {"principal", a.principal()},
                      {"tenant", a.tenant()},
                      {"side_effects", std::vector<std::string>(a.side_effects().begin(), a.side_effects().end())},
                      {"app_id", a.app_id()},
                      {"policy", a.policy()},
                      {"session", a.session()},
                      {"argv", std::vector<std::string>(a.argv().begin(), a.argv().end())},
                      {"created_unix_ms", a.created_unix_ms()},
                      {"expires_unix_ms", a.expires_unix_ms()}};
  if (!a.decided_by().empty()) j["decided_by"] = a.decided_by();
  if (a.decided_unix_ms()) j["decided_unix_ms"] = a.decided_unix_ms();
  if (!a.reason().empty()) j["reason"] = a.reason();
  if (a.decision_id()) j["decision_id"] = a.decision_id();
  return j;
}

void PrintInfo(const v1::ApprovalInfo& a) {
  std::printf("%s  %-8s %s by %s (tenant %s), policy %s%s%s: %s\n", a.id().c_str(), a.state().c_str(),
              Join(a.side_effects(), ",").c_str(), a.principal().c_str(), a.tenant().c_str(), a.policy().c_str(),
              a.app_id().empty() ? "" : ", app ", a.app_id().c_str(), Join(a.argv(), " ").c_str());
  if (a.state() == "pending") {
    std::printf("    expires %s\n", When(a.expires_unix_ms()).c_str());
  } else if (a.state() == "expired") {
    std::printf("    expired undecided at %s\n", When(a.decided_unix_ms()).c_str());
  } else {
    std::printf("    %s by %s at %s%s%s\n", a.state() == "denied" ? "denied" : "approved",
                a.decided_by().c_str(), When(a.decided_unix_ms()).c_str(), a.reason().empty() ? "" : ": ",
                a.reason().c_str());
  }
}

// The exit code of `wait` for a request in state `s`.
int ExitForState(const std::string& s) {
  if (s == "approved" || s == "used") return 0;
  if (s == "denied") return governance::kExitNeverRetry;
  if (s == "expired") return governance::kExitRetryLater;
  return kExitWaitTimeout;
}

}  // namespace

int RunApprovalsCommand(int argc, char** argv) {
  for (int i = 0; i < argc; ++i)
    if (std::string_view(argv[i]) == "-h" || std::string_view(argv[i]) == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  DaemonArgs d;
  if (std::string err = ReadDaemonArgs(argc, argv, {"--reason", "--timeout"}, {"--all"}, &d, "argument"); !err.empty())
    return ReportFailure(err, "cordon approvals --help");
  const std::string& socket = d.socket;
  const bool json = d.json;
  const std::vector<std::string>& pos = d.positional;
  std::string reason;
  bool all = false;
  long timeout_s = 0;
  for (const auto& [name, value] : d.values) {
    if (name == "--all") {
      all = true;
    } else if (name == "--reason") {
      reason = value;
    } else {
      char* end = nullptr;
      if ((timeout_s = std::strtol(value.c_str(), &end, 10)) <= 0 || *end != '\0')
        return ReportFailure("--timeout needs a number of seconds > 0", "cordon approvals --help");
    }
  }
  const std::string cmd = pos.empty() ? "list" : pos[0];
  v1::Request req;
  if (cmd == "list" && pos.size() <= 1) {
    req.mutable_approval_list()->set_all(all);
  } else if ((cmd == "approve" || cmd == "deny") && pos.size() == 2) {
    req.mutable_approval_decide()->set_id(pos[1]);
    req.mutable_approval_decide()->set_approve(cmd == "approve");
    req.mutable_approval_decide()->set_reason(reason);
  } else if (cmd == "wait" && pos.size() == 2) {
    req.mutable_approval_wait()->set_id(pos[1]);
    req.mutable_approval_wait()->set_timeout_ms(static_cast<uint64_t>(timeout_s) * 1000);
  } else {
    return ReportFailure("expected `cordon approvals [list]`, `approve ID`, `deny ID` or `wait ID`",
                         "cordon approvals --help");
  }
  if (!reason.empty() && cmd != "approve" && cmd != "deny") return ReportFailure("--reason is for approve and deny");
  auto conn = ClientConnection::Open(socket.empty() ? daemon::ClientSocketPath() : socket);
  if (!conn) return ReportFailure(conn.error());
  auto resp = conn->Call(req, nullptr, 0, cmd == "wait" ? -1 : 30000);
  if (!resp) return ReportFailure(resp.error());
  if (resp->has_error()) return ReportFailure("cordond refused: " + resp->error().message());
  if (cmd == "list") {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& a : resp->approval_list().approvals()) {
      if (json) j.push_back(InfoJson(a));
      else PrintInfo(a);
    }
    if (json) std::printf("%s\n", j.dump(2).c_str());
    else if (resp->approval_list().approvals_size() == 0) std::printf(all ? "no approval requests\n" : "nothing pending\n");
    return 0;
  }
  const v1::ApprovalInfo& a =
      cmd == "wait" ? resp->approval_wait().approval() : resp->approval_decide().approval();
  if (json) std::printf("%s\n", InfoJson(a).dump(2).c_str());
  else PrintInfo(a);
  return cmd == "wait" ? ExitForState(a.state()) : 0;
}

std::optional<int> AwaitApproval(ClientConnection& conn, const v1::TaskInfo& pending, v1::Request* submit) {
  const std::string id = pending.approval_id();
  std::fprintf(stderr, "cordon: %s\ncordon: waiting for the decision (Ctrl-C leaves it pending; run it later with "
               "`cordon submit --approval %s` and the same arguments)\n", pending.message().c_str(), id.c_str());
  v1::Request wait;
  wait.mutable_approval_wait()->set_id(id);
  auto resp = conn.Call(wait);
  if (!resp) return ReportFailure(resp.error());
  if (resp->has_error()) return ReportFailure("cordond refused: " + resp->error().message());
  const v1::ApprovalInfo& a = resp->approval_wait().approval();
  if (a.state() != "approved") {
    std::string why = "approval " + id + " " + a.state();
    if (!a.decided_by().empty()) why += " by '" + a.decided_by() + "'";
    if (!a.reason().empty()) why += ": " + a.reason();
    if (a.state() == "expired") why += " (nobody decided it in time)";
    return ReportFailure(why, a.state() == "expired" ? "submit again for a new request" : "",
                         ExitForState(a.state()));
  }
  std::fprintf(stderr, "cordon: approval %s approved by '%s'%s%s\n", id.c_str(), a.decided_by().c_str(),
               a.reason().empty() ? "" : ": ", a.reason().c_str());
  submit->mutable_submit()->set_approval_id(id);
  return std::nullopt;
}

}  // namespace cordon::cli
