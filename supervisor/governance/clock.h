// supervisor/governance/clock.h: the time governance decides by, and the calendar periods of app
// envelopes (UTC days and months). Injectable, so that a test can spend a monthly envelope, then
// move into the next month and see it refilled, without waiting a month (tests/unit).
#pragma once

#include <cstdint>
#include <string>

namespace cordon::governance {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowUnixMs() const = 0;
};

// CLOCK_REALTIME: what cordond uses.
class SystemClock final : public Clock {
 public:
  int64_t NowUnixMs() const override;
};

// Set by hand (unit tests).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms) : now_ms_(now_ms) {}
  int64_t NowUnixMs() const override { return now_ms_; }
  void Set(int64_t now_ms) { now_ms_ = now_ms; }
  void Advance(int64_t ms) { now_ms_ += ms; }

 private:
  int64_t now_ms_;
};

enum class Period { kDay, kMonth };
const char* PeriodName(Period p);  // "day", "month"

// The calendar period (UTC) holding `now_ms`: its key ("2026-12-07" for a day, "2026-12" for a
// month) and its bounds [start_ms, end_ms). An envelope's spend is kept per key, so that a new
// period starts from zero, and a refusal's retry-after is end_ms - now.
struct Window {
  std::string key;
  int64_t start_ms = 0, end_ms = 0;
};
Window WindowOf(Period p, int64_t now_ms);

// "2026-12-07T00:00:00Z", for messages.
std::string Iso8601(int64_t unix_ms);

}  // namespace cordon::governance
