// The evidence log over its life (docs/evidence.md "Key rotation", "Retention", "cordond"):
// a real cordond rotates its signing key on SIGHUP after `cordon evidence rotate-key`, prunes the
// log under daemon.json's "evidence_log" retention, and records the tasks its crash recovery
// ends; the real `cordon evidence verify` follows the key chain, proves what remains after a
// prune, and names each forgery: a rotation not signed by the previous key, a checkpoint signed
// by a retired key, records deleted beyond what retention pruned. Rootful and rootless.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <nlohmann/json.hpp>

#include "supervisor/evidence/checkpoint.h"
#include "supervisor/evidence/encoding.h"
#include "supervisor/evidence/keys.h"
#include "supervisor/evidence/log.h"
#include "supervisor/evidence/merkle.h"
#include "supervisor/evidence/pruned.h"
#include "supervisor/evidence/rotation.h"
#include "tests/support/daemon_process.h"
#include "tests/support/evidence_log_files.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

using nlohmann::json;

RunResult Evidence(const std::vector<std::string>& args) { return CordonCommand("evidence", args); }

std::string Copy(const std::string& from, const std::string& to) {
  EXPECT_EQ(RunProgram({"/bin/cp", "-a", from, to}).exit_code, 0);
  return to;
}

std::string Submit(DaemonProcess& d, const std::vector<std::string>& cmd) {
  std::vector<std::string> args = {"submit", "--detach", "--"};
  args.insert(args.end(), cmd.begin(), cmd.end());
  auto s = d.Cli(args);
  EXPECT_EQ(s.exit_code, 0) << s.err;
  return Trim(s.out);
}

// Appends `rec` (kind, data) to a copied log with the right seq and prev, and seals the log with
// a checkpoint signed by `key`: what a forger with `key` but not the log's key can write.
void ForgeAppend(const std::string& log, const std::string& kind, const json& data, const evlog::SigningKey& key) {
  auto recs = ReadRecords(log);
  ASSERT_FALSE(recs.empty());
  json rec = {{"seq", recs.size()}, {"prev", HashHex(evlog::LeafHash(recs.back()))}, {"time_unix_ms", evlog::NowUnixMs()},
              {"kind", kind}, {"data", data}};
  recs.push_back(rec.dump());
  WriteRecords(log, recs);
  evlog::Frontier f;
  for (const auto& r : recs) f.Append(evlog::LeafHash(r));
  const std::string origin = json::parse(recs[0])["data"]["origin"];
  auto cp = evlog::Sign({origin, f.size(), f.Root(), evlog::NowUnixMs()}, key);
  ASSERT_TRUE(cp.has_value());
  std::ofstream(log + "/checkpoints", std::ios::app) << cp->Text() << "\n";
}

// `cordon evidence rotate-key` while cordond runs stages the key, cordond rotates on SIGHUP, and
// with cordond stopped the command rotates at once. Verify follows the chain from the first key
// (pinned) to the last, and refuses a rotation the previous key did not sign and a checkpoint a
// retired key signed after the rotation.
// cordond serves its signing key (the EvidenceKey call): `cordon evidence key -o FILE` gives an
// auditor the key to pin, the same key id cordond printed at start, and verify accepts the log
// with it.
TEST(EvidenceLogKeys, CordondServesItsKeyForAnAuditorToPin) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  ASSERT_EQ(d.Cli({"wait", Submit(d, {"/bin/true"})}).exit_code, 0);
  const std::string pinned = d.dir() + "/pinned.pub";
  auto k = RunProgram({BuildPath("bin/cordon"), "evidence", "key", "--socket", d.socket(), "-o", pinned});
  ASSERT_EQ(k.exit_code, 0) << k.out << k.err;
  auto served = evlog::PublicKey::LoadFile(pinned);
  ASSERT_TRUE(served.has_value());
  EXPECT_NE(k.out.find("key id: " + served->KeyId()), std::string::npos) << k.out;
  EXPECT_NE(k.out.find("origin: cordon-evidence-log "), std::string::npos) << k.out;
  EXPECT_NE(d.Log().find("signing key id " + served->KeyId()), std::string::npos) << d.Log();
  ASSERT_TRUE(WIFEXITED(d.Signal(SIGTERM))) << d.Log();
  auto v = Evidence({"verify", "--log", d.dir() + "/state", "--key", pinned});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // Without a log (cordond --evidence-log off) the call says so, and the key command fails clearly.
  DaemonProcess off(PrincipalsFor(::geteuid()), {"--evidence-log", "off"});
  ASSERT_EQ(off.Cli({"submit", "--", "/bin/true"}).exit_code, 0);
  auto none = RunProgram({BuildPath("bin/cordon"), "evidence", "key", "--socket", off.socket()});
  EXPECT_EQ(none.exit_code, 125);
  EXPECT_NE(none.err.find("runs without an evidence log (--evidence-log off)"), std::string::npos) << none.err;
  EXPECT_NE(off.Log().find("the evidence log is OFF"), std::string::npos) << off.Log();
  struct stat st{};
  EXPECT_NE(::stat((off.dir() + "/state/evidence-log/records").c_str(), &st), 0) << "no log is written";
}

