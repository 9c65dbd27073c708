// The identity boundary through a real cordond and real sandboxes (docs/identity.md): a task's
// token reaches it through a binding and verifies offline (cordon token verify, Python's PyJWT)
// and online; online it is refused once the task has finished; it expires; the egress proxy
// attaches a token only for its audience; a secret's placeholder becomes its value only in
// requests to its destination and is refused elsewhere, recorded without the value. Every server
// is a thread of this test on the host's loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>

#include "tests/support/background.h"
#include "tests/support/daemon_process.h"
#include "tests/support/host.h"
#include "tests/support/http_server.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

// The value of header `name` (as sent) in a request head, or "".
std::string HeaderValue(const std::string& head, const std::string& name) {
  size_t at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  at += name.size() + 4;
  return head.substr(at, head.find("\r\n", at) - at);
}

constexpr const char* kSecretValue = "s3cr3t-value-that-stays-outside";

// A cordond whose config has policy "ident" (JSON `policy`), for a principal of our uid, and a
// secret file only cordond's user may read (mode 0600, ours).
struct IdentityDaemon {
  explicit IdentityDaemon(const std::string& policy)
      : d(R"({"version": 1, "roles": {"runner": {"policies": ["default", "ident"], "classes": ["batch", "interactive"]}},
              "principals": [{"name": "tester", "tenant": "ci", "uids": [)" +
          std::to_string(::geteuid()) + R"(], "roles": ["runner"]}]})") {
    ::mkdir((d.conf() + "/policies").c_str(), 0755);
    std::ofstream(d.conf() + "/policies/ident.json") << policy;
    EXPECT_EQ(d.Reload().find("reload failed"), std::string::npos) << d.Log();
  }
  std::string jwks() const { return d.dir() + "/state/token/jwks.json"; }
  RunResult VerifyOffline(const std::string& token, const std::string& audience) {
    return RunProgram({BuildPath("bin/cordon"), "token", "verify", "--jwks", jwks(), "--audience", audience, token});
  }
  RunResult VerifyOnline(const std::string& token) {
    return RunProgram({BuildPath("bin/cordon"), "token", "verify", "--online", "--socket", d.socket(), token});
  }
  RunResult VerifyPython(const std::string& token, const std::string& audience) {
    RunOptions o;
    o.stdin_data = token + "\n";
    return RunProgram({"/usr/bin/python3", SourcePath("docs/examples/verify_token.py"), jwks(), audience}, o);
  }
  // Every file cordond keeps (database, evidence log, spool), as one string.
  std::string StoredBytes() {
    auto r = RunProgram({"/bin/sh", "-c", "find '" + d.dir() + "/state' -type f ! -name 'signing-key.pem' -exec cat {} +"});
    return r.out;
  }
  std::string NewestTaskId() { return JsonField(d.Cli({"ps", "--all", "--json", "--limit", "1"}).out, "0/task_id"); }
  DaemonProcess d;
};

std::string BindingPolicy(const std::string& identity_extra = "") {
  return R"({"name": "ident", "version": 1,
    "bindings": [{"name": "api_token", "kind": "pipe", "source": "caller"}],
    "identity": {)" + identity_extra + R"("tokens": [{"audience": "svc-a", "binding": "api_token"}]}})";
}

