// The tamper-evident evidence log end to end (docs/evidence.md): a real cordond writes
// STATE/evidence-log, the real `cordon evidence verify` reads it offline, and each way of
// tampering with it (a record edited, deleted, reordered, inserted, truncated away; checkpoints
// signed by another key; the log rolled back) is caught and named. A kill -9 in the middle of
// appending leaves a log that verifies, with every acknowledged task in it. Rootful and rootless.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "supervisor/evidence/checkpoint.h"
#include "supervisor/evidence/encoding.h"
#include "supervisor/evidence/keys.h"
#include "supervisor/evidence/log.h"
#include "supervisor/evidence/merkle.h"
#include "tests/support/daemon_process.h"
#include "tests/support/evidence_log_files.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

RunResult Verify(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"verify"};
  argv.insert(argv.end(), args.begin(), args.end());
  return CordonCommand("evidence", argv);
}

size_t FindKind(const std::vector<std::string>& recs, const std::string& kind, size_t from = 0) {
  for (size_t i = from; i < recs.size(); ++i)
    if (json::parse(recs[i]).value("kind", "") == kind) return i;
  return recs.size();
}

// A log a real cordond wrote: a pristine copy after it stopped (sealed at shutdown), and an
// `early` copy of the same log taken while it ran, once it had sealed its first tasks.
class EvidenceLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_SANDBOX();
    d_ = std::make_unique<DaemonProcess>(PrincipalsFor(::geteuid()));
    work_ = d_->dir() + "/work";
    ::mkdir(work_.c_str(), 0755);
    state_log_ = d_->dir() + "/state/evidence-log";
    ok_id_ = Submit({"/bin/true"}, 0);
    Sealed();
    ASSERT_EQ(RunProgram({"/bin/cp", "-a", state_log_, work_ + "/early"}).exit_code, 0);
    exit3_id_ = Submit({"/bin/sh", "-c", "exit 3"}, 3);
    auto denied = d_->Cli({"submit", "--policy", "analyst", "--", "/bin/true"});
    ASSERT_EQ(denied.exit_code, 125) << denied.err;
    ASSERT_TRUE(WIFEXITED(d_->Signal(SIGTERM))) << d_->Log();
    ASSERT_EQ(RunProgram({"/bin/cp", "-a", state_log_, work_ + "/pristine"}).exit_code, 0);
  }

  std::string Submit(const std::vector<std::string>& cmd, int want_exit) {
    std::vector<std::string> args = {"submit", "--detach", "--"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    auto s = d_->Cli(args);
    EXPECT_EQ(s.exit_code, 0) << s.err;
    const std::string id = Trim(s.out);
    EXPECT_EQ(d_->Cli({"wait", id}).exit_code, want_exit);
    return id;
  }

  // Waits (at most 10 s) until verify says the running daemon's log is sealed to the end.
  void Sealed() {
    for (int i = 0; i < 100; ++i) {
      if (Verify({"--log", d_->dir() + "/state"}).exit_code == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "the log was not sealed within 10 s: " << Verify({"--log", d_->dir() + "/state"}).out;
  }

  // A copy of the pristine log to tamper with.
  std::string Copy(const std::string& name) {
    const std::string dst = work_ + "/" + name;
    EXPECT_EQ(RunProgram({"/bin/cp", "-a", work_ + "/pristine", dst}).exit_code, 0);
    return dst;
  }

  void ExpectTampered(const std::string& log, const std::string& what, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--log", log};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = Verify(args);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("TAMPERED: " + what), std::string::npos) << r.out << r.err;
  }

  std::unique_ptr<DaemonProcess> d_;
  std::string work_, state_log_, ok_id_, exit3_id_;
};

TEST_F(EvidenceLogTest, ASealedLogVerifiesAndHoldsDecisionsTasksAndThePolicy) {
  const std::string log = work_ + "/pristine";
  auto r = Verify({"--log", log});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("OK: valid and sealed to the end"), std::string::npos) << r.out;
  auto key = evlog::PublicKey::LoadFile(log + "/signing.pub");
  ASSERT_TRUE(key.has_value());
  EXPECT_NE(r.out.find("key " + key->KeyId()), std::string::npos) << r.out;
  // The state dir works as --log too, and a pinned key gives the same answer.
  EXPECT_EQ(Verify({"--log", log, "--key", log + "/signing.pub"}).exit_code, 0);
  const auto recs = ReadRecords(log);
  std::map<std::string, int> kinds;
  std::string policy_sha, deny_reason;
  std::set<std::string> stored, referenced;
  int task_exit3 = -1;
  for (const auto& b : recs) {
    json j = json::parse(b);
    kinds[j["kind"]]++;
    if (j["kind"] == "policy") stored.insert(j["data"]["sha256"].get<std::string>());
    if (j["kind"] == "decision") {
      referenced.insert(j["data"]["policy_sha256"].get<std::string>());
      if (j["data"]["policy"] == "default") policy_sha = j["data"]["policy_sha256"];
    }
    if (j["kind"] == "decision" && j["data"]["decision"] == "deny") deny_reason = j["data"]["reason"];
    if (j["kind"] == "task" && j["data"]["task_id"] == exit3_id_) {
      task_exit3 = j["data"]["exit_code"];
      EXPECT_EQ(j["data"]["policy_sha256"], policy_sha);
      EXPECT_EQ(j["data"]["evidence"]["task_id"], exit3_id_);
    }
  }
  EXPECT_EQ(kinds["log"], 1);
  // Each policy a decision named (default, and analyst for the refusal) is stored once, before it.
  EXPECT_EQ(kinds["policy"], 2);
  EXPECT_EQ(stored, referenced);
  EXPECT_EQ(kinds["decision"], 3);
  EXPECT_EQ(kinds["task"], 2);
  EXPECT_EQ(task_exit3, 3);
  EXPECT_NE(deny_reason.find("may not use policy 'analyst'"), std::string::npos) << deny_reason;
}

TEST_F(EvidenceLogTest, AnEditedRecordIsNamed) {
  const std::string log = Copy("edited");
  auto recs = ReadRecords(log);
  const size_t k = FindKind(recs, "task");
  ASSERT_LT(k + 1, recs.size());
  recs[k].replace(recs[k].find("\"exit_code\":0"), 13, "\"exit_code\":1");
  WriteRecords(log, recs);
  ExpectTampered(log, "record " + std::to_string(k) + ": its bytes hash to");
}

TEST_F(EvidenceLogTest, AnEditedLastRecordBreaksTheCheckpointRoot) {
  const std::string log = Copy("edited-last");
  auto recs = ReadRecords(log);
  std::string& last = recs.back();
  ASSERT_NE(last.find("\"reason\":\""), std::string::npos) << last;  // the deny decision, last
  last.replace(last.find("\"reason\":\"") + 10, 9, "EDITED!!!");
  WriteRecords(log, recs);
  ExpectTampered(log, "checkpoint #");
  EXPECT_NE(Verify({"--log", log}).out.find("do not hash to its root"), std::string::npos);
}

TEST_F(EvidenceLogTest, ADeletedRecordIsAMissingRange) {
  const std::string log = Copy("deleted");
  auto recs = ReadRecords(log);
  recs.erase(recs.begin() + 3);
  WriteRecords(log, recs);
  ExpectTampered(log, "records 3..3 are missing: position 3 holds seq 4 (records deleted)");
}

TEST_F(EvidenceLogTest, ReorderedRecordsAreNamed) {
  const std::string log = Copy("reordered");
  auto recs = ReadRecords(log);
  std::swap(recs[3], recs[4]);
  WriteRecords(log, recs);
  ExpectTampered(log, "record 3: out of order: position 3 holds seq 4 and seq 3 is at position 4");
}

TEST_F(EvidenceLogTest, AForgedInsertedRecordIsNamed) {
  // The forger writes a well-formed record with the right seq and prev at position 3; the record
  // that was at 3 now sits at 4 with seq 3.
  const std::string log = Copy("inserted");
  auto recs = ReadRecords(log);
  json forged = {{"seq", 3}, {"prev", HashHex(evlog::LeafHash(recs[2]))}, {"time_unix_ms", 1}, {"kind", "decision"},
                 {"data", {{"decision", "allow"}}}};
  recs.insert(recs.begin() + 3, forged.dump());
  WriteRecords(log, recs);
  ExpectTampered(log, "record 4: position 4 holds seq 3, which an earlier record has");
}

TEST_F(EvidenceLogTest, RecordsTruncatedAwayAreAMissingRange) {
  const std::string log = Copy("truncated");
  auto recs = ReadRecords(log);
  const size_t n = recs.size();
  recs.resize(n - 2);
  WriteRecords(log, recs);
  ExpectTampered(log, "records " + std::to_string(n - 2) + ".." + std::to_string(n - 1) + " are missing");
  EXPECT_NE(Verify({"--log", log}).out.find("(records truncated away)"), std::string::npos);
}

TEST_F(EvidenceLogTest, CheckpointsSignedByAnotherKeyAreRefused) {
  const std::string log = Copy("other-key");
  auto other = evlog::SigningKey::Generate();
  ASSERT_TRUE(other.has_value());
  auto text = evlog::ReadWholeFile(log + "/checkpoints");
  ASSERT_TRUE(text.has_value());
  size_t whole = 0;
  std::string resigned;
  for (auto block : evlog::SplitCheckpointBlocks(*text, &whole)) {
    auto cp = evlog::ParseSignedCheckpoint(block);
    ASSERT_TRUE(cp.has_value());
    resigned += evlog::Sign(cp->cp, *other)->Text() + "\n";
  }
  std::ofstream(log + "/checkpoints", std::ios::trunc) << resigned;
  ExpectTampered(log, "checkpoint #0 (size ");
  EXPECT_NE(Verify({"--log", log}).out.find("signed by another key"), std::string::npos);
  // Whoever rewrites the checkpoints can also replace the public key beside the log: record 0
  // still names the log's first key, and the auditor's pinned key tells too.
  std::ofstream(log + "/signing.pub", std::ios::trunc) << other->Public().Pem();
  ExpectTampered(log, "the key given (" + other->Public().KeyId());
  EXPECT_NE(Verify({"--log", log}).out.find("is not one of this log's signing keys"), std::string::npos);
  ExpectTampered(log, "checkpoint #0 (size ", {"--key", work_ + "/pristine/signing.pub"});
}

TEST_F(EvidenceLogTest, ALogRolledBackToAnEarlierStateIsCaughtByThePinnedCheckpoint) {
  const std::string pin = work_ + "/pinned.checkpoint";
  auto cp = RunProgram({BuildPath("bin/cordon"), "evidence", "checkpoint", "--log", work_ + "/pristine", "-o", pin});
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  EXPECT_EQ(Verify({"--log", work_ + "/pristine", "--since", pin}).exit_code, 0);
  // The early copy is a valid, sealed log on its own: only the pinned checkpoint shows the loss.
  EXPECT_EQ(Verify({"--log", work_ + "/early"}).exit_code, 0);
  ExpectTampered(work_ + "/early", "rolled back: the pinned checkpoint", {"--since", pin});
}

TEST_F(EvidenceLogTest, AConsistencyProofShowsTheLogOnlyGrewWithoutTheLog) {
  const std::string old_cp = work_ + "/old.checkpoint", proof = work_ + "/proof.json", pub = work_ + "/pristine/signing.pub";
  ASSERT_EQ(RunProgram({BuildPath("bin/cordon"), "evidence", "checkpoint", "--log", work_ + "/early", "-o", old_cp}).exit_code, 0);
  auto p = RunProgram({BuildPath("bin/cordon"), "evidence", "prove", "--log", work_ + "/pristine", "--since", old_cp, "-o", proof});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  auto ok = Verify({"--consistency", proof, "--key", pub});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("OK: the log cordon-evidence-log"), std::string::npos) << ok.out;
  // A history rewritten in between: the proof does not connect the two signed roots.
  json j = json::parse(*evlog::ReadWholeFile(proof));
  ASSERT_FALSE(j["proof"].empty());
  std::string h = *evlog::Base64Decode(j["proof"][0].get<std::string>());
  h[0] ^= 1;
  j["proof"][0] = evlog::Base64Encode(h);
  std::ofstream(work_ + "/bad-proof.json") << j.dump();
  auto bad = Verify({"--consistency", work_ + "/bad-proof.json", "--key", pub});
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("does not extend"), std::string::npos) << bad.out;
  // The newer log cannot prove it extends a checkpoint it is shorter than.
  auto pin = work_ + "/new.checkpoint";
  ASSERT_EQ(RunProgram({BuildPath("bin/cordon"), "evidence", "checkpoint", "--log", work_ + "/pristine", "-o", pin}).exit_code, 0);
  auto back = RunProgram({BuildPath("bin/cordon"), "evidence", "prove", "--log", work_ + "/early", "--since", pin, "-o", proof});
  EXPECT_EQ(back.exit_code, 125);
  EXPECT_NE(back.err.find("no proof that the log grew from it"), std::string::npos) << back.err;
}

