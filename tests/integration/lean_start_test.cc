// tests/integration/lean_start_test.cc: what a one-shot `cordon run` does not do at its start
// (docs/performance.md "Issue 22"): it does not initialise libcrypto's EVP layer, which read
// openssl.cnf, loaded the default provider and cost ~1.3 ms of CPU per run, for a few SHA-256s.
// And what `cordon submit|ps|status|wait|cancel` run: the lean client, libexec/cordon/cordon-client,
// exec'd from `cordon`'s entry point (supervisor/cli/lean/entry.cc), or `cordon` itself when it is
// not installed beside it. `cordon run` runs the lean one-shot, libexec/cordon/cordon-run, which
// hands a run that needs the signed evidence log back to `cordon` (docs/performance.md "The lean run").
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "common/unique_fd.h"
#include "tests/support/background.h"
#include "tests/support/host.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

// A configuration OpenSSL refuses (diagnostics on, a provider section naming a module that does
// not exist): any initialisation of the EVP layer fails on it, and the CLI that used EVP for its
// hashes stopped with SIGABRT. The hashes in the evidence are still there, and still SHA-256.
TEST(LeanStart, RunNeverLoadsTheOpenSslConfiguration) {
  REQUIRE_SANDBOX();
  const std::string conf = WriteTempFile("openssl.cnf",
                                         "config_diagnostics = 1\n"
                                         "openssl_conf = cordon_test\n"
                                         "[cordon_test]\n"
                                         "providers = cordon_test_providers\n"
                                         "[cordon_test_providers]\n"
                                         "no_such_provider = no_such_provider_section\n"
                                         "[no_such_provider_section]\n"
                                         "activate = 1\n");
  RunOptions o;
  o.env = EnvWith("OPENSSL_CONF=" + conf);
  auto r = CordonRun({"/bin/true"}, {"--evidence", "-"}, o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string ev = EvidenceLine(r);
  EXPECT_EQ(JsonField(ev, "policy/sha256").size(), 64u) << ev;
  EXPECT_EQ(JsonField(ev, "seccomp/profile_sha256").size(), 64u) << ev;
}

// A socket that accepts and never answers: a client command started against it waits for its reply
// for as long as the test looks at which program it is.
UniqueFd SilentSocket(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  path.copy(a.sun_path, sizeof a.sun_path - 1);
  ::unlink(path.c_str());
  if (!fd || ::bind(fd.Get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd.Get(), 4) != 0) return {};
  return fd;
}

// Starts `cordon ps --socket PATH` from `cordon` and returns the program the process runs once it
// has connected (the socket's backlog holds it), or "" if it did not connect within 20 s.
std::string ProgramOfPs(const std::string& cordon, const std::string& sock_path, int listener) {
  std::vector<std::string> args = {cordon, "ps", "--socket", sock_path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return "";
  std::string exe;
  UniqueFd conn;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, 10) == 1) {
      conn.Reset(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
      // Connected: its exec (if any) is behind it.
      std::error_code ec;
      exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).string();
      break;
    }
  }
  conn.Reset();  // the client sees its connection closed and exits
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return exe;
}

TEST(LeanStart, SubmitAndTheOtherClientCommandsRunTheLeanClient) {
  const std::string sock = FreshTempDir("lean-client") + "/silent.sock";
  UniqueFd l = SilentSocket(sock);
  ASSERT_TRUE(l) << "bind/listen " << sock << ": " << std::strerror(errno);
  const std::string exe = ProgramOfPs(BuildPath("bin/cordon"), sock, l.Get());
  EXPECT_EQ(exe, std::filesystem::canonical(BuildPath("libexec/cordon/cordon-client")).string());
}

TEST(LeanStart, ArgumentsAndEnvironmentReachTheLeanClient) {
  // CORDON_SOCKET (the environment) and the command's options (argv) both arrive.
  RunOptions o;
  o.env = EnvWith("CORDON_SOCKET=/nonexistent/lean-client-env.sock");
  auto r = RunProgram({BuildPath("bin/cordon"), "ps"}, o);
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("/nonexistent/lean-client-env.sock"), std::string::npos) << r.err;
  auto h = RunProgram({BuildPath("bin/cordon"), "submit", "--help"});
  EXPECT_EQ(h.exit_code, 0) << h.err;
  EXPECT_NE(h.out.find("cordon submit [OPTIONS]"), std::string::npos) << h.out;
  auto bad = RunProgram({BuildPath("bin/cordon"), "status", "--no-such-flag", "x"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("unknown option '--no-such-flag'"), std::string::npos) << bad.err;
}