TEST(Identity, TokenThroughABindingVerifiesOfflineAndOnlineUntilItsTaskEnds) {
  REQUIRE_SANDBOX();
  IdentityDaemon id(BindingPolicy());
  Background task({BuildPath("bin/cordon"), "submit", "--socket", id.d.socket(), "--policy", "ident", "--", "/bin/sh",
                   "-c", "cat <&$CORDON_FD_API_TOKEN; read line; echo done"});
  auto token = task.ReadLine();
  ASSERT_TRUE(token && !token->empty()) << id.d.Log();
  EXPECT_EQ(std::count(token->begin(), token->end(), '.'), 2) << *token;

  auto offline = id.VerifyOffline(*token, "svc-a");
  EXPECT_EQ(offline.exit_code, 0) << offline.err;
  const std::string task_id = id.NewestTaskId();
  EXPECT_EQ(JsonField(offline.out, "cordon/task"), task_id) << offline.out;
  EXPECT_EQ(JsonField(offline.out, "sub"), "ci/default/tester");
  EXPECT_EQ(JsonField(offline.out, "aud"), "svc-a");
  EXPECT_EQ(JsonField(offline.out, "cordon/policy"), "ident");
  EXPECT_EQ(JsonField(offline.out, "cordon/capabilities/0"), "binding:api_token");
  EXPECT_LE(std::stoll(JsonField(offline.out, "exp")) - std::stoll(JsonField(offline.out, "iat")), 300);
  auto python = id.VerifyPython(*token, "svc-a");
  EXPECT_EQ(python.exit_code, 0) << python.err;
  EXPECT_EQ(JsonField(python.out, "cordon/task"), task_id) << python.out;
  // Another audience is refused by both.
  EXPECT_EQ(id.VerifyOffline(*token, "svc-b").exit_code, 1);
  EXPECT_EQ(id.VerifyPython(*token, "svc-b").exit_code, 1);

  auto online = id.VerifyOnline(*token);
  EXPECT_EQ(online.exit_code, 0) << online.err;
  EXPECT_EQ(JsonField(online.out, "jti"), JsonField(offline.out, "jti"));

  task.CloseStdin();
  auto ended = task.Wait();
  EXPECT_EQ(ended.exit_code, 0) << ended.err;
  EXPECT_EQ(ended.out, "done\n");
  // Attached submit returns once the task has finished: online, its token is refused now.
  auto after = id.VerifyOnline(*token);
  EXPECT_EQ(after.exit_code, 1) << after.out;
  EXPECT_NE(after.err.find("task " + task_id + " has finished"), std::string::npos) << after.err;

  // A tampered token is refused offline, online and by Python.
  std::string tampered = *token;
  tampered[tampered.find('.') + 5] ^= 1;
  EXPECT_EQ(id.VerifyOffline(tampered, "svc-a").exit_code, 1);
  EXPECT_EQ(id.VerifyPython(tampered, "svc-a").exit_code, 1);

  // The token is redacted from what cordond stores, by exact value: here it is in a task's argv.
  auto echo = id.d.Cli({"submit", "--", "/bin/echo", *token});
  EXPECT_EQ(echo.out, *token + "\n");
  EXPECT_EQ(id.StoredBytes().find(*token), std::string::npos) << "the token is stored somewhere in " << id.d.dir();
  // The mint itself is recorded, by jti (never the token).
  EXPECT_NE(id.StoredBytes().find(JsonField(offline.out, "jti")), std::string::npos) << "token_minted record";
}

