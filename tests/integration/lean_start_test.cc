// tests/integration/lean_start_test.cc: what a one-shot `cordon run` does not do at its start
// (docs/performance.md "Issue 22"): it does not initialise libcrypto's EVP layer, which read
// openssl.cnf, loaded the default provider and cost ~1.3 ms of CPU per run, for a few SHA-256s.
// And what `cordon submit|ps|status|wait|cancel` run: the lean client, libexec/cordon/cordon-client,
// exec'd from `cordon`'s entry point (supervisor/cli/lean/entry.cc), or `cordon` itself when it is
// not installed beside it.
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

}  // namespace
}  // namespace cordon::test
