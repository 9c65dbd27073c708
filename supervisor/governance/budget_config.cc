#include "supervisor/governance/budget_config.h"

#include <sys/stat.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "common/fs_util.h"

#include "supervisor/json_strict.h"

namespace cordon::governance {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxBudget = uint64_t{1} << 53;  // exact in a JSON double

std::string Hint() { return "fix budgets.json (docs/governance.md describes it), then send cordond SIGHUP"; }

bool Names(JsonChecker& c, const std::string& path, const std::string& name) {
  if (name.empty() || name.size() > 128) return c.Bad(path, "expected a name of 1 to 128 characters");
  return true;
}

bool Optional(JsonChecker& c, const json& j, const std::string& path, const char* key, std::optional<uint64_t>* out) {
  if (!j.contains(key)) return true;
  uint64_t v = 0;
  if (!c.Uint(j[key], JsonChecker::Join(path, key), &v, 0, kMaxBudget, true)) return false;
  *out = v;
  return true;
}

bool ParseEnvelope(JsonChecker& c, const json& j, const std::string& path, Envelope* e) {
  if (!c.Object(j, path,
                {"owner_team", "risk_class", "connectors", "tasks_per_day", "tasks_per_month", "cpu_ms_per_day",
                 "cpu_ms_per_month", "retention_days", "description"}))
    return false;
  if (j.contains("retention_days")) {
    uint64_t days = 0;
    if (!c.Uint(j["retention_days"], path + ".retention_days", &days, 1, 36500)) return false;
    e->retention_days = days;
  }
  if (j.contains("owner_team") && !c.String(j["owner_team"], path + ".owner_team", &e->owner_team)) return false;
  if (j.contains("risk_class") && !c.String(j["risk_class"], path + ".risk_class", &e->risk_class)) return false;
  if (j.contains("connectors")) {
    e->connectors.emplace();
    if (!c.StringList(j["connectors"], path + ".connectors", &*e->connectors)) return false;
  }
  EnvelopeLimits& l = e->limits;
  return Optional(c, j, path, "tasks_per_day", &l.tasks_per_day) &&
         Optional(c, j, path, "tasks_per_month", &l.tasks_per_month) &&
         Optional(c, j, path, "cpu_ms_per_day", &l.cpu_ms_per_day) &&
         Optional(c, j, path, "cpu_ms_per_month", &l.cpu_ms_per_month);
}

bool ParseEnvelopes(JsonChecker& c, const json& j, const char* scope, const char* key,
                    std::map<std::string, Envelope>* out) {
  if (!j.contains(key)) return true;
  const json& all = j[key];
  if (!all.is_object()) return c.Bad(key, std::string("expected an object, got ") + all.type_name());
  for (auto it = all.begin(); it != all.end(); ++it) {
    const std::string path = std::string(key) + "." + it.key();
    Envelope e;
    e.scope = scope;
    e.id = it.key();
    if (!Names(c, path, it.key()) || !ParseEnvelope(c, *it, path, &e)) return false;
    (*out)[it.key()] = std::move(e);
  }
  return true;
}

}  // namespace

std::optional<uint64_t>* BudgetField(SessionBudget* b, std::string_view name) {
  if (name == "cpu_ms") return &b->cpu_ms;
  if (name == "wall_ms") return &b->wall_ms;
  if (name == "tasks") return &b->tasks;
  if (name == "calls") return &b->calls;
  if (name == "fanout") return &b->fanout;
  return nullptr;
}

const std::optional<uint64_t>* BudgetField(const SessionBudget& b, std::string_view name) {
  return BudgetField(const_cast<SessionBudget*>(&b), name);
}

BudgetConfig DefaultBudgets() {
  BudgetConfig c;
  for (const char* n : {"interactive", "batch", "privileged"}) c.session_classes[n] = SessionBudget{};
  return c;
}

Result<BudgetConfig> ParseBudgets(std::string_view text, const std::string& source) {
  const std::string what = "budgets " + source;
  auto parsed = ParseStrictJson(text, what, Hint());
  if (!parsed) return std::unexpected(parsed.error());
  const json& j = *parsed;
  JsonChecker c(what, Hint());
  BudgetConfig out = DefaultBudgets();
  out.source = source;
  if (!c.Object(j, "", {"version", "session_classes", "apps", "tenants", "description"})) return c.Failure();
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int64_t>() != 1)
    return Fail(EINVAL, what + ": version: expected 1", "set \"version\": 1");
  if (j.contains("session_classes")) {
    const json& classes = j["session_classes"];
    if (!classes.is_object()) return Fail(EINVAL, what + ": session_classes: expected an object", Hint());
    for (auto it = classes.begin(); it != classes.end(); ++it) {
      const std::string path = "session_classes." + it.key();
      if (!Names(c, path, it.key()) || !c.Object(*it, path, {"budget", "description"})) return c.Failure();
      SessionBudget b;
      if (it->contains("budget")) {
        const json& bj = (*it)["budget"];
        if (!c.Object(bj, path + ".budget", {"cpu_ms", "wall_ms", "tasks", "calls", "fanout"})) return c.Failure();
        for (const char* f : kBudgetFields)
          if (!Optional(c, bj, path + ".budget", f, BudgetField(&b, f))) return c.Failure();
      }
      out.session_classes[it.key()] = b;
    }
  }
  if (!ParseEnvelopes(c, j, "app", "apps", &out.apps) || !ParseEnvelopes(c, j, "tenant", "tenants", &out.tenants))
    return c.Failure();
  return out;
}

Result<BudgetConfig> LoadBudgets(const std::string& config_dir, std::string* note) {
  const std::string path = config_dir + "/budgets.json";
  struct stat st{};
  if (::stat(path.c_str(), &st) < 0) {
    if (errno != ENOENT) return Fail(errno, "budgets " + path, "make it readable by cordond, or remove it");
    *note = "budgets: none (" + path + " absent): sessions unlimited, no envelopes";
    return DefaultBudgets();
  }
  auto text = ReadFileToString(path, 1u << 20);
  if (!text) return Fail(text.error().err, "budgets " + path + ": " + text.error().Message(), Hint());
  CORDON_ASSIGN_OR_RETURN(BudgetConfig b, ParseBudgets(*text, path));
  *note = "budgets: " + path + " (" + std::to_string(b.session_classes.size()) + " session classes, " +
          std::to_string(b.apps.size()) + " app and " + std::to_string(b.tenants.size()) + " tenant envelopes)";
  return b;
}

}  // namespace cordon::governance
