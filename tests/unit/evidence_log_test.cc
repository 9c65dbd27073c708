// The evidence log's writer and verifier on real files: a written log verifies and seals, a torn
// write is cut off at the next open, a second writer is refused, checkpoints parse only in their
// canonical form and verify only with their own key.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

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

// The tests of cordond's jobs on its sealer thread start from a writer in a fresh directory that
// checkpoints only when asked (Checkpoint(), a seal job, Close) and does not sync each record.
class SealerThreadJob : public ::testing::Test {
 protected:
  void SetUp() override {
    WriterOptions o;
    o.checkpoint_every = 0;
    o.checkpoint_ms = 0;
    o.sync_each = false;
    auto opened = LogWriter::Open(dir, o, &notes);
    ASSERT_TRUE(opened.has_value()) << opened.error().Message();
    writer = std::move(*opened);
  }

  TempDir t;
  const std::string dir = t.path("log");
  std::vector<std::string> notes;
  std::unique_ptr<LogWriter> writer;
};

// Appends records {"i": from} to {"i": to - 1}; false at the first that fails.
bool AppendTestRecords(LogWriter& w, int from, int to) {
  for (int i = from; i < to; ++i)
    if (!w.Append("test", {{"i", i}}).has_value()) return false;
  return true;
}

// Whether one of `lines` (a writer's notes, a verify's checks) contains `text`.
bool Says(const std::vector<std::string>& lines, const std::string& text) {
  for (const auto& l : lines)
    if (l.find(text) != std::string::npos) return true;
  return false;
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
    ASSERT_TRUE(AppendTestRecords(**w, 0, 6));
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

// cordond's sealer (daemon/evidence_log.h) signs a checkpoint on its own thread while the loop
// appends: the checkpoint covers exactly the records there were when the job was taken, the
// records appended meanwhile stay valid and unsealed until the next one, and nothing is lost.
TEST_F(SealerThreadJob, ASealJobOnAnotherThreadCoversItsRecordsWhileAppendsGoOn) {
  ASSERT_TRUE(AppendTestRecords(*writer, 0, 5));
  std::optional<SealJob> job = writer->BeginSeal();
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->cp.size, 6u);
  EXPECT_FALSE(writer->BeginSeal().has_value()) << "one job at a time";
  EXPECT_FALSE(writer->Checkpoint().has_value()) << "no checkpoint of the writer's own while a job is out";
  Result<void> sealed;
  std::thread sealer([&] { sealed = RunSeal(*job); });
  ASSERT_TRUE(AppendTestRecords(*writer, 5, 50));
  sealer.join();
  ASSERT_TRUE(sealed.has_value()) << sealed.error().Message();
  writer->FinishSeal(*job, true);
  EXPECT_EQ(writer->sealed(), 6u);
  auto r = Verify(dir);
  EXPECT_EQ(r.verdict, Verdict::kUnsealed) << r.problem;
  EXPECT_EQ(r.records, 51u);
  EXPECT_EQ(r.unsealed, 45u);
  ASSERT_TRUE(writer->Close().has_value());
  r = Verify(dir);
  EXPECT_EQ(r.verdict, Verdict::kSealed) << r.problem;
  EXPECT_EQ(r.checkpoints.size(), 2u);
}

