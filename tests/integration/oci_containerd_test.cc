// containerd's io.containerd.runc.v2 shim with cordon-runc as its runc binary: a private
// containerd (its own --root, --state and socket under a temp dir, stopped at the end) and
// `ctr run --runtime io.containerd.runc.v2 --runc-binary build/bin/cordon-runc --rootfs DIR`.
// containerd runs as root (docs/kubernetes.md: the same shim and BinaryName a cluster uses).
#include <gtest/gtest.h>
#include <signal.h>

#include "tests/integration/oci_support.h"
#include "tests/support/host.h"

namespace cordon::test::oci {
namespace {

class OciContainerd : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* b : {"/usr/bin/containerd", "/usr/bin/ctr", "/usr/bin/containerd-shim-runc-v2"})
      if (::access(b, X_OK) != 0) GTEST_SKIP() << b << " is not installed (Debian package containerd)";
    if (!IsRoot()) GTEST_SKIP() << "containerd runs as root";
    REQUIRE_SANDBOX();
    dir_ = MakeDir();
    if (!MakeImage(dir_ + "/rootfs")) GTEST_SKIP() << "no /bin/busybox (Debian package busybox-static)";
    ::setenv("CORDON_OCI_EVIDENCE_DIR", (dir_ + "/evidence").c_str(), 1);
    sock_ = dir_ + "/containerd.sock";
    WriteFile(dir_ + "/config.toml",
              "version = 2\nroot = \"" + dir_ + "/root\"\nstate = \"" + dir_ + "/state\"\n"
              "disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.snapshotter.v1.aufs\", "
              "\"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", "
              "\"io.containerd.snapshotter.v1.devmapper\"]\n[grpc]\n  address = \"" + sock_ +
                  "\"\n[ttrpc]\n  address = \"" + sock_ + ".ttrpc\"\n");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, (dir_ + "/containerd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::string cfg = dir_ + "/config.toml";
    char* argv[] = {const_cast<char*>("/usr/bin/containerd"), const_cast<char*>("--config"), cfg.data(), nullptr};
    ASSERT_EQ(::posix_spawn(&containerd_, argv[0], &fa, nullptr, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    struct stat sb;
    ASSERT_TRUE(WaitFor([&] { return ::stat(sock_.c_str(), &sb) == 0; })) << ReadFile(dir_ + "/containerd.log");
  }
  void TearDown() override {
    if (containerd_ > 0) {
      ::kill(containerd_, SIGTERM);
      if (WaitAdopted(containerd_, 20) < 0) {
        ::kill(containerd_, SIGKILL);
        ::waitpid(containerd_, nullptr, 0);
      }
    }
    if (!dir_.empty()) (void)RunProgram({"/bin/rm", "-rf", dir_});
  }
  RunResult Ctr(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/ctr", "--address", sock_};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions o;
    o.timeout_ms = 90000;
    return RunProgram(argv, o);
  }
  std::string dir_, sock_;
  pid_t containerd_ = -1;
};

TEST_F(OciContainerd, CtrRunThroughTheRuncV2Shim) {
  RunResult r = Ctr({"run", "--rm", "--runtime", "io.containerd.runc.v2", "--runc-binary", BuildPath("bin/cordon-runc"),
                     "--rootfs", dir_ + "/rootfs", "t1", "/bin/sh", "-c",
                     "echo in-containerd; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; exit 5"});
  EXPECT_EQ(r.exit_code, 5) << r.err << ReadFile(dir_ + "/containerd.log");
  EXPECT_NE(r.out.find("in-containerd"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CapEff:\t0000000000000000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NoNewPrivs:\t1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Seccomp:\t2"), std::string::npos) << r.out;
  std::string ev = ReadFile(dir_ + "/evidence/t1.jsonl");
  EXPECT_NE(ev.find("\"code\":5"), std::string::npos) << ev;
}

TEST_F(OciContainerd, TaskKillAndExecThroughTheShim) {
  RunResult d = Ctr({"run", "-d", "--runtime", "io.containerd.runc.v2", "--runc-binary", BuildPath("bin/cordon-runc"),
                     "--rootfs", dir_ + "/rootfs", "t2", "/bin/sh", "-c", "echo up > /tmp/up; exec sleep 1000"});
  ASSERT_EQ(d.exit_code, 0) << d.err << ReadFile(dir_ + "/containerd.log");
  RunResult e;
  ASSERT_TRUE(WaitFor([&] {
    e = Ctr({"task", "exec", "--exec-id", "e1", "t2", "/bin/cat", "/tmp/up"});
    return e.out == "up\n";
  })) << e.out << e.err;
  RunResult ls = Ctr({"task", "ls"});
  EXPECT_NE(ls.out.find("RUNNING"), std::string::npos) << ls.out;
  EXPECT_EQ(Ctr({"task", "kill", "--signal", "SIGKILL", "t2"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Ctr({"task", "ls"}).out.find("STOPPED") != std::string::npos; }));
  EXPECT_EQ(Ctr({"task", "delete", "t2"}).exit_code, 0);
  EXPECT_EQ(Ctr({"container", "delete", "t2"}).exit_code, 0);
  std::string ev = ReadFile(dir_ + "/evidence/t2.jsonl");
  EXPECT_NE(ev.find("\"failure_class\":\"killed\""), std::string::npos) << ev;
}

}  // namespace
}  // namespace cordon::test::oci