TEST_F(EvidenceLogTest, AnUnsealedTailExitsTwoWithItsSize) {
  const std::string log = Copy("unsealed");
  auto recs = ReadRecords(log);
  json extra = {{"seq", recs.size()}, {"prev", HashHex(evlog::LeafHash(recs.back()))},
                {"time_unix_ms", evlog::NowUnixMs()}, {"kind", "decision"}, {"data", json::object()}};
  recs.push_back(extra.dump());
  WriteRecords(log, recs);
  auto r = Verify({"--log", log});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("UNSEALED: valid, but 1 records after the last checkpoint"), std::string::npos) << r.out;
}

TEST_F(EvidenceLogTest, BadInputGetsAClearError) {
  auto none = Verify({"--log", work_ + "/nothing-here"});
  EXPECT_EQ(none.exit_code, 125);
  EXPECT_NE(none.err.find("no evidence log in"), std::string::npos) << none.err;
  auto flag = Verify({"--frobnicate"});
  EXPECT_EQ(flag.exit_code, 125);
  EXPECT_NE(flag.err.find("unknown option --frobnicate"), std::string::npos) << flag.err;
  auto bundle = Verify({"--bundle", work_ + "/x.json"});
  EXPECT_EQ(bundle.exit_code, 125);
  EXPECT_NE(bundle.err.find("--bundle needs --key PUB"), std::string::npos) << bundle.err;
}

