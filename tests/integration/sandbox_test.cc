// What a task can see, open, call and reach from inside a real sandbox. Each test runs the real
// `cordon run` and checks from inside. Runs as root (rootful) and as an unprivileged user (rootless).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/background.h"
#include "tests/support/cgroup_bases.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

std::string Sh(const std::string& script, const std::vector<std::string>& extra = {}, int* code = nullptr) {
  RunResult r = CordonRun({"/bin/sh", "-c", script}, extra);
  if (code) *code = r.exit_code;
  return r.out;
}

TEST(Sandbox, TaskRunsAsUnprivilegedUidInside) {
  REQUIRE_SANDBOX();
  EXPECT_EQ(Trim(Sh("id -u; id -g; id -un")), "1000\n1000\ncordon");
}

TEST(Sandbox, EveryNamespaceDiffersFromTheHost) {
  REQUIRE_SANDBOX();
  std::string inside = Sh("for n in user mnt pid net ipc uts cgroup; do readlink /proc/self/ns/$n; done");
  std::istringstream in(inside);
  std::string line;
  int n = 0;
  for (const char* ns : {"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"}) {
    ASSERT_TRUE(std::getline(in, line)) << "missing " << ns << " in: " << inside;
    std::string host = std::filesystem::read_symlink(std::string("/proc/self/ns/") + ns).string();
    EXPECT_NE(line, host) << ns << " namespace is shared with the host";
    EXPECT_EQ(line.rfind(ns, 0), 0u) << line;
    ++n;
  }
  EXPECT_EQ(n, 7);
}

TEST(Sandbox, OnlyLoopbackAndItIsUp) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"python3", "-c",
                      "import socket\n"
                      "print(sorted(n for _, n in socket.if_nameindex()))\n"
                      "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
                      "c = socket.create_connection(s.getsockname()); print('lo-ok')\n"});
  EXPECT_EQ(r.out, "['lo']\nlo-ok\n") << r.err;
}

TEST(Sandbox, HostFilesAreInvisible) {
  REQUIRE_SANDBOX();
  std::string canary = "/tmp/cordon-canary-" + std::to_string(::getpid());
  std::ofstream(canary) << "secret";
  std::string out = Sh("test -e " + canary + " && echo tmp-visible; test -e /root && echo root-visible; "
                       "test -e /home && echo home-visible; test -e /var && echo var-visible; "
                       "test -e /sys/fs && echo sys-visible; test -e /run && echo run-visible; "
                       "ls /tmp | wc -l; echo done");
  std::filesystem::remove(canary);
  EXPECT_EQ(out, "0\ndone\n");
}

TEST(Sandbox, ProcShowsOnlySandboxProcesses) {
  REQUIRE_SANDBOX();
  std::string out = Sh("ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '");
  std::istringstream in(out);
  int pid, count = 0;
  while (in >> pid) {
    EXPECT_LT(pid, 20) << "host pid visible: " << out;
    ++count;
  }
  EXPECT_GE(count, 2) << out;  // PID 1 (init) and the task
  EXPECT_EQ(Trim(Sh("cat /proc/1/comm; echo $$")), "cordon-shim\n2");
}

