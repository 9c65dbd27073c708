// The artifact hash's resolution on real files (supervisor/evidence/artifact.h): a script in a
// binding is hashed, a symlink that leaves its binding is not followed, the executable is found
// in PATH as the sandbox's exec finds it, the cache re-reads a file that changed, and a bad
// declaration is refused naming the field.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "supervisor/evidence/artifact.h"
#include "supervisor/sha256.h"
#include "tests/support/run.h"

namespace cordon::evlog {
namespace {

class CodeDir {
 public:
  CodeDir() {
    std::string t = "/tmp/cordon-artifact-unit-XXXXXX";
    dir_ = ::mkdtemp(t.data());
  }
  ~CodeDir() { test::RunProgram({"/bin/rm", "-rf", dir_}); }
  std::string path(const std::string& rel) const { return dir_ + "/" + rel; }
  // The directory as a mounted dir binding at /work (as OpenBindings gives it).
  std::vector<OpenBinding> Bound() const {
    std::vector<OpenBinding> v(1);
    v[0].binding.name = "code";
    v[0].binding.kind = Binding::Kind::kDir;
    v[0].binding.target = "/work";
    v[0].fd.Reset(::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    v[0].mounted = true;
    return v;
  }

 private:
  std::string dir_;
};

TEST(EvidenceArtifactResolve, ScriptsInBindingsAreHashedAndSymlinksOutOfThemAreNot) {
  CodeDir c;
  std::ofstream(c.path("gen.py")) << "print('generated')\n";
  ASSERT_EQ(::symlink("/etc/passwd", c.path("escape").c_str()), 0);
  ASSERT_EQ(::mkdir(c.path("sub").c_str(), 0755), 0);
  std::ofstream(c.path("sub/lib.py")) << "x = 1\n";
  ASSERT_EQ(::symlink("sub/lib.py", c.path("inside").c_str()), 0);
  auto bound = c.Bound();
  ArtifactQuery q;
  q.argv = {"sh", "-c", "gen.py", "gen.py", "escape", "inside", "--out", "missing.txt", "/usr/bin/env"};
  q.bindings = &bound;
  ArtifactReport r = HashArtifacts(q, nullptr);
  ASSERT_GE(r.files.size(), 3u);
  EXPECT_EQ(r.files[0].role, "executable");
  EXPECT_EQ(r.files[0].path, "/usr/bin/sh");  // the first PATH entry that has it
  EXPECT_EQ(r.files[0].from, "runtime");
  EXPECT_EQ(r.files[1].role, "script");
  EXPECT_EQ(r.files[1].path, "/work/gen.py");
  EXPECT_EQ(r.files[1].sha256, Sha256Hex("print('generated')\n"));
  EXPECT_EQ(r.files[1].from, "binding code");
  EXPECT_EQ(r.files[2].path, "/work/inside");  // a symlink that stays inside is followed
  EXPECT_EQ(r.files[2].sha256, Sha256Hex("x = 1\n"));
  EXPECT_EQ(r.files.size(), 3u) << "a runtime file named as an argument is not a script the task brings";
  ASSERT_EQ(r.unhashed.size(), 1u);
  EXPECT_EQ(r.unhashed[0].first, "escape");
  EXPECT_NE(r.unhashed[0].second.find("leaves its binding"), std::string::npos) << r.unhashed[0].second;
}

// The cache keeps old files (the runtime), never one changed in the last seconds: file times
// tick with the kernel's coarse clock, so a same-size rewrite could keep its key.
TEST(EvidenceArtifactResolve, TheCacheKeepsOldFilesAndRereadsFreshOnes) {
  FileHashCache cache;
  ArtifactQuery runtime;
  runtime.argv = {"sh"};
  const std::string sh = HashArtifacts(runtime, &cache).files.at(0).sha256;
  EXPECT_EQ(HashArtifacts(runtime, &cache).files.at(0).sha256, sh);
  EXPECT_EQ(cache.hits(), 1u);
  CodeDir c;
  std::ofstream(c.path("run.sh")) << "echo one\n";
  auto bound = c.Bound();
  ArtifactQuery q;
  q.argv = {"/work/run.sh"};
  q.bindings = &bound;
  EXPECT_EQ(HashArtifacts(q, &cache).files.at(0).sha256, Sha256Hex("echo one\n"));
  std::ofstream(c.path("run.sh"), std::ios::trunc) << "echo two\n";  // same size, maybe the same tick
  EXPECT_EQ(HashArtifacts(q, &cache).files.at(0).sha256, Sha256Hex("echo two\n"));
  EXPECT_EQ(cache.hits(), 1u);
}

TEST(EvidenceArtifactResolve, AnExecutableOnlyTheTaskCouldMakeIsNamedNotHashed) {
  ArtifactQuery q;
  q.argv = {"./made-later"};
  q.cwd = "/work";  // no binding there: the sandbox's own tmpfs
  ArtifactReport r = HashArtifacts(q, nullptr);
  EXPECT_TRUE(r.files.empty());
  ASSERT_EQ(r.unhashed.size(), 1u);
  EXPECT_NE(r.unhashed[0].second.find("tmpfs"), std::string::npos) << r.unhashed[0].second;
  q.argv = {"no-such-command-anywhere"};
  r = HashArtifacts(q, nullptr);
  ASSERT_EQ(r.unhashed.size(), 1u);
  EXPECT_NE(r.unhashed[0].second.find("not found in PATH"), std::string::npos) << r.unhashed[0].second;
}

TEST(EvidenceArtifactResolve, DeclarationsAreCheckedAndMatchedAgainstWhatRan) {
  EXPECT_FALSE(DeclareArtifact(std::nullopt, "", "x", "cordond").has_value());
  auto bad = DeclareArtifact(std::nullopt, "ABC", "", "cordond");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().Message().find("artifact.sha256 'ABC' is not 64 lower-case hex"), std::string::npos);
  auto mismatch = DeclareArtifact(std::string("code"), std::string(64, 'a'), "", "cordond");
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_NE(mismatch.error().Message().find("is not the SHA-256 of the artifact's bytes"), std::string::npos);
  auto ok = DeclareArtifact(std::string("code"), Sha256Hex("code"), "gen.sh", "cordond");
  ASSERT_TRUE(ok.has_value());
  ArtifactReport r;
  r.files.push_back({"script", "/work/gen.sh", "gen.sh", "binding code", Sha256Hex("code"), 4});
  r.declared = *ok;
  const nlohmann::json j = ArtifactJson(r);
  EXPECT_EQ(j["declared"]["bytes"], 4);
  EXPECT_EQ(j["declared"]["matches"], nlohmann::json::array({"/work/gen.sh"}));
  auto by_hash = DeclareArtifact(std::nullopt, Sha256Hex("other"), "", "cordond");
  ASSERT_TRUE(by_hash.has_value());
  EXPECT_EQ(by_hash->hashed_by, "client");
  r.declared = *by_hash;
  EXPECT_TRUE(ArtifactJson(r)["declared"]["bytes"].is_null());
  EXPECT_EQ(ArtifactJson(r)["declared"]["matches"], nlohmann::json::array());
}

}  // namespace
}  // namespace cordon::evlog