TEST_F(EvidenceLogTest, AnExportedBundleVerifiesOfflineAndItsCheckpointWithOpenssl) {
  const std::string log = work_ + "/pristine", bundle = work_ + "/bundle.json", pub = log + "/signing.pub";
  auto ex = RunProgram({BuildPath("bin/cordon"), "evidence", "export", "--log", log, exit3_id_, "-o", bundle});
  ASSERT_EQ(ex.exit_code, 0) << ex.err;
  auto ok = Verify({"--bundle", bundle, "--key", pub});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("OK: the bundle is valid"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find(exit3_id_), std::string::npos) << ok.out;  // the record itself is printed
  // The checkpoint's signature, checked by openssl alone (the commands docs/evidence.md gives).
  const std::string sh = "cd " + work_ +
                         " && jq -j .checkpoint_body bundle.json > cp.txt"
                         " && jq -r .checkpoint_signature bundle.json | base64 -d > cp.sig"
                         " && openssl pkeyutl -verify -pubin -inkey " + pub + " -rawin -in cp.txt -sigfile cp.sig";
  auto ossl = RunProgram({"/bin/sh", "-c", sh});
  EXPECT_EQ(ossl.exit_code, 0) << ossl.out << ossl.err;
  EXPECT_NE(ossl.out.find("Signature Verified Successfully"), std::string::npos) << ossl.out << ossl.err;
  std::ofstream(work_ + "/cp.txt", std::ios::app) << "x";
  auto bad = RunProgram({"/bin/sh", "-c", "cd " + work_ + " && openssl pkeyutl -verify -pubin -inkey " + pub +
                                              " -rawin -in cp.txt -sigfile cp.sig"});
  EXPECT_NE(bad.exit_code, 0) << bad.out;
  // A bundle whose record was changed, or checked against another key, is refused.
  json b = json::parse(*evlog::ReadWholeFile(bundle));
  std::string rec = *evlog::Base64Decode(b["record_b64"].get<std::string>());
  rec.replace(rec.find("\"exit_code\":3"), 13, "\"exit_code\":0");
  b["record_b64"] = evlog::Base64Encode(rec);
  std::ofstream(work_ + "/edited.json") << b.dump();
  auto edited = Verify({"--bundle", work_ + "/edited.json", "--key", pub});
  EXPECT_EQ(edited.exit_code, 1) << edited.out << edited.err;
  EXPECT_NE(edited.out.find("is not in the signed tree"), std::string::npos) << edited.out;
  auto other = evlog::SigningKey::Generate();
  std::ofstream(work_ + "/other.pub") << other->Public().Pem();
  auto wrong_key = Verify({"--bundle", bundle, "--key", work_ + "/other.pub"});
  EXPECT_EQ(wrong_key.exit_code, 1) << wrong_key.out;
  EXPECT_NE(wrong_key.out.find("is not signed by key"), std::string::npos) << wrong_key.out;
}

