// Approvals for side effects end to end (docs/governance.md "Approvals"): a real cordond whose
// policies name side effects in approval_required_for. A Submit that declares one, or whose
// policy's binding is tagged with one, is held PENDING; the requester may not decide it; it
// survives kill -9 and a restart; nobody deciding it makes it expire (recorded with principal
// cordond, never as a denial); another principal with an "approve" role approves it (the waiting
// `cordon submit` then runs it, once) or denies it. Every transition is in the evidence log with
// the principal who caused it.
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/evidence_log_files.h"
#include "tests/support/host.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

// Our uid is "dev" (it may approve anything, but never its own requests); `lead_uid`, when set,
// is "lead", who may approve deploy only.
std::string Principals(int64_t lead_uid = -1) {
  std::string p = R"({"version": 1, "roles": {
      "dev": {"policies": ["default", "shipper", "writer"], "classes": ["interactive", "batch"], "approve": ["*"]},
      "lead": {"policies": [], "approve": ["deploy"]}},
    "principals": [{"name": "dev", "tenant": "ci", "uids": [)" +
                  std::to_string(::geteuid()) + R"(], "roles": ["dev"]})";
  if (lead_uid >= 0)
    p += R"(, {"name": "lead", "tenant": "ci", "uids": [)" + std::to_string(lead_uid) + R"(], "roles": ["lead"]})";
  return p + "]}";
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The records of approval `id`, as "event by principal".
std::vector<std::string> Trail(const DaemonProcess& d, const std::string& id) {
  std::vector<std::string> out;
  for (const auto& r : GovernanceRecords(d.evidence_log()))
    if (r["data"].value("approval_id", "") == id)
      out.push_back(r["event"].get<std::string>() + " by " + r["principal"].get<std::string>());
  return out;
}

json ListJson(DaemonProcess& d, bool all = false) {
  auto r = all ? d.Cli({"approvals", "list", "--all", "--json"}) : d.Cli({"approvals", "list", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out, nullptr, false);
  EXPECT_TRUE(j.is_array()) << r.out << r.err;
  return j.is_array() ? j : json::array();
}

json Entry(DaemonProcess& d, const std::string& id) {
  for (const auto& a : ListJson(d, true))
    if (a["id"] == id) return a;
  return nullptr;
}

// A Submit through the API (it is answered at once, PENDING or not).
api::Response Submit(DaemonProcess& d, const std::string& policy, std::vector<std::string> side_effects,
                     std::vector<std::string> argv = {"/bin/true"}) {
  api::Request req;
  api::SubmitRequest* s = req.mutable_submit();
  s->set_policy(policy);
  for (auto& e : side_effects) s->add_side_effects(e);
  for (auto& a : argv) s->add_argv(a);
  auto r = d.Call(req);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().Message());
  return r ? *r : api::Response();
}

class Approvals : public ::testing::Test {
 protected:
  void Boot(int64_t lead_uid, int timeout_s) {
    d_ = std::make_unique<DaemonProcess>(Principals(lead_uid));
    ::mkdir((d_->conf() + "/policies").c_str(), 0755);
    std::ofstream(d_->conf() + "/policies/shipper.json")
        << R"({"version": 1, "name": "shipper", "approval_required_for": ["deploy", "purchase"]})";
    std::ofstream(d_->conf() + "/policies/writer.json")
        << R"({"version": 1, "name": "writer", "approval_required_for": ["write"],
              "bindings": [{"name": "out", "kind": "state", "target": "/out", "access": "rw", "side_effect": "write"}]})";
    std::ofstream(d_->conf() + "/daemon.json")
        << R"({"version": 1, "approvals": {"timeout_s": )" << timeout_s << "}}";
    std::string reload = d_->Reload();
    ASSERT_EQ(reload.find("reload failed"), std::string::npos) << reload;
  }
  std::unique_ptr<DaemonProcess> d_;
};