// The sealer tells cordond's loop when a checkpoint is written (an eventfd; docs/evidence.md
// "Cost"), so the loop takes it back without waiting for another record: after one task and
// nothing else, `cordon evidence key` reports every record sealed (the seal is due 1 s after the
// first unsealed record). Were the loop never told, it would report the records before the task.
TEST(EvidenceLogKeys, CordondTakesEachCheckpointBackWithoutAnotherRecord) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  ASSERT_EQ(d.Cli({"wait", Submit(d, {"/bin/true"})}).exit_code, 0);
  std::string last;
  for (int i = 0; i < 200; ++i) {  // 20 s: only against a hang
    auto k = RunProgram({BuildPath("bin/cordon"), "evidence", "key", "--socket", d.socket()});
    ASSERT_EQ(k.exit_code, 0) << k.out << k.err;
    last = k.out;
    unsigned long long records = 0, sealed = 0;
    const size_t at = k.out.find("records: ");
    ASSERT_NE(at, std::string::npos) << k.out;
    ASSERT_EQ(std::sscanf(k.out.c_str() + at, "records: %llu (sealed: %llu)", &records, &sealed), 2) << k.out;
    ASSERT_GE(records, 4u) << k.out;  // the header, the policy, the decision, the task
    if (sealed == records) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "cordond never reported its records sealed: " << last << d.Log();
}