// cordond killed (SIGKILL) while tasks are being submitted: the log verifies as it was left (0 or
// 2, never 1), and after a restart every task whose end a client saw is in it.
TEST(EvidenceLogKill, KillMinus9WhileAppendingLosesNothingAcknowledged) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> acked;
  std::thread submitter([&] {
    while (!stop) {
      auto s = d.Cli({"submit", "--detach", "--", "/bin/true"});
      if (s.exit_code != 0) continue;
      const std::string id = Trim(s.out);
      if (d.Cli({"wait", id}).exit_code == 0) {
        std::lock_guard<std::mutex> g(mu);
        acked.push_back(id);
      }
    }
  });
  for (int i = 0; i < 600; ++i) {
    {
      std::lock_guard<std::mutex> g(mu);
      if (acked.size() >= 6) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));
  stop = true;
  submitter.join();
  std::vector<std::string> seen;
  {
    std::lock_guard<std::mutex> g(mu);
    seen = acked;
  }
  ASSERT_GE(seen.size(), 6u);
  const std::string log = d.dir() + "/state/evidence-log";
  auto left = Verify({"--log", log});
  EXPECT_TRUE(left.exit_code == 0 || left.exit_code == 2) << left.out << left.err;
  d.Start();
  auto after = Verify({"--log", log});
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err << d.Log();  // the restart sealed what was left
  std::set<std::string> tasks;
  for (const auto& b : ReadRecords(log)) {
    json j = json::parse(b);
    if (j["kind"] == "task") tasks.insert(j["data"]["task_id"].get<std::string>());
  }
  for (const auto& id : seen) EXPECT_TRUE(tasks.contains(id)) << "acknowledged task " << id << " is not in the log";
}

}  // namespace
}  // namespace cordon::test

