// cordond against hostile and vanishing peers (issue 14, items 4, 5 and 8; docs/daemon.md "Limits
// per uid" and "When a client goes"): connection limits per uid, idle deadlines, peers that never
// read their replies, and an attached client killed with SIGKILL. Each runs a real daemon.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/bindings/grant.h"
#include "supervisor/daemon/client.h"
#include "tests/support/daemon_latency.h"
#include "tests/support/daemon_process.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

using Clock = std::chrono::steady_clock;

// Waits (at most 500 looks, `step` apart) until the process is gone or a zombie, as /proc shows
// it: a task's end seen from outside the daemon. The comm field may hold spaces and parentheses,
// so the state is the field after the last ')'.
void WaitGoneOrZombie(const std::string& pid, std::chrono::milliseconds step) {
  const std::string stat = "/proc/" + pid + "/stat";
  for (int i = 0; i < 500; ++i) {
    // read(2), not an ifstream: a process reaped between the open and the read makes the read fail
    // with ESRCH, which libstdc++'s filebuf turns into an exception.
    std::string text;
    if (UniqueFd fd(::open(stat.c_str(), O_RDONLY | O_CLOEXEC)); fd) {
      char buf[512];
      const ssize_t n = ::read(fd.Get(), buf, sizeof buf);
      if (n > 0) text.assign(buf, static_cast<size_t>(n));
    }
    auto close = text.rfind(')');
    if (text.empty() || (close != std::string::npos && text.substr(close + 2, 1) == "Z")) return;
    std::this_thread::sleep_for(step);
  }
}

