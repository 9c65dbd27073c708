// Cordon inside a Podman container (docs/environments.md "Inside a container"): `cordon run`,
// `cordon doctor` and cordond, in a container started the usual ways: with Podman's defaults (its
// seccomp profile, masked /proc paths: Cordon refuses in one line, naming the missing right, exit
// 125), with --privileged, and with the smallest set of extra rights that lets Cordon build full
// sandboxes (`--security-opt unmask=/proc/* --security-opt seccomp=unconfined`, no capability
// added). The container's root is a directory of the test's (`--rootfs`) with the host's /usr and
// the build tree mounted read-only, so no image is pulled. Rootful and rootless Podman alike.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/run.h"

namespace cordon::test {
namespace {

bool HaveProgram(const char* path) { return ::access(path, X_OK) == 0; }

class ContainerPodman : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveProgram("/usr/bin/podman")) GTEST_SKIP() << "podman is not installed (Debian package podman)";
    // One directory a test (rootless Podman leaves files of subordinate ids behind), with a short
    // name: Podman refuses a runroot path longer than 50 characters.
    static int n = 0;
    dir_ = FreshTempDir("cpod" + std::to_string(n++));
    ::chmod(dir_.c_str(), 0755);
    const std::string root = dir_ + "/rootfs";
    for (const char* d : {"", "/usr", "/etc", "/tmp", "/proc", "/dev", "/sys", "/run", "/var", "/scripts"})
      ::mkdir((root + d).c_str(), 0755);
    ::chmod((root + "/tmp").c_str(), 01777);
    for (const char* l : {"bin", "lib", "lib64", "sbin"})
      (void)!::symlink((std::string("usr/") + l).c_str(), (root + "/" + l).c_str());
    std::ofstream(root + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n";
  }
  void TearDown() override {
    if (dir_.empty()) return;
    (void)Podman({"rm", "-af", "-t", "0"});
    // Rootless Podman's storage holds files of subordinate ids: removed inside its namespace.
    // What is left (Podman recreates its run and storage directories on the way out) is ours.
    if (!IsRoot()) (void)Podman({"unshare", "rm", "-rf", dir_});
    (void)RunProgram({"/bin/rm", "-rf", dir_});
  }

  // podman on a private storage root. runc where it is installed: crun refuses a hybrid cgroup
  // host such as the CI machine. The container's rlimits are set below ours: Podman's defaults
  // are above what an unprivileged parent may raise them to.
  RunResult Podman(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/podman", "--root",       dir_ + "/storage", "--runroot",
                                     dir_ + "/run",     "--tmpdir",     dir_ + "/tmp",     "--cgroup-manager",
                                     "cgroupfs",        "--events-backend", "file"};
    if (HaveProgram("/usr/bin/runc")) {
      argv.push_back("--runtime");
      argv.push_back("/usr/bin/runc");
    }
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions o;
    o.timeout_ms = 120000;
    o.env = EnvWith("XDG_RUNTIME_DIR=" + dir_ + "/xdg");
    o.env.push_back("HOME=" + dir_);
    ::mkdir((dir_ + "/xdg").c_str(), 0700);
    return RunProgram(argv, o);
  }

  // `podman run` of `cmd` with the extra options `rights`, the host's /usr and the build tree.
  RunResult InContainer(std::vector<std::string> rights, std::vector<std::string> cmd) {
    const std::string build = BuildPath("");
    std::vector<std::string> a = {"run",      "--rm",     "--network", "none", "--ulimit", "nofile=4096:4096",
                                  "--ulimit", "nproc=4096:4096", "-v",  "/usr:/usr:ro", "-v", build + ":" + build + ":ro",
                                  "-v",       dir_ + "/rootfs/scripts:/scripts:ro", "--tmpfs", "/tmp"};
    a.insert(a.end(), rights.begin(), rights.end());
    a.push_back("--rootfs");
    a.push_back(dir_ + "/rootfs");
    a.insert(a.end(), cmd.begin(), cmd.end());
    return Podman(a);
  }

  // Host ids for a rootful cordon inside the container: within what rootless Podman maps (its
  // container root is the user; 65536 subordinate ids follow).
  static std::vector<std::string> Run(std::vector<std::string> cmd) {
    std::vector<std::string> a = {BuildPath("bin/cordon"), "run", "--id-range", "20000:1000", "--"};
    a.insert(a.end(), cmd.begin(), cmd.end());
    return a;
  }

  std::string dir_;
};

// What a task reports about its own sandbox: namespaces, capabilities, filters, the hostname.
const std::vector<std::string> kProbe = {
    "/bin/sh", "-c",
    "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; echo host=$(cat /proc/sys/kernel/hostname); "
    "echo pid=$$; echo uid=$(id -u)"};