TEST(Sandbox, NoCapabilitiesAndNoNewPrivs) {
  REQUIRE_SANDBOX();
  std::string out = Sh("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status");
  EXPECT_NE(out.find("CapInh:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("CapPrm:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("CapEff:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("CapBnd:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("CapAmb:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("NoNewPrivs:\t1"), std::string::npos) << out;
  EXPECT_NE(out.find("Seccomp:\t2"), std::string::npos) << out;  // filter mode: never unfiltered
}

TEST(Sandbox, SecurebitsLockedAndNoCoreDumps) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"python3", "-c",
                      "import ctypes, resource\n"
                      "libc = ctypes.CDLL(None)\n"
                      "print(hex(libc.prctl(27, 0, 0, 0, 0)))\n"  // PR_GET_SECUREBITS
                      "print(resource.getrlimit(resource.RLIMIT_CORE))\n"});
  EXPECT_EQ(r.out, "0xef\n(0, 0)\n") << r.err;
}

TEST(Sandbox, RuntimeIsReadOnly) {
  REQUIRE_SANDBOX();
  std::string out = Sh("for p in /usr/x /etc/x /x /usr/lib/x /proc/sys/kernel/hostname; do "
                       "(echo x > $p) 2>/dev/null && echo writable:$p; done; "
                       "echo y > /tmp/ok && echo y > /work/ok && echo scratch-ok");
  EXPECT_EQ(out, "scratch-ok\n");
  auto r = CordonRun({"python3", "-c",
                      "import errno\ntry:\n open('/usr/cordon-probe','w')\nexcept OSError as e:\n print(errno.errorcode[e.errno])"});
  EXPECT_EQ(r.out, "EROFS\n") << r.err;
}

TEST(Sandbox, EveryMountIsNosuidAndAllButDeviceNodesNodev) {
  REQUIRE_SANDBOX();
  std::string out = Sh("cat /proc/self/mountinfo");
  std::istringstream in(out);
  std::string line;
  int mounts = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, mnt, opts;
    f >> id >> parent >> devno >> root >> mnt >> opts;
    ++mounts;
    EXPECT_NE(opts.find("nosuid"), std::string::npos) << line;
    bool device = mnt == "/dev/null" || mnt == "/dev/zero" || mnt == "/dev/full" || mnt == "/dev/random" ||
                  mnt == "/dev/urandom" || mnt == "/dev/tty";
    if (!device) {
      EXPECT_NE(opts.find("nodev"), std::string::npos) << line;
    }
    if (mnt == "/tmp" || mnt == "/work" || mnt == "/dev/shm" || mnt == "/proc" || mnt == "/dev") {
      EXPECT_NE(opts.find("noexec"), std::string::npos) << line;
    }
  }
  EXPECT_GT(mounts, 5);
}

// Each kind of mount with exactly its flags (shim/mnt.cc): the root and the runtime binds read-only
// and nodev but executable; the scratch mounts and /dev/shm writable, never executable; /proc's
// masks and views read-only and noexec; /dev's device binds writable, nosuid and noexec but not
// nodev, the only mounts without it.
TEST(Sandbox, EachMountHasItsKindsFlags) {
  REQUIRE_SANDBOX();
  std::istringstream in(Sh("cat /proc/self/mountinfo"));
  std::string line;
  std::set<std::string> seen;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, mnt, opts;
    f >> id >> parent >> devno >> root >> mnt >> opts;
    std::set<std::string> flags;
    std::istringstream o(opts);
    for (std::string t; std::getline(o, t, ',');)
      if (t == "ro" || t == "rw" || t == "nosuid" || t == "nodev" || t == "noexec") flags.insert(t);
    const bool device = mnt == "/dev/null" || mnt == "/dev/zero" || mnt == "/dev/full" || mnt == "/dev/random" ||
                        mnt == "/dev/urandom" || mnt == "/dev/tty";
    std::set<std::string> want;
    if (device) {
      want = {"rw", "nosuid", "noexec"};
    } else if (mnt == "/tmp" || mnt == "/work" || mnt == "/dev/shm" || mnt == "/dev" || mnt == "/proc") {
      want = {"rw", "nosuid", "nodev", "noexec"};
    } else if (mnt.rfind("/proc/", 0) == 0) {
      want = {"ro", "nosuid", "nodev", "noexec"};
    } else {
      want = {"ro", "nosuid", "nodev"};  // "/" and the runtime binds
    }
    EXPECT_EQ(flags, want) << line;
    seen.insert(mnt);
  }
  for (const char* m : {"/", "/usr", "/tmp", "/work", "/proc", "/proc/sys", "/proc/meminfo", "/dev", "/dev/null",
                        "/dev/urandom", "/dev/shm"})
    EXPECT_EQ(seen.count(m), 1u) << m << " is not mounted once";
}

TEST(Sandbox, SensitiveProcFilesAreMasked) {
  REQUIRE_SANDBOX();
  // Masked files are binds of /dev/null on a nodev mount: they cannot even be opened.
  std::string out = Sh("for f in kcore keys timer_list kallsyms sched_debug; do "
                       "  test -e /proc/$f || continue; cat /proc/$f >/dev/null 2>&1 && echo readable:$f; done; "
                       "(echo b > /proc/sysrq-trigger) 2>/dev/null || echo sysrq-ro; "
                       "(echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null || echo sys-ro; "
                       "ls /proc/acpi /proc/driver 2>/dev/null | grep -v : | grep -c .");
  EXPECT_EQ(out, "sysrq-ro\nsys-ro\n0\n");
}