// `cordon token rotate` while cordond runs: a token of the old key still verifies offline (the key
// set keeps the old key) and online while its task runs; the next task's token is signed by the
// new key, which the key set published before the rotation does not know; the rotation is recorded.
TEST(Identity, RotatedKeyStaysPublishedForItsTokensAndTheNextTokenUsesTheNewKey) {
  REQUIRE_SANDBOX();
  IdentityDaemon id(BindingPolicy());
  Background first({BuildPath("bin/cordon"), "submit", "--socket", id.d.socket(), "--policy", "ident", "--", "/bin/sh",
                    "-c", "cat <&$CORDON_FD_API_TOKEN; read line; exit 0"});
  auto old_token = first.ReadLine();
  ASSERT_TRUE(old_token && !old_token->empty()) << id.d.Log();
  std::ifstream before_file(id.jwks());
  const std::string before((std::istreambuf_iterator<char>(before_file)), {});
  const std::string old_set = WriteTempFile("jwks-before-rotation.json", before);

  auto rot = RunProgram({BuildPath("bin/cordon"), "token", "rotate", "--state-dir", id.d.dir() + "/state"});
  ASSERT_EQ(rot.exit_code, 0) << rot.err;
  EXPECT_NE(rot.out.find("token signing key rotated: new kid "), std::string::npos) << rot.out;
  std::ifstream after_file(id.jwks());
  const std::string after((std::istreambuf_iterator<char>(after_file)), {});
  size_t kids = 0;
  for (size_t at = after.find("\"kid\""); at != std::string::npos; at = after.find("\"kid\"", at + 1)) ++kids;
  EXPECT_EQ(kids, 2u) << after;

  EXPECT_EQ(id.VerifyOffline(*old_token, "svc-a").exit_code, 0) << "the old key is still published";
  auto online = id.VerifyOnline(*old_token);
  EXPECT_EQ(online.exit_code, 0) << online.err;

  auto second = id.d.Cli({"submit", "--policy", "ident", "--", "/bin/sh", "-c", "cat <&$CORDON_FD_API_TOKEN"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  std::string new_token = second.out.substr(0, second.out.find('\n'));
  EXPECT_EQ(id.VerifyOffline(new_token, "svc-a").exit_code, 0);
  auto with_old_set = RunProgram({BuildPath("bin/cordon"), "token", "verify", "--jwks", old_set, new_token});
  EXPECT_EQ(with_old_set.exit_code, 1) << "signed by the new key: " << with_old_set.out;
  auto keys = RunProgram({BuildPath("bin/cordon"), "token", "jwks", "--socket", id.d.socket()});
  EXPECT_EQ(keys.out, after) << "the API publishes both keys too";
  EXPECT_NE(id.StoredBytes().find("token_key_rotated"), std::string::npos) << "the rotation is in the evidence log";

  // Bad input: no state dir there.
  auto none = RunProgram({BuildPath("bin/cordon"), "token", "rotate", "--state-dir", id.d.dir() + "/nowhere"});
  EXPECT_EQ(none.exit_code, 125);
  EXPECT_NE(none.err.find("no signing key in"), std::string::npos) << none.err;
  first.CloseStdin();
  EXPECT_EQ(first.Wait().exit_code, 0);
}

// A token for one execution step, minted through the API by the task's owner (cordon token mint):
// the step is in its cordon claim, its life ends at the task's wall-clock limit (here 60 s, below
// the 300 s maximum), it verifies offline and online, an audience the policy does not grant is
// refused, the mint is in the evidence log (by jti, never the token), and once the task has
// finished both a new mint and the step token's online check are refused.
TEST(Identity, PerStepTokenIsMintedThroughTheApiForItsOwnersRunningTaskOnly) {
  REQUIRE_SANDBOX();
  IdentityDaemon id(R"({"name": "ident", "version": 1, "limits": {"max_wall_ms": 60000},
    "bindings": [{"name": "api_token", "kind": "pipe", "source": "caller"}],
    "identity": {"tokens": [{"audience": "svc-a", "binding": "api_token"}]}})");
  Background task({BuildPath("bin/cordon"), "submit", "--socket", id.d.socket(), "--policy", "ident", "--", "/bin/sh",
                   "-c", "cat <&$CORDON_FD_API_TOKEN; read line; echo done"});
  auto own = task.ReadLine();
  ASSERT_TRUE(own && !own->empty()) << id.d.Log();
  const std::string task_id = id.NewestTaskId();
  auto mint = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv{BuildPath("bin/cordon"), "token", "mint", "--socket", id.d.socket()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunProgram(argv);
  };
  auto step = mint({task_id, "--aud", "svc-a", "--step", "fetch-report"});
  ASSERT_EQ(step.exit_code, 0) << step.err << id.d.Log();
  const std::string token = step.out.substr(0, step.out.find('\n'));
  EXPECT_NE(token, *own);
  auto offline = id.VerifyOffline(token, "svc-a");
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_EQ(JsonField(offline.out, "cordon/step"), "fetch-report") << offline.out;
  EXPECT_EQ(JsonField(offline.out, "cordon/task"), task_id);
  EXPECT_EQ(JsonField(offline.out, "sub"), "ci/default/tester");
  const long long life = std::stoll(JsonField(offline.out, "exp")) - std::stoll(JsonField(offline.out, "iat"));
  EXPECT_GT(life, 0);
  EXPECT_LE(life, 60) << "bounded by the task's wall-clock limit, not the 300 s maximum";
  EXPECT_EQ(JsonField(id.VerifyOffline(*own, "svc-a").out, "cordon/step"), "") << "the task's own token has no step";
  auto python = id.VerifyPython(token, "svc-a");
  EXPECT_EQ(python.exit_code, 0) << python.err;
  EXPECT_EQ(id.VerifyOnline(token).exit_code, 0);

  // Refusals while it runs: an audience the policy does not grant, a bad step name, no such task.
  auto other = mint({task_id, "--aud", "svc-b"});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("no tokens for audience 'svc-b' (it grants: svc-a)"), std::string::npos) << other.err;
  auto bad_step = mint({task_id, "--aud", "svc-a", "--step", "two words"});
  EXPECT_EQ(bad_step.exit_code, 125);
  EXPECT_NE(bad_step.err.find("step 'two words' is not"), std::string::npos) << bad_step.err;
  auto unknown = mint({"t-nope", "--aud", "svc-a"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no task t-nope visible"), std::string::npos) << unknown.err;
  auto no_aud = mint({task_id});
  EXPECT_EQ(no_aud.exit_code, 125);
  EXPECT_NE(no_aud.err.find("no audience given"), std::string::npos) << no_aud.err;

  // Recorded: the mint by its jti, with its step and delivery; the token itself nowhere.
  const std::string stored = id.StoredBytes();
  const std::string jti = JsonField(offline.out, "jti");
  EXPECT_NE(stored.find(jti), std::string::npos) << "token_minted record of the step token";
  EXPECT_NE(stored.find("fetch-report"), std::string::npos) << "the step is recorded";
  EXPECT_EQ(stored.find(token), std::string::npos) << "the step token is stored somewhere in " << id.d.dir();

  task.CloseStdin();
  auto ended = task.Wait();
  EXPECT_EQ(ended.exit_code, 0) << ended.err;
  auto late = mint({task_id, "--aud", "svc-a", "--step", "late"});
  EXPECT_EQ(late.exit_code, 1);
  EXPECT_NE(late.err.find("task " + task_id + " has finished; tokens are minted only for a running task"),
            std::string::npos)
      << late.err;
  EXPECT_EQ(late.out, "");
  auto after = id.VerifyOnline(token);
  EXPECT_EQ(after.exit_code, 1) << after.out;
  EXPECT_NE(after.err.find("task " + task_id + " has finished"), std::string::npos) << after.err;
}

TEST(Identity, TokenExpiresAfterItsMaximumLife) {
  REQUIRE_SANDBOX();
  IdentityDaemon id(BindingPolicy(R"("max_token_ttl_s": 1, )"));
  auto r = id.d.Cli({"submit", "--policy", "ident", "--", "/bin/sh", "-c", "cat <&$CORDON_FD_API_TOKEN"});
  ASSERT_EQ(r.exit_code, 0) << r.err << id.d.Log();
  std::string token = r.out.substr(0, r.out.find('\n'));
  auto first = id.VerifyOffline(token, "svc-a");
  if (first.exit_code == 0) {
    EXPECT_EQ(std::stoll(JsonField(first.out, "exp")) - std::stoll(JsonField(first.out, "iat")), 1);
  }
  // Looked at every 100 ms until it is refused (10 s at most): a one-second token.
  RunResult offline;
  for (int i = 0; i < 100; ++i) {
    offline = id.VerifyOffline(token, "svc-a");
    if (offline.exit_code != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(offline.exit_code, 1);
  EXPECT_NE(offline.err.find("token rejected: token expired"), std::string::npos) << offline.err;
  auto python = id.VerifyPython(token, "svc-a");
  EXPECT_EQ(python.exit_code, 1);
  EXPECT_NE(python.err.find("expired"), std::string::npos) << python.err;
}

TEST(Identity, ProxyAttachesTheTokenAndSubstitutesTheSecretOnlyForTheirDestinations) {
  REQUIRE_SANDBOX();
  LoopbackHttpServer bound("ok"), other("ok");
  const std::string b = "127.0.0.1:" + std::to_string(bound.port()), o = "127.0.0.1:" + std::to_string(other.port());
  const char* tmp = ::getenv("TMPDIR");
  std::string secret_file = std::string(tmp && *tmp ? tmp : "/tmp") + "/cordon-identity-secret-" + std::to_string(::getpid());
  {
    std::ofstream(secret_file) << kSecretValue << "\n";
    ::chmod(secret_file.c_str(), 0600);
  }
  IdentityDaemon id(R"({"name": "ident", "version": 1,
    "outbound": {"mode": "allowlist", "allow": [")" + b + R"(", ")" + o + R"("]},
    "identity": {"tokens": [{"audience": "svc-b", "attach": [")" + b + R"("]}],
                 "secrets": [{"name": "API_KEY", "source": ")" + secret_file + R"(", "destinations": [")" + b + R"("]}]}})");
  auto curl = [](const std::string& url, bool with_secret) {
    return std::string("curl -s -m 10 -o /dev/null -w '%{http_code}\\n' ") + (with_secret ? "-H \"X-Api-Key: $API_KEY\" " : "") +
           url + "; ";
  };
  std::string script = "echo \"env:$API_KEY\"; " + curl("http://" + b + "/with-secret", true) +
                       curl("http://" + o + "/plain", false) + curl("http://" + o + "/leak", true) +
                       "env | grep -c s3cr3t; exit 0";
  auto r = id.d.Cli({"submit", "--policy", "ident", "--", "/bin/sh", "-c", script});
  ::unlink(secret_file.c_str());
  ASSERT_EQ(r.exit_code, 0) << r.err << id.d.Log();
  // The task sees a placeholder, never the value.
  ASSERT_TRUE(r.out.starts_with("env:cordon-secret-API_KEY-")) << r.out;
  EXPECT_EQ(r.out.substr(r.out.find('\n') + 1), "200\n200\n403\n0\n") << r.out;
  EXPECT_EQ(r.out.find(kSecretValue), std::string::npos);

  auto bh = bound.heads();
  ASSERT_EQ(bh.size(), 1u);
  EXPECT_EQ(HeaderValue(bh[0], "X-Api-Key"), kSecretValue) << bh[0];
  const std::string auth = HeaderValue(bh[0], "Authorization");
  ASSERT_TRUE(auth.starts_with("Bearer ")) << bh[0];
  auto v = id.VerifyOffline(auth.substr(7), "svc-b");
  EXPECT_EQ(v.exit_code, 0) << v.err;
  const std::string task_id = id.NewestTaskId();
  EXPECT_EQ(JsonField(v.out, "cordon/task"), task_id);

  auto oh = other.heads();
  ASSERT_EQ(oh.size(), 1u) << "the request with the placeholder never reached the other server";
  EXPECT_EQ(HeaderValue(oh[0], "Authorization"), "") << "svc-b's token goes to svc-b only: " << oh[0];
  EXPECT_EQ(oh[0].find("cordon-secret-"), std::string::npos);

  // The refusal is in the evidence as a violation, naming the secret, without its value or the token.
  auto ev = id.d.Cli({"evidence", task_id});
  ASSERT_EQ(ev.exit_code, 0) << ev.err;
  EXPECT_EQ(JsonField(ev.out, "egress/0/credentials/0"), "secret:API_KEY") << ev.out;
  EXPECT_EQ(JsonField(ev.out, "egress/0/credentials/1"), "token:svc-b") << ev.out;
  EXPECT_EQ(JsonField(ev.out, "egress/1/credentials"), "") << "nothing put into the other request: " << ev.out;
  EXPECT_EQ(JsonField(ev.out, "egress/2/decision"), "deny") << ev.out;
  EXPECT_EQ(JsonField(ev.out, "egress/2/status"), "403");
  EXPECT_NE(JsonField(ev.out, "egress/2/reason").find("secret placeholder 'API_KEY'"), std::string::npos) << ev.out;
  EXPECT_EQ(ev.out.find(kSecretValue), std::string::npos);
  EXPECT_EQ(ev.out.find(auth.substr(7)), std::string::npos);
  // Redacted by exact value from what cordond stores, even where a caller typed it (here an argv).
  auto typed = id.d.Cli({"submit", "--", "/bin/echo", kSecretValue});
  EXPECT_EQ(typed.out, std::string(kSecretValue) + "\n");
  const std::string stored = id.StoredBytes();
  EXPECT_EQ(stored.find(kSecretValue), std::string::npos) << "the secret is stored somewhere in " << id.d.dir();
  EXPECT_EQ(stored.find(auth.substr(7)), std::string::npos);
}

// A secret the caller passes as an fd (a file, or a pipe whose writer has closed it): cordond reads
// it, the destination gets it, the task has neither the value nor the fd; an fd not at its end,
// or none, refuses the submit with the fix.
TEST(Identity, CallerSecretFromAnFdReachesItsDestinationOnly) {
  REQUIRE_SANDBOX();
  LoopbackHttpServer bound("ok");
  const std::string b = "127.0.0.1:" + std::to_string(bound.port());
  IdentityDaemon id(R"({"name": "ident", "version": 1, "outbound": {"mode": "allowlist", "allow": [")" + b + R"("]},
    "identity": {"secrets": [{"name": "API_KEY", "source": "caller", "destinations": [")" + b + R"("]}]}})");
  const std::string submit = BuildPath("bin/cordon") + " submit --socket '" + id.d.socket() +
                             "' --policy ident --fd API_KEY=3 -- /bin/sh -c "
                             "'curl -s -m 10 -o /dev/null -w \"%{http_code} \" -H \"X-Api-Key: $API_KEY\" http://" +
                             b + "/x; ls /proc/self/fd | tr \"\\n\" \" \"; env | grep -c CORDON_FD_; exit 0'";
  // A pipe: bash writes a here-string and closes it before the command runs.
  auto piped = RunProgram({"/bin/bash", "-c", submit + " 3<<<'" + std::string(kSecretValue) + "'"});
  ASSERT_EQ(piped.exit_code, 0) << piped.err << id.d.Log();
  // 200 from the server; the task's fds are stdio and ls's own directory fd (3), nothing of ours;
  // no CORDON_FD_ variable.
  EXPECT_EQ(piped.out, "200 0 1 2 3 0\n") << piped.err;
  EXPECT_EQ(piped.out.find(kSecretValue), std::string::npos);
  // A file.
  const std::string file = WriteTempFile("caller-secret", std::string(kSecretValue) + "\n");
  auto filed = RunProgram({"/bin/bash", "-c", submit + " 3<'" + file + "'"});
  ASSERT_EQ(filed.exit_code, 0) << filed.err;
  EXPECT_TRUE(filed.out.starts_with("200 ")) << filed.out;
  auto heads = bound.heads();
  ASSERT_EQ(heads.size(), 2u);
  for (const auto& h : heads) EXPECT_EQ(HeaderValue(h, "X-Api-Key"), kSecretValue) << h;
  EXPECT_EQ(id.StoredBytes().find(kSecretValue), std::string::npos) << "redacted from what cordond stores";
  // A pipe whose writer is still open is refused at once, never waited for.
  auto open_pipe = RunProgram({"/bin/bash", "-c", submit + " 3< <(sleep 5)"});
  EXPECT_NE(open_pipe.exit_code, 0);
  EXPECT_NE(open_pipe.err.find("the pipe is not at its end"), std::string::npos) << open_pipe.err;
  // No fd at all.
  auto none = id.d.Cli({"submit", "--policy", "ident", "--", "/bin/true"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("passed no --fd API_KEY"), std::string::npos) << none.err;
  EXPECT_EQ(bound.heads().size(), 2u);
}

TEST(Identity, BadIdentityInputIsRefusedWithItsCause) {
  REQUIRE_SANDBOX();
  // A secret file others may read: the task is refused, naming the file and the fix.
  std::string loose = WriteTempFile("loose-secret", "x\n");
  ::chmod(loose.c_str(), 0644);
  IdentityDaemon id(R"({"name": "ident", "version": 1, "outbound": {"mode": "allowlist", "allow": ["127.0.0.1:9"]},
    "identity": {"secrets": [{"name": "K", "source": ")" + loose + R"(", "destinations": ["127.0.0.1:9"]}]}})");
  auto r = id.d.Cli({"submit", "--policy", "ident", "--", "/bin/true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("readable by it alone"), std::string::npos) << r.err;
  // `cordon run` has no key and no secrets: it refuses the policy instead of running it without them.
  auto run = CordonRun({"/bin/true"}, {"--policy", id.d.conf() + "/policies/ident.json"});
  EXPECT_EQ(run.exit_code, 125);
  EXPECT_NE(run.err.find("which only cordond provides"), std::string::npos) << run.err;
  // Not a token at all, online and offline.
  auto off = id.VerifyOffline("abc", "svc-a");
  EXPECT_EQ(off.exit_code, 1);
  EXPECT_NE(off.err.find("not a compact JWS"), std::string::npos) << off.err;
  auto on = id.VerifyOnline("abc");
  EXPECT_EQ(on.exit_code, 1);
  // The key set cordond publishes through its API is the one in its state directory.
  auto keys = RunProgram({BuildPath("bin/cordon"), "token", "jwks", "--socket", id.d.socket()});
  EXPECT_EQ(keys.exit_code, 0) << keys.err;
  std::ifstream f(id.jwks());
  std::string file((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(keys.out, file);
}

}  // namespace
}  // namespace cordon::test
