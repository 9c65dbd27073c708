// Approvals' and auto-suspend's state (supervisor/governance/approval.h, suspend.h) with an
// explicit clock: the classes that need approval, the transitions and who may make them, expiry,
// single use, the violation window, and both tables kept in a real SQLite file across a reopen.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "supervisor/governance/approval.h"
#include "supervisor/governance/suspend.h"

namespace cordon::governance {
namespace {

std::string TempDb(const char* name) {
  std::string dir = (std::filesystem::temp_directory_path() / (std::string(name) + "-XXXXXX")).string();
  EXPECT_NE(::mkdtemp(dir.data()), nullptr);
  return dir + "/governance.db";
}

Approval Request(const std::string& principal, int64_t now, int64_t timeout_ms) {
  Approval a;
  a.principal = principal;
  a.tenant = "ci";
  a.classes = {"deploy"};
  a.fingerprint = "f1";
  a.policy = "shipper";
  a.argv = {"/bin/deploy"};
  a.created_unix_ms = now;
  a.expires_unix_ms = now + timeout_ms;
  return a;
}

TEST(Approval, OnlyTheClassesThePolicyNamesNeedIt) {
  EXPECT_EQ(ApprovalClasses({"deploy", "write"}, {"write", "notification", "write"}),
            (std::vector<std::string>{"write"}));
  EXPECT_TRUE(ApprovalClasses({}, {"deploy"}).empty());
  EXPECT_TRUE(CheckSideEffectName("purchase-v2", "x").has_value());
  auto bad = CheckSideEffectName("Deploy!", "side_effects");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().context.find("side_effects: side-effect class 'Deploy!' is not a name"), std::string::npos);
}

TEST(Approval, TheRequesterCannotDecideADecisionIsFinalAndExpiryIsNobodys) {
  ApprovalTable t;
  const Approval* a = *t.Create(Request("dev", 1000, 500));
  const std::string id = a->id;
  ASSERT_EQ(id.size(), 19u) << id;
  auto self = t.Decide(id, true, "dev", "", 1100);
  ASSERT_FALSE(self.has_value());
  EXPECT_EQ(self.error().err, EPERM);
  auto ok = t.Decide(id, true, "lead", "fine", 1200);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ((*ok)->state, ApprovalState::kApproved);
  EXPECT_EQ((*ok)->decided_by, "lead");
  EXPECT_FALSE(t.Decide(id, false, "boss", "", 1300).has_value()) << "decided once";
  EXPECT_TRUE(t.Expire(5000)->empty()) << "an approved request does not expire";
  ASSERT_TRUE(t.Use(id, 42).has_value());
  EXPECT_EQ(t.Find(id)->state, ApprovalState::kUsed);
  EXPECT_FALSE(t.Use(id, 43).has_value()) << "used once";

  const std::string late = (*t.Create(Request("dev", 2000, 500)))->id;
  EXPECT_EQ(t.NextExpiryUnixMs(), 2500);
  EXPECT_TRUE(t.Expire(2499)->empty());
  EXPECT_FALSE(t.Decide(late, true, "lead", "", 2500).has_value()) << "too late to decide";
  auto gone = t.Expire(2500);
  ASSERT_EQ(*gone, std::vector<std::string>{late});
  EXPECT_EQ(t.Find(late)->state, ApprovalState::kExpired);
  EXPECT_TRUE(t.Find(late)->decided_by.empty());
  EXPECT_EQ(t.NextExpiryUnixMs(), 0);
}

TEST(Approval, SurvivesAReopenOfItsDatabase) {
  const std::string path = TempDb("govc-approval");
  std::string pending, denied;
  {
    auto db = ControlDb::Open(path);
    ASSERT_TRUE(db.has_value()) << db.error().Message();
    ApprovalTable t(db->get());
    ASSERT_TRUE(t.Load().has_value());
    pending = (*t.Create(Request("dev", 10, 1000)))->id;
    denied = (*t.Create(Request("dev", 11, 1000)))->id;
    ASSERT_TRUE(t.Decide(denied, false, "lead", "no", 20).has_value());
  }
  auto db = ControlDb::Open(path);
  ASSERT_TRUE(db.has_value());
  ApprovalTable t(db->get());
  ASSERT_TRUE(t.Load().has_value());
  ASSERT_EQ(t.all().size(), 2u);
  EXPECT_EQ(t.Find(pending)->state, ApprovalState::kPending);
  EXPECT_EQ(t.Find(pending)->argv, std::vector<std::string>{"/bin/deploy"});
  EXPECT_EQ(t.Find(denied)->state, ApprovalState::kDenied);
  EXPECT_EQ(t.Find(denied)->reason, "no");
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST(Suspend, NViolationsWithinTheWindowSuspendAndAResumeStartsAfresh) {
  SuspendBoard b;
  const SuspendParams p{3, 1000, false};
  EXPECT_FALSE(*b.Record("app:x", {0, "seccomp_violation", "t1"}, p));
  EXPECT_FALSE(*b.Record("app:x", {100, "egress_refused", "t2"}, p));
  // The first has left the window by the time of the third.
  EXPECT_FALSE(*b.Record("app:x", {1000, "seccomp_violation", "t3"}, p));
  auto s = b.Record("app:x", {1050, "restricted", "t4"}, p);
  ASSERT_TRUE(s.has_value() && s->has_value());
  EXPECT_EQ((*s)->violations.size(), 3u);
  EXPECT_EQ((*s)->since_unix_ms, 1050);
  EXPECT_NE(SuspendRefusal(**s, p).find("app 'x' is suspended since 1970-01-01T00:00:01Z: 3 policy violations within "
                                        "1 s (last: restricted, t4); a principal with the operator role resumes it "
                                        "with `cordon resume --app x`"),
            std::string::npos)
      << SuspendRefusal(**s, p);
  ASSERT_NE(b.Find("app:x"), nullptr);
  ASSERT_TRUE(b.Resume("app:x")->has_value());
  EXPECT_EQ(b.Find("app:x"), nullptr);
  EXPECT_EQ(b.recent("app:x"), 0u);
  EXPECT_FALSE(b.Resume("app:x")->has_value());
  EXPECT_FALSE(*b.Record("app:y", {0, "seccomp_violation", ""}, SuspendParams{0, 1000, false}))
      << "violations 0: off";
}

// STATE's disk full (here: the database refuses every write): violations still count in memory,
// the suspension still holds, and each failed save is told to the caller.
TEST(Suspend, CountsInMemoryWhenItsDatabaseCannotTakeIt) {
  const std::string path = TempDb("govc-suspend-full");
  const SuspendParams p{2, 60'000, false};
  auto db = ControlDb::Open(path);
  ASSERT_TRUE(db.has_value());
  SuspendBoard b(db->get());
  ASSERT_TRUE(b.Load(0, p.window_ms).has_value());
  ASSERT_TRUE((*db)->Exec("PRAGMA query_only = ON").has_value());
  std::optional<Error> not_saved;
  auto first = b.Record("app:x", {10, "egress_refused", "a"}, p, &not_saved);
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(first->has_value());
  ASSERT_TRUE(not_saved.has_value()) << "the failed save is told";
  EXPECT_EQ(b.recent("app:x"), 1u);
  not_saved.reset();
  auto second = b.Record("app:x", {20, "egress_refused", "b"}, p, &not_saved);
  ASSERT_TRUE(second.has_value() && second->has_value()) << "the second violation suspends it";
  EXPECT_TRUE(not_saved.has_value());
  ASSERT_NE(b.Find("app:x"), nullptr);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST(Suspend, SurvivesAReopenOfItsDatabase) {
  const std::string path = TempDb("govc-suspend");
  const SuspendParams p{2, 60'000, false};
  {
    auto db = ControlDb::Open(path);
    ASSERT_TRUE(db.has_value());
    SuspendBoard b(db->get());
    ASSERT_TRUE(b.Load(0, p.window_ms).has_value());
    ASSERT_FALSE(*b.Record("app:x", {10, "seccomp_violation", "a"}, p));
    ASSERT_TRUE(b.Record("app:x", {20, "seccomp_violation", "b"}, p)->has_value());
    ASSERT_FALSE(*b.Record("app:y", {30, "egress_refused", "c"}, p));
  }
  auto db = ControlDb::Open(path);
  ASSERT_TRUE(db.has_value());
  SuspendBoard b(db->get());
  ASSERT_TRUE(b.Load(40, p.window_ms).has_value());
  ASSERT_NE(b.Find("app:x"), nullptr);
  EXPECT_EQ(b.Find("app:x")->violations.size(), 2u);
  EXPECT_EQ(b.recent("app:y"), 1u) << "a violation within the window is kept across the reopen";
  EXPECT_TRUE(b.Record("app:y", {50, "egress_refused", "d"}, p)->has_value());
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

}  // namespace
}  // namespace cordon::governance
