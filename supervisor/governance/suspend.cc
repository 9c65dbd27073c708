// supervisor/governance/suspend.cc: auto-suspend's state (suspend.h).
#include "supervisor/governance/suspend.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "supervisor/governance/clock.h"

namespace cordon::governance {
namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS suspend_violations (subject TEXT NOT NULL, at_unix_ms INTEGER NOT NULL,"
    " kind TEXT NOT NULL, detail TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS suspend_violations_at ON suspend_violations (at_unix_ms);"
    "CREATE TABLE IF NOT EXISTS suspensions (subject TEXT PRIMARY KEY, since_unix_ms INTEGER NOT NULL,"
    " violations TEXT NOT NULL)";

nlohmann::json ToJson(const std::vector<Violation>& vs) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& v : vs) out.push_back({{"at_unix_ms", v.at_unix_ms}, {"kind", v.kind}, {"detail", v.detail}});
  return out;
}

}  // namespace

std::string SuspendRefusal(const Suspension& s, const SuspendParams& p) {
  const auto colon = s.subject.find(':');
  const std::string kind = s.subject.substr(0, colon), id = s.subject.substr(colon + 1);
  std::string out = kind + " '" + id + "' is suspended since " + Iso8601(s.since_unix_ms) + ": " +
                    std::to_string(s.violations.size()) + " policy violations within " +
                    std::to_string(p.window_ms / 1000) + " s";
  if (!s.violations.empty()) out += " (last: " + s.violations.back().kind + ", " + s.violations.back().detail + ")";
  return out + "; a principal with the operator role resumes it with `cordon resume --" + kind + " " + id + "`";
}

Result<void> SuspendBoard::Load(int64_t now_unix_ms, int64_t window_ms) {
  recent_.clear();
  suspended_.clear();
  if (!db_) return {};
  CORDON_TRY(db_->Exec(kSchema));
  CORDON_TRY(db_->Query("DELETE FROM suspend_violations WHERE at_unix_ms <= ?1", {now_unix_ms - window_ms}));
  CORDON_TRY(db_->Query("SELECT subject, at_unix_ms, kind, detail FROM suspend_violations ORDER BY at_unix_ms", {},
                        [&](const DbRow& r) { recent_[r[0]].push_back(Violation{std::stoll(r[1]), r[2], r[3]}); }));
  return db_->Query("SELECT subject, since_unix_ms, violations FROM suspensions", {}, [&](const DbRow& r) {
    Suspension s{r[0], std::stoll(r[1]), {}};
    auto j = nlohmann::json::parse(r[2], nullptr, false);
    if (j.is_array())
      for (const auto& v : j)
        s.violations.push_back(Violation{v.value("at_unix_ms", int64_t{0}), v.value("kind", ""), v.value("detail", "")});
    suspended_[s.subject] = std::move(s);
  });
}

Result<std::optional<Suspension>> SuspendBoard::Record(const std::string& subject, const Violation& v,
                                                        const SuspendParams& p, std::optional<Error>* not_saved) {
  std::vector<Violation>& vs = recent_[subject];
  std::erase_if(vs, [&](const Violation& x) { return x.at_unix_ms <= v.at_unix_ms - p.window_ms; });
  vs.push_back(v);
  // Saved after it is counted: a database that cannot take it loses it only from a later run.
  auto save = [&](const std::string& sql, const std::vector<DbValue>& params) -> Result<void> {
    if (!db_) return {};
    auto r = db_->Query(sql, params);
    if (r || !not_saved) return r;
    if (!*not_saved) *not_saved = r.error();
    return {};
  };
  CORDON_TRY(save("DELETE FROM suspend_violations WHERE at_unix_ms <= ?1", {v.at_unix_ms - p.window_ms}));
  CORDON_TRY(save("INSERT INTO suspend_violations (subject, at_unix_ms, kind, detail) VALUES (?1,?2,?3,?4)",
                  {subject, v.at_unix_ms, v.kind, v.detail}));
  if (p.violations == 0 || vs.size() < p.violations || suspended_.contains(subject)) return std::nullopt;
  Suspension s{subject, v.at_unix_ms, vs};
  suspended_[subject] = s;
  CORDON_TRY(save("INSERT OR REPLACE INTO suspensions (subject, since_unix_ms, violations) VALUES (?1,?2,?3)",
                  {subject, s.since_unix_ms,
                   ToJson(s.violations).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)}));
  return std::optional<Suspension>(std::move(s));
}

const Suspension* SuspendBoard::Find(const std::string& subject) const {
  auto it = suspended_.find(subject);
  return it == suspended_.end() ? nullptr : &it->second;
}

Result<std::optional<Suspension>> SuspendBoard::Resume(const std::string& subject) {
  auto it = suspended_.find(subject);
  if (it == suspended_.end()) return std::optional<Suspension>();
  if (db_) {
    CORDON_TRY(db_->Query("DELETE FROM suspensions WHERE subject = ?1", {subject}));
    CORDON_TRY(db_->Query("DELETE FROM suspend_violations WHERE subject = ?1", {subject}));
  }
  Suspension out = std::move(it->second);
  suspended_.erase(it);
  recent_.erase(subject);
  return std::optional<Suspension>(std::move(out));
}

size_t SuspendBoard::recent(const std::string& subject) const {
  auto it = recent_.find(subject);
  return it == recent_.end() ? 0 : it->second.size();
}

}  // namespace cordon::governance
