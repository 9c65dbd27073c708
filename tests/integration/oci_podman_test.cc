// Podman (through conmon) with cordon-runc as its OCI runtime, on a private storage root:
// `podman --runtime build/bin/cordon-runc run --rootfs DIR`, exit codes, exec, stop, kill, rm,
// --memory, --pids-limit, a seccomp profile, -it under a terminal (script(1)), and refusals
// reaching the user. Rootful and rootless: rootless Podman runs its runtime as uid 0 of Podman's own
// user namespace, where cordon-runc builds the sandbox the rootless way (oci/state.h HostRoot).
#include <gtest/gtest.h>

#include "tests/integration/oci_support.h"
#include "tests/support/host.h"

namespace cordon::test::oci {
namespace {

bool HaveProgram(const char* path) { return ::access(path, X_OK) == 0; }

class OciPodman : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveProgram("/usr/bin/podman") || !HaveProgram("/usr/bin/conmon"))
      GTEST_SKIP() << "podman or conmon is not installed (Debian packages podman, conmon)";
    REQUIRE_SANDBOX();
    dir_ = MakeDir();
    if (!MakeImage(dir_ + "/rootfs")) GTEST_SKIP() << "no /bin/busybox (Debian package busybox-static)";
  }
  void TearDown() override {
    if (dir_.empty()) return;
    (void)Podman({"rm", "-af", "-t", "0"});
    (void)RunProgram({"/bin/rm", "-rf", dir_});
  }
  RunResult Podman(std::vector<std::string> args, int timeout_ms = 90000) {
    std::vector<std::string> argv = {"/usr/bin/podman",  "--root",          dir_ + "/storage", "--runroot",
                                     dir_ + "/run",      "--tmpdir",        dir_ + "/tmp",     "--cgroup-manager",
                                     "cgroupfs",         "--events-backend", "file",           "--runtime",
                                     BuildPath("bin/cordon-runc"), "--runtime-flag",
                                     "evidence-dir=" + dir_ + "/evidence"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions o;
    o.timeout_ms = timeout_ms;
    return RunProgram(argv, o);
  }
  std::vector<std::string> RunArgs(std::vector<std::string> extra, std::vector<std::string> cmd) {
    std::vector<std::string> a = {"run", "--network", "none"};
    a.insert(a.end(), extra.begin(), extra.end());
    a.push_back("--rootfs");
    a.push_back(dir_ + "/rootfs");
    a.insert(a.end(), cmd.begin(), cmd.end());
    return a;
  }
  std::string dir_;
};

