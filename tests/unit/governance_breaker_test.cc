// Circuit breakers (supervisor/governance/breaker.h) driven by an explicit clock: closed -> open on
// the failure rate with a minimum of calls, open refuses with its name and half-open time,
// half-open admits N trials whose outcomes close or re-open it, forced-open and metrics-only.
#include "supervisor/governance/breaker.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace cordon::governance {
namespace {

BreakerParams Small() {
  BreakerParams p;
  p.failure_rate_pct = 50;
  p.minimum_calls = 4;
  p.window_ms = 10'000;
  p.open_ms = 1'000;
  p.half_open_trials = 2;
  return p;
}

TEST(Breaker, OpensOnTheRateOnlyWithTheMinimumOfCalls) {
  Breaker b("app:x", Small());
  int64_t t = 1'000'000;
  EXPECT_FALSE(b.Record(true, false, t++));
  EXPECT_FALSE(b.Record(true, false, t++));
  EXPECT_FALSE(b.Record(true, false, t++)) << "3 failures of 3 calls, but 4 are needed";
  auto tr = b.Record(false, false, t);
  ASSERT_TRUE(tr.has_value());
  EXPECT_EQ(tr->to, BreakerState::kOpen);
  EXPECT_EQ(tr->why, "3 of 4 outcomes failed (>= 50 %) within 10000 ms");
  auto a = b.Admit(t + 10);
  EXPECT_FALSE(a.allowed);
  EXPECT_EQ(a.refusal, "circuit breaker 'app:x' is open since unix ms " + std::to_string(t) +
                           " (too many of its tasks failed); it lets trial tasks through from unix ms " +
                           std::to_string(t + 1000) + "; retry after that");
}

TEST(Breaker, OldOutcomesLeaveTheWindow) {
  Breaker b("app:x", Small());
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(b.Record(true, false, 0));
  // 10 s later those three are out of the window: one more failure is 1 of 1, under the minimum.
  EXPECT_FALSE(b.Record(true, false, 10'000));
  EXPECT_EQ(b.calls(10'000), 1u);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
}

TEST(Breaker, HalfOpenLetsTrialsThroughAndTheyDecide) {
  Breaker b("app:x", Small());
  for (int i = 0; i < 4; ++i) b.Record(true, false, 0);
  ASSERT_EQ(b.state(), BreakerState::kOpen);
  EXPECT_FALSE(b.Admit(999).allowed);
  auto first = b.Admit(1000);
  ASSERT_TRUE(first.allowed);
  EXPECT_TRUE(first.trial);
  ASSERT_TRUE(first.transition.has_value());
  EXPECT_EQ(first.transition->to, BreakerState::kHalfOpen);
  EXPECT_TRUE(b.Admit(1001).trial);
  auto third = b.Admit(1002);
  EXPECT_FALSE(third.allowed) << "only 2 trials";
  EXPECT_NE(third.refusal.find("half-open and its 2 trial tasks are running"), std::string::npos);
  EXPECT_FALSE(b.Record(true, false, 1003)) << "a task admitted before it opened does not count";
  EXPECT_FALSE(b.Record(false, true, 1004));
  auto closed = b.Record(false, true, 1005);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->to, BreakerState::kClosed);
  EXPECT_TRUE(b.Admit(1006).allowed);

  // Failing trials open it again, for another open_ms.
  for (int i = 0; i < 4; ++i) b.Record(true, false, 2000);
  ASSERT_EQ(b.state(), BreakerState::kOpen);
  ASSERT_TRUE(b.Admit(3000).trial);
  ASSERT_TRUE(b.Admit(3000).trial);
  b.Record(true, true, 3001);
  auto reopened = b.Record(false, true, 3002);
  ASSERT_TRUE(reopened.has_value());
  EXPECT_EQ(reopened->to, BreakerState::kOpen) << "1 of 2 trials failed: 50 %";
  EXPECT_FALSE(b.Admit(3500).allowed);
  EXPECT_EQ(b.half_open_unix_ms(), 4002);
}

TEST(Breaker, ForcedOpenAndMetricsOnly) {
  Breaker b("app:x", Small());
  b.set_mode(BreakerMode::kForcedOpen);
  auto a = b.Admit(0);
  EXPECT_FALSE(a.allowed);
  EXPECT_NE(a.refusal.find("forced open by an operator"), std::string::npos);
  b.set_mode(BreakerMode::kMetricsOnly);
  for (int i = 0; i < 4; ++i) b.Record(true, false, 0);
  EXPECT_EQ(b.state(), BreakerState::kOpen) << "the shadow breaker still moves";
  auto shadow = b.Admit(1);
  EXPECT_TRUE(shadow.allowed);
  EXPECT_EQ(shadow.refusal.rfind("metrics-only: circuit breaker 'app:x' is open", 0), 0u) << shadow.refusal;
}

TEST(BreakerBoard, OpenBreakersSurviveAReopen) {
  std::string dir = (std::filesystem::temp_directory_path() / "govb-breaker-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  {
    auto db = ControlDb::Open(dir + "/g.db");
    ASSERT_TRUE(db.has_value());
    BreakerBoard board(db->get());
    board.set_params(Small());
    ASSERT_TRUE(board.Load().has_value());
    Breaker& b = board.Get("app:x");
    for (int i = 0; i < 4; ++i) b.Record(true, false, 500);
    ASSERT_TRUE(board.Save(b).has_value());
    Breaker& c = board.Get("app:y");
    c.set_mode(BreakerMode::kMetricsOnly);
    ASSERT_TRUE(board.Save(c).has_value());
    ASSERT_TRUE(board.Save(board.Get("app:z")).has_value());  // closed, normal: no row
  }
  auto db = ControlDb::Open(dir + "/g.db");
  ASSERT_TRUE(db.has_value());
  BreakerBoard board(db->get());
  board.set_params(Small());
  ASSERT_TRUE(board.Load().has_value());
  EXPECT_EQ(board.all().size(), 2u);
  ASSERT_NE(board.Find("app:x"), nullptr);
  EXPECT_EQ(board.Find("app:x")->state(), BreakerState::kOpen);
  EXPECT_EQ(board.Find("app:x")->half_open_unix_ms(), 1500);
  EXPECT_EQ(board.Find("app:y")->mode(), BreakerMode::kMetricsOnly);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cordon::governance
