// The state-directory size walk (common/bindings/grant.cc DirectoryBytes), which runs as root over a
// tree that tasks of the same tenant and app write to: it counts the real files only and never
// follows a symlink, not even one swapped in for a directory while it walks.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
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

}  // namespace
}  // namespace cordon
