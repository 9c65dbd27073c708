// cordond end to end: a real daemon on a temporary socket, state dir and config dir, driven by the
// `cordon` client commands, the C++ client connection, raw bytes and the Python example client.
// Runs rootful (as root) and rootless (as any other user, e.g. runuser -u cordon-test).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/syscalls.h"
#include "supervisor/daemon/client.h"
#include "tests/support/cgroup_bases.h"
#include "tests/support/daemon_process.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

api::Request Submit(std::vector<std::string> argv, const std::string& request_id = "") {
  api::Request r;
  for (auto& a : argv) r.mutable_submit()->add_argv(a);
  r.mutable_submit()->set_request_id(request_id);
  return r;
}

TEST(Daemon, SubmitAttachedUsesCallersStdioAndExitCode) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  RunOptions in;
  in.stdin_data = "from stdin\n";
  auto r = d.Cli({"submit", "--", "/bin/sh", "-c", "cat; echo out; echo err >&2; exit 7"}, in);
  EXPECT_EQ(r.exit_code, 7) << r.err << d.Log();
  EXPECT_EQ(r.out, "from stdin\nout\n");
  EXPECT_EQ(r.err, "err\n");
  // Arguments need not be UTF-8 (argv is bytes in the proto).
  auto raw = d.Cli({"submit", "--", "/bin/echo", "caf\xe9"});
  EXPECT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(raw.out, "caf\xe9\n");
  auto ps = d.Cli({"ps", "--all", "--json", "--limit", "1"});
  EXPECT_EQ(ps.exit_code, 0) << ps.err;
  EXPECT_EQ(JsonField(ps.out, "0/principal"), "tester");
  EXPECT_EQ(JsonField(ps.out, "0/failure_class"), "none");
  auto first = d.Cli({"ps", "--all", "--json"});
  std::string id = JsonField(first.out, "1/task_id");  // newest first: the exit-7 task is second
  auto ev = d.Cli({"evidence", id});
  EXPECT_EQ(JsonField(ev.out, "admission/principal"), "tester");
  EXPECT_EQ(JsonField(ev.out, "admission/fingerprint").size(), 64u);
  EXPECT_EQ(JsonField(ev.out, "exit/code"), "7");
  EXPECT_EQ(JsonField(ev.out, "sandbox/mode"), IsRoot() ? "rootful" : "rootless");
}

TEST(Daemon, UnknownPeerIsRefusedWithAReason) {
  REQUIRE_SANDBOX();
  // Rootless and rootful alike: a daemon whose principals do not list our uid.
  {
    DaemonProcess d(PrincipalsFor(::geteuid() == 0 ? 4242 : 0));
    auto r = d.Cli({"submit", "--", "/bin/true"});
    EXPECT_EQ(r.exit_code, 125);
    EXPECT_NE(r.err.find("refused (unknown principal): uid " + std::to_string(::geteuid())), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("must add it under \"principals\""), std::string::npos) << r.err;
    EXPECT_EQ(d.Cli({"ps"}).exit_code, 125);
  }
  // As root: a real other user (cordon-test) connecting to a daemon that lists only root.
  if (!IsRoot()) return;
  passwd* pw = ::getpwnam("cordon-test");
  if (pw == nullptr) GTEST_SKIP() << "no user cordon-test to connect as";
  DaemonProcess d(PrincipalsFor(0));
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t child = ::fork();
  if (child == 0) {
    ::close(pipefd[0]);
    if (::setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) || ::setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid)) _exit(2);
    auto c = ClientConnection::Open(d.socket());
    if (!c) _exit(3);
    auto resp = c->Call(Submit({"/bin/true"}), nullptr, 0, 10000);
    if (!resp) _exit(4);
    std::string out = std::to_string(resp->error().code()) + " " + resp->error().message();
    (void)!::write(pipefd[1], out.data(), out.size());
    _exit(0);
  }
  ::close(pipefd[1]);
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int st = 0;
  ::waitpid(child, &st, 0);
  EXPECT_EQ(WEXITSTATUS(st), 0);
  EXPECT_EQ(got.rfind(std::to_string(api::ERROR_CODE_UNAUTHENTICATED) + " uid " + std::to_string(pw->pw_uid), 0), 0u)
      << got;
}

