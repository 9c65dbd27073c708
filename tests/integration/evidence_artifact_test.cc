// The artifact hash (docs/evidence.md "Artifact hash") end to end: a real cordond hashes the
// executable and the script a task runs, before the task runs, and the artifact its client
// declares; the hashes are in the task's record, in the signed log and in an exported bundle that
// verifies offline (and fails once a hash in it is changed). `cordon run` does the same for its
// own log. Bad declarations are refused naming the field. Rootful and rootless.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "supervisor/evidence/encoding.h"
#include "supervisor/evidence/keys.h"
#include "supervisor/evidence/log.h"
#include "tests/support/daemon_process.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

// sha256sum's answer for `path` (it follows symlinks, as exec does).
std::string Sha256Sum(const std::string& path) {
  auto r = RunProgram({"/usr/bin/sha256sum", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, 64);
}

const json* FindFile(const json& artifact, const std::string& role) {
  for (const auto& f : artifact["executed"])
    if (f.value("role", "") == role) return &f;
  return nullptr;
}

std::unique_ptr<DaemonProcess> DaemonWithCodeBinding(const std::string& code_dir) {
  auto d = std::make_unique<DaemonProcess>(
      R"({"version": 1, "roles": {"runner": {"policies": ["default", "coded"], "classes": ["batch", "interactive"]}},
          "principals": [{"name": "tester", "tenant": "ci", "uids": [)" +
      std::to_string(::geteuid()) + R"(], "roles": ["runner"]}]})");
  ::mkdir((d->conf() + "/policies").c_str(), 0755);
  std::ofstream(d->conf() + "/policies/coded.json")
      << R"({"name": "coded", "version": 1, "bindings": [{"name": "code", "kind": "dir", "source": ")" << code_dir
      << R"(", "target": "/code", "access": "rw"}]})";
  EXPECT_EQ(d->Reload().find("reload failed"), std::string::npos);
  return d;
}

TEST(EvidenceArtifact, ExecutableScriptAndDeclaredArtifactAreHashedBeforeTheTaskRunsAndSigned) {
  REQUIRE_SANDBOX();
  char tmpl[] = "/tmp/cordon-artifact-XXXXXX";
  const std::string code = ::mkdtemp(tmpl);
  ::chmod(code.c_str(), 0777);  // rootful: the task's own host uid writes here
  const std::string script = code + "/gen.sh";
  // Generated code that changes itself when it runs: the record must hold what was run, the
  // bytes before the task started, not what the file holds afterwards.
  std::ofstream(script) << "echo ran\necho appended-by-the-task >> /code/gen.sh\nexit 0\n";
  ::chmod(script.c_str(), 0666);
  const std::string before = Sha256Sum(script);
  auto dp = DaemonWithCodeBinding(code);
  DaemonProcess& d = *dp;

  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {  // the first is built on demand or pooled, the second from the pool
    std::ofstream(script, std::ios::trunc) << "echo ran\necho appended-by-the-task >> /code/gen.sh\nexit 0\n";
    auto s = d.Cli({"submit", "--detach", "--policy", "coded", "--cwd", "/code", "--artifact", script, "--", "sh", "gen.sh"});
    ASSERT_EQ(s.exit_code, 0) << s.err << d.Log();
    ids.push_back(Trim(s.out));
    ASSERT_EQ(d.Cli({"wait", ids.back()}).exit_code, 0) << d.Log();
    ASSERT_NE(Sha256Sum(script), before) << "the task ran and appended to its script";
    auto ev = d.Cli({"evidence", ids.back()});
    ASSERT_EQ(ev.exit_code, 0) << ev.err;
    const json a = json::parse(ev.out)["artifact"];
    const json* exe = FindFile(a, "executable");
    ASSERT_NE(exe, nullptr) << a.dump();
    EXPECT_EQ((*exe)["path"], "/usr/bin/sh") << a.dump();  // PATH /usr/local/bin:/usr/bin:/bin
    EXPECT_EQ((*exe)["named"], "sh");
    EXPECT_EQ((*exe)["from"], "runtime");
    EXPECT_EQ((*exe)["sha256"], Sha256Sum("/usr/bin/sh"));
    const json* scr = FindFile(a, "script");
    ASSERT_NE(scr, nullptr) << a.dump();
    EXPECT_EQ((*scr)["path"], "/code/gen.sh");
    EXPECT_EQ((*scr)["from"], "binding code");
    EXPECT_EQ((*scr)["sha256"], before) << "hashed after the task changed it: " << a.dump();
    EXPECT_EQ(a["declared"]["sha256"], before);
    EXPECT_EQ(a["declared"]["hashed_by"], "cordond");
    EXPECT_EQ(a["declared"]["name"], "gen.sh");
    EXPECT_EQ(a["declared"]["matches"], json::array({"/code/gen.sh"}));
  }
  ASSERT_TRUE(WIFEXITED(d.Signal(SIGTERM))) << d.Log();  // seals the log
  const std::string state = d.dir() + "/state", bundle = d.dir() + "/task.bundle";
  EXPECT_EQ(RunProgram({BuildPath("bin/cordon"), "evidence", "verify", "--log", state}).exit_code, 0);
  auto ex = RunProgram({BuildPath("bin/cordon"), "evidence", "export", "--log", state, ids[1], "-o", bundle});
  ASSERT_EQ(ex.exit_code, 0) << ex.err;
  const std::string pub = state + "/evidence-log/signing.pub";
  auto ok = RunProgram({BuildPath("bin/cordon"), "evidence", "verify", "--bundle", bundle, "--key", pub});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  // The signed record holds the hashes.
  json b = json::parse(*evlog::ReadWholeFile(bundle));
  auto rec = evlog::Base64Decode(b["record_b64"].get<std::string>());
  ASSERT_TRUE(rec.has_value());
  const json art = json::parse(*rec)["data"]["evidence"]["artifact"];
  EXPECT_EQ(art["declared"]["sha256"], before) << *rec;
  EXPECT_EQ(FindFile(art, "script")->at("sha256"), before);
  // A bundle whose artifact hash was changed no longer verifies.
  std::string forged = *rec;
  forged.replace(forged.find(before), 64, std::string(64, '0'));
  b["record_b64"] = evlog::Base64Encode(forged);
  std::ofstream(bundle + ".forged") << b.dump();
  auto bad = RunProgram({BuildPath("bin/cordon"), "evidence", "verify", "--bundle", bundle + ".forged", "--key", pub});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  RunProgram({"/bin/rm", "-rf", code});
}

