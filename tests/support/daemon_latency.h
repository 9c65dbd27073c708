// tests/support/daemon_latency.h: "no tenant stalls another" (issue 14 item 6): another caller's
// submit latency, measured through a real cordond, against a bound from its idle median.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/daemon_process.h"

namespace cordon::test {

inline double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Median wall time of `n` `cordon submit ARGS -- /bin/true`, each of which must succeed.
inline double MedianSubmitMs(DaemonProcess& d, int n, std::vector<std::string> args = {}) {
  args.insert(args.begin(), "submit");
  args.insert(args.end(), {"--", "/bin/true"});
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = d.Cli(args);
    ms.push_back(MsSince(t0));
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// "Within 2x of the idle median", robust on a loaded 2-core host shared with other work: the
// idle median is taken before and after the fault (the larger, so that a load that came or went
// meanwhile is in the baseline), and the bound has a 50 ms floor.
inline double LatencyBound(double idle_before_ms, double idle_after_ms) {
  const double idle = std::max(idle_before_ms, idle_after_ms);
  return std::max(2 * idle, idle + 50);
}

// The end of a "rounds" test: `during` holds another caller's submit times while the fault held;
// their median, printed with the idle medians before and after, must be within LatencyBound.
inline void ExpectWithinIdle(DaemonProcess& d, double idle, std::vector<double> during, const std::string& while_what) {
  const double idle_after = MedianSubmitMs(d, 5);
  std::sort(during.begin(), during.end());
  const double median = during[during.size() / 2];
  std::printf("submit: idle median %.1f ms, %s %.1f ms (median of %zu; max %.1f), idle after %.1f ms\n", idle,
              while_what.c_str(), median, during.size(), during.back(), idle_after);
  EXPECT_LE(median, LatencyBound(idle, idle_after)) << "idle after " << idle_after;
}

// Binding `name` of task `id`'s evidence (docs/evidence.md "bindings"), or null when it has none.
inline nlohmann::json EvidenceBinding(DaemonProcess& d, const std::string& id, const std::string& name) {
  auto ev = nlohmann::json::parse(d.Cli({"evidence", id}).out, nullptr, false);
  if (!ev.is_discarded() && ev.contains("bindings"))
    for (const auto& b : ev["bindings"])
      if (b.value("name", "") == name) return b;
  ADD_FAILURE() << "no binding '" << name << "' in the evidence of task " << id << ": " << ev.dump();
  return nullptr;
}

}  // namespace cordon::test