void ExpectFullSandbox(const RunResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("CapEff:\t0000000000000000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NoNewPrivs:\t1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Seccomp:\t2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("host=cordon\n"), std::string::npos) << r.out;  // its own UTS namespace
  EXPECT_NE(r.out.find("pid=2\n"), std::string::npos) << r.out;        // its own PID namespace (PID 1 is the shim)
  EXPECT_NE(r.out.find("uid=1000\n"), std::string::npos) << r.out;
}

size_t Lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

// The same default container with --allow-landlock-mode: the task runs degraded (docs/landlock.md),
// its own files only, and the evidence says so.
TEST_F(ContainerPodman, DefaultContainerRunsDegradedWithAllowLandlockMode) {
  if (::syscall(SYS_landlock_create_ruleset, nullptr, 0, 1u) < 1) GTEST_SKIP() << "this kernel has no Landlock";
  RunResult r = InContainer({}, {BuildPath("bin/cordon"), "run", "--allow-landlock-mode", "--evidence", "-", "--",
                                 "/bin/sh", "-c",
                                 "cat /etc/passwd >/dev/null 2>&1 || echo passwd=refused; echo hi > $TMPDIR/x && "
                                 "cat $TMPDIR/x; echo uid=$(id -u)"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // The container's root is cordon's caller: the task is nobody, never that root.
  EXPECT_EQ(r.out.substr(0, r.out.find('{')), "passwd=refused\nhi\nuid=65534\n") << r.out << r.err;
  const std::string ev = EvidenceLine(r);
  EXPECT_EQ(JsonField(ev, "sandbox/mode"), "landlock") << ev;
  EXPECT_NE(JsonField(ev, "sandbox/full_mode_refused").find("podman"), std::string::npos) << ev;
}

TEST_F(ContainerPodman, DefaultContainerRefusesInOneLineNamingTheRightsAndExits125) {
  RunResult r = InContainer({}, Run({"/bin/echo", "ran"}));
  EXPECT_EQ(r.exit_code, 125) << r.out << r.err;
  EXPECT_EQ(r.out.find("ran"), std::string::npos) << r.out;
  // Podman's own warnings (a rootless "/" that is not shared) are not Cordon's: count ours.
  std::string ours;
  for (size_t at = 0; (at = r.err.find("cordon: ", at)) != std::string::npos; at = r.err.find('\n', at))
    ours += r.err.substr(at, r.err.find('\n', at) + 1 - at);
  EXPECT_EQ(Lines(ours), 1u) << r.err;
  EXPECT_NE(ours.find("the masked /proc paths of this podman container"), std::string::npos) << r.err;
  EXPECT_NE(ours.find("--security-opt unmask=/proc/*"), std::string::npos) << r.err;
  EXPECT_NE(ours.find("--security-opt seccomp=unconfined"), std::string::npos) << r.err;
}

TEST_F(ContainerPodman, DoctorInADefaultContainerSaysLandlockOrNoneAndWhy) {
  RunResult r = InContainer({}, {BuildPath("bin/cordon"), "doctor", "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // Full sandboxes are refused; landlock mode is what is left where the kernel has Landlock.
  const bool landlock = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, 1u) > 0;
  EXPECT_EQ(JsonField(r.out, "mode"), landlock ? "landlock" : "none") << r.out;
  EXPECT_EQ(JsonField(r.out, "container"), "podman") << r.out;
  EXPECT_NE(JsonField(r.out, "why").find("unmask=/proc/*"), std::string::npos) << r.out;
}

TEST_F(ContainerPodman, PrivilegedContainerRunsFullSandboxes) {
  ExpectFullSandbox(InContainer({"--privileged"}, Run(kProbe)));
}

TEST_F(ContainerPodman, SmallestRightsRunFullSandboxesAsRootAndAsAUser) {
  const std::vector<std::string> rights = {"--security-opt", "unmask=/proc/*", "--security-opt", "seccomp=unconfined"};
  ExpectFullSandbox(InContainer(rights, Run(kProbe)));
  std::vector<std::string> as_user = rights;
  as_user.insert(as_user.end(), {"--user", "1000:1000"});
  ExpectFullSandbox(InContainer(as_user, Run(kProbe)));
  RunResult doctor = InContainer(rights, {BuildPath("bin/cordon"), "doctor", "--json"});
  EXPECT_EQ(doctor.exit_code, 0) << doctor.out << doctor.err;
  EXPECT_EQ(JsonField(doctor.out, "mode"), "full") << doctor.out;
}

TEST_F(ContainerPodman, CordondServesTasksInsideTheContainer) {
  // cordond as the container's process tree, a client submitting to it over its socket.
  const std::string principals = SourcePath("policies/examples/principals.json");
  std::ofstream(dir_ + "/rootfs/scripts/daemon.sh")
      << "set -u\nmkdir -p /tmp/d/state /tmp/d/config\ncp " << principals << " /tmp/d/config/\n"
      << BuildPath("bin/cordond") << " --socket /tmp/d/sock --state-dir /tmp/d/state --config-dir /tmp/d/config "
      << "--id-range 20000:1000 2>/tmp/d/log &\nd=$!\n"
      << "i=0; while [ ! -S /tmp/d/sock ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\n"
      << BuildPath("bin/cordon") << " submit --socket /tmp/d/sock -- /bin/sh -c 'echo via-cordond; echo pid=$$'\n"
      << "rc=$?\nkill $d\nwait $d\n[ $rc -eq 0 ] || cat /tmp/d/log >&2\nexit $rc\n";
  const std::vector<std::string> rights = {"--security-opt", "unmask=/proc/*", "--security-opt", "seccomp=unconfined",
                                           "-v", SourcePath("policies") + ":" + SourcePath("policies") + ":ro"};
  RunResult r = InContainer(rights, {"/bin/sh", "/scripts/daemon.sh"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("via-cordond\npid=2\n"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace cordon::test