TEST(EvidenceArtifact, BadDeclarationsAreRefusedNamingTheField) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  auto r = d.Cli({"submit", "--artifact-sha256", "not-a-hash", "--", "/bin/true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("artifact.sha256 'not-a-hash' is not 64 lower-case hex characters"), std::string::npos) << r.err;
  const std::string file = d.dir() + "/gen.py";
  std::ofstream(file) << "print('hi')\n";
  r = d.Cli({"submit", "--artifact", file, "--artifact-sha256", std::string(64, 'a'), "--", "/bin/true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is not the SHA-256 of the artifact's bytes"), std::string::npos) << r.err;
  r = d.Cli({"submit", "--artifact", d.dir() + "/missing.py", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("--artifact " + d.dir() + "/missing.py"), std::string::npos) << r.err;
  const std::string big = d.dir() + "/big.bin";
  std::ofstream(big) << std::string(600 * 1024, 'x');
  r = d.Cli({"submit", "--artifact", big, "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("more than 524288"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--artifact-sha256"), std::string::npos) << r.err;
  // cordond still serves, and the refusals are decisions in its log like any other.
  EXPECT_EQ(d.Cli({"submit", "--", "/bin/true"}).exit_code, 0);
  auto run = RunProgram({BuildPath("bin/cordon"), "run", "--artifact", file, "--", "/bin/true"});
  EXPECT_EQ(run.exit_code, 125);
  EXPECT_NE(run.err.find("give --evidence PATH or --evidence-log DIR too"), std::string::npos) << run.err;
}

TEST(EvidenceArtifact, CordonRunRecordsItInItsSignedLog) {
  REQUIRE_SANDBOX();
  char tmpl[] = "/tmp/cordon-artifact-run-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string log = dir + "/log", hash = std::string(63, 'b') + "c";
  auto r = RunProgram({BuildPath("bin/cordon"), "run", "--evidence-log", log, "--artifact-sha256", hash,
                       "--artifact-name", "gen.py", "--", "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(RunProgram({BuildPath("bin/cordon"), "evidence", "verify", "--log", log}).exit_code, 0);
  auto rf = evlog::ReadRecordFile(log + "/records");
  ASSERT_TRUE(rf.has_value());
  const json a = json::parse(rf->records.back())["data"]["evidence"]["artifact"];
  EXPECT_EQ(a["declared"]["sha256"], hash) << a.dump();
  EXPECT_EQ(a["declared"]["hashed_by"], "client");
  EXPECT_EQ(a["declared"]["name"], "gen.py");
  EXPECT_EQ(a["declared"]["matches"], json::array());
  const json* exe = FindFile(a, "executable");
  ASSERT_NE(exe, nullptr) << a.dump();
  EXPECT_EQ((*exe)["path"], "/bin/true");
  EXPECT_EQ((*exe)["sha256"], Sha256Sum("/bin/true"));
  // An executable that only the task itself could create is named, not hashed.
  auto t = RunProgram({BuildPath("bin/cordon"), "run", "--evidence", "-", "--", "/tmp/made-later"});
  const json ev = json::parse(t.out.substr(t.out.find('{')));
  ASSERT_EQ(ev["artifact"]["unhashed"].size(), 1u) << ev["artifact"].dump();
  EXPECT_EQ(ev["artifact"]["unhashed"][0]["named"], "/tmp/made-later");
  EXPECT_NE(ev["artifact"]["unhashed"][0]["why"].get<std::string>().find("tmpfs"), std::string::npos);
  RunProgram({"/bin/rm", "-rf", dir});
}

}  // namespace
}  // namespace cordon::test