TEST_F(Approvals, HeldPendingSurvivesAKillAndExpiresUndecided) {
  REQUIRE_SANDBOX();
  Boot(-1, 4);
  DaemonProcess& d = *d_;
  // Not in approval_required_for: it runs.
  api::Response plain = Submit(d, "shipper", {"notification"});
  EXPECT_FALSE(plain.has_error()) << plain.error().message();
  EXPECT_FALSE(plain.submit().task().task_id().empty());
  EXPECT_NE(plain.submit().task().state(), api::TASK_STATE_PENDING);
  // Tagged binding: held for "write" without declaring anything.
  api::Response w = Submit(d, "writer", {});
  ASSERT_FALSE(w.has_error()) << w.error().message();
  EXPECT_EQ(w.submit().task().state(), api::TASK_STATE_PENDING);
  EXPECT_TRUE(w.submit().task().task_id().empty()) << "no task exists while it is pending";
  api::Response r = Submit(d, "shipper", {"deploy"});
  ASSERT_FALSE(r.has_error()) << r.error().message();
  const api::TaskInfo& t = r.submit().task();
  ASSERT_EQ(t.state(), api::TASK_STATE_PENDING);
  const std::string id = t.approval_id();
  ASSERT_EQ(id.rfind("ap-", 0), 0u) << id;
  EXPECT_NE(t.message().find("held for approval " + id + " (side effects deploy)"), std::string::npos) << t.message();
  json e = Entry(d, id);
  EXPECT_EQ(e["state"], "pending");
  EXPECT_EQ(e["principal"], "dev");
  EXPECT_EQ(e["side_effects"], json::array({"deploy"}));
  EXPECT_EQ(Entry(d, w.submit().task().approval_id())["side_effects"], json::array({"write"}));
  const int64_t expires = e["expires_unix_ms"];

  // Bad input: one line naming the cause.
  api::Response bad = Submit(d, "shipper", {"Deploy Now"});
  EXPECT_EQ(bad.error().code(), api::ERROR_CODE_INVALID_ARGUMENT);
  EXPECT_NE(bad.error().message().find("side-effect class 'Deploy Now' is not a name"), std::string::npos)
      << bad.error().message();

  // The requester cannot decide its own request, even with a role that may approve.
  auto self = d.Cli({"approvals", "approve", id});
  EXPECT_NE(self.exit_code, 0);
  EXPECT_NE(self.err.find("principal 'dev' asked for request " + id + " and may not decide it"), std::string::npos)
      << self.err;
  // Nor run it before it is approved.
  auto early = d.Cli({"submit", "--policy", "shipper", "--side-effect", "deploy", "--approval", id, "--", "/bin/true"});
  EXPECT_NE(early.exit_code, 0);
  EXPECT_NE(early.err.find("refused (not approved): approval request " + id + " is pending"), std::string::npos)
      << early.err;

  // Pending survives kill -9.
  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));
  d.Start();
  if (NowMs() < expires - 200) {
    EXPECT_EQ(Entry(d, id)["state"], "pending");
  }

  // Nobody decides: it expires, and the waiter is told so (exit 75: a new request may be approved).
  auto waited = d.Cli({"approvals", "wait", id, "--json"});
  EXPECT_EQ(waited.exit_code, 75) << waited.out << waited.err;
  EXPECT_GE(NowMs(), expires);
  json after = json::parse(waited.out, nullptr, false);
  EXPECT_EQ(after["state"], "expired") << waited.out;
  EXPECT_FALSE(after.contains("decided_by")) << "an expiry is nobody's decision";
  auto late = d.Cli({"submit", "--policy", "shipper", "--side-effect", "deploy", "--approval", id, "--", "/bin/true"});
  EXPECT_NE(late.err.find("approval request " + id + " is expired"), std::string::npos) << late.err;
  EXPECT_EQ(Trail(d, id), (std::vector<std::string>{"approval_requested by dev", "approval_expired by cordond"}));

  // `cordon submit` waits through the whole of it and exits 75 when its request expires.
  auto cli = d.Cli({"submit", "--policy", "shipper", "--side-effect", "purchase", "--", "/bin/true"});
  EXPECT_EQ(cli.exit_code, 75) << cli.err;
  EXPECT_NE(cli.err.find("held for approval ap-"), std::string::npos) << cli.err;
  EXPECT_NE(cli.err.find("expired (nobody decided it in time)"), std::string::npos) << cli.err;
}

// A held request's command is kept redacted, like a task's (docs/evidence.md "Redaction"): what
// `cordon approvals list` shows and what STATE/governance.db and the evidence log hold.
TEST_F(Approvals, AHeldRequestsArgvIsStoredRedacted) {
  REQUIRE_SANDBOX();
  Boot(-1, 600);
  DaemonProcess& d = *d_;
  const std::string token = "ghp_Zq8Xw2Lk5Mn7Bv4Cx1Az9Sd3Fg6Hj0Kl2QwEr";
  api::Response r = Submit(d, "shipper", {"deploy"}, {"/bin/echo", "--token", token});
  ASSERT_FALSE(r.has_error()) << r.error().message();
  ASSERT_EQ(r.submit().task().state(), api::TASK_STATE_PENDING);
  json e = Entry(d, r.submit().task().approval_id());
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e["argv"][0], "/bin/echo");
  EXPECT_NE(e["argv"][2].get<std::string>().find("[REDACTED:github_token:"), std::string::npos) << e;
  EXPECT_EQ(e.dump().find(token), std::string::npos) << e;
  auto text = d.Cli({"approvals", "list"});
  EXPECT_EQ(text.out.find(token), std::string::npos) << text.out;
  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));  // the files as a restart finds them
  for (const char* f : {"/state/governance.db", "/state/governance.db-wal", "/state/evidence-log/records"}) {
    std::ifstream in(d.dir() + f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(bytes.find(token), std::string::npos) << f;
  }
}

