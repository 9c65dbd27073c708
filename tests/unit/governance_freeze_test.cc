// The kill-switch's state (supervisor/governance/freeze.h): scopes, matching, refusals, and the
// table kept in a real SQLite file across a reopen.
#include "supervisor/governance/freeze.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

namespace cordon::governance {
namespace {

TEST(FreezeScope, ParsesTheFourKindsAndRefusesOthers) {
  for (const char* k : {"class", "tenant", "app", "session"}) {
    auto s = ParseScope(k, "x");
    ASSERT_TRUE(s.has_value()) << k;
    EXPECT_EQ(ScopeKindName(s->kind), k);
  }
  auto bad = ParseScope("team", "x");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().Message().find("unknown scope kind 'team'"), std::string::npos);
  EXPECT_NE(bad.error().hint.find("--class, --tenant, --app or --session"), std::string::npos);
  EXPECT_FALSE(ParseScope("app", "").has_value());
}

TEST(FreezeScope, MatchesOnlyItsKindAndNeverAnEmptySession) {
  const TaskKey k{"batch", "ci", "bot", ""};
  EXPECT_TRUE(Matches(*ParseScope("class", "batch"), k));
  EXPECT_FALSE(Matches(*ParseScope("class", "interactive"), k));
  EXPECT_TRUE(Matches(*ParseScope("tenant", "ci"), k));
  EXPECT_TRUE(Matches(*ParseScope("app", "bot"), k));
  EXPECT_FALSE(Matches(*ParseScope("app", "ci"), k)) << "a tenant's name is not an app's";
  EXPECT_FALSE(Matches(*ParseScope("session", "s1"), k));
  EXPECT_TRUE(Matches(*ParseScope("session", "s1"), TaskKey{"batch", "ci", "bot", "s1"}));
}

TEST(FreezeTable, RefusalNamesWhoAndHowToThaw) {
  FreezeTable t;
  ASSERT_TRUE(*t.Add(Freeze{*ParseScope("tenant", "ci"), "alice", "incident 7", 1700000000000}));
  EXPECT_FALSE(*t.Add(Freeze{*ParseScope("tenant", "ci"), "bob", "", 1}));  // already: alice's stays
  const Freeze* f = t.Match(TaskKey{"batch", "ci", "", ""});
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(FreezeRefusal(*f),
            "tenant 'ci' is frozen by principal 'alice' since unix ms 1700000000000 (incident 7); a principal with the "
            "operator role resumes it with `cordon thaw --tenant ci`");
  EXPECT_EQ(t.Match(TaskKey{"batch", "other", "", ""}), nullptr);
}

TEST(FreezeTable, SurvivesAReopenOfItsDatabase) {
  std::string dir = (std::filesystem::temp_directory_path() / "govb-freeze-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string path = dir + "/governance.db";
  {
    auto db = ControlDb::Open(path);
    ASSERT_TRUE(db.has_value()) << db.error().Message();
    FreezeTable t(db->get());
    ASSERT_TRUE(t.Load().has_value());
    ASSERT_TRUE(*t.Add(Freeze{*ParseScope("class", "batch"), "alice", "r1", 5}));
    ASSERT_TRUE(*t.Add(Freeze{*ParseScope("app", "bot"), "bob", "", 6}));
    auto gone = t.Remove(*ParseScope("app", "bot"));
    ASSERT_TRUE(gone.has_value() && gone->has_value());
    EXPECT_EQ((*gone)->principal, "bob");
    EXPECT_FALSE(t.Remove(*ParseScope("app", "bot"))->has_value());
  }
  auto db = ControlDb::Open(path);
  ASSERT_TRUE(db.has_value());
  FreezeTable t(db->get());
  ASSERT_TRUE(t.Load().has_value());
  ASSERT_EQ(t.all().size(), 1u);
  EXPECT_EQ(t.all()[0].scope, *ParseScope("class", "batch"));
  EXPECT_EQ(t.all()[0].principal, "alice");
  EXPECT_EQ(t.all()[0].reason, "r1");
  EXPECT_EQ(t.all()[0].since_unix_ms, 5);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cordon::governance