TEST(EvidenceLogKeys, RotationIsSignedByThePreviousKeyAndVerifyFollowsTheChain) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  const std::string state = d.dir() + "/state", log = state + "/evidence-log", work = d.dir() + "/work";
  ASSERT_EQ(::mkdir(work.c_str(), 0755), 0);
  ASSERT_EQ(d.Cli({"wait", Submit(d, {"/bin/true"})}).exit_code, 0);
  Copy(log + "/signing.pub", work + "/first.pub");
  Copy(log + "/signing.key", work + "/first.key");  // to play the thief of the retired key below
  auto first = evlog::PublicKey::LoadFile(work + "/first.pub");
  ASSERT_TRUE(first.has_value());

  auto staged = Evidence({"rotate-key", "--log", state});
  ASSERT_EQ(staged.exit_code, 0) << staged.out << staged.err;
  EXPECT_NE(staged.out.find("staged the new signing key"), std::string::npos) << staged.out;
  const std::string reload = d.Reload();
  EXPECT_NE(reload.find("rotated the evidence log signing key from " + first->KeyId() + " to "), std::string::npos)
      << reload << d.Log();
  ASSERT_EQ(d.Cli({"wait", Submit(d, {"/bin/sh", "-c", "exit 2"})}).exit_code, 2);
  ASSERT_TRUE(WIFEXITED(d.Signal(SIGTERM))) << d.Log();
  auto second = evlog::PublicKey::LoadFile(log + "/signing.pub");
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(second->KeyId(), first->KeyId());

  // cordond stopped: the rotation happens at once.
  auto now = Evidence({"rotate-key", "--log", state});
  ASSERT_EQ(now.exit_code, 0) << now.out << now.err;
  EXPECT_NE(now.out.find("rotated the evidence log signing key from " + second->KeyId()), std::string::npos) << now.out;
  auto third = evlog::PublicKey::LoadFile(log + "/signing.pub");
  ASSERT_TRUE(third.has_value());

  for (const std::string& pin : {work + "/first.pub", log + "/signing.pub"}) {
    auto v = Evidence({"verify", "--log", log, "--key", pin});
    EXPECT_EQ(v.exit_code, 0) << pin << "\n" << v.out << v.err;
    EXPECT_NE(v.out.find("signing keys: " + first->KeyId() + " (from record 0), rotated at record "), std::string::npos) << v.out;
    EXPECT_NE(v.out.find(" to " + third->KeyId()), std::string::npos) << v.out;
  }
  // cordond starts again on the rotated log with the third key.
  d.Start();
  ASSERT_EQ(d.Cli({"wait", Submit(d, {"/bin/true"})}).exit_code, 0);
  ASSERT_TRUE(WIFEXITED(d.Signal(SIGTERM))) << d.Log();
  EXPECT_EQ(Evidence({"verify", "--log", log, "--key", work + "/first.pub"}).exit_code, 0);
  Copy(log, work + "/pristine");

  // A rotation to a forger's key, "signed" by the forger (who lacks the key in force), sealed by
  // the forger, with the forger's public key put beside the log.
  auto forger = evlog::SigningKey::Generate();
  ASSERT_TRUE(forger.has_value());
  {
    const std::string copy = Copy(work + "/pristine", work + "/forged-rotation");
    const std::string origin = json::parse(ReadRecords(copy)[0])["data"]["origin"];
    json data = {{"old_key_id", third->KeyId()}, {"old_public_key", evlog::Base64Encode(third->raw())},
                 {"new_key_id", forger->Public().KeyId()}, {"new_public_key", evlog::Base64Encode(forger->Public().raw())},
                 {"signature", evlog::Base64Encode(*forger->Sign(evlog::RotationStatement(origin, third->KeyId(),
                                                                                           forger->Public().KeyId())))}};
    ForgeAppend(copy, "key_rotation", data, *forger);
    std::ofstream(copy + "/signing.pub", std::ios::trunc) << forger->Public().Pem();
    for (const std::vector<std::string>& extra : {std::vector<std::string>{}, {"--key", work + "/first.pub"}}) {
      std::vector<std::string> args = {"verify", "--log", copy};
      args.insert(args.end(), extra.begin(), extra.end());
      auto v = Evidence(args);
      EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
      EXPECT_NE(v.out.find("key rotation refused: its signature does not verify with the previous key"), std::string::npos)
          << v.out;
    }
  }
  // The retired first key, stolen after the rotation, cannot extend the log.
  {
    const std::string copy = Copy(work + "/pristine", work + "/retired-key");
    auto stolen = evlog::SigningKey::Load(work + "/first.key");
    ASSERT_TRUE(stolen.has_value());
    ForgeAppend(copy, "decision", {{"decision", "allow"}}, *stolen);
    auto v = Evidence({"verify", "--log", copy, "--key", work + "/first.pub"});
    EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
    EXPECT_NE(v.out.find("its signature does not verify with key " + third->KeyId() + " (it names key " +
                         first->KeyId() + ": signed by another key)"),
              std::string::npos)
        << v.out;
  }
  // A key that is not in the chain at all.
  std::ofstream(work + "/forger.pub") << forger->Public().Pem();
  auto other = Evidence({"verify", "--log", work + "/pristine", "--key", work + "/forger.pub"});
  EXPECT_EQ(other.exit_code, 1) << other.out;
  EXPECT_NE(other.out.find("is not one of this log's signing keys"), std::string::npos) << other.out;
}