// Decides request `id` as `pw` through the API; "" or the error's message.
std::string DecideAs(const passwd* pw, const std::string& socket, const std::string& id, bool approve,
                     const std::string& reason) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    if (::setgroups(0, nullptr) || ::setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
        ::setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid))
      _exit(2);
    std::string out;
    auto c = daemon::ClientConnection::Open(socket);
    if (!c) {
      out = "connect: " + c.error().Message();
    } else {
      api::Request req;
      req.mutable_approval_decide()->set_id(id);
      req.mutable_approval_decide()->set_approve(approve);
      req.mutable_approval_decide()->set_reason(reason);
      auto r = c->Call(req, nullptr, 0, 30000);
      out = !r ? "call: " + r.error().Message() : r->has_error() ? r->error().message() : "";
    }
    (void)!::write(p[1], out.data(), out.size());
    _exit(0);
  }
  ::close(p[1]);
  std::string got;
  char buf[1024];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? got : "the child could not become " + std::string(pw->pw_name);
}

TEST_F(Approvals, AnotherPrincipalApprovesItRunsOnceOrDeniesIt) {
  REQUIRE_SANDBOX();
  if (!IsRoot()) GTEST_SKIP() << "needs root to connect as a second principal (rootless: HeldPendingSurvives...)";
  passwd* pw = ::getpwnam("nobody");
  if (pw == nullptr) GTEST_SKIP() << "no user nobody to connect as";
  Boot(pw->pw_uid, 60);
  DaemonProcess& d = *d_;
  // The requester's `cordon submit`, attached: held, then run once approved.
  auto submit = std::async(std::launch::async, [&] {
    return d.Cli({"submit", "--policy", "shipper", "--side-effect", "deploy", "--", "/bin/echo", "shipped"});
  });
  std::string id;
  for (int i = 0; i < 1000 && id.empty(); ++i) {
    for (const auto& a : ListJson(d))
      if (a["argv"] == json::array({"/bin/echo", "shipped"})) id = a["id"].get<std::string>();
    if (id.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(id.empty()) << "the submit was never held";

  // lead may approve deploy, not purchase: such a request is not even visible to lead.
  api::Response p = Submit(d, "shipper", {"purchase"});
  ASSERT_EQ(p.submit().task().state(), api::TASK_STATE_PENDING);
  const std::string pid = p.submit().task().approval_id();
  EXPECT_EQ(DecideAs(pw, d.socket(), pid, true, ""),
            "no approval request " + pid + " visible to principal 'lead' (cordon approvals list --all shows those you may see)");

  EXPECT_EQ(DecideAs(pw, d.socket(), id, true, "release 42"), "");
  RunResult r = submit.get();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "shipped\n");
  EXPECT_NE(r.err.find("approval " + id + " approved by 'lead': release 42"), std::string::npos) << r.err;
  json used = Entry(d, id);
  EXPECT_EQ(used["state"], "used");
  EXPECT_EQ(used["decided_by"], "lead");
  EXPECT_GT(used["decision_id"].get<int64_t>(), 0);
  // Once only.
  auto again = d.Cli({"submit", "--policy", "shipper", "--side-effect", "deploy", "--approval", id, "--", "/bin/echo",
                      "shipped"});
  EXPECT_NE(again.err.find("approval request " + id + " is used by 'lead'"), std::string::npos) << again.err;
  EXPECT_NE(DecideAs(pw, d.socket(), id, false, "").find("is used (by 'lead'), not pending"), std::string::npos)
      << "a decided request stays decided";

  // A denial: the waiter exits 77, and the request never runs.
  api::Response q = Submit(d, "shipper", {"deploy"}, {"/bin/echo", "denied"});
  const std::string qid = q.submit().task().approval_id();
  auto wait = std::async(std::launch::async, [&] { return d.Cli({"approvals", "wait", qid}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(DecideAs(pw, d.socket(), qid, false, "not on a Friday"), "");
  RunResult wr = wait.get();
  EXPECT_EQ(wr.exit_code, 77) << wr.out << wr.err;
  EXPECT_NE(wr.out.find("denied by lead"), std::string::npos) << wr.out;
  auto denied = d.Cli({"submit", "--policy", "shipper", "--side-effect", "deploy", "--approval", qid, "--",
                       "/bin/echo", "denied"});
  EXPECT_NE(denied.err.find("is denied by 'lead' (not on a Friday)"), std::string::npos) << denied.err;

  // After kill -9 and a restart the decisions are still there.
  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));
  d.Start();
  EXPECT_EQ(Entry(d, id)["state"], "used");
  EXPECT_EQ(Entry(d, qid)["state"], "denied");
  EXPECT_EQ(Trail(d, id), (std::vector<std::string>{"approval_requested by dev", "approval_approved by lead",
                                                    "approval_used by dev"}));
  EXPECT_EQ(Trail(d, qid), (std::vector<std::string>{"approval_requested by dev", "approval_denied by lead"}));
}

}  // namespace
}  // namespace cordon::test
