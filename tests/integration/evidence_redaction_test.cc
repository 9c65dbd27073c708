// Redaction before storage, end to end through a real cordond: a credential passed in argv, in
// the environment and inside a URL never reaches the state database, the evidence log or an
// exported bundle; what is stored instead are the deterministic tokens. Rootful and rootless.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "supervisor/evidence/keys.h"
#include "tests/support/daemon_process.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

std::string FileOrEmpty(const std::string& path) {
  auto t = evlog::ReadWholeFile(path);
  return t ? *t : std::string();
}

TEST(EvidenceRedaction, SecretsInArgvEnvAndUrlsNeverReachTheDatabaseTheLogOrABundle) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  const std::string token = "ghp_Zq8Xw2Lk5Mn7Bv4Cx1Az9Sd3Fg6Hj0Kl2QwEr";
  const std::string env_token = "glpat-Rt5Yu8Io2Pa4Sd6Fg9Hj1K";
  const std::string password = "Hunter2-Correct-Staple";
  const std::string url = "https://deploy:" + password + "@pypi.example.com/simple";
  auto s = d.Cli({"submit", "--detach", "--env", "GITLAB_TOKEN=" + env_token, "--", "/bin/echo", "--token", token, url});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  std::string id = s.out;
  while (!id.empty() && id.back() == '\n') id.pop_back();
  ASSERT_EQ(d.Cli({"wait", id}).exit_code, 0);
  // What `cordon status` and `cordon evidence` serve comes from the database: redacted too.
  auto ev = d.Cli({"evidence", id});
  EXPECT_NE(ev.out.find("[REDACTED:github_token:"), std::string::npos) << ev.out;
  EXPECT_NE(ev.out.find("[REDACTED:url_password:"), std::string::npos) << ev.out;
  EXPECT_NE(ev.out.find("https://deploy:[REDACTED:url_password:"), std::string::npos) << ev.out;
  ASSERT_TRUE(WIFEXITED(d.Signal(SIGTERM))) << d.Log();  // and seals the log
  const std::string state = d.dir() + "/state", bundle = d.dir() + "/task.bundle";
  auto ex = RunProgram({BuildPath("bin/cordon"), "evidence", "export", "--log", state, id, "-o", bundle});
  ASSERT_EQ(ex.exit_code, 0) << ex.err;
  EXPECT_EQ(RunProgram({BuildPath("bin/cordon"), "evidence", "verify", "--log", state}).exit_code, 0);
  const std::string records = FileOrEmpty(state + "/evidence-log/records");
  ASSERT_NE(records.find(id), std::string::npos);
  EXPECT_NE(records.find("[REDACTED:github_token:"), std::string::npos);
  for (const std::string file : {"state.db", "state.db-wal", "evidence-log/records", "records.spool"}) {
    const std::string bytes = FileOrEmpty(state + "/" + file);
    for (const std::string& secret : {token, env_token, password})
      EXPECT_EQ(bytes.find(secret), std::string::npos) << secret << " is stored in " << file;
  }
  const std::string b = FileOrEmpty(bundle);
  ASSERT_NE(b.find("record_b64"), std::string::npos);
  for (const std::string& secret : {token, env_token, password})
    EXPECT_EQ(b.find(secret), std::string::npos) << secret << " is in the bundle";
  // The bundle's record is base64: decode it to look inside.
  const size_t at = b.find("\"record_b64\": \"") + 15;
  const std::string decoded =
      RunProgram({"/bin/sh", "-c", "printf %s '" + b.substr(at, b.find('"', at) - at) + "' | base64 -d"}).out;
  ASSERT_NE(decoded.find(id), std::string::npos) << decoded;
  for (const std::string& secret : {token, env_token, password})
    EXPECT_EQ(decoded.find(secret), std::string::npos) << secret << " is in the bundle's record";
}