// daemon.json's "evidence_log": {"retain_records": N}: cordond prunes at its sweep, records a
// sealed "prune" record, and what remains verifies (and exports). Deleting more than retention
// pruned, a missing marker, or a changed leaf hash in it is tampering.
TEST(EvidenceLogRetention, CordondPrunesAndWhatRemainsVerifies) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()), {"--sweep-interval", "1"});
  const std::string state = d.dir() + "/state", log = state + "/evidence-log", work = d.dir() + "/work";
  ASSERT_EQ(::mkdir(work.c_str(), 0755), 0);
  std::ofstream(d.conf() + "/daemon.json") << R"({"version": 1, "evidence_log": {"retain_records": 5}})";
  const std::string reload = d.Reload();
  ASSERT_EQ(reload.find("reload failed"), std::string::npos) << reload;
  std::string last_id;
  for (int i = 0; i < 5; ++i) {
    last_id = Submit(d, {"/bin/sh", "-c", "exit " + std::to_string(i)});
    ASSERT_EQ(d.Cli({"wait", last_id}).exit_code, i);
  }
  ASSERT_TRUE(d.WaitForLog("evidence log retention: pruned ")) << d.Log();
  // Sweeps prune as the tasks come; wait (10 s at most) for a cut past the first decision.
  for (int i = 0; i < 1000; ++i) {
    auto m = evlog::ReadPrunedPrefix(log + "/pruned");
    if (m && *m && (*m)->first_kept >= 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(WIFEXITED(d.Signal(SIGTERM))) << d.Log();
  Copy(log, work + "/pristine");

  auto v = Evidence({"verify", "--log", log});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("pruned: records 0.."), std::string::npos) << v.out;
  auto marker = evlog::ReadPrunedPrefix(log + "/pruned");
  ASSERT_TRUE(marker.has_value() && marker->has_value());
  const uint64_t cut = (*marker)->first_kept;
  ASSERT_GT(cut, 0u);
  EXPECT_TRUE((*marker)->records.contains(0));  // the header, kept for the origin and first key
  uint64_t dropped = 1;  // a pruned record of which only the leaf hash is kept
  while (dropped < cut && (*marker)->records.contains(dropped)) ++dropped;
  ASSERT_LT(dropped, cut);
  auto recs = ReadRecords(log);
  ASSERT_GE(recs.size(), 2u);
  EXPECT_EQ(json::parse(recs[0])["seq"], cut);
  size_t prunes = 0;
  for (const auto& r : recs) prunes += json::parse(r)["kind"] == "prune";
  EXPECT_GE(prunes, 1u);
  // A record that remains still exports with its proof; a pruned one says so.
  const std::string bundle = work + "/bundle.json";
  auto ex = Evidence({"export", "--log", log, last_id, "-o", bundle});
  ASSERT_EQ(ex.exit_code, 0) << ex.out << ex.err;
  EXPECT_EQ(Evidence({"verify", "--bundle", bundle, "--key", log + "/signing.pub"}).exit_code, 0);
  auto gone = Evidence({"export", "--log", log, "seq:" + std::to_string(dropped), "-o", bundle});
  EXPECT_EQ(gone.exit_code, 125);
  EXPECT_NE(gone.err.find("record " + std::to_string(dropped) + " was pruned by retention"), std::string::npos) << gone.err;

  auto expect_tampered = [](const std::string& copy, const std::string& what) {
    auto t = Evidence({"verify", "--log", copy});
    EXPECT_EQ(t.exit_code, 1) << t.out << t.err;
    EXPECT_NE(t.out.find("TAMPERED: " + what), std::string::npos) << t.out;
  };
  {  // the first remaining record deleted
    const std::string copy = Copy(work + "/pristine", work + "/deleted");
    auto r = ReadRecords(copy);
    r.erase(r.begin());
    WriteRecords(copy, r);
    expect_tampered(copy, "records " + std::to_string(cut) + ".." + std::to_string(cut) + " are missing");
  }
  {  // two more records removed and the marker moved over them, with their true leaf hashes
    const std::string copy = Copy(work + "/pristine", work + "/overpruned");
    auto r = ReadRecords(copy);
    evlog::PrunedPrefix m = **marker;
    for (int i = 0; i < 2; ++i) m.leaves.push_back(evlog::LeafHash(r[i]));
    m.first_kept += 2;
    r.erase(r.begin(), r.begin() + 2);
    WriteRecords(copy, r);
    std::ofstream(copy + "/pruned", std::ios::trunc) << m.Text();
    expect_tampered(copy, "records 0.." + std::to_string(cut + 1) + " are gone");
    EXPECT_NE(Evidence({"verify", "--log", copy}).out.find("records deleted beyond what retention pruned"),
              std::string::npos);
  }
  {  // the marker removed
    const std::string copy = Copy(work + "/pristine", work + "/no-marker");
    ASSERT_EQ(::unlink((copy + "/pruned").c_str()), 0);
    expect_tampered(copy, "records 0.." + std::to_string(cut - 1) + " are missing");
  }
  {  // one pruned leaf hash changed
    const std::string copy = Copy(work + "/pristine", work + "/leaf");
    evlog::PrunedPrefix m = **marker;
    m.leaves[dropped][0] ^= 1;
    std::ofstream(copy + "/pruned", std::ios::trunc) << m.Text();
    expect_tampered(copy, "checkpoint #");
  }
  {  // a kept copy of a pruned record (the header) changed
    const std::string copy = Copy(work + "/pristine", work + "/copy");
    evlog::PrunedPrefix m = **marker;
    m.records[0].replace(m.records[0].find("cordon-evidence-log "), 6, "CORDON");
    std::ofstream(copy + "/pruned", std::ios::trunc) << m.Text();
    expect_tampered(copy, copy + "/pruned: its copy of pruned record 0 does not hash to that record's leaf");
  }
  // cordond starts again on the pruned log and goes on appending to it.
  d.Start();
  ASSERT_EQ(d.Cli({"wait", Submit(d, {"/bin/true"})}).exit_code, 0);
  ASSERT_TRUE(WIFEXITED(d.Signal(SIGTERM))) << d.Log();
  auto again = Evidence({"verify", "--log", log});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err << d.Log();
}

