// supervisor/governance/breaker.h: circuit breakers (docs/incident-response.md "Circuit
// breakers"). One breaker per key ("app:<app_id>"): closed while its failure rate over a sliding
// time window stays under the threshold; open (refusing, with the breaker's name and the time it
// half-opens) once the rate passes it with at least `minimum_calls` outcomes in the window;
// half-open after `open_ms`, letting `half_open_trials` tasks through, whose outcomes close it
// again or re-open it. An operator may force one open, or run one in metrics-only (shadow) mode,
// where it moves through its states and records them but never refuses.
// Pure state machines: the caller passes the wall clock (unix ms), so tests drive time.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "supervisor/governance/control_db.h"

namespace cordon::governance {

// Defaults from resilience4j's CircuitBreakerConfig (failureRateThreshold 50 %, minimumNumberOfCalls
// 100, a TIME_BASED slidingWindowSize of 100 s, waitDurationInOpenState 60 s,
// permittedNumberOfCallsInHalfOpenState 10); cordond's daemon.json "breakers" overrides them.
struct BreakerParams {
  uint32_t failure_rate_pct = 50;   // open at >= this % failed in the window (1..100)
  uint32_t minimum_calls = 100;     // outcomes the window needs before the rate counts
  int64_t window_ms = 100'000;      // the sliding window
  int64_t open_ms = 60'000;         // open this long, then half-open
  uint32_t half_open_trials = 10;   // tasks let through while half-open
  bool operator==(const BreakerParams&) const = default;
};

enum class BreakerState { kClosed, kOpen, kHalfOpen };
enum class BreakerMode { kNormal, kForcedOpen, kMetricsOnly };
const char* BreakerStateName(BreakerState s);  // "closed", "open", "half_open"
const char* BreakerModeName(BreakerMode m);    // "normal", "forced_open", "metrics_only"
std::optional<BreakerMode> ParseBreakerMode(const std::string& s);

// A state change, for the evidence log and cordond's log.
struct BreakerTransition {
  std::string name;
  BreakerState from, to;
  std::string why;  // "12 of 20 outcomes failed (60 % >= 50 %) in 100000 ms", "open_ms passed", ...
};

class Breaker {
 public:
  Breaker() = default;
  Breaker(std::string name, const BreakerParams& p) : name_(std::move(name)), p_(p) {}

  struct Admission {
    bool allowed = true;
    bool trial = false;      // admitted as one of the half-open trials: report its outcome with trial=true
    std::string refusal;     // when !allowed: the breaker, its state and when it half-opens
    std::optional<BreakerTransition> transition;  // open -> half_open, when time made it so
  };
  // Asks to admit one task at `now_ms`. In metrics-only mode always allowed (refusal says what a
  // normal breaker would have done).
  Admission Admit(int64_t now_ms);
  // The outcome of a task this breaker admitted: `failed` by the counted failure classes; `trial`
  // as Admit said. Outcomes of tasks admitted in another state than the current one are ignored.
  std::optional<BreakerTransition> Record(bool failed, bool trial, int64_t now_ms);

  const std::string& name() const { return name_; }
  BreakerState state() const { return state_; }
  BreakerMode mode() const { return mode_; }
  void set_mode(BreakerMode m) { mode_ = m; }
  void set_params(const BreakerParams& p) { p_ = p; }
  // A half-open trial that was admitted but never started (its Submit failed later on): its slot
  // is given back.
  void ReleaseTrial() {
    if (state_ == BreakerState::kHalfOpen && trials_admitted_ > trials_done_) --trials_admitted_;
  }
  int64_t opened_unix_ms() const { return opened_ms_; }
  int64_t half_open_unix_ms() const { return opened_ms_ + p_.open_ms; }
  // Outcomes and failures in the window as of `now_ms` (closed), or of the trials (half-open).
  uint32_t calls(int64_t now_ms);
  uint32_t failures(int64_t now_ms);
  uint32_t trials_admitted() const { return trials_admitted_; }
  // For the database: the state to restore (the window itself is not kept).
  void Restore(BreakerState s, BreakerMode m, int64_t opened_ms) {
    state_ = s == BreakerState::kHalfOpen ? BreakerState::kOpen : s;  // trials in flight died with cordond
    mode_ = m;
    opened_ms_ = opened_ms;
  }

 private:
  void Prune(int64_t now_ms);
  BreakerTransition Move(BreakerState to, int64_t now_ms, std::string why);

  std::string name_;
  BreakerParams p_;
  BreakerState state_ = BreakerState::kClosed;
  BreakerMode mode_ = BreakerMode::kNormal;
  std::deque<std::pair<int64_t, bool>> window_;  // (time, failed), oldest first
  uint32_t window_failures_ = 0;
  int64_t opened_ms_ = 0;
  uint32_t trials_admitted_ = 0, trials_done_ = 0, trials_failed_ = 0;
};

// Every breaker cordond has, by name, kept in the governance database when not plain closed.
class BreakerBoard {
 public:
  explicit BreakerBoard(ControlDb* db = nullptr) : db_(db) {}
  Result<void> Load();
  // Applies to every breaker, existing ones included (a reload of daemon.json).
  void set_params(const BreakerParams& p) {
    params_ = p;
    for (auto& [name, b] : breakers_) b.set_params(p);
  }
  const BreakerParams& params() const { return params_; }
  // The breaker of `name`, created closed when new.
  Breaker& Get(const std::string& name);
  Breaker* Find(const std::string& name);
  std::map<std::string, Breaker>& all() { return breakers_; }
  // Writes `b`'s state (deletes the row of a closed, normal one).
  Result<void> Save(const Breaker& b);

 private:
  ControlDb* db_;
  BreakerParams params_;
  std::map<std::string, Breaker> breakers_;
};

}  // namespace cordon::governance
