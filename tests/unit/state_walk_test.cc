// The state-directory size walk (common/bindings/grant.cc DirectoryBytes), which runs as root over a
// tree that tasks of the same tenant and app write to: it counts the real files only and never
// follows a symlink, not even one swapped in for a directory while it walks.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "common/bindings/grant.h"
#include "tests/support/run.h"

namespace cordon {
namespace {

namespace fs = std::filesystem;


void WriteBytes(const std::string& path, size_t n) { std::ofstream(path) << std::string(n, 'x'); }

// A big directory on the same filesystem as `dir`, so that st_dev does not stop a walk into it.
std::string BigNeighbour(const std::string& dir, uint64_t* bytes) {
  std::string big = dir + "-big";
  fs::remove_all(big);
  fs::create_directories(big);
  for (int i = 0; i < 64; ++i) WriteBytes(big + "/f" + std::to_string(i), 1 << 20);
  ::sync();
  *bytes = DirectoryBytes(big);
  return big;
}

TEST(StateWalk, CountsFilesAndSubdirectoriesButNotSymlinkTargets) {
  std::string d = test::FreshTempDir("walk-static");
  uint64_t big_bytes = 0;
  std::string big = BigNeighbour(d, &big_bytes);
  ASSERT_GE(big_bytes, 64u << 20);
  fs::create_directories(d + "/sub/deeper");
  WriteBytes(d + "/a", 100000);
  WriteBytes(d + "/sub/deeper/b", 100000);
  fs::create_directory_symlink(big, d + "/link");
  fs::create_directory_symlink(big, d + "/sub/link");
  ::sync();
  uint64_t n = DirectoryBytes(d);
  EXPECT_GE(n, 200000u);
  EXPECT_LT(n, 1u << 20) << "a symlink was followed";
  // The same through an fd, as the supervisor counts after a task.
  int fd = ::open(d.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(DirectoryBytes(fd), n);
  ::close(fd);
  // The state directory itself named through a symlink: refused, counts nothing.
  fs::create_directory_symlink(big, d + "-alias");
  EXPECT_EQ(DirectoryBytes(d + "-alias"), 0u);
  fs::remove_all(d);
  fs::remove(d + "-alias");
  fs::remove_all(big);
}

// A task swaps a directory and a symlink to a big directory back and forth (renameat2
// RENAME_EXCHANGE) while the supervisor walks: a walk that checks with fstatat(NOFOLLOW) and then
// opens by path follows the symlink whenever the swap lands in between.
TEST(StateWalk, ASymlinkSwappedInDuringTheWalkIsNotFollowed) {
  std::string d = test::FreshTempDir("walk-race");
  uint64_t big_bytes = 0;
  std::string big = BigNeighbour(d, &big_bytes);
  ASSERT_GE(big_bytes, 64u << 20);
  for (int i = 0; i < 16; ++i) fs::create_directories(d + "/x" + std::to_string(i));
  fs::create_directory_symlink(big, d + "/swap");
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    int dfd = ::open(d.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    while (!stop.load()) {
      for (int i = 0; i < 16; ++i) {
        std::string x = "x" + std::to_string(i);
        ::renameat2(dfd, x.c_str(), dfd, "swap", RENAME_EXCHANGE);
      }
    }
    ::close(dfd);
  });
  uint64_t worst = 0;
  for (int i = 0; i < 3000 && worst < (32u << 20); ++i) worst = std::max(worst, DirectoryBytes(d));
  stop = true;
  swapper.join();
  EXPECT_LT(worst, 1u << 20) << "the walk followed a swapped-in symlink and counted " << worst << " bytes";
  fs::remove_all(d);
  fs::remove_all(big);
}

// Over overlayfs (the root filesystem of most containers) a regular file reports the st_dev of
// its layer, not the overlay's: a walk that stopped at another st_dev counted no file at all, so
// a state directory there always measured 0 bytes and its max_bytes quota never held. The overlay
// is mounted in a child's own user and mount namespaces (unprivileged overlay: Linux 5.11), with
// one file in the lower layer (this filesystem) and one written through the overlay (the tmpfs
// upper layer).
TEST(StateWalk, CountsTheFilesOfAnOverlayMount) {
  std::string d = test::FreshTempDir("walk-overlay");
  fs::create_directories(d + "/lower");
  WriteBytes(d + "/lower/old", 100000);
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(p[0]);
    auto say = [&](const std::string& m) {
      (void)!::write(p[1], m.data(), m.size());
      ::_exit(0);
    };
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) say(std::string("skip unshare: ") + std::strerror(errno));
    std::ofstream("/proc/self/setgroups") << "deny";
    std::ofstream("/proc/self/uid_map") << "0 " << uid << " 1";
    std::ofstream("/proc/self/gid_map") << "0 " << gid << " 1";
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) say("error making / private");
    const std::string up = d + "/up";
    fs::create_directories(up);
    if (::mount("tmpfs", up.c_str(), "tmpfs", 0, "size=8m") < 0) say(std::string("error tmpfs: ") + std::strerror(errno));
    fs::create_directories(up + "/upper");
    fs::create_directories(up + "/work");
    fs::create_directories(d + "/merged");
    const std::string opts = "lowerdir=" + d + "/lower,upperdir=" + up + "/upper,workdir=" + up + "/work";
    if (::mount("overlay", (d + "/merged").c_str(), "overlay", 0, opts.c_str()) < 0)
      say(std::string("skip overlay mount: ") + std::strerror(errno));
    WriteBytes(d + "/merged/new", 200000);
    fs::create_directories(d + "/merged/sub");
    WriteBytes(d + "/merged/sub/deeper", 50000);
    say("bytes " + std::to_string(DirectoryBytes(d + "/merged")));
  }
  ::close(p[1]);
  std::string out;
  char buf[256];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  fs::remove_all(d);
  // Decided from the host: no user namespaces for this uid, or a kernel without unprivileged overlay.
  if (out.starts_with("skip ")) GTEST_SKIP() << "this host cannot mount an overlay here: " << out.substr(5);
  ASSERT_TRUE(out.starts_with("bytes ")) << out;
  const uint64_t n = std::stoull(out.substr(6));
  EXPECT_GE(n, 350000u) << "the walk skipped the overlay's files";
  EXPECT_LT(n, 1u << 20);
}

}  // namespace
}  // namespace cordon