// `cordon evidence prune` on a log no writer holds, and its refusals.
TEST(EvidenceLogRetention, PruneCommandKeepsTheNewestRecords) {
  REQUIRE_SANDBOX();
  char tmpl[] = "/tmp/cordon-prune-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl), log = dir + "/log";
  for (int i = 0; i < 4; ++i) ASSERT_EQ(CordonRun({"/bin/true"}, {"--evidence-log", log}).exit_code, 0);
  auto p = Evidence({"prune", "--log", log, "--keep-records", "2"});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_NE(p.out.find("pruned records 0..2 (3)"), std::string::npos) << p.out;
  auto v = Evidence({"verify", "--log", log});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("pruned: records 0..2 were removed by retention"), std::string::npos) << v.out;
  ASSERT_EQ(CordonRun({"/bin/true"}, {"--evidence-log", log}).exit_code, 0);
  EXPECT_EQ(Evidence({"verify", "--log", log}).exit_code, 0);
  auto none = Evidence({"prune", "--log", log});
  EXPECT_EQ(none.exit_code, 125);
  EXPECT_NE(none.err.find("prune needs one of --keep-records N or --keep-days D"), std::string::npos) << none.err;
  auto bad = Evidence({"prune", "--log", log, "--keep-days", "-3"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("--keep-days -3: not a non-negative integer"), std::string::npos) << bad.err;
  RunProgram({"/bin/rm", "-rf", dir});
}

// A task cordond's crash recovery ends (supervisor_restart) is in the log, sealed.
TEST(EvidenceLogRecovery, ATaskEndedByCrashRecoveryIsInTheLog) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  const std::string id = Submit(d, {"sleep", "30"});
  ASSERT_NE(JsonField(d.Cli({"status", "--json", id}).out, "shim_pid"), "");
  ASSERT_TRUE(WIFSIGNALED(d.Signal(SIGKILL)));
  d.Start();
  ASSERT_TRUE(d.WaitForLog("recovered task " + id)) << d.Log();
  ASSERT_TRUE(WIFEXITED(d.Signal(SIGTERM))) << d.Log();
  const std::string log = d.dir() + "/state/evidence-log";
  auto v = Evidence({"verify", "--log", log});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  int found = 0;
  for (const auto& b : ReadRecords(log)) {
    json j = json::parse(b);
    if (j["kind"] != "task" || j["data"]["task_id"] != id) continue;
    ++found;
    EXPECT_EQ(j["data"]["failure_class"], "supervisor_restart") << b;
    EXPECT_EQ(j["data"]["evidence"]["recovery"]["killed"], true) << b;
  }
  EXPECT_EQ(found, 1);
}