TEST(Sandbox, MinimalDev) {
  REQUIRE_SANDBOX();
  EXPECT_EQ(Trim(Sh("ls /dev | tr '\\n' ' '")), "core fd full null random shm stderr stdin stdout urandom zero");
  EXPECT_EQ(Trim(Sh("head -c 4 /dev/zero | od -An -tx1; echo x > /dev/null && echo null-ok")), " 00 00 00 00\nnull-ok");
}

TEST(Sandbox, HostnameAndIdentityFiles) {
  REQUIRE_SANDBOX();
  EXPECT_EQ(Trim(Sh("hostname; grep -c . /etc/passwd; getent passwd 1000 | cut -d: -f1,6")),
            "cordon\n3\ncordon:/work");
}

TEST(Sandbox, PythonAndShellScriptsRun) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"python3", "-c", "import json, ssl, hashlib; print(json.dumps({'ok': hashlib.sha256(b'x').hexdigest()[:8]}))"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"ok\": \"2d711642\"}\n");
  RunOptions script;
  script.stdin_data = "echo \"args:$#:$1\"; exit 7\n";
  auto s = CordonRun({"/bin/sh", "-s", "hello"}, {}, script);
  EXPECT_EQ(s.exit_code, 7);
  EXPECT_EQ(s.out, "args:1:hello\n");
}

TEST(Sandbox, ExitCodesAndSignalsPropagate) {
  REQUIRE_SANDBOX();
  EXPECT_EQ(CordonRun({"/bin/sh", "-c", "exit 0"}).exit_code, 0);
  EXPECT_EQ(CordonRun({"/bin/sh", "-c", "exit 42"}).exit_code, 42);
  EXPECT_EQ(CordonRun({"/bin/sh", "-c", "kill -TERM $$"}).exit_code, 128 + SIGTERM);
  EXPECT_EQ(CordonRun({"/bin/sh", "-c", "kill -KILL $$"}).exit_code, 128 + SIGKILL);
  EXPECT_EQ(CordonRun({"python3", "-c", "import os; os.abort()"}).exit_code, 128 + SIGABRT);
}

TEST(Sandbox, CommandNotFoundAndNotExecutable) {
  REQUIRE_SANDBOX();
  auto nf = CordonRun({"no-such-command-xyz"});
  EXPECT_EQ(nf.exit_code, 127);
  EXPECT_NE(nf.err.find("command not found"), std::string::npos) << nf.err;
  auto ne = CordonRun({"/etc/passwd"});
  EXPECT_EQ(ne.exit_code, 126);
  EXPECT_NE(ne.err.find("cannot be executed"), std::string::npos) << ne.err;
  auto host_path = CordonRun({BuildPath("bin/cordon"), "--version"});
  EXPECT_EQ(host_path.exit_code, 127) << "a host binary outside the runtime must not be reachable";
}

TEST(Sandbox, StdioPassesThrough) {
  REQUIRE_SANDBOX();
  std::string big(1 << 20, 'a');
  RunOptions o;
  o.stdin_data = big;
  auto r = CordonRun({"/bin/sh", "-c", "wc -c; echo to-stderr >&2"}, {}, o);
  EXPECT_EQ(Trim(r.out), std::to_string(big.size()));
  EXPECT_EQ(r.err, "to-stderr\n");
}

TEST(Sandbox, OnlyStdioFdsSurvive) {
  REQUIRE_SANDBOX();
  // A stray inheritable fd in the caller must not reach the task.
  int stray = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(stray, 0);
  auto r = CordonRun({"python3", "-c",
                      "import os\nfds=[]\nfor fd in range(256):\n"
                      "  try: os.fstat(fd); fds.append(fd)\n  except OSError: pass\nprint(fds)"});
  ::close(stray);
  EXPECT_EQ(r.out, "[0, 1, 2]\n") << r.err;
}

TEST(Sandbox, NewSessionWithoutControllingTerminal) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"python3", "-c",
                      "import os\nprint(os.getsid(0) == os.getpid())\n"
                      "try:\n open('/dev/tty')\n print('tty')\nexcept OSError:\n print('no-tty')"});
  EXPECT_EQ(r.out, "True\nno-tty\n") << r.err;
}

TEST(Sandbox, NamespaceCreationIsDenied) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"python3", "-c",
                      "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                      "print(libc.unshare(0x10000000), ctypes.get_errno() != 0)\n"});  // CLONE_NEWUSER
  EXPECT_EQ(r.out, "-1 True\n") << r.err;
}