TEST(Daemon, PolicyOrClassTheRoleLacksIsRefused) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  auto r = d.Cli({"submit", "--policy", "analyst", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("principal 'tester' (tenant ci) may not use policy 'analyst'"), std::string::npos) << r.err;
  auto c = d.Cli({"submit", "--class", "privileged", "--", "/bin/true"});
  EXPECT_EQ(c.exit_code, 125);
  EXPECT_NE(c.err.find("only with class interactive, batch"), std::string::npos) << c.err;
  // SIGHUP with a broken file keeps the old set; a fixed file that grants analyst takes effect.
  d.WritePrincipals("{ broken");
  d.Reload();
  EXPECT_EQ(d.Cli({"submit", "--", "/bin/true"}).exit_code, 0) << d.Log();
  EXPECT_NE(d.Log().find("reload failed, keeping the previous principals"), std::string::npos);
  std::string granted = PrincipalsFor(::geteuid());
  granted.replace(granted.find("\"roles\": [\"runner\"]"), 19, "\"roles\": [\"runner\", \"analysts\"]");
  d.WritePrincipals(granted);
  d.Reload();
  auto ok = d.Cli({"submit", "--policy", "analyst", "--", "/bin/true"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err << d.Log();
}

TEST(Daemon, RequestIdIsReplaySafe) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  auto a = d.Cli({"submit", "--detach", "--json", "--request-id", "job-1", "--", "/bin/echo", "x"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  std::string id = JsonField(a.out, "task_id");
  EXPECT_EQ(JsonField(a.out, "replayed"), "false");
  EXPECT_EQ(d.Cli({"wait", id}).exit_code, 0);
  auto b = d.Cli({"submit", "--detach", "--json", "--request-id", "job-1", "--", "/bin/echo", "x"});
  EXPECT_EQ(JsonField(b.out, "task_id"), id) << b.out << b.err;
  EXPECT_EQ(JsonField(b.out, "replayed"), "true");
  EXPECT_EQ(JsonField(b.out, "state"), "finished");
  auto c = d.Cli({"submit", "--detach", "--request-id", "job-1", "--", "/bin/echo", "y"});
  EXPECT_EQ(c.exit_code, 125);
  EXPECT_NE(c.err.find("request_id conflict"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("already used for a different request (task " + id + ")"), std::string::npos) << c.err;
  // A running task is returned too, and only one sandbox runs.
  auto s1 = d.Cli({"submit", "--detach", "--request-id", "job-2", "--", "sleep", "30"});
  auto s2 = d.Cli({"submit", "--detach", "--request-id", "job-2", "--", "sleep", "30"});
  EXPECT_EQ(s1.out, s2.out);
  auto ps = d.Cli({"ps", "--json"});
  EXPECT_EQ(JsonField(ps.out, "1/task_id"), "") << ps.out;
  EXPECT_EQ(d.Cli({"cancel", Trim(s1.out)}).exit_code, 0);
}

TEST(Daemon, CancelKillsTheSandbox) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  auto s = d.Cli({"submit", "--detach", "--", "sleep", "30"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  std::string id = Trim(s.out);
  auto st = d.Cli({"status", "--json", id});
  EXPECT_EQ(JsonField(st.out, "state"), "running");
  pid_t shim = std::stoi(JsonField(st.out, "shim_pid"));
  EXPECT_GT(shim, 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto c = d.Cli({"cancel", id});
  EXPECT_EQ(c.exit_code, 0);
  EXPECT_EQ(Trim(c.out), "cancelled: " + id);
  auto w = d.Cli({"wait", "--json", id});
  EXPECT_EQ(w.exit_code, 137);
  EXPECT_EQ(JsonField(w.out, "failure_class"), "killed");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  // The answer comes when the outcome is settled; the shim is reaped just after, never left a zombie.
  for (int i = 0; i < 200 && ::kill(shim, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_NE(::kill(shim, 0), 0);
  EXPECT_EQ(Trim(d.Cli({"cancel", id}).out), "already finished: " + id);
  auto wt = d.Cli({"wait", "--timeout", "0.2", Trim(d.Cli({"submit", "--detach", "--", "sleep", "30"}).out)});
  EXPECT_EQ(wt.exit_code, 124) << wt.err;
}

TEST(Daemon, TwoHundredConcurrentTasksLeakNoFds) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  ASSERT_EQ(d.Cli({"submit", "--", "/bin/true"}).exit_code, 0);  // warm up: BPF cache, cgroup base
  // The warm-up task's shim may still be exiting, and the pool refilling: take the baseline once
  // the count is steady.
  const size_t before = SteadyFdCount(d.pid());
  ASSERT_GT(before, 0u);
  constexpr int kTasks = 200;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<ClientConnection> conns;
  std::vector<uint64_t> wait_ids;
  for (int i = 0; i < kTasks; ++i) {
    auto c = ClientConnection::Open(d.socket());
    ASSERT_TRUE(c) << c.error().Message();
    auto r = c->Call(Submit({"/bin/sh", "-c", "exit " + std::to_string(i % 3)}), nullptr, 0, 60000);
    ASSERT_TRUE(r) << r.error().Message();
    ASSERT_FALSE(r->has_error()) << r->error().message();
    api::Request w;
    w.set_call_id(c->NextCallId());
    w.mutable_wait()->set_task_id(r->submit().task().task_id());
    ASSERT_TRUE(c->Send(w));
    wait_ids.push_back(w.call_id());
    conns.push_back(std::move(*c));
  }
  for (int i = 0; i < kTasks; ++i) {
    auto r = conns[static_cast<size_t>(i)].Receive(120000);
    ASSERT_TRUE(r) << r.error().Message();
    ASSERT_EQ(r->call_id(), wait_ids[static_cast<size_t>(i)]);
    EXPECT_EQ(r->wait().task().exit_code(), i % 3) << r->wait().task().message();
  }
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(elapsed, std::chrono::seconds(120));
  std::printf("200 tasks submitted and finished in %.2f s\n", std::chrono::duration<double>(elapsed).count());
  conns.clear();
  const size_t after = SteadyFdCount(d.pid());
  EXPECT_EQ(after, before) << "daemon fds before " << before << ", after " << after;
  auto all = d.Cli({"ps", "--all", "--limit", "1000", "--json"});
  EXPECT_NE(JsonField(all.out, "200/task_id"), "");
}

TEST(Daemon, KillMinus9AndRestartRecoversTasks) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  auto done = d.Cli({"submit", "--detach", "--", "/bin/echo", "kept"});
  std::string done_id = Trim(done.out);
  ASSERT_EQ(d.Cli({"wait", done_id}).exit_code, 0);
  std::string evidence = d.Cli({"evidence", done_id}).out;
  ASSERT_NE(JsonField(evidence, "task_id"), "");
  std::string running_id = Trim(d.Cli({"submit", "--detach", "--", "sleep", "30"}).out);
  pid_t shim = std::stoi(JsonField(d.Cli({"status", "--json", running_id}).out, "shim_pid"));
  auto shim_start = [&] {
    std::ifstream f("/proc/" + std::to_string(shim) + "/stat");
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  ASSERT_NE(shim_start(), "");
  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));
  d.Start();
  auto st = d.Cli({"status", "--json", running_id});
  EXPECT_EQ(JsonField(st.out, "state"), "finished") << st.out << st.err;
  EXPECT_EQ(JsonField(st.out, "failure_class"), "supervisor_restart");
  EXPECT_EQ(JsonField(d.Cli({"evidence", running_id}).out, "failure_class"), "supervisor_restart");
  EXPECT_EQ(d.Cli({"evidence", done_id}).out, evidence);
  for (int i = 0; i < 200 && !shim_start().empty() && shim_start().find(" Z ") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::string left = shim_start();
  EXPECT_TRUE(left.empty() || left.find(" Z ") != std::string::npos) << left;
  EXPECT_NE(d.Log().find("recovered task " + running_id), std::string::npos) << d.Log();
  // Where the task had a cgroup, recovery killed through it and removed it in every hierarchy.
  std::string ev = d.Cli({"evidence", running_id}).out;
  if (JsonField(ev, "recovery/cgroup_found") == "true") {
    const std::vector<std::string> bases = TaskCgroupBases();
    EXPECT_FALSE(bases.empty()) << "the task had a cgroup, but the layout code finds no base here";
    for (const std::string& base : bases)
      EXPECT_FALSE(std::filesystem::exists(base + "/task-" + running_id)) << base;
  } else if (IsRoot()) {
    ADD_FAILURE() << "as root the task had a cgroup, and recovery should have found it: " << ev;
  }
  // The restarted daemon serves as before.
  EXPECT_EQ(d.Cli({"submit", "--", "/bin/true"}).exit_code, 0);
}

// A daemon whose config gains policy `name` (JSON `policy`), loaded with SIGHUP, and a principal for
// our uid whose role may use "default" and that policy.
std::unique_ptr<DaemonProcess> DaemonWithPolicy(const std::string& name, const std::string& policy) {
  auto d = std::make_unique<DaemonProcess>(
      R"({"version": 1, "roles": {"runner": {"policies": ["default", ")" + name +
      R"("], "classes": ["batch", "interactive"]}}, "principals": [{"name": "tester", "tenant": "ci", "uids": [)" +
      std::to_string(::geteuid()) + R"(], "roles": ["runner"]}]})");
  ::mkdir((d->conf() + "/policies").c_str(), 0755);
  std::ofstream(d->conf() + "/policies/" + name + ".json") << policy;
  EXPECT_EQ(d->Reload().find("reload failed"), std::string::npos) << "SIGHUP reloads; the daemon keeps running";
  return d;
}

// Bindings through the daemon: the caller's pipe rides in the Submit frame after stdio, and the
// state binding is keyed by the principal's tenant ("ci") and the request's app id.
TEST(Daemon, SubmitCarriesCallerBindingsAndTenantState) {
  REQUIRE_SANDBOX();
  auto dp = DaemonWithPolicy("bound", R"({"name": "bound", "version": 1, "bindings": [
      {"name": "feed", "kind": "pipe", "source": "caller"},
      {"name": "notes", "kind": "state", "target": "/state"}]})");
  DaemonProcess& d = *dp;
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ASSERT_EQ(::write(p[1], "through-the-daemon\n", 19), 19);
  ::close(p[1]);
  std::string app = "daemon-app-" + std::to_string(::getpid());
  auto r = d.Cli({"submit", "--policy", "bound", "--app", app, "--fd", "feed=" + std::to_string(p[0]), "--",
                  "/bin/sh", "-c", "cat <&$CORDON_FD_FEED; echo kept > /state/note"});
  ::close(p[0]);
  EXPECT_EQ(r.exit_code, 0) << r.err << d.Log();
  EXPECT_EQ(r.out, "through-the-daemon\n");
  auto again = d.Cli({"submit", "--policy", "bound", "--app", app, "--fd", "feed=0", "--", "cat", "/state/note"});
  EXPECT_EQ(again.out, "kept\n") << again.err;
  // An fd for a binding the policy does not declare is refused, nothing starts.
  auto bad = d.Cli({"submit", "--policy", "bound", "--fd", "other=0", "--", "true"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("declares no caller binding named 'other'"), std::string::npos) << bad.err;
}

// With limits.output_bytes the daemon pumps a task's output into the caller's fd. A caller that
// never reads must not stall the daemon for everyone else.
TEST(Daemon, ACallerThatStopsReadingDoesNotStallOthers) {
  REQUIRE_SANDBOX();
  auto dp = DaemonWithPolicy("pumped", R"({"name": "pumped", "version": 1, "limits": {"output_bytes": 104857600}})");
  DaemonProcess& d = *dp;
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  pid_t slow = ::fork();
  if (slow == 0) {
    ::dup2(p[1], 1);
    ::close(p[0]);
    std::string cordon = BuildPath("bin/cordon");
    ::setenv("CORDON_SOCKET", d.socket().c_str(), 1);
    ::execl(cordon.c_str(), "cordon", "submit", "--policy", "pumped", "--", "head", "-c", "20000000", "/dev/zero", nullptr);
    _exit(127);
  }
  ::close(p[1]);
  // Its pipe is full: as many bytes wait in it as it holds (30 s at most).
  const int capacity = ::fcntl(p[0], F_GETPIPE_SZ);
  ASSERT_GT(capacity, 0);
  int queued = 0;
  for (int i = 0; i < 3000 && queued < capacity; ++i) {
    if (::ioctl(p[0], FIONREAD, &queued) != 0) break;
    if (queued < capacity) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(queued, capacity) << "the task's output never filled the caller's pipe: " << d.Log();
  auto start = std::chrono::steady_clock::now();
  auto other = d.Cli({"submit", "--", "/bin/echo", "served"});
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(other.out, "served\n") << other.err;
  EXPECT_LT(ms, 5000) << "another client waited behind the one that does not read";
  ::kill(slow, SIGKILL);
  ::waitpid(slow, nullptr, 0);
  ::close(p[0]);
}

TEST(Daemon, SigtermKillsTasksAfterTheGracePeriod) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()), {"--grace-ms", "300"});
  std::string id = Trim(d.Cli({"submit", "--detach", "--", "sleep", "30"}).out);
  const auto t0 = std::chrono::steady_clock::now();
  int st = d.Signal(SIGTERM);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st << d.Log();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_NE(::access(d.socket().c_str(), F_OK), 0);  // the socket is gone with the daemon
  d.Start();
  auto s = d.Cli({"status", "--json", id});
  EXPECT_EQ(JsonField(s.out, "failure_class"), "killed");
  EXPECT_NE(JsonField(s.out, "message").find("shutdown grace period"), std::string::npos) << s.out;
}

TEST(Daemon, MalformedFramesGetErrorsAndTheDaemonKeepsServing) {
  DaemonProcess d(PrincipalsFor(::geteuid()));
  struct Case {
    std::string bytes;
    bool half_close;
    api::ErrorCode code;
  } cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", false, api::ERROR_CODE_TOO_LARGE},
      {std::string("\x0c\x00\x00\x00", 4) + std::string(12, '\xff'), false, api::ERROR_CODE_MALFORMED},
      {std::string("\x64\x00\x00\x00", 4) + "only ten b", true, api::ERROR_CODE_TRUNCATED},
      {std::string("\x10\x00", 2), false, api::ERROR_CODE_TIMEOUT},  // a slow client: the read deadline
      {std::string("\x00\x00\x00\x00", 4), false, api::ERROR_CODE_INVALID_ARGUMENT},  // no call set
  };
  for (const auto& c : cases) {
    auto conn = ClientConnection::Open(d.socket());
    ASSERT_TRUE(conn);
    ASSERT_TRUE(conn->SendRaw(c.bytes));
    if (c.half_close) ::shutdown(conn->fd(), SHUT_WR);
    if (c.code == api::ERROR_CODE_TIMEOUT) {
      // Others are served while this client stalls.
      api::Request list;
      list.mutable_list();
      auto other = d.Call(list);
      ASSERT_TRUE(other) << other.error().Message();
      EXPECT_FALSE(other->has_error());
    }
    auto r = conn->Receive(5000);
    ASSERT_TRUE(r) << c.code << ": " << r.error().Message();
    EXPECT_EQ(r->error().code(), c.code) << r->error().message();
    if (c.code != api::ERROR_CODE_INVALID_ARGUMENT) {
      auto eof = conn->Receive(5000);
      ASSERT_FALSE(eof);
      EXPECT_EQ(eof.error().err, ECONNRESET) << eof.error().Message();  // the daemon closed it
    }
  }
  // fds sent with a frame that claims none, and a Submit that claims fds it did not send.
  auto conn = ClientConnection::Open(d.socket());
  ASSERT_TRUE(conn);
  api::Request sub = Submit({"/bin/true"});
  sub.mutable_submit()->set_stdio(true);
  auto r = conn->Call(sub, nullptr, 0, 5000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error().code(), api::ERROR_CODE_INVALID_ARGUMENT);
  EXPECT_NE(r->error().message().find("carried 0 fds"), std::string::npos) << r->error().message();
  EXPECT_EQ(::kill(d.pid(), 0), 0);
  api::Request list;
  list.mutable_list()->set_all(true);
  auto ok = d.Call(list);
  ASSERT_TRUE(ok);
  EXPECT_FALSE(ok->has_error());
}

TEST(Daemon, PythonExampleClient) {
  REQUIRE_SANDBOX();
  if (RunProgram({"/usr/bin/python3", "-c", "import google.protobuf"}).exit_code != 0)
    GTEST_SKIP() << "python3-protobuf is not installed (scripts/deps.sh installs it)";
  DaemonProcess d(PrincipalsFor(::geteuid()));
  std::string pb = d.dir() + "/pb";
  ::mkdir(pb.c_str(), 0755);
  auto gen = RunProgram({"/usr/bin/protoc", "--proto_path=" + SourcePath("proto"), "--python_out=" + pb,
                         SourcePath("proto/cordon.proto")});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto r = RunProgram({"/usr/bin/python3", SourcePath("docs/examples/client.py"), "--socket", d.socket(), "--pb-dir",
                       pb, "--", "/bin/sh", "-c", "echo from python; exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "from python\n");
  EXPECT_NE(r.err.find("exit_nonzero, exit code 3, principal tester"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cordon::test