// daemon.json's "evidence_log": {"signing_key": PATH} (docs/evidence.md "Keys"): cordond creates
// the key there, 0600, at first start (none in the log directory), signs with it, rotates it in
// place on SIGHUP, and refuses to start, naming the file and the fix, on a key others may read, a
// directory, a file that is no key, a directory that does not exist, and (not root) a key it
// cannot read.
TEST(EvidenceLogKeys, ASigningKeyPathFromDaemonJsonIsCreatedThereAndRefusedWhenItIsNotFitToSign) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  ASSERT_TRUE(WIFEXITED(d.Signal(SIGTERM))) << d.Log();
  const std::string state = d.dir() + "/state", log = state + "/evidence-log", keys = d.dir() + "/keys";
  const std::string key = keys + "/evidence.key";
  ASSERT_EQ(RunProgram({"/bin/rm", "-rf", state}).exit_code, 0);
  ASSERT_EQ(::mkdir(keys.c_str(), 0700), 0);
  auto settings = [&](const std::string& path) {
    std::ofstream(d.conf() + "/daemon.json", std::ios::trunc)
        << R"({"version": 1, "evidence_log": {"signing_key": ")" << path << R"("}})";
  };
  settings(key);
  d.Start();
  EXPECT_NE(d.Log().find("created the evidence log signing key " + key), std::string::npos) << d.Log();
  struct stat st{};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_NE(::stat((log + "/signing.key").c_str(), &st), 0) << "a key in the log directory too";
  auto first = evlog::SigningKey::Load(key);
  ASSERT_TRUE(first.has_value());
  auto pub = evlog::PublicKey::LoadFile(log + "/signing.pub");
  ASSERT_TRUE(pub.has_value());
  EXPECT_EQ(pub->KeyId(), first->Public().KeyId());
  ASSERT_EQ(d.Cli({"wait", Submit(d, {"/bin/true"})}).exit_code, 0);

  // Rotation writes the new key where the old one was.
  ASSERT_EQ(Evidence({"rotate-key", "--log", state}).exit_code, 0);
  const std::string reload = d.Reload();
  EXPECT_NE(reload.find("rotated the evidence log signing key from " + first->Public().KeyId()), std::string::npos)
      << reload;
  auto second = evlog::SigningKey::Load(key);
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(second->Public().KeyId(), first->Public().KeyId());
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_TRUE(WIFEXITED(d.Signal(SIGTERM))) << d.Log();
  auto v = Evidence({"verify", "--log", state, "--key", log + "/signing.pub"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find(second->Public().KeyId()), std::string::npos) << v.out;

  // Each refusal: cordond exits at start with one line naming the file and what to do.
  auto start = [&](const std::string& state_dir) {
    RunOptions o;
    o.timeout_ms = 15000;  // a cordond that starts after all is stopped, and fails the test
    return RunProgram({BuildPath("bin/cordond"), "--socket", d.socket(), "--state-dir", state_dir, "--config-dir",
                       d.conf()},
                      o);
  };
  auto refused = [&](const std::string& why, const std::string& fix, const std::string& state_dir = {}) {
    auto r = start(state_dir.empty() ? state : state_dir);
    EXPECT_NE(r.exit_code, 0) << why;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(fix), std::string::npos) << r.err;
  };
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  refused("signing key " + key + " has mode 0644", "chmod 600 " + key);
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  if (!IsRoot()) {
    ASSERT_EQ(::chmod(key.c_str(), 0000), 0);
    refused("read the signing key " + key, "chmod 600 " + key);
    ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  }
  settings(keys);
  refused("signing key " + keys + " is a directory", "evidence_log.signing_key in daemon.json");
  settings(keys + "/absent/evidence.key");  // a new log (its own state dir): the key cannot be created
  refused("its directory " + keys + "/absent", "create " + keys + "/absent", d.dir() + "/state2");
  const std::string junk = keys + "/junk.key";
  std::ofstream(junk) << "not a key\n";
  ASSERT_EQ(::chmod(junk.c_str(), 0600), 0);
  settings(junk);
  refused("signing key " + junk + " is not a PEM private key", "restore the key file");
  settings("relative/evidence.key");
  refused("evidence_log.signing_key", "expected the absolute path");
  // A log with records but no key where daemon.json points: not a fresh key over it.
  settings(keys + "/other.key");
  refused("has records but its signing key " + keys + "/other.key does not exist", "restore the key");
  EXPECT_NE(::stat((keys + "/other.key").c_str(), &st), 0);
  settings(key);
  d.Start();  // and the right key again: it starts
  EXPECT_NE(d.Log().find("private key " + key + " from daemon.json"), std::string::npos) << d.Log();
}

}  // namespace
}  // namespace cordon::test