TEST(Sandbox, NothingOutlivesTheTask) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"/bin/sh", "-c", "sleep 987.25 & sleep 987.25 & echo started"});
  EXPECT_EQ(r.out, "started\n");
  // The sandbox's processes were killed when its PID 1 ended; /proc may show them for a moment
  // while they exit. Any still there after 10 s outlived the task.
  auto survivors = [] {
    std::vector<std::string> found;
    for (auto& e : std::filesystem::directory_iterator("/proc")) {
      std::ifstream f(e.path() / "cmdline");
      std::string cmd, arg;
      std::getline(f, cmd, '\0');
      std::getline(f, arg, '\0');
      if (cmd == "sleep" && arg == "987.25") found.push_back(e.path());
    }
    return found;
  };
  std::vector<std::string> left = survivors();
  for (int i = 0; i < 1000 && !left.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    left = survivors();
  }
  EXPECT_TRUE(left.empty()) << "orphan survived in " << left.front();
}

TEST(Sandbox, SandboxDiesWithItsSupervisor) {
  REQUIRE_SANDBOX();
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    std::string cordon = BuildPath("bin/cordon");
    ::execl(cordon.c_str(), "cordon", "run", "--", "sleep", "654.5", nullptr);
    _exit(1);
  }
  auto sleeping = [] {
    for (auto& e : std::filesystem::directory_iterator("/proc")) {
      std::ifstream f(e.path() / "cmdline");
      std::string cmd, arg;
      std::getline(f, cmd, '\0');
      std::getline(f, arg, '\0');
      if (cmd == "sleep" && arg == "654.5") return true;
    }
    return false;
  };
  for (int i = 0; i < 100 && !sleeping(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(sleeping()) << "task never started";
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !(gone = !sleeping()); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(gone) << "the task outlived a SIGKILLed supervisor";
  // A SIGKILLed `cordon run` leaves its task cgroup (docs/cgroups.md, "Stale directories"); this
  // test removes what it left, as cordond's sweep would, so the host's tree stays clean.
  RemoveCgroupsOwnedBy(pid);
  EXPECT_TRUE(CgroupsOwnedBy(pid).empty()) << "the killed run's task cgroup could not be removed";
}

TEST(Sandbox, SignalsToCordonReachTheTask) {
  REQUIRE_SANDBOX();
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    std::string cordon = BuildPath("bin/cordon");
    ::execl(cordon.c_str(), "cordon", "run", "--", "python3", "-c",
            "import os, signal, time\n"
            // os.write, not print: the handler may run while print('ready') is still returning.
            "signal.signal(signal.SIGTERM, lambda *a: (os.write(1, b'got-term\\n'), os._exit(3)))\n"
            "print('ready', flush=True)\ntime.sleep(30)\n",
            nullptr);
    _exit(1);
  }
  ::close(out[1]);
  std::string got;
  char buf[256];
  while (got.find("ready") == std::string::npos) {
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::kill(pid, SIGTERM);
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(out[0]);
  EXPECT_EQ(got, "ready\ngot-term\n");
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
}

TEST(Sandbox, ScratchTmpfsIsSizeLimited) {
  REQUIRE_SANDBOX();
  std::string policy = WriteTempFile("small-tmpfs.json", R"({"name": "small", "version": 1,
      "limits": {"tmpfs_bytes": 2097152}, "env": {"set": {"PATH": "/usr/bin:/bin"}}})");
  int code = 0;
  std::string out = Sh("dd if=/dev/zero of=/tmp/big bs=1M count=8 2>&1 | grep -o 'No space left'; "
                       "df -k /work | tail -1 | awk '{print $2}'",
                       {"--policy", policy}, &code);
  EXPECT_EQ(out, "No space left\n2048\n");
}