// `cordon` copied alone (no libexec/cordon/cordon-client beside it) runs the command itself.
TEST(LeanStart, WithoutTheLeanClientCordonRunsTheCommandItself) {
  const std::string dir = FreshTempDir("lean-client-alone");
  std::filesystem::create_directories(dir + "/bin");
  std::filesystem::copy_file(BuildPath("bin/cordon"), dir + "/bin/cordon");
  const std::string sock = dir + "/silent.sock";
  UniqueFd l = SilentSocket(sock);
  ASSERT_TRUE(l) << "bind/listen " << sock << ": " << std::strerror(errno);
  EXPECT_EQ(ProgramOfPs(dir + "/bin/cordon", sock, l.Get()), std::filesystem::canonical(dir + "/bin/cordon").string());
  auto r = RunProgram({dir + "/bin/cordon", "ps", "--socket", dir + "/none.sock"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("connect to cordond at " + dir + "/none.sock"), std::string::npos) << r.err;
}

// Starts `cordon ARGS -- /bin/sh -c 'echo ready; read x'` and returns the program of the process
// `cordon` became while its task waits (its stdin is ours), then lets the task end and expects exit 0.
std::string ProgramOfRun(const std::string& cordon, const std::vector<std::string>& args,
                         const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = {cordon, "run"};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const char* a : {"--", "/bin/sh", "-c", "echo ready; read x; exit 0"}) argv.push_back(a);
  Background run(argv, env);
  EXPECT_TRUE(run.started());
  const auto line = run.ReadLine();
  std::error_code ec;
  const std::string exe =
      line == "ready" ? std::filesystem::read_symlink("/proc/" + std::to_string(run.pid()) + "/exe", ec).string() : "";
  run.CloseStdin();
  const auto end = run.Wait();
  EXPECT_EQ(line.value_or("<eof>"), "ready") << end.err;
  EXPECT_EQ(end.exit_code, 0) << end.err;
  return exe;
}

TEST(LeanStart, RunRunsTheLeanOneShot) {
  REQUIRE_SANDBOX();
  EXPECT_EQ(ProgramOfRun(BuildPath("bin/cordon"), {}),
            std::filesystem::canonical(BuildPath("libexec/cordon/cordon-run")).string());
  // The knob that keeps every command in `cordon` (and that cordon-run sets when it hands a run over).
  std::vector<std::string> env = EnvWith("CORDON_LEAN_START=off");
  EXPECT_EQ(ProgramOfRun(BuildPath("bin/cordon"), {}, env), std::filesystem::canonical(BuildPath("bin/cordon")).string());
}

// --evidence-log needs the signed log, which cordon-run does not link: the run is handed, unchanged,
// to `cordon`, and its record lands in the log and verifies.
TEST(LeanStart, ARunWithTheSignedEvidenceLogIsHandedToCordon) {
  REQUIRE_SANDBOX();
  const std::string log = FreshTempDir("lean-run-log") + "/log";
  EXPECT_EQ(ProgramOfRun(BuildPath("bin/cordon"), {"--evidence-log", log}),
            std::filesystem::canonical(BuildPath("bin/cordon")).string());
  auto v = RunProgram({BuildPath("bin/cordon"), "evidence", "verify", "--log", log});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("OK: valid and sealed"), std::string::npos) << v.out;
  // Its options were checked as `cordon run` checks them: a bad one is refused before the handover.
  auto bad = RunProgram({BuildPath("bin/cordon"), "run", "--evidence-log", log, "--no-such-flag", "--", "/bin/true"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("unknown option '--no-such-flag'"), std::string::npos) << bad.err;
}

// `cordon` installed without cordon-run beside it (only the shim and the data) runs the task itself.
TEST(LeanStart, WithoutTheLeanRunCordonRunsTheTaskItself) {
  REQUIRE_SANDBOX();
  const std::string dir = FreshTempDir("lean-run-alone");
  std::filesystem::create_directories(dir + "/bin");
  std::filesystem::create_directories(dir + "/libexec/cordon");
  std::filesystem::copy_file(BuildPath("bin/cordon"), dir + "/bin/cordon");
  std::filesystem::create_symlink(BuildPath("libexec/cordon/cordon-shim"), dir + "/libexec/cordon/cordon-shim");
  std::filesystem::create_symlink(BuildPath("share"), dir + "/share");
  EXPECT_EQ(ProgramOfRun(dir + "/bin/cordon", {}), std::filesystem::canonical(dir + "/bin/cordon").string());
}

TEST(LeanStart, TheLeanRunStartedByHandRunsOnlyRun) {
  auto r = RunProgram({BuildPath("libexec/cordon/cordon-run"), "ps"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("cordon-run: runs only `run`, not 'ps'"), std::string::npos) << r.err;
  auto h = RunProgram({BuildPath("libexec/cordon/cordon-run"), "run", "--help"});
  EXPECT_EQ(h.exit_code, 0) << h.err;
  EXPECT_NE(h.out.find("Usage: cordon run [OPTIONS]"), std::string::npos) << h.out;
}

}  // namespace
}  // namespace cordon::test