long RssKiB(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Connection-level answers a peer got within `ms`: the error message, "" when nothing came (an
// accepted connection), or "EOF".
std::string FirstAnswer(ClientConnection& c, int ms) {
  auto r = c.Receive(ms);
  if (!r) return r.error().err == ETIMEDOUT ? "" : "EOF";
  return r->error().message();
}

// A child process that becomes `pw` (stays our uid if nullptr), runs `body(go, ready)` and reports
// one line on a pipe. The body writes a byte to `ready` once it is under way (WaitReady) and reads
// one from `go` when the test says so (Go).
struct AsUser {
  pid_t pid = -1;
  int to_child = -1, from_child = -1, ready_from_child = -1;
  template <class F>
  AsUser(const passwd* pw, F body) {
    int down[2], up[2], ready[2];
    EXPECT_EQ(::pipe2(down, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(up, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    pid = ::fork();
    if (pid == 0) {
      if (pw && (::setgroups(0, nullptr) || ::setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
                 ::setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid)))
        _exit(2);
      std::string out = body(down[0], ready[1]);
      (void)!::write(up[1], out.data(), out.size());
      _exit(0);
    }
    ::close(down[0]);
    ::close(up[1]);
    ::close(ready[1]);
    to_child = down[1];
    from_child = up[0];
    ready_from_child = ready[0];
  }
  // Reads the child's report (it writes once, then exits).
  std::string Report() {
    std::string got;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(from_child, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
    return got;
  }
  // Waits (30 s at most) for the body's ready byte; false if it ended or gave up without one.
  bool WaitReady() {
    pollfd p{ready_from_child, POLLIN, 0};
    char b;
    return ::poll(&p, 1, 30000) == 1 && ::read(ready_from_child, &b, 1) == 1;
  }
  void Go() { (void)!::write(to_child, "g", 1); }
  ~AsUser() {
    ::close(to_child);
    ::close(from_child);
    ::close(ready_from_child);
    if (pid > 0) ::waitpid(pid, nullptr, 0);
  }
};

// Item 4: a uid that is no principal holds as many connections as it can get; the operator's
// submit still succeeds promptly, the extra connections are refused with a reason, and the held
// ones are closed when idle.
TEST(DaemonPeers, UnknownUidCannotLockOutThePrincipals) {
  REQUIRE_SANDBOX();
  if (!IsRoot()) GTEST_SKIP() << "needs root to connect as another uid (rootless: PrincipalConnectionsAreBounded)";
  passwd* pw = ::getpwnam("nobody");
  if (pw == nullptr) GTEST_SKIP() << "no user nobody to connect as";
  DaemonProcess d(PrincipalsFor(0), {"--max-connections", "40", "--idle-timeout-ms", "3000"});
  const double idle = MedianSubmitMs(d, 5);
  AsUser hostile(pw, [&](int go, int ready) {
    std::vector<ClientConnection> held;
    for (int i = 0; i < 60; ++i) {
      auto c = ClientConnection::Open(d.socket());
      if (!c) return "connect failed: " + c.error().Message();
      held.push_back(std::move(*c));
    }
    size_t accepted = 0;
    std::string refusal;
    for (auto& c : held) {
      std::string a = FirstAnswer(c, 100);  // at most 60 x 100 ms, the accepted ones 0.8 s: none idle yet
      if (a.empty()) ++accepted;
      else if (refusal.empty()) refusal = a;
    }
    (void)!::write(ready, "r", 1);  // connected and counted
    char b;
    (void)!::read(go, &b, 1);  // the operator has submitted
    // Held and idle: closed by the daemon after --idle-timeout-ms.
    std::string idle_close;
    for (auto& c : held) {
      std::string a = FirstAnswer(c, 5000);
      if (!a.empty() && a != "EOF") {
        idle_close = a;
        break;
      }
    }
    return std::to_string(accepted) + "\n" + refusal + "\n" + idle_close;
  });
  ASSERT_TRUE(hostile.WaitReady()) << "the hostile peer never connected: " << hostile.Report();
  const double busy = MedianSubmitMs(d, 5);
  hostile.Go();
  std::string report = hostile.Report();
  const double idle_after = MedianSubmitMs(d, 5);
  std::printf("operator submit: idle median %.1f ms, with an unknown uid holding connections %.1f ms\n", idle, busy);
  EXPECT_LE(busy, LatencyBound(idle, idle_after)) << "idle after " << idle_after;
  auto nl = report.find('\n');
  ASSERT_NE(nl, std::string::npos) << report;
  EXPECT_EQ(report.substr(0, nl), "8") << report;  // --max-conns-unknown default
  EXPECT_NE(report.find("uid " + std::to_string(pw->pw_uid) + " is not a principal and holds 8 connections"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("connection idle for 3000 ms"), std::string::npos) << report;
}

// Items 4 and 6: a peer sends Submits as fast as it gets answers, each refused and recorded as a
// decision, durably: as root a uid that is no principal (nobody), rootless a process of our own
// uid asking for a policy its role lacks. The other submits stay prompt.
TEST(DaemonPeers, RefusalFloodDoesNotDelayThePrincipals) {
  REQUIRE_SANDBOX();
  passwd* pw = nullptr;
  api::ErrorCode expect = api::ERROR_CODE_PERMISSION_DENIED;
  if (IsRoot()) {
    pw = ::getpwnam("nobody");
    if (pw == nullptr) GTEST_SKIP() << "no user nobody to connect as";
    expect = api::ERROR_CODE_UNAUTHENTICATED;
  }
  DaemonProcess d(PrincipalsFor(::geteuid()));
  const double idle = MedianSubmitMs(d, 5);
  AsUser hostile(pw, [&](int go, int ready) {
    std::vector<ClientConnection> conns;
    for (int i = 0; i < 8; ++i) {
      auto c = ClientConnection::Open(d.socket());
      if (!c) return std::string("connect failed");
      conns.push_back(std::move(*c));
    }
    ::fcntl(go, F_SETFL, O_NONBLOCK);
    api::Request sub;
    sub.mutable_submit()->add_argv("/bin/true");
    sub.mutable_submit()->set_policy("analyst");  // no role of ours lists it
    size_t refused = 0;
    bool told = false;
    const auto t0 = Clock::now();
    for (;;) {
      char b;
      if (::read(go, &b, 1) == 1) break;
      for (auto& c : conns) {
        for (int k = 0; k < 16; ++k) {  // pipelined: 128 in flight
          sub.set_call_id(c.NextCallId());
          if (!c.Send(sub)) return std::string("send failed");
        }
      }
      for (auto& c : conns) {
        for (int k = 0; k < 16; ++k) {
          auto r = c.Receive(10000);
          if (!r) return std::string("receive failed: ") + r.error().Message();
          if (r->error().code() == expect) ++refused;
        }
      }
      if (!told) told = ::write(ready, "r", 1) == 1;  // the flood is under way: one round answered
    }
    return std::to_string(refused) + " " + std::to_string(static_cast<long>(MsSince(t0)));
  });
  ASSERT_TRUE(hostile.WaitReady()) << "the flood never got going: " << hostile.Report();
  const double busy = MedianSubmitMs(d, 5);
  hostile.Go();
  std::string refused = hostile.Report();
  const double idle_after = MedianSubmitMs(d, 5);
  const long n = std::atol(refused.c_str());
  const long ms = std::atol(refused.c_str() + refused.find(' '));
  const double per_s = ms > 0 ? 1000.0 * static_cast<double>(n) / static_cast<double>(ms) : 0;
  std::printf("operator submit: idle median %.1f ms, during %ld refused submits in %ld ms (%.0f/s) %.1f ms\n", idle,
              n, ms, per_s, busy);
  // Each refusal is durable before its answer. One fdatasync per refusal on the loop gave ~250/s
  // on the development VM, and every other client waited behind them; synced in groups by the
  // worker, several thousand a second. The rate is printed above, not asserted (speed belongs to
  // the benchmarks); what must hold is that the flood was refused and did not hold up the operator.
  EXPECT_GT(n, 0) << "no submit of the flood was refused: " << refused;
  EXPECT_LE(busy, LatencyBound(idle, idle_after)) << "idle after " << idle_after;
}

// Item 4, for every uid including a principal's: past --max-conns-per-uid a connection is refused
// with a reason; idle connections are closed; the uid can connect again once they are.
TEST(DaemonPeers, PrincipalConnectionsAreBoundedAndIdleOnesClosed) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()), {"--max-conns-per-uid", "6", "--idle-timeout-ms", "2500"});
  // The start-up probe's connection is gone once the daemon's fds stop changing (its pool is built
  // and the probe's socket closed).
  SteadyFdCount(d.pid());
  std::vector<ClientConnection> held;
  for (int i = 0; i < 8; ++i) {
    auto c = ClientConnection::Open(d.socket());
    ASSERT_TRUE(c) << c.error().Message();
    held.push_back(std::move(*c));
  }
  int accepted = 0;
  std::string refusal;
  for (auto& c : held) {
    std::string a = FirstAnswer(c, 100);  // 8 x 100 ms: before any is idle
    if (a.empty()) ++accepted;
    else refusal = a;
  }
  EXPECT_EQ(accepted, 6) << refusal;
  EXPECT_NE(refusal.find("holds 6 connections to cordond, the limit per uid (--max-conns-per-uid 6)"),
            std::string::npos)
      << refusal;
  // The six held ones are idle: each gets the reason, then EOF, within the deadline.
  const auto t0 = Clock::now();
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_NE(FirstAnswer(held[i], 5000).find("connection idle for 2500 ms"), std::string::npos) << i;
    EXPECT_EQ(FirstAnswer(held[i], 5000), "EOF") << i;
  }
  EXPECT_LT(MsSince(t0), 5000);
  held.clear();
  // A connection in use is not idle: a Wait on a task that outlives the deadline is answered.
  auto c = ClientConnection::Open(d.socket());
  ASSERT_TRUE(c);
  api::Request sub;
  for (const char* a : {"/bin/sleep", "4"}) sub.mutable_submit()->add_argv(a);
  auto s = c->Call(sub, nullptr, 0, 10000);
  ASSERT_TRUE(s && !s->has_error()) << (s ? s->error().message() : s.error().Message());
  api::Request w;
  w.mutable_wait()->set_task_id(s->submit().task().task_id());
  auto done = c->Call(w, nullptr, 0, 10000);
  ASSERT_TRUE(done) << done.error().Message();
  EXPECT_FALSE(done->has_error()) << done->error().message();
  EXPECT_EQ(done->wait().task().failure_class(), "none");
}

// Item 5: peers that send requests and never read the replies (here empty frames, each answered
// with an error) neither grow the daemon's memory without bound nor delay another client.
TEST(DaemonPeers, PeersThatNeverReadDoNotGrowMemoryOrDelayOthers) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  const double idle = MedianSubmitMs(d, 5);
  const long rss_before = RssKiB(d.pid());
  constexpr int kPeers = 150;
  int stop[2], full[2];
  ASSERT_EQ(::pipe2(stop, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(full, O_CLOEXEC), 0);
  pid_t flood = ::fork();
  if (flood == 0) {
    ::close(stop[1]);
    ::close(full[0]);
    std::vector<UniqueFd> socks;
    for (int i = 0; i < kPeers; ++i) {
      auto c = ClientConnection::Open(d.socket());
      if (!c) _exit(3);
      int fd = ::dup(c->fd());
      ::fcntl(fd, F_SETFL, O_NONBLOCK);
      socks.emplace_back(fd);
    }
    const std::string empty_frames(4096, '\0');  // 1024 frames of length 0
    for (;;) {
      std::vector<pollfd> p;
      for (auto& s : socks) p.push_back({s.Get(), POLLOUT, 0});
      p.push_back({stop[0], POLLIN, 0});
      if (::poll(p.data(), p.size(), 1000) < 0 && errno != EINTR) _exit(4);
      if (p.back().revents) _exit(0);
      bool wrote = false;
      for (size_t i = 0; i < socks.size(); ++i)
        if (p[i].revents & POLLOUT) wrote |= ::send(socks[i].Get(), empty_frames.data(), empty_frames.size(), MSG_NOSIGNAL) > 0;
      if (!wrote && full[1] >= 0) {  // no peer can send more: the daemon stopped reading every one
        (void)!::write(full[1], "f", 1);
        ::close(full[1]);
        full[1] = -1;
      }
    }
  }
  ::close(stop[0]);
  ::close(full[1]);
  // The flood fills whatever it can: wait until no peer can send more (20 s at most; a daemon that
  // reads on without bound never gets there, and its RSS below tells).
  pollfd filled{full[0], POLLIN, 0};
  const bool stalled = ::poll(&filled, 1, 20000) == 1;
  ::close(full[0]);
  std::printf("the flood %s\n", stalled ? "filled every peer's socket" : "still sent after 20 s");
  const double busy = MedianSubmitMs(d, 5);
  const long rss_after = RssKiB(d.pid());
  ::close(stop[1]);
  int st = 0;
  ::waitpid(flood, &st, 0);
  const double idle_after = MedianSubmitMs(d, 5);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  std::printf("daemon RSS %ld -> %ld KiB with %d peers that never read; submit idle median %.1f ms, during %.1f ms\n",
              rss_before, rss_after, kPeers, idle, busy);
  EXPECT_LT(rss_after - rss_before, 64 * 1024) << "KiB";
  EXPECT_LE(busy, LatencyBound(idle, idle_after)) << "idle after " << idle_after;
}

// Item 8: an attached task (cordon submit without --detach) whose client is killed with SIGKILL
// is killed too, recorded as client_gone; a detached task outlives its client.
TEST(DaemonPeers, AttachedTaskDiesWithItsClientDetachedOneDoesNot) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  pid_t client = ::fork();
  if (client == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    std::string cordon = BuildPath("bin/cordon");
    ::execl(cordon.c_str(), "cordon", "submit", "--socket", d.socket().c_str(), "--", "sleep", "30", nullptr);
    _exit(127);
  }
  std::string id;
  for (int i = 0; i < 200 && id.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    id = JsonField(d.Cli({"ps", "--json"}).out, "0/task_id");
  }
  ASSERT_NE(id, "") << d.Log();
  std::string detached = Trim(d.Cli({"submit", "--detach", "--", "sleep", "30"}).out);
  ASSERT_NE(detached, "");
  ::kill(client, SIGKILL);
  ::waitpid(client, nullptr, 0);
  auto w = d.Cli({"wait", "--json", "--timeout", "10", id});
  EXPECT_EQ(JsonField(w.out, "failure_class"), "client_gone") << w.out << w.err << d.Log();
  EXPECT_EQ(w.exit_code, 137);
  auto ev = d.Cli({"evidence", id}).out;
  EXPECT_EQ(JsonField(ev, "failure_class"), "client_gone") << ev;
  EXPECT_NE(JsonField(ev, "message").find("submit with --detach for a task that must outlive its client"),
            std::string::npos)
      << ev;
  // The detached one still runs.
  EXPECT_EQ(JsonField(d.Cli({"status", "--json", detached}).out, "state"), "running");
  EXPECT_EQ(d.Cli({"cancel", detached}).exit_code, 0);
}

// Item 6: a tenant whose task ends with output its caller does not read. The daemon used to
// poll that caller for up to 2 s per stream on its loop, and every other tenant waited. Five
// rounds: each starts such a task, lets it end, and times another tenant's submit meanwhile.
TEST(DaemonPeers, ACallerThatDoesNotReadTheTailDoesNotDelayOthers) {
  REQUIRE_SANDBOX();
  DaemonProcess d(R"({"version": 1, "roles": {"runner": {"policies": ["default", "pumped"],
      "classes": ["batch", "interactive"]}}, "principals": [{"name": "tester", "tenant": "ci", "uids": [)" +
                  std::to_string(::geteuid()) + R"(], "roles": ["runner"]}]})");
  ::mkdir((d.conf() + "/policies").c_str(), 0755);
  std::ofstream(d.conf() + "/policies/pumped.json")
      << R"({"name": "pumped", "version": 1, "limits": {"output_bytes": 104857600}})";
  ASSERT_EQ(d.Reload().find("reload failed"), std::string::npos) << d.Log();
  const double idle = MedianSubmitMs(d, 5);
  std::vector<double> during;
  for (int round = 0; round < 5; ++round) {
    int out[2];
    ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);  // nobody reads out[0]: 64 KiB fill it
    UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
    auto c = ClientConnection::Open(d.socket());
    ASSERT_TRUE(c);
    api::Request sub;
    sub.mutable_submit()->set_policy("pumped");
    sub.mutable_submit()->set_stdio(true);
    // 100 KiB and gone: the caller's pipe takes 64 KiB; the rest (in the daemon or the task's pipe,
    // which holds 64 KiB, so the task never blocks) is the tail to drain.
    for (const char* a : {"/bin/sh", "-c", "head -c 102400 /dev/zero"}) sub.mutable_submit()->add_argv(a);
    int fds[3] = {null.Get(), out[1], null.Get()};
    auto r = c->Call(sub, fds, 3, 10000);
    ASSERT_TRUE(r && !r->has_error()) << (r ? r->error().message() : r.error().Message());
    // The task has ended once its shim has (seen from /proc, not through the daemon): its tail
    // now waits for a caller that does not read.
    WaitGoneOrZombie(std::to_string(r->submit().task().shim_pid()), std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto t0 = Clock::now();
    auto other = d.Cli({"submit", "--", "/bin/true"});
    during.push_back(MsSince(t0));
    EXPECT_EQ(other.exit_code, 0) << other.err;
    // Its caller still gets what it reads within the drain time, then the task is recorded.
    api::Request w;
    w.mutable_wait()->set_task_id(r->submit().task().task_id());
    ::close(out[0]);
    ::close(out[1]);
    auto done = c->Call(w, nullptr, 0, 10000);
    ASSERT_TRUE(done) << done.error().Message();
    EXPECT_EQ(done->wait().task().failure_class(), "none") << done->wait().task().message();
  }
  for (double ms : during) std::printf("  other tenant's submit during a drain: %.1f ms\n", ms);
  ExpectWithinIdle(d, idle, during, "while another caller's tail drains");
}


// Issue 14: a task that floods seccomp denials costs its own round trips to the notifier thread
// (supervisor/seccomp/notifier.h), not the daemon loop's time: while one task loops a denied
// syscall (keyctl: the default profile's defaultAction, ERRNO) as fast as it can, another
// submit's median latency stays within 2x of its idle median. Rootless there is one uid, so the
// other submits are the same principal's; what is measured is the shared daemon loop either way.
TEST(DaemonPeers, DenialFloodDoesNotDelayOtherTenants) {
  REQUIRE_SANDBOX();
  DaemonProcess d(R"({"version": 1, "roles": {"runner": {"policies": ["default", "flood"],
      "classes": ["batch", "interactive"]}}, "principals": [{"name": "tester", "tenant": "ci", "uids": [)" +
                  std::to_string(::geteuid()) + R"(], "roles": ["runner"]}]})");
  ::mkdir((d.conf() + "/policies").c_str(), 0755);
  std::ofstream(d.conf() + "/policies/flood.json")
      << R"({"name": "flood", "version": 1, "seccomp_profile": "default", "mounts": [{"source": ")" +
             BuildPath("tests/helpers") + R"(", "target": "/opt/cordon-test"}]})";
  ::kill(d.pid(), SIGHUP);
  for (int i = 0; i < 100 && d.Log().find("SIGHUP: policy flood") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_NE(d.Log().find("SIGHUP: policy flood"), std::string::npos) << d.Log();
  const double idle = MedianSubmitMs(d, 5);

  // The flood: keyctl in a loop for 4 s (timeout ends it), every call a notification.
  const std::string flood = Trim(d.Cli({"submit", "--detach", "--policy", "flood", "--", "/usr/bin/timeout", "4",
                                        "/opt/cordon-test/seccomp_probe", "loop", "1000000000", "keyctl"})
                                     .out);
  ASSERT_FALSE(flood.empty()) << d.Log();
  // Under way once its task has exec'd: the probe loops on keyctl from its first instruction.
  for (int i = 0; i < 1000 && JsonField(d.Cli({"status", "--json", flood}).out, "state") != "running"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const double busy = MedianSubmitMs(d, 5);
  EXPECT_EQ(JsonField(d.Cli({"status", "--json", flood}).out, "state"), "running")
      << "the flood ended before the measurement did";
  d.Cli({"wait", flood});
  const double idle_after = MedianSubmitMs(d, 5);

  const std::string ev = d.Cli({"evidence", flood}).out;
  const std::string total = JsonField(ev, "seccomp/denied_total");
  ASSERT_FALSE(total.empty()) << ev;
  std::printf("submit: idle median %.1f ms, during a denial flood (%s denials) %.1f ms, idle after %.1f ms\n", idle,
              total.c_str(), busy, idle_after);
  // A flood, not a few calls; how many a second is the host's speed (printed above), not asserted.
  EXPECT_GE(std::stoull(total), 1000u) << "the flood did not happen: " << ev;
  EXPECT_LE(busy, LatencyBound(idle, idle_after)) << "idle after " << idle_after;
}

// Item 6: a task whose `state` binding holds a large tree ends. The daemon measures the state
// directory when a task ends (its evidence reports the size); it used to walk it on its loop
// (two system calls a file), and every other caller waited for the walk. Five rounds: each lets a
// task on a 100,000-file state tree end and times another submit while its state is measured.
TEST(DaemonPeers, AStateWalkAtATasksEndDoesNotDelayOthers) {
  REQUIRE_SANDBOX();
  DaemonProcess d(R"({"version": 1, "roles": {"runner": {"policies": ["default", "stateful"],
      "classes": ["batch", "interactive"]}}, "principals": [{"name": "tester", "tenant": "ci", "uids": [)" +
                  std::to_string(::geteuid()) + R"(], "roles": ["runner"]}]})");
  ::mkdir((d.conf() + "/policies").c_str(), 0755);
  std::ofstream(d.conf() + "/policies/stateful.json") << R"({"name": "stateful", "version": 1, "bindings": [
      {"name": "notes", "kind": "state", "target": "/state"}]})";
  ASSERT_EQ(d.Reload().find("reload failed"), std::string::npos) << d.Log();
  // The first task creates the state directory; the tree is then written from outside.
  auto first = d.Cli({"submit", "--policy", "stateful", "--app", "big", "--", "/bin/true"});
  ASSERT_EQ(first.exit_code, 0) << first.err << d.Log();
  const std::string state = d.dir() + "/state/state/tenants/ci/apps/big/notes";
  auto t_fill = Clock::now();
  for (int dir = 0; dir < 100; ++dir) {
    const std::string sub = state + "/d" + std::to_string(dir);
    ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0) << sub << ": " << std::strerror(errno);
    for (int f = 0; f < 1000; ++f) {
      UniqueFd fd(::open((sub + "/" + std::to_string(f)).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
      ASSERT_TRUE(fd) << std::strerror(errno);
      ASSERT_EQ(::write(fd.Get(), "x", 1), 1);
    }
  }
  auto t_walk = Clock::now();
  const uint64_t expected = DirectoryBytes(state);
  std::printf("state tree: 100,000 files written in %.0f ms, walked in %.0f ms (%llu bytes)\n",
              std::chrono::duration<double, std::milli>(t_walk - t_fill).count(), MsSince(t_walk),
              static_cast<unsigned long long>(expected));
  const double idle = MedianSubmitMs(d, 5);
  std::vector<double> during;
  std::string last_id;
  for (int round = 0; round < 5; ++round) {
    auto big = d.Cli({"submit", "--detach", "--policy", "stateful", "--app", "big", "--", "sleep", "0.2"});
    ASSERT_EQ(big.exit_code, 0) << big.err;
    last_id = Trim(big.out);
    // The task ends (its shim is gone or a zombie, seen from /proc, not through the daemon) and
    // its state is measured: another caller's submit now.
    const std::string pid = JsonField(d.Cli({"status", "--json", last_id}).out, "shim_pid");
    ASSERT_NE(pid, "");
    WaitGoneOrZombie(pid, std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto t0 = Clock::now();
    auto other = d.Cli({"submit", "--", "/bin/true"});
    during.push_back(MsSince(t0));
    EXPECT_EQ(other.exit_code, 0) << other.err;
    for (int i = 0; i < 500; ++i) {
      if (JsonField(d.Cli({"status", "--json", last_id}).out, "state") == "finished") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  for (double ms : during) std::printf("  other submit while a state tree is measured: %.1f ms\n", ms);
  ExpectWithinIdle(d, idle, during, "while a state tree is measured");
  // The evidence still reports the state's size, measured when the task ended.
  const nlohmann::json notes = EvidenceBinding(d, last_id, "notes");
  EXPECT_EQ(notes.value("state_bytes_after", uint64_t{0}), expected) << notes.dump();
  EXPECT_EQ(notes.value("state_bytes_before", uint64_t{0}), expected) << notes.dump();
}

}  // namespace
}  // namespace cordon::test
