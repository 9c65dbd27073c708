// The evidence log's writer and verifier on real files: a written log verifies and seals, a torn
// write is cut off at the next open, a second writer is refused, checkpoints parse only in their
// canonical form and verify only with their own key.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "supervisor/evidence/checkpoint.h"
#include "supervisor/evidence/log.h"
#include "supervisor/evidence/verify.h"
#include "tests/support/run.h"

namespace cordon::evlog {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string t = "/tmp/cordon-evlog-XXXXXX";
    dir_ = ::mkdtemp(t.data());
  }
  ~TempDir() { test::RunProgram({"/bin/rm", "-rf", dir_}); }
  std::string path(const std::string& rel) const { return dir_ + "/" + rel; }

 private:
  std::string dir_;
};

VerifyReport Verify(const std::string& dir) {
  auto r = VerifyLog({dir, std::nullopt, std::nullopt, NowUnixMs()});
  EXPECT_TRUE(r.has_value()) << r.error().Message();
  return r ? *r : VerifyReport{};
}

TEST(EvidenceLog, WrittenRecordsVerifyAndCloseSealsThem) {
  TempDir t;
  const std::string dir = t.path("log");
  std::vector<std::string> notes;
  {
    WriterOptions o;
    o.checkpoint_every = 4;
    auto w = LogWriter::Open(dir, o, &notes);
    ASSERT_TRUE(w.has_value()) << w.error().Message();
    ASSERT_EQ(notes.size(), 1u);  // the key was created
    for (int i = 0; i < 6; ++i) ASSERT_TRUE((*w)->Append("test", {{"i", i}}).has_value());
    EXPECT_EQ((*w)->sealed(), 4u);  // record 0 (the header) and 3 more, then a checkpoint
    auto r = Verify(dir);
    EXPECT_EQ(r.verdict, Verdict::kUnsealed) << r.problem;
    EXPECT_EQ(r.unsealed, 3u);
    ASSERT_TRUE((*w)->Close().has_value());
  }
  struct stat st{};
  ASSERT_EQ(::stat((dir + "/signing.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto r = Verify(dir);
  EXPECT_EQ(r.verdict, Verdict::kSealed) << r.problem;
  EXPECT_EQ(r.records, 7u);
  EXPECT_EQ(r.checkpoints.size(), 2u);
}

TEST(EvidenceLog, ATornLastRecordIsCutOffAtTheNextOpen) {
  TempDir t;
  const std::string dir = t.path("log");
  std::vector<std::string> notes;
  {
    auto w = LogWriter::Open(dir, {}, &notes);
    ASSERT_TRUE(w.has_value());
    ASSERT_TRUE((*w)->Append("test", {{"i", 1}}).has_value());
  }
  {
    // A crash in the middle of a write: a frame header claiming 100 bytes and 3 of them.
    std::ofstream f(dir + "/records", std::ios::app | std::ios::binary);
    f << std::string("\0\0\0\x64" "abc", 7);
  }
  auto before = Verify(dir);
  EXPECT_EQ(before.verdict, Verdict::kSealed) << before.problem;  // the torn write was never part of it
  notes.clear();
  auto w = LogWriter::Open(dir, {}, &notes);
  ASSERT_TRUE(w.has_value()) << w.error().Message();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("cut a torn record of 7 bytes"), std::string::npos) << notes[0];
  ASSERT_TRUE((*w)->Append("test", {{"i", 2}}).has_value());
  ASSERT_TRUE((*w)->Close().has_value());
  auto after = Verify(dir);
  EXPECT_EQ(after.verdict, Verdict::kSealed) << after.problem;
  EXPECT_EQ(after.records, 3u);
}

TEST(EvidenceLog, ASecondWriterIsRefused) {
  TempDir t;
  std::vector<std::string> notes;
  auto a = LogWriter::Open(t.path("log"), {}, &notes);
  ASSERT_TRUE(a.has_value());
  auto b = LogWriter::Open(t.path("log"), {}, &notes);
  ASSERT_FALSE(b.has_value());
  EXPECT_NE(b.error().hint.find("another process is writing this evidence log"), std::string::npos);
}

TEST(EvidenceCheckpoint, ParsesOnlyTheCanonicalFormAndVerifiesOnlyWithItsKey) {
  auto key = SigningKey::Generate();
  auto other = SigningKey::Generate();
  ASSERT_TRUE(key && other);
  Checkpoint cp{"cordon-evidence-log 00ff", 12, LeafHash("x"), 1700000000000};
  auto s = Sign(cp, *key);
  ASSERT_TRUE(s.has_value());
  auto p = ParseSignedCheckpoint(s->Text());
  ASSERT_TRUE(p.has_value()) << p.error().Message();
  EXPECT_TRUE(p->VerifiedBy(key->Public()));
  EXPECT_FALSE(p->VerifiedBy(other->Public()));
  std::string text = s->Text();
  text.replace(text.find("\n12\n"), 4, "\n13\n");
  auto changed = ParseSignedCheckpoint(text);
  ASSERT_TRUE(changed.has_value());
  EXPECT_FALSE(changed->VerifiedBy(key->Public()));
  text = s->Text();
  EXPECT_FALSE(ParseSignedCheckpoint(text.replace(text.find("\n12\n"), 4, "\n012\n")).has_value());
  EXPECT_FALSE(ParseSignedCheckpoint(s->Text().substr(0, s->Text().size() - 1)).has_value());
}

}  // namespace
}  // namespace cordon::evlog
