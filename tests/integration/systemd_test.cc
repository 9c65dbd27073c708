// cordond under systemd's protocols (docs/deploy.md): the shipped units pass `systemd-analyze
// verify` and score below 5.0 in `systemd-analyze security`; a socket handed over by
// `systemd-socket-activate` serves a `cordon submit`; READY/STATUS/WATCHDOG/RELOADING/STOPPING
// arrive on a NOTIFY_SOCKET this test binds; a LISTEN_FDS that is not a listening Unix stream
// socket stops cordond with a message naming the fix. A booted systemd (PID 1) is exercised by
// scripts/systemd-boot-test.sh. Runs rootful and rootless.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/daemon_process.h"
#include "tests/support/notify_socket.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

using namespace std::chrono_literals;

std::string Tool(const std::string& name) {
  for (const char* dir : {"/usr/bin/", "/bin/", "/usr/local/bin/"}) {
    std::string p = std::string(dir) + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

#define REQUIRE_TOOL(var, name)                                                      \
  const std::string var = Tool(name);                                                \
  if (var.empty()) GTEST_SKIP() << name << " is not installed (Debian package systemd)"

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string MakeTempDir() {
  const char* t = ::getenv("TMPDIR");
  std::string tmpl = std::string(t && *t ? t : "/tmp") + "/cordon-systemd-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl.data());
  ::chmod(dir.c_str(), 0755);
  return dir;
}

struct TempDir {
  std::string path = MakeTempDir();
  ~TempDir() { RunProgram({"/bin/rm", "-rf", path}); }
};

// A unit file copied with its ExecStart= binary replaced by the build's (verify checks that the
// binary exists; the shipped unit names the installed /usr/local/bin/cordond). Nothing else changes.
std::string CopyUnit(const std::string& from, const std::string& to_dir) {
  std::string text = ReadFile(SourcePath(from));
  EXPECT_FALSE(text.empty()) << from;
  const std::string installed = "/usr/local/bin/cordond";
  size_t at = text.find(installed);
  if (at != std::string::npos) {
    text.replace(at, installed.size(), BuildPath("bin/cordond"));
    EXPECT_EQ(text.find(installed), std::string::npos) << from << " names cordond more than once";
  }
  std::string to = to_dir + "/" + from.substr(from.rfind('/') + 1);
  std::ofstream(to) << text;
  return to;
}

TEST(SystemdUnits, VerifyPasses) {
  REQUIRE_TOOL(analyze, "systemd-analyze");
  TempDir t;
  std::string sock = CopyUnit("systemd/cordond.socket", t.path);
  std::string svc = CopyUnit("systemd/cordond.service", t.path);
  auto r = RunProgram({analyze, "verify", sock, svc});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "") << "systemd-analyze verify warns about the system units";

  ::mkdir((t.path + "/user").c_str(), 0755);
  ::mkdir((t.path + "/xdg").c_str(), 0700);
  std::string usock = CopyUnit("systemd/user/cordond.socket", t.path + "/user");
  std::string usvc = CopyUnit("systemd/user/cordond.service", t.path + "/user");
  RunOptions with_xdg;  // the user manager's units need a runtime dir
  with_xdg.env = EnvWith("XDG_RUNTIME_DIR=" + t.path + "/xdg");
  auto u = RunProgram({analyze, "--user", "verify", usock, usvc}, with_xdg);
  EXPECT_EQ(u.exit_code, 0) << u.out << u.err;
  EXPECT_EQ(u.err, "") << "systemd-analyze verify warns about the user units";
}

TEST(SystemdUnits, SecurityExposureBelowFive) {
  REQUIRE_TOOL(analyze, "systemd-analyze");
  auto r = RunProgram({analyze, "security", "--offline=yes", "--no-pager", SourcePath("systemd/cordond.service")});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(Overall exposure level for cordond\.service: ([0-9.]+) (\S+))")))
      << r.out << r.err;
  const double score = std::stod(m[1]);
  std::printf("systemd-analyze security cordond.service: %.1f %s\n", score, m[2].str().c_str());
  RecordProperty("exposure", m[1].str());
  EXPECT_LT(score, 5.0) << "cordond.service is exposed more than 'OK'; the table:\n" << r.out;
}

// A DaemonProcess started with `env` added to its environment (it inherits ours at exec).
std::unique_ptr<DaemonProcess> StartWithEnv(const std::vector<std::pair<std::string, std::string>>& env,
                                            std::vector<std::string> extra = {}) {
  for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
  auto d = std::make_unique<DaemonProcess>(PrincipalsFor(::getuid()), std::move(extra));
  for (const auto& [k, v] : env) ::unsetenv(k.c_str());
  return d;
}

TEST(SystemdNotify, ReadyStatusReloadAndStopArrive) {
  TempDir t;
  NotifySocket n(t.path + "/notify.sock");
  auto d = StartWithEnv({{"NOTIFY_SOCKET", n.path()}}, {"--pool-size", "0"});
  ASSERT_GT(d->pid(), 0) << d->Log();  // never kill(-1, ...)
  std::string ready = n.WaitFor("READY=1");
  ASSERT_NE(ready, "") << "no READY=1; got:\n" << n.seen() << "\nlog:\n" << d->Log();
  EXPECT_NE(ready.find("STATUS=0 tasks running, pool 0/0 ready"), std::string::npos) << ready;
  // The socket accepts by the time READY=1 is sent (cordond is serving).
  EXPECT_TRUE(ClientConnection::Open(d->socket())) << d->Log();

  ::kill(d->pid(), SIGHUP);
  EXPECT_NE(n.WaitFor("RELOADING=1"), "") << n.seen();
  EXPECT_NE(n.WaitFor("READY=1"), "") << "no READY=1 after the reload:\n" << n.seen();

  ::kill(d->pid(), SIGTERM);
  EXPECT_NE(n.WaitFor("STOPPING=1"), "") << n.seen();
  EXPECT_EQ(d->Signal(0), 0) << d->Log();
}

TEST(SystemdNotify, StatusCountsRunningTasks) {
  REQUIRE_SANDBOX();
  TempDir t;
  NotifySocket n(t.path + "/notify.sock");
  auto d = StartWithEnv({{"NOTIFY_SOCKET", n.path()}}, {"--pool-size", "1", "--pool-policies", "default"});
  ASSERT_NE(n.WaitFor("READY=1"), "") << n.seen() << d->Log();
  EXPECT_NE(n.WaitFor("pool 1/1 ready"), "") << "the pool's fill is not in STATUS:\n" << n.seen();
  auto r = d->Cli({"submit", "--detach", "--", "/bin/sleep", "30"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << d->Log();
  EXPECT_NE(n.WaitFor("STATUS=1 task running"), "") << n.seen();
}

TEST(SystemdNotify, WatchdogPingsComeFromTheLoop) {
  TempDir t;
  NotifySocket n(t.path + "/notify.sock");
  // 200 ms: a ping every 100 ms. The daemon is otherwise idle (no pool): only the watchdog
  // deadline wakes its loop.
  auto d = StartWithEnv({{"NOTIFY_SOCKET", n.path()}, {"WATCHDOG_USEC", "200000"}}, {"--pool-size", "0"});
  ASSERT_GT(d->pid(), 0) << d->Log();  // never kill(-1, ...)
  ASSERT_NE(n.WaitFor("READY=1"), "") << n.seen() << d->Log();
  for (int i = 0; i < 3; ++i) EXPECT_NE(n.WaitFor("WATCHDOG=1", 2s), "") << "ping " << i << ":\n" << n.seen();
  // A stopped loop sends none (SIGSTOP freezes it as a stuck loop would be).
  ::kill(d->pid(), SIGSTOP);
  std::this_thread::sleep_for(100ms);
  n.WaitFor("\x01", 50ms);  // drain what was queued before the stop
  EXPECT_EQ(n.WaitFor("WATCHDOG=1", 500ms), "") << "pings while the loop is stopped";
  ::kill(d->pid(), SIGCONT);
  EXPECT_NE(n.WaitFor("WATCHDOG=1", 2s), "") << n.seen();
}

// Runs cordond with `fd` as fd 3 and LISTEN_FDS=`count`, LISTEN_PID=its pid; returns its exit code
// and stderr.
RunResult RunWithListenFd(int fd, const std::string& count, const std::string& dir) {
  const std::string err_path = dir + "/stderr";
  pid_t pid = ::fork();
  if (pid == 0) {
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(err, 2);
    if (fd == 3) {
      ::fcntl(3, F_SETFD, 0);  // already fd 3: dup2 would leave its FD_CLOEXEC set
    } else if (fd >= 0) {
      ::dup2(fd, 3);  // dup2 clears FD_CLOEXEC on the copy
    } else {
      ::close(3);
    }
    ::setenv("LISTEN_FDS", count.c_str(), 1);
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    std::string bin = BuildPath("bin/cordond"), state = dir + "/state", conf = dir + "/conf";
    ::execl(bin.c_str(), bin.c_str(), "--state-dir", state.c_str(), "--config-dir", conf.c_str(), "--socket",
            (dir + "/own.sock").c_str(), "--pool-size", "0", static_cast<char*>(nullptr));
    _exit(127);
  }
  RunResult r;
  if (pid < 0) return r;
  int st = 0;
  for (int i = 0; i < 1000; ++i) {
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      r.err = ReadFile(err_path);
      return r;
    }
    std::this_thread::sleep_for(10ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &st, 0);
  r.timed_out = true;
  r.err = ReadFile(err_path);
  return r;
}

class SystemdListenFds : public ::testing::Test {
 protected:
  void SetUp() override {
    ::mkdir((t_.path + "/conf").c_str(), 0755);
    std::ofstream(t_.path + "/conf/principals.json") << PrincipalsFor(::getuid());
  }
  TempDir t_;
};

TEST_F(SystemdListenFds, RegularFileIsRefusedWithTheFix) {
  int f = ::open((t_.path + "/not-a-socket").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  auto r = RunWithListenFd(f, "1", t_.path);
  ::close(f);
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.timed_out) << "cordond served with a regular file as its socket:\n" << r.err;
  EXPECT_NE(r.err.find("LISTEN_FDS=1 but fd 3 is a regular file, not a socket"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ListenStream="), std::string::npos) << r.err;
}

TEST_F(SystemdListenFds, DatagramOrNonListeningSocketIsRefused) {
  int dg = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  auto r = RunWithListenFd(dg, "1", t_.path);
  ::close(dg);
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("is a datagram (ListenDatagram=) socket"), std::string::npos) << r.err;

  int st = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);  // never listen()ed
  auto s = RunWithListenFd(st, "1", t_.path);
  ::close(st);
  EXPECT_NE(s.exit_code, 0) << s.err;
  EXPECT_NE(s.err.find("is not listening"), std::string::npos) << s.err;

  int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::listen(tcp, 1), 0);
  auto i = RunWithListenFd(tcp, "1", t_.path);
  ::close(tcp);
  EXPECT_NE(i.exit_code, 0) << i.err;
  EXPECT_NE(i.err.find("is not a Unix socket"), std::string::npos) << i.err;
}

TEST_F(SystemdListenFds, MoreThanOneOrGarbageIsRefused) {
  auto two = RunWithListenFd(-1, "2", t_.path);
  EXPECT_NE(two.exit_code, 0) << two.err;
  EXPECT_NE(two.err.find("cordond takes exactly one"), std::string::npos) << two.err;
  auto junk = RunWithListenFd(-1, "x", t_.path);
  EXPECT_NE(junk.exit_code, 0) << junk.err;
  EXPECT_NE(junk.err.find("LISTEN_FDS='x' is not a number"), std::string::npos) << junk.err;
  auto closed = RunWithListenFd(-1, "1", t_.path);
  EXPECT_NE(closed.exit_code, 0) << closed.err;
  EXPECT_NE(closed.err.find("fd 3 is not open"), std::string::npos) << closed.err;
}

std::string ExeOf(pid_t pid) {
  char buf[4096];
  ssize_t n = ::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

TEST(SystemdActivation, FirstSubmitStartsCordondOnTheSystemdSocket) {
  REQUIRE_SANDBOX();
  REQUIRE_TOOL(activate, "systemd-socket-activate");
  TempDir t;
  ::mkdir((t.path + "/conf").c_str(), 0755);
  std::ofstream(t.path + "/conf/principals.json") << PrincipalsFor(::getuid());
  const std::string sock = t.path + "/cordond.sock", log = t.path + "/log";
  pid_t pid = ::fork();
  if (pid == 0) {
    int l = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(l, 1);
    ::dup2(l, 2);
    // No --socket: cordond must serve the socket it is given, not bind its default one.
    std::string bin = BuildPath("bin/cordond"), state = t.path + "/state", conf = t.path + "/conf";
    ::execl(activate.c_str(), activate.c_str(), "-l", sock.c_str(), "--fdname=cordond", bin.c_str(), "--state-dir",
            state.c_str(), "--config-dir", conf.c_str(), "--pool-size", "0", static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  struct Reap {
    pid_t pid;
    ~Reap() {
      if (pid <= 0) return;  // reaped already; never kill(-1, ...)
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{pid};
  struct stat st{};
  for (int i = 0; i < 500 && ::stat(sock.c_str(), &st) != 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(S_ISSOCK(st.st_mode)) << ReadFile(log);
  // Before the first connection, systemd-socket-activate waits: no cordond yet.
  EXPECT_NE(ExeOf(pid).find("systemd-socket-activate"), std::string::npos) << ExeOf(pid);

  auto r = RunProgram({BuildPath("bin/cordon"), "submit", "--socket", sock, "--", "/bin/echo", "activated"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << ReadFile(log);
  EXPECT_EQ(r.out, "activated\n") << r.err;
  EXPECT_EQ(ExeOf(pid), BuildPath("bin/cordond")) << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("listening on " + sock + " (socket from systemd)"), std::string::npos) << ReadFile(log);

  // Stopping: systemd owns the socket file, cordond must leave it for the next start.
  ::kill(pid, SIGTERM);
  int ws = 0;
  bool exited = false;
  for (int i = 0; i < 2000 && !(exited = ::waitpid(pid, &ws, WNOHANG) == pid); ++i) std::this_thread::sleep_for(10ms);
  if (exited) reap.pid = -1;
  EXPECT_TRUE(exited) << ReadFile(log);
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << ReadFile(log);
  EXPECT_EQ(::stat(sock.c_str(), &st), 0) << "cordond unlinked the socket systemd gave it";
}

}  // namespace
}  // namespace cordon::test