// A binding marked "secret" in its policy (docs/evidence.md "Secret bindings"): the values in its
// file are redacted by exact value from all cordond stores, whether cordond read them when it
// loaded the policy or, for a value written later, when the task got the binding. The value
// matches no rule of tier (b): only the binding's marker can keep it out.
TEST(EvidenceRedaction, TheValuesOfASecretBindingNeverReachTheDatabaseTheLogOrABundle) {
  REQUIRE_SANDBOX();
  DaemonProcess d(R"({"version": 1, "roles": {"runner": {"policies": ["default", "keyed"], "classes": ["batch", "interactive"]}},
          "principals": [{"name": "tester", "tenant": "ci", "uids": [)" + std::to_string(::geteuid()) +
                  R"(], "roles": ["runner"]}]})");
  const std::string key_file = d.dir() + "/api.key";
  const std::string first = "sk-live-7Hq2Xn9Pw4Rt6Yz1", later = "sk-live-Later-0Mv3Ks8Jd5";
  std::ofstream(key_file) << first << "\n";
  ::chmod(key_file.c_str(), 0600);
  ::mkdir((d.conf() + "/policies").c_str(), 0755);
  std::ofstream(d.conf() + "/policies/keyed.json")
      << R"({"name": "keyed", "version": 1, "env": {"allow": ["API_KEY"]}, "bindings": [{"name": "apikey", "kind": "file", "source": ")" << key_file
      << R"(", "secret": true}]})";
  const std::string reload = d.Reload();
  ASSERT_EQ(reload.find("reload failed"), std::string::npos) << reload;
  EXPECT_NE(reload.find("secret binding 'apikey': 1 values redacted"), std::string::npos) << reload;
  std::vector<std::string> ids;
  auto run = [&](const std::string& value) {
    auto s = d.Cli({"submit", "--detach", "--policy", "keyed", "--env", "API_KEY=" + value, "--", "/bin/sh", "-c",
                    "test \"$(cat <&$CORDON_FD_APIKEY)\" = \"$1\"", "sh", value,
                    "https://api.example.com/v1?key=" + value});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    std::string id = s.out;
    while (!id.empty() && id.back() == '\n') id.pop_back();
    // exit 0: the task read the value it was given through the binding, unredacted.
    EXPECT_EQ(d.Cli({"wait", id}).exit_code, 0) << d.Cli({"evidence", id}).out;
    auto ev = d.Cli({"evidence", id});
    EXPECT_NE(ev.out.find("[REDACTED:binding:"), std::string::npos) << ev.out;
    EXPECT_NE(ev.out.find("?key=[REDACTED:binding:"), std::string::npos) << ev.out;
    ids.push_back(id);
  };
  run(first);
  // Rewritten after the load: read again through the binding's fd when the task gets it.
  std::ofstream(key_file, std::ios::trunc) << later << "\n";
  run(later);
  ASSERT_TRUE(WIFEXITED(d.Signal(SIGTERM))) << d.Log();
  const std::string state = d.dir() + "/state", bundle = d.dir() + "/task.bundle";
  EXPECT_EQ(RunProgram({BuildPath("bin/cordon"), "evidence", "verify", "--log", state}).exit_code, 0);
  for (const std::string file : {"state.db", "state.db-wal", "evidence-log/records", "records.spool"}) {
    const std::string bytes = FileOrEmpty(state + "/" + file);
    for (const std::string& secret : {first, later})
      EXPECT_EQ(bytes.find(secret), std::string::npos) << secret << " is stored in " << file;
  }
  for (const std::string& id : ids) {
    auto ex = RunProgram({BuildPath("bin/cordon"), "evidence", "export", "--log", state, id, "-o", bundle});
    ASSERT_EQ(ex.exit_code, 0) << ex.err;
    const std::string b = FileOrEmpty(bundle);
    const size_t at = b.find("\"record_b64\": \"") + 15;
    const std::string decoded =
        RunProgram({"/bin/sh", "-c", "printf %s '" + b.substr(at, b.find('"', at) - at) + "' | base64 -d"}).out;
    ASSERT_NE(decoded.find(id), std::string::npos) << decoded;
    for (const std::string& secret : {first, later}) {
      EXPECT_EQ(b.find(secret), std::string::npos) << secret << " is in the bundle";
      EXPECT_EQ(decoded.find(secret), std::string::npos) << secret << " is in the bundle's record";
    }
  }
}

}  // namespace
}  // namespace cordon::test