// cordond prunes on its sealer thread (daemon/evidence_log.h "ApplyRetention"): the records the
// writer appends while the prune's copy is made are carried into the new records file, and the
// pruned log verifies with every one of them.
TEST_F(SealerThreadJob, APruneOnAnotherThreadKeepsTheRecordsAppendedMeanwhile) {
  ASSERT_TRUE(AppendTestRecords(*writer, 0, 20));
  ASSERT_TRUE(writer->Checkpoint().has_value());
  auto job = writer->BeginPrune(15, {{"by", "test"}});
  ASSERT_TRUE(job.has_value()) << job.error().Message();
  ASSERT_TRUE(job->has_value());
  Result<void> ran;
  std::thread pruner([&] { ran = RunPrune(**job); });
  ASSERT_TRUE(AppendTestRecords(*writer, 20, 60));
  pruner.join();
  auto n = writer->FinishPrune(**job, std::move(ran));
  ASSERT_TRUE(n.has_value()) << n.error().Message();
  EXPECT_EQ(*n, 15u);
  ASSERT_TRUE(AppendTestRecords(*writer, 60, 65));
  ASSERT_TRUE(writer->Close().has_value());
  auto r = Verify(dir);
  EXPECT_EQ(r.verdict, Verdict::kSealed) << r.problem;
  EXPECT_EQ(r.records, 67u) << "header, 65 records and the prune record";
  auto rf = ReadRecordFile(dir + "/records");
  ASSERT_TRUE(rf.has_value());
  ASSERT_EQ(rf->records.size(), 67u - 15u);
  EXPECT_EQ(nlohmann::json::parse(rf->records.front())["seq"], 15);
  EXPECT_EQ(nlohmann::json::parse(rf->records.back())["data"]["i"], 64);
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

namespace cordon::evlog {
namespace {

std::string Slurp(const std::string& path) { return *ReadWholeFile(path); }

// A crash between writing DIR/pruned and replacing DIR/records leaves the pruned records at the
// front of DIR/records: verify accepts them (they match their kept leaf hashes) and the next
// writer removes them.
TEST(EvidenceLogCrash, APruneCutShortIsAcceptedAndFinishedAtTheNextOpen) {
  TempDir t;
  const std::string dir = t.path("log");
  std::vector<std::string> notes;
  WriterOptions o;
  o.checkpoint_every = 0;
  std::string before;
  {
    auto w = LogWriter::Open(dir, o, &notes);
    ASSERT_TRUE(w.has_value()) << w.error().Message();
    for (int i = 0; i < 6; ++i) ASSERT_TRUE((*w)->Append("task", {{"n", i}}).has_value());
    ASSERT_TRUE((*w)->Checkpoint().has_value());
    before = Slurp(dir + "/records");
    auto n = (*w)->Prune(4, {{"by", "test"}});
    ASSERT_TRUE(n.has_value()) << n.error().Message();
    EXPECT_EQ(*n, 4u);
    ASSERT_TRUE((*w)->Close().has_value());
  }
  EXPECT_EQ(Verify(dir).verdict, Verdict::kSealed) << Verify(dir).problem;
  // Put the 4 pruned records back in front, as the records file was before its replacement.
  auto old = ReadRecordFile(dir + "/records");
  std::string front;
  std::ofstream(dir + "/before", std::ios::binary) << before;
  auto prefix = ReadRecordFile(dir + "/before");
  ASSERT_TRUE(prefix.has_value() && old.has_value());
  for (int i = 0; i < 4; ++i) front += Frame(prefix->records[i]);
  for (const auto& r : old->records) front += Frame(r);
  std::ofstream(dir + "/records", std::ios::binary | std::ios::trunc) << front;
  auto v = Verify(dir);
  EXPECT_EQ(v.verdict, Verdict::kSealed) << v.problem;
  EXPECT_TRUE(Says(v.checked, "4 of them still at the front of the records file"));
  notes.clear();
  {
    auto w = LogWriter::Open(dir, o, &notes);
    ASSERT_TRUE(w.has_value()) << w.error().Message();
    ASSERT_TRUE((*w)->Close().has_value());
  }
  EXPECT_TRUE(Says(notes, "finished a prune a crash interrupted: removed 4"));
  EXPECT_EQ(ReadRecordFile(dir + "/records")->records.size(), old->records.size());
  EXPECT_EQ(Verify(dir).verdict, Verdict::kSealed);
}

// A crash after the rotation record was written but before the staged key replaced the old one:
// the next writer finishes the rotation instead of signing with the retired key.
TEST(EvidenceLogCrash, ARotationCutShortIsFinishedAtTheNextOpen) {
  TempDir t;
  const std::string dir = t.path("log");
  std::vector<std::string> notes;
  WriterOptions o;
  std::string old_key;
  {
    auto w = LogWriter::Open(dir, o, &notes);
    ASSERT_TRUE(w.has_value());
    ASSERT_TRUE((*w)->Append("task", {{"n", 1}}).has_value());
    old_key = Slurp(dir + "/signing.key");
    auto next = SigningKey::Generate();
    ASSERT_TRUE(WriteFileAtomic(dir + "/signing.key.next", *next->PrivatePem(), 0600, true).has_value());
    auto r = (*w)->RotateToStagedKey();
    ASSERT_TRUE(r.has_value()) << r.error().Message();
    EXPECT_NE(r->find("rotated the evidence log signing key"), std::string::npos) << *r;
    ASSERT_TRUE((*w)->Close().has_value());
  }
  const std::string new_key = Slurp(dir + "/signing.key");
  // The state a crash between the record's write and the key's rename leaves.
  ASSERT_TRUE(WriteFileAtomic(dir + "/signing.key.next", new_key, 0600, false).has_value());
  ASSERT_TRUE(WriteFileAtomic(dir + "/signing.key", old_key, 0600, false).has_value());
  notes.clear();
  {
    auto w = LogWriter::Open(dir, o, &notes);
    ASSERT_TRUE(w.has_value()) << w.error().Message();
    ASSERT_TRUE((*w)->Append("task", {{"n", 2}}).has_value());
    ASSERT_TRUE((*w)->Close().has_value());
  }
  EXPECT_TRUE(Says(notes, "finished the key rotation a crash interrupted"));
  EXPECT_EQ(Slurp(dir + "/signing.key"), new_key);
  EXPECT_EQ(Verify(dir).verdict, Verdict::kSealed) << Verify(dir).problem;
  // A key file that belongs to no rotation is refused, not used.
  ASSERT_TRUE(WriteFileAtomic(dir + "/signing.key", old_key, 0600, false).has_value());
  auto refused = LogWriter::Open(dir, o, &notes);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().Message().find("is not the key the evidence log"), std::string::npos) << refused.error().Message();
}

}  // namespace
}  // namespace cordon::evlog
