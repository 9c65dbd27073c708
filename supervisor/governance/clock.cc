#include "supervisor/governance/clock.h"

#include <time.h>

#include <cstdio>
#include <ctime>

namespace cordon::governance {

int64_t SystemClock::NowUnixMs() const {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

const char* PeriodName(Period p) { return p == Period::kDay ? "day" : "month"; }

namespace {

// Floor division: a time before 1970 still falls in the right day.
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

Window WindowOf(Period p, int64_t now_ms) {
  const time_t secs = static_cast<time_t>(FloorDiv(now_ms, 1000));
  tm t{};
  ::gmtime_r(&secs, &t);
  char key[32];
  tm start{}, end{};
  start.tm_year = end.tm_year = t.tm_year;
  start.tm_mon = end.tm_mon = t.tm_mon;
  if (p == Period::kDay) {
    std::snprintf(key, sizeof key, "%04d-%02d-%02d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday);
    start.tm_mday = t.tm_mday;
    end.tm_mday = t.tm_mday + 1;  // timegm normalises the 32nd into the next month
  } else {
    std::snprintf(key, sizeof key, "%04d-%02d", t.tm_year + 1900, t.tm_mon + 1);
    start.tm_mday = end.tm_mday = 1;
    end.tm_mon = t.tm_mon + 1;  // and month 12 into January
  }
  return Window{key, static_cast<int64_t>(::timegm(&start)) * 1000, static_cast<int64_t>(::timegm(&end)) * 1000};
}

std::string Iso8601(int64_t unix_ms) {
  const time_t secs = static_cast<time_t>(FloorDiv(unix_ms, 1000));
  tm t{};
  ::gmtime_r(&secs, &t);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &t);
  return buf;
}

}  // namespace cordon::governance
