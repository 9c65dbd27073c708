// cordond when the disk under its state dir accepts writes but cannot make them durable (issue 14,
// docs/daemon.md "Faults of the state disk"): a cold start's admission decision whose sync fails
// withdraws the task before its exec and answers INTERNAL. The disk is an ext2 image on a loop
// device whose backing file lives on a small tmpfs that is then filled: writes land in the page
// cache, and the decision's fdatasync fails (ENOSPC) when the loop device cannot write them back.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/daemon_process.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

// An ext2 filesystem on `dir` that cannot write back: its 64 MiB image is a sparse file on an
// 8 MiB tmpfs, which Starve() fills. In a mount namespace of this test process (root only: a loop
// device needs it); the mount goes with the namespace, the loop device with the mount (autoclear).
class StarvedDisk {
 public:
  explicit StarvedDisk(const std::string& dir) : dir_(dir), back_(dir + ".back") {
    orig_.Reset(::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC));
    if (::unshare(CLONE_NEWNS) < 0) {
      why_ = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
      return;
    }
    ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    ::mkdir(back_.c_str(), 0700);
    if (::mount("tmpfs", back_.c_str(), "tmpfs", 0, "size=8m,mode=0700") < 0) {
      why_ = "mount tmpfs on " + back_ + ": " + std::strerror(errno);
      return;
    }
    auto mk = RunProgram({"/usr/sbin/mkfs.ext2", "-q", "-F", back_ + "/img", "64M"});
    if (mk.exit_code != 0) {
      why_ = "mkfs.ext2: " + mk.err;
      return;
    }
    auto mnt = RunProgram({"/bin/mount", "-t", "ext2", "-o", "loop", back_ + "/img", dir_});
    if (mnt.exit_code != 0) {
      why_ = "this host gives no loop device: mount -o loop: " + mnt.err;
      return;
    }
    mounted_ = true;
  }
  ~StarvedDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    ::umount2(back_.c_str(), MNT_DETACH);
    if (orig_) (void)::setns(orig_.Get(), CLONE_NEWNS);
  }
  const std::string& why() const { return why_; }

  // Fills the tmpfs under the image: from now on nothing written to `dir` reaches the image.
  void Starve() {
    UniqueFd fd(::open((back_ + "/filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    std::string chunk(65536, 'f');
    while (::write(fd.Get(), chunk.data(), chunk.size()) > 0) {
    }
    for (size_t sz = 4096; sz > 0; sz /= 2)
      while (::write(fd.Get(), chunk.data(), sz) > 0) {
      }
  }

 private:
  std::string dir_, back_;
  UniqueFd orig_;
  bool mounted_ = false;
  std::string why_;
};

TEST(DaemonSyncFault, AColdStartWhoseDecisionCannotBeSyncedNeverRuns) {
  REQUIRE_SANDBOX();
  if (!IsRoot()) GTEST_SKIP() << "a loop device needs root";
  DaemonProcess d(PrincipalsFor(::geteuid()), {"--pool-size", "0"});
  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));
  const std::string state = d.dir() + "/state";
  RunProgram({"/bin/rm", "-rf", state});
  ::mkdir(state.c_str(), 0700);
  StarvedDisk disk(state);
  if (!disk.why().empty()) GTEST_SKIP() << disk.why();
  d.Start();
  ASSERT_EQ(d.Cli({"submit", "--", "/bin/true"}).exit_code, 0) << d.Log();

  disk.Starve();
  auto r = d.Cli({"submit", "--", "/bin/sh", "-c", "exit 3"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.exit_code == 3, false) << "the task ran although its decision was not durable";
  EXPECT_NE(r.err.find("could not make the admission decision durable"), std::string::npos) << r.err << d.Log();
  EXPECT_NE(r.err.find("fdatasync"), std::string::npos) << r.err;
  // The daemon goes on serving, and the withdrawn task is recorded as such (not as having run).
  auto ps = nlohmann::json::parse(d.Cli({"ps", "--all", "--json", "--limit", "1"}).out, nullptr, false);
  ASSERT_TRUE(ps.is_array() && ps.size() == 1) << ps.dump() << d.Log();
  EXPECT_EQ(ps[0].value("failure_class", ""), "setup_failed") << ps.dump();
  EXPECT_NE(ps[0].value("message", "").find("withdrawn before its exec"), std::string::npos) << ps.dump();
  EXPECT_NE(d.Log().find("syncing admission decisions failed"), std::string::npos) << d.Log();
  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));
}

}  // namespace
}  // namespace cordon::test