TEST(Sandbox, EnvironmentDoesNotLeak) {
  REQUIRE_SANDBOX();
  RunOptions o;
  o.env = {"PATH=/usr/bin:/bin", "SECRET_TOKEN=hunter2", "HOME=/root"};
  auto r = CordonRun({"/usr/bin/env"}, {"--env", "GREETING=hi"}, o);
  EXPECT_EQ(r.out.find("SECRET_TOKEN"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GREETING=hi\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HOME=/work\n"), std::string::npos) << r.out;
  auto passed = CordonRun({"/bin/sh", "-c", "echo $SECRET_TOKEN"}, {"--env", "SECRET_TOKEN"}, o);
  EXPECT_EQ(passed.out, "hunter2\n");
}

TEST(Sandbox, CwdOption) {
  REQUIRE_SANDBOX();
  EXPECT_EQ(CordonRun({"pwd"}).out, "/work\n");
  EXPECT_EQ(CordonRun({"pwd"}, {"--cwd", "/tmp"}).out, "/tmp\n");
  auto bad = CordonRun({"pwd"}, {"--cwd", "/nonexistent"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("step chdir"), std::string::npos) << bad.err;
}

TEST(Sandbox, HostIdentity) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"/bin/true"}, {"--evidence", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string mode = JsonField(r.out, "sandbox/mode");
  uint64_t host_uid = std::stoull(JsonField(r.out, "sandbox/host_uid"));
  if (IsRoot()) {
    EXPECT_EQ(mode, "rootful");
    EXPECT_GE(host_uid, 524288u);
    EXPECT_LT(host_uid, 524288u + 65536u);
  } else {
    EXPECT_EQ(mode, "rootless");
    EXPECT_EQ(host_uid, ::geteuid());
  }
  EXPECT_EQ(JsonField(r.out, "sandbox/uid_map"), "1000 " + std::to_string(host_uid) + " 1");
}

// A rootful task holds a lease on its host uid for its whole life: a lock file that is locked while
// it runs and removed when it ends. With a range of one uid, a second task while the first runs
// must be refused (two tasks never share a host uid); without a real lease it would get the same uid.
TEST(Sandbox, ConcurrentRootfulTasksNeverShareAHostUid) {
  REQUIRE_SANDBOX();
  if (!IsRoot()) GTEST_SKIP() << "per-task host uids are the rootful mode; rootless maps the caller's uid";
  // A one-uid range of this test's own (pooled and cold runs of it differ by pid), far from the
  // default range the other tests use.
  const uint32_t uid = 3000000 + static_cast<uint32_t>(::getpid()) % 1000000;
  const std::string range = std::to_string(uid) + ":1";
  const std::string lock = "/run/cordon/ids/" + std::to_string(uid) + ".lock";
  std::string ev1 = WriteTempFile("lease-ev1.json", "");
  Background first({BuildPath("bin/cordon"), "run", "--id-range", range, "--evidence", ev1, "--", "/bin/sh", "-c",
                    "echo up; read x; exit 0"});
  ASSERT_TRUE(first.started());
  ASSERT_EQ(first.ReadLine(), "up") << first.Wait().err;
  {
    // The lease is real: its file exists and its supervisor holds the lock.
    UniqueFd fd(::open(lock.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    ASSERT_TRUE(fd) << lock << ": " << std::strerror(errno);
    EXPECT_NE(::flock(fd.Get(), LOCK_EX | LOCK_NB), 0) << lock << " exists but nobody holds it";
    EXPECT_EQ(errno, EWOULDBLOCK);
  }
  auto second = CordonRun({"/bin/true"}, {"--id-range", range, "--evidence", "-"});
  EXPECT_EQ(second.exit_code, 125) << "a second task got the leased uid: " << second.out;
  EXPECT_NE(second.err.find("no free task identity in range " + range), std::string::npos) << second.err;
  first.CloseStdin();
  auto ended = first.Wait();
  ASSERT_EQ(ended.exit_code, 0) << ended.err;
  std::string l1;
  std::getline(std::ifstream(ev1), l1);
  EXPECT_EQ(JsonField(l1, "sandbox/host_uid"), std::to_string(uid)) << l1;
  // Released with its task: the file is gone and the uid serves the next task.
  EXPECT_FALSE(std::filesystem::exists(lock)) << lock << " outlived its task";
  auto third = CordonRun({"/bin/true"}, {"--id-range", range, "--evidence", "-"});
  EXPECT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(JsonField(EvidenceLine(third), "sandbox/host_uid"), std::to_string(uid));
}

TEST(Sandbox, WallClockLimitKillsTheSandbox) {
  REQUIRE_SANDBOX();
  std::string policy = WriteTempFile("wall.json", R"({"name": "wall", "version": 1, "limits": {"max_wall_ms": 500}})");
  auto start = std::chrono::steady_clock::now();
  auto r = CordonRun({"/bin/sh", "-c", "sleep 30 & sleep 30"}, {"--policy", policy, "--evidence", "-"});
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  EXPECT_LT(ms, 5000);
  EXPECT_EQ(JsonField(r.out, "failure_class"), "wall_timeout") << r.out;
}

}  // namespace
}  // namespace cordon::test
