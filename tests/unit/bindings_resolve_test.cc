// common/bindings/resolve.h OpenVerified: the one open both ends of a binding go through (the
// supervisor when it grants it, the shim when it mounts it). A symlink anywhere in the path, the
// wrong type, or another inode than the one recorded is refused, each with its own errno.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/bindings/resolve.h"
#include "tests/support/run.h"

namespace cordon::bindings {
namespace {

namespace fs = std::filesystem;


TEST(BindingsResolve, OpensADirectoryAndReportsItsIdentity) {
  const std::string d = test::FreshTempDir("resolve-dir");
  auto r = OpenVerified(d.c_str(), O_PATH, Kind::kDirectory);
  ASSERT_TRUE(r) << r.error().Message();
  struct stat st;
  ASSERT_EQ(::stat(d.c_str(), &st), 0);
  EXPECT_EQ(r->id, (Identity{st.st_dev, st.st_ino}));
  EXPECT_TRUE(::fcntl(r->fd.Get(), F_GETFD) & FD_CLOEXEC);
}

TEST(BindingsResolve, RefusesASymlinkAnywhereInThePath) {
  const std::string d = test::FreshTempDir("resolve-link");
  fs::create_directories(d + "/real/sub");
  fs::create_directory_symlink(d + "/real", d + "/link");
  for (const std::string& p : {d + "/link", d + "/link/sub"}) {
    auto r = OpenVerified(p.c_str(), O_PATH, Kind::kDirectory);
    ASSERT_FALSE(r) << p;
    EXPECT_EQ(r.error().err, ELOOP) << p;
  }
  EXPECT_TRUE(OpenVerified((d + "/real/sub").c_str(), O_PATH, Kind::kDirectory));
}

TEST(BindingsResolve, RefusesTheWrongType) {
  const std::string d = test::FreshTempDir("resolve-type");
  std::ofstream(d + "/f") << "x";
  auto dir_as_file = OpenVerified(d.c_str(), O_RDONLY, Kind::kRegular);
  ASSERT_FALSE(dir_as_file);
  EXPECT_EQ(dir_as_file.error().err, EISDIR);
  auto file_as_dir = OpenVerified((d + "/f").c_str(), O_PATH, Kind::kDirectory);
  ASSERT_FALSE(file_as_dir);
  EXPECT_EQ(file_as_dir.error().err, ENOTDIR);
  ASSERT_EQ(::mkfifo((d + "/p").c_str(), 0600), 0);
  auto fifo_as_file = OpenVerified((d + "/p").c_str(), O_RDONLY | O_NONBLOCK, Kind::kRegular);
  ASSERT_FALSE(fifo_as_file);
  EXPECT_EQ(fifo_as_file.error().err, EINVAL);
  EXPECT_TRUE(OpenVerified((d + "/f").c_str(), O_RDONLY, Kind::kRegular));
}

// The shim's check: the path must still name the inode the supervisor opened.
TEST(BindingsResolve, RefusesAnotherInodeAtTheSamePath) {
  const std::string d = test::FreshTempDir("resolve-swap");
  fs::create_directories(d + "/a");
  auto first = OpenVerified((d + "/a").c_str(), O_PATH, Kind::kDirectory);
  ASSERT_TRUE(first);
  const Identity recorded = first->id;
  EXPECT_TRUE(OpenVerified((d + "/a").c_str(), O_PATH, Kind::kDirectory, &recorded));
  fs::rename(d + "/a", d + "/old");
  fs::create_directories(d + "/a");
  auto again = OpenVerified((d + "/a").c_str(), O_PATH, Kind::kDirectory, &recorded);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().err, ESTALE);
}

}  // namespace
}  // namespace cordon::bindings
