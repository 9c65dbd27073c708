// supervisor/governance/breaker.cc: circuit breakers (breaker.h).
#include "supervisor/governance/breaker.h"

namespace cordon::governance {

const char* BreakerStateName(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed: return "closed";
    case BreakerState::kOpen: return "open";
    case BreakerState::kHalfOpen: return "half_open";
  }
  return "unknown";
}

const char* BreakerModeName(BreakerMode m) {
  switch (m) {
    case BreakerMode::kNormal: return "normal";
    case BreakerMode::kForcedOpen: return "forced_open";
    case BreakerMode::kMetricsOnly: return "metrics_only";
  }
  return "unknown";
}

std::optional<BreakerMode> ParseBreakerMode(const std::string& s) {
  for (BreakerMode m : {BreakerMode::kNormal, BreakerMode::kForcedOpen, BreakerMode::kMetricsOnly})
    if (s == BreakerModeName(m)) return m;
  return std::nullopt;
}

void Breaker::Prune(int64_t now_ms) {
  while (!window_.empty() && window_.front().first <= now_ms - p_.window_ms) {
    if (window_.front().second) --window_failures_;
    window_.pop_front();
  }
}

uint32_t Breaker::calls(int64_t now_ms) {
  if (state_ == BreakerState::kHalfOpen) return trials_done_;
  Prune(now_ms);
  return static_cast<uint32_t>(window_.size());
}

uint32_t Breaker::failures(int64_t now_ms) {
  if (state_ == BreakerState::kHalfOpen) return trials_failed_;
  Prune(now_ms);
  return window_failures_;
}

BreakerTransition Breaker::Move(BreakerState to, int64_t now_ms, std::string why) {
  BreakerTransition t{name_, state_, to, std::move(why)};
  state_ = to;
  window_.clear();
  window_failures_ = 0;
  trials_admitted_ = trials_done_ = trials_failed_ = 0;
  if (to == BreakerState::kOpen) opened_ms_ = now_ms;
  return t;
}

Breaker::Admission Breaker::Admit(int64_t now_ms) {
  Admission a;
  if (mode_ == BreakerMode::kForcedOpen) {
    a.allowed = false;
    a.refusal = "circuit breaker '" + name_ + "' is forced open by an operator; it admits nothing until an operator " +
                "resets it (cordon breakers set " + name_ + " normal)";
    return a;
  }
  if (state_ == BreakerState::kOpen && now_ms >= half_open_unix_ms())
    a.transition = Move(BreakerState::kHalfOpen, now_ms, std::to_string(p_.open_ms) + " ms open passed");
  std::string would;
  if (state_ == BreakerState::kOpen) {
    would = "circuit breaker '" + name_ + "' is open since unix ms " + std::to_string(opened_ms_) +
            " (too many of its tasks failed); it lets trial tasks through from unix ms " +
            std::to_string(half_open_unix_ms()) + "; retry after that";
  } else if (state_ == BreakerState::kHalfOpen) {
    if (trials_admitted_ < p_.half_open_trials) {
      ++trials_admitted_;
      a.trial = true;
    } else {
      would = "circuit breaker '" + name_ + "' is half-open and its " + std::to_string(p_.half_open_trials) +
              " trial tasks are running; retry once they have finished";
    }
  }
  if (!would.empty()) {
    a.refusal = would;
    a.allowed = mode_ == BreakerMode::kMetricsOnly;
    if (a.allowed) a.refusal = "metrics-only: " + would;
  }
  return a;
}

std::optional<BreakerTransition> Breaker::Record(bool failed, bool trial, int64_t now_ms) {
  if (state_ == BreakerState::kClosed && !trial) {
    Prune(now_ms);
    window_.emplace_back(now_ms, failed);
    if (failed) ++window_failures_;
    const uint64_t n = window_.size(), f = window_failures_;
    if (n >= p_.minimum_calls && f * 100 >= uint64_t{p_.failure_rate_pct} * n)
      return Move(BreakerState::kOpen, now_ms,
                  std::to_string(f) + " of " + std::to_string(n) + " outcomes failed (>= " +
                      std::to_string(p_.failure_rate_pct) + " %) within " + std::to_string(p_.window_ms) + " ms");
    return std::nullopt;
  }
  if (state_ == BreakerState::kHalfOpen && trial) {
    ++trials_done_;
    if (failed) ++trials_failed_;
    if (trials_done_ < p_.half_open_trials) return std::nullopt;
    const uint64_t n = trials_done_, f = trials_failed_;
    std::string why = std::to_string(f) + " of " + std::to_string(n) + " trial tasks failed";
    if (f * 100 >= uint64_t{p_.failure_rate_pct} * n) return Move(BreakerState::kOpen, now_ms, why);
    return Move(BreakerState::kClosed, now_ms, why);
  }
  return std::nullopt;  // admitted in another state: not this state's evidence
}

namespace {
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS breakers ("
    " name TEXT PRIMARY KEY, state TEXT NOT NULL, mode TEXT NOT NULL, opened_unix_ms INTEGER NOT NULL)";

std::optional<BreakerState> ParseState(const std::string& s) {
  for (BreakerState x : {BreakerState::kClosed, BreakerState::kOpen, BreakerState::kHalfOpen})
    if (s == BreakerStateName(x)) return x;
  return std::nullopt;
}
}  // namespace

Result<void> BreakerBoard::Load() {
  breakers_.clear();
  if (!db_) return {};
  CORDON_TRY(db_->Exec(kSchema));
  return db_->Query("SELECT name, state, mode, opened_unix_ms FROM breakers", {}, [&](const DbRow& r) {
    auto s = ParseState(r[1]);
    auto m = ParseBreakerMode(r[2]);
    if (!s || !m) return;  // written by a newer cordond: left closed
    Breaker& b = Get(r[0]);
    b.Restore(*s, *m, std::stoll(r[3]));
  });
}

Breaker& BreakerBoard::Get(const std::string& name) {
  auto it = breakers_.find(name);
  if (it == breakers_.end()) it = breakers_.emplace(name, Breaker(name, params_)).first;
  return it->second;
}

Breaker* BreakerBoard::Find(const std::string& name) {
  auto it = breakers_.find(name);
  return it == breakers_.end() ? nullptr : &it->second;
}

Result<void> BreakerBoard::Save(const Breaker& b) {
  if (!db_) return {};
  if (b.state() == BreakerState::kClosed && b.mode() == BreakerMode::kNormal)
    return db_->Query("DELETE FROM breakers WHERE name = ?1", {b.name()});
  return db_->Query(
      "INSERT INTO breakers (name, state, mode, opened_unix_ms) VALUES (?1,?2,?3,?4) "
      "ON CONFLICT(name) DO UPDATE SET state = ?2, mode = ?3, opened_unix_ms = ?4",
      {b.name(), std::string(BreakerStateName(b.state())), std::string(BreakerModeName(b.mode())),
       b.opened_unix_ms()});
}

}  // namespace cordon::governance