namespace cordon::test {
namespace {

// One-shot `cordon run --evidence-log DIR`: each run's record, redacted, in a log of the same
// format with its own key, sealed at once.
TEST(EvidenceLogRun, CordonRunAppendsItsRedactedRecordAndSealsIt) {
  REQUIRE_SANDBOX();
  char tmpl[] = "/tmp/cordon-runlog-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string log = dir + "/log", token = "ghp_Zq8Xw2Lk5Mn7Bv4Cx1Az9Sd3Fg6Hj0Kl2QwEr";
  auto a = CordonRun({"/bin/echo", token}, {"--evidence-log", log});
  EXPECT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, token + "\n");  // redaction is of what is stored, not of the task's output
  auto b = CordonRun({"/bin/sh", "-c", "exit 4"}, {"--evidence-log", log});
  EXPECT_EQ(b.exit_code, 4) << b.err;
  auto v = Verify({"--log", log});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("OK: valid and sealed to the end (3 records)"), std::string::npos) << v.out;
  const std::string records = *evlog::ReadWholeFile(log + "/records");
  EXPECT_EQ(records.find(token), std::string::npos) << records;
  EXPECT_NE(records.find("[REDACTED:github_token:"), std::string::npos);
  auto bad = CordonRun({"/bin/true"}, {"--evidence-log", "/proc/self/no/such/dir"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("--evidence-log /proc/self/no/such/dir"), std::string::npos) << bad.err;
  RunProgram({"/bin/rm", "-rf", dir});
}

}  // namespace
}  // namespace cordon::test