TEST_F(OciPodman, RunGivesTheExitCodeAndTheSandbox) {
  RunResult r = Podman(RunArgs({"--rm"}, {"/bin/sh", "-c",
                                          "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; "
                                          "cat /etc/image-marker; test -e /home && echo host-home; exit 42"}));
  EXPECT_EQ(r.exit_code, 42) << r.err;
  EXPECT_NE(r.out.find("CapEff:\t0000000000000000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NoNewPrivs:\t1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Seccomp:\t2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("from the image"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("host-home"), std::string::npos) << r.out;
  // The record delete left, with podman's container id.
  RunResult ls = RunProgram({"/bin/sh", "-c", "cat " + dir_ + "/evidence/*.jsonl"});
  EXPECT_NE(ls.out.find("\"oci\""), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("\"code\":42"), std::string::npos) << ls.out;
}

TEST_F(OciPodman, DetachedExecStopKillRm) {
  RunResult d = Podman(RunArgs({"-d", "--name", "svc"}, {"/bin/sh", "-c", "echo up > /tmp/up; exec sleep 1000"}));
  ASSERT_EQ(d.exit_code, 0) << d.err;
  RunResult e;
  ASSERT_TRUE(WaitFor([&] {
    e = Podman({"exec", "svc", "/bin/sh", "-c", "cat /tmp/up; grep -E '^CapEff:' /proc/self/status; exit 6"});
    return e.out.find("up") != std::string::npos;
  })) << e.out << e.err;
  EXPECT_EQ(e.exit_code, 6) << e.err;
  EXPECT_NE(e.out.find("CapEff:\t0000000000000000"), std::string::npos) << e.out;
  RunResult st = Podman({"stop", "-t", "5", "svc"});
  EXPECT_EQ(st.exit_code, 0) << st.err;
  RunResult code = Podman({"inspect", "--format", "{{.State.ExitCode}}", "svc"});
  EXPECT_EQ(code.out, "143\n") << code.err;  // SIGTERM reached sleep (PID 1 of the sandbox is Cordon's)
  EXPECT_EQ(Podman({"rm", "svc"}).exit_code, 0);

  ASSERT_EQ(Podman(RunArgs({"-d", "--name", "k"}, {"/bin/sleep", "1000"})).exit_code, 0);
  EXPECT_EQ(Podman({"kill", "k"}).exit_code, 0);
  RunResult w = Podman({"wait", "k"});
  EXPECT_EQ(w.out, "137\n") << w.err;
  EXPECT_EQ(Podman({"rm", "k"}).exit_code, 0);
  RunResult left = Podman({"ps", "-aq"});
  EXPECT_EQ(left.out, "");
}

TEST_F(OciPodman, MemoryAndPidsFlags) {
  // Podman itself drops resource limits from config.json when it runs rootless on a cgroup v1 or
  // hybrid host ("Resource limits are not supported and ignored on cgroups V1 rootless systems").
  if (!IsRoot() && ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0)
    GTEST_SKIP() << "rootless Podman ignores --memory and --pids-limit on a cgroup v1/hybrid host";
  RunResult m = Podman(RunArgs({"--rm", "--memory", "64m", "--pids-limit", "10"}, {"/bin/sh", "-c", "head -1 /proc/meminfo"}));
  EXPECT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.out.find("MemTotal:          65536 kB"), std::string::npos) << m.out;
  RunResult ev = RunProgram({"/bin/sh", "-c", "cat " + dir_ + "/evidence/*.jsonl"});
  EXPECT_NE(ev.out.find("\"memory_bytes\":67108864"), std::string::npos) << ev.out;
  EXPECT_NE(ev.out.find("\"pids\":10"), std::string::npos) << ev.out;
}

TEST_F(OciPodman, SeccompProfileFlag) {
  std::string prof = dir_ + "/profile.json";
  WriteFile(prof, R"({"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                      "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]})");
  RunResult s = Podman(RunArgs({"--rm", "--security-opt", "seccomp=" + prof},
                               {"/bin/sh", "-c", "mkdir /tmp/d 2>/dev/null && echo made || echo refused"}));
  EXPECT_EQ(s.out, "refused\n") << s.err;
}

// podman pause/unpause and update drive cordon-runc's pause, resume and update; the record says so.
TEST_F(OciPodman, PauseUnpauseAndUpdate) {
  // Podman refuses to pause or update a rootless container on a cgroup v1 or hybrid host ("can not
  // pause containers on rootless containers with cgroup V1") before it calls the runtime.
  if (!IsRoot() && ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0)
    GTEST_SKIP() << "rootless Podman cannot pause or update on a cgroup v1/hybrid host";
  ASSERT_EQ(Podman(RunArgs({"-d", "--name", "p"}, {"/bin/sh", "-c", "echo up > /tmp/up; exec sleep 1000"})).exit_code, 0);
  RunResult pa = Podman({"pause", "p"});
  ASSERT_EQ(pa.exit_code, 0) << pa.err;
  EXPECT_EQ(Podman({"inspect", "--format", "{{.State.Status}}", "p"}).out, "paused\n");
  RunResult un = Podman({"unpause", "p"});
  ASSERT_EQ(un.exit_code, 0) << un.err;
  RunResult e = Podman({"exec", "p", "/bin/cat", "/tmp/up"});
  EXPECT_EQ(e.out, "up\n") << e.err;
  RunResult up = Podman({"update", "--memory", "96m", "p"});
  EXPECT_EQ(up.exit_code, 0) << up.err;
  EXPECT_EQ(Podman({"kill", "p"}).exit_code, 0);
  EXPECT_EQ(Podman({"rm", "p"}).exit_code, 0);
  RunResult ev = RunProgram({"/bin/sh", "-c", "cat " + dir_ + "/evidence/*.jsonl"});
  EXPECT_NE(ev.out.find("\"op\":\"pause\""), std::string::npos) << ev.out;
  EXPECT_NE(ev.out.find("\"op\":\"resume\""), std::string::npos) << ev.out;
  EXPECT_NE(ev.out.find("\"memory_bytes\":100663296"), std::string::npos) << ev.out;
}

TEST_F(OciPodman, TerminalWithDashIt) {
  if (!HaveProgram("/usr/bin/script")) GTEST_SKIP() << "script(1) is not installed (Debian package bsdutils)";
  std::string cmd = "/usr/bin/podman --root " + dir_ + "/storage --runroot " + dir_ + "/run --tmpdir " + dir_ +
                    "/tmp --cgroup-manager cgroupfs --events-backend file --runtime " + BuildPath("bin/cordon-runc") +
                    " run --rm -it --network none --rootfs " + dir_ +
                    "/rootfs /bin/sh -c 'test -t 0 && test -t 1 && echo IS_A_TTY; exit 4'";
  RunResult r = RunProgram({"/usr/bin/script", "-qec", cmd, "/dev/null"});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.out.find("IS_A_TTY"), std::string::npos) << r.out;
}

TEST_F(OciPodman, RefusalsReachTheUserNamingTheField) {
  RunResult priv = Podman(RunArgs({"--rm", "--privileged"}, {"/bin/true"}));
  EXPECT_NE(priv.exit_code, 0);
  EXPECT_NE(priv.err.find("process.capabilities"), std::string::npos) << priv.err;
  RunResult dev = Podman(RunArgs({"--rm", "--device", "/dev/null:/dev/xnull"}, {"/bin/true"}));
  EXPECT_NE(dev.exit_code, 0);
  // Rootless Podman cannot make device nodes: it binds the host's instead, refused as a writable mount.
  EXPECT_NE(dev.err.find(IsRoot() ? "linux.devices" : "at /dev/xnull writable"), std::string::npos) << dev.err;
  RunResult vol = Podman(RunArgs({"--rm", "-v", dir_ + ":/data"}, {"/bin/true"}));
  EXPECT_NE(vol.exit_code, 0);
  EXPECT_NE(vol.err.find("writable"), std::string::npos) << vol.err;
  RunResult ro = Podman(RunArgs({"--rm", "-v", dir_ + "/rootfs/etc:/data:ro"}, {"/bin/cat", "/data/image-marker"}));
  EXPECT_EQ(ro.exit_code, 0) << ro.err;
  EXPECT_EQ(ro.out, "from the image\n");
}

}  // namespace
}  // namespace cordon::test::oci
