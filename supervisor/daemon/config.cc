#include "supervisor/daemon/config.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "supervisor/daemon/metrics.h"
#include "supervisor/json_strict.h"
#include "supervisor/sha256.h"

namespace cordon::daemon {
namespace {

using nlohmann::json;

// Principals' own field types, checked like the rest (json_strict.h).
bool Ids(JsonChecker& c, const json& j, const std::string& path, std::vector<uint32_t>* out) {
  if (!j.is_array()) return c.Bad(path, std::string("expected an array of ids, got ") + j.type_name());
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_number_integer() || j[i].get<int64_t>() < 0 || j[i].get<int64_t>() > 0xfffffffe)
      return c.Bad(JsonChecker::Index(path, i), "expected a uid/gid number");
    out->push_back(static_cast<uint32_t>(j[i].get<int64_t>()));
  }
  return true;
}

bool Classes(JsonChecker& c, const json& j, const std::string& path, std::vector<std::string>* out) {
  if (!c.StringList(j, path, out)) return false;
  for (size_t i = 0; i < out->size(); ++i)
    if (!IsClassName((*out)[i]))
      return c.Bad(JsonChecker::Index(path, i),
                   "unknown class '" + (*out)[i] + "' (classes: interactive, batch, privileged)");
  return true;
}

// The hint of every error in a configuration file cordond reads.
std::string FixHint(const char* file) {
  return std::string("fix the file (docs/daemon.md describes ") + file + "), then send cordond SIGHUP";
}

std::vector<std::string> JsonFilesIn(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.ends_with(".json") && n[0] != '.') out.push_back(dir + "/" + n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

bool IsClassName(std::string_view name) {
  return std::any_of(std::begin(kClassNames), std::end(kClassNames), [&](const char* c) { return name == c; });
}

Result<Principals> ParsePrincipals(std::string_view text, const std::string& source) {
  Principals out;
  out.source = source;
  out.sha256 = Sha256Hex(text);
  JsonChecker c("principals " + source, FixHint("principals.json"));
  auto parsed = ParseStrictJson(text, "principals " + source, FixHint("principals.json"));
  if (!parsed) return std::unexpected(parsed.error());
  json j = std::move(*parsed);
  if (!c.Object(j, "", {"version", "principals", "roles", "policy_classes", "description"})) return c.Failure();
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int64_t>() != 1)
    return Fail(EINVAL, "principals " + source + ": version: expected 1", "set \"version\": 1");
  if (j.contains("roles")) {
    if (!j["roles"].is_object()) return Fail(EINVAL, "principals " + source + ": roles: expected an object");
    for (auto it = j["roles"].begin(); it != j["roles"].end(); ++it) {
      const std::string path = "roles." + it.key();
      Role r;
      r.name = it.key();
      if (!c.Object(*it, path, {"policies", "classes", "manage_all_tasks", "operator", "approve", "description"}))
        return c.Failure();
      if (it->contains("policies") && !c.StringList((*it)["policies"], path + ".policies", &r.policies))
        return c.Failure();
      if (it->contains("classes")) {
        if (!Classes(c, (*it)["classes"], path + ".classes", &r.classes)) return c.Failure();
      } else {
        r.classes = {"interactive", "batch"};  // privileged only when a role says so
      }
      if (it->contains("manage_all_tasks")) {
        if (!(*it)["manage_all_tasks"].is_boolean()) {
          c.Bad(path + ".manage_all_tasks", "expected true or false");
          return c.Failure();
        }
        r.manage_all_tasks = (*it)["manage_all_tasks"].get<bool>();
      }
      if (it->contains("operator")) {  // governance (wip/govb)
        if (!(*it)["operator"].is_boolean()) {
          c.Bad(path + ".operator", "expected true or false");
          return c.Failure();
        }
        r.operate = (*it)["operator"].get<bool>();
      }
      if (it->contains("approve") && !c.StringList((*it)["approve"], path + ".approve", &r.approve))  // wip/govc
        return c.Failure();
      out.roles[r.name] = std::move(r);
    }
  }
  std::set<uint32_t> seen_uids;
  if (j.contains("principals")) {
    if (!j["principals"].is_array()) return Fail(EINVAL, "principals " + source + ": principals: expected an array");
    for (size_t i = 0; i < j["principals"].size(); ++i) {
      const json& pj = j["principals"][i];
      const std::string path = "principals[" + std::to_string(i) + "]";
      Principal p;
      if (!c.Object(pj, path, {"name", "tenant", "uids", "gids", "roles", "description"})) return c.Failure();
      if (!pj.contains("name") || !c.String(pj["name"], path + ".name", &p.name)) {
        c.Bad(path + ".name", "required");
        return c.Failure();
      }
      p.tenant = "default";
      if (pj.contains("tenant") && !c.String(pj["tenant"], path + ".tenant", &p.tenant)) return c.Failure();
      if (pj.contains("uids") && !Ids(c, pj["uids"], path + ".uids", &p.uids)) return c.Failure();
      if (pj.contains("gids") && !Ids(c, pj["gids"], path + ".gids", &p.gids)) return c.Failure();
      if (p.uids.empty() && p.gids.empty()) {
        c.Bad(path, "lists neither uids nor gids, so no peer can be this principal");
        return c.Failure();
      }
      for (uint32_t u : p.uids)
        if (!seen_uids.insert(u).second) {
          c.Bad(path + ".uids", "uid " + std::to_string(u) + " is already listed by another principal");
          return c.Failure();
        }
      if (pj.contains("roles") && !c.StringList(pj["roles"], path + ".roles", &p.roles)) return c.Failure();
      for (size_t k = 0; k < p.roles.size(); ++k)
        if (!out.roles.contains(p.roles[k])) {
          c.Bad(path + ".roles[" + std::to_string(k) + "]", "role '" + p.roles[k] + "' is not defined under roles");
          return c.Failure();
        }
      for (const auto& q : out.principals)
        if (q.name == p.name) {
          c.Bad(path + ".name", "principal '" + p.name + "' is defined twice");
          return c.Failure();
        }
      out.principals.push_back(std::move(p));
    }
  }
  if (j.contains("policy_classes")) {
    if (!j["policy_classes"].is_object())
      return Fail(EINVAL, "principals " + source + ": policy_classes: expected an object of policy name -> classes");
    for (auto it = j["policy_classes"].begin(); it != j["policy_classes"].end(); ++it) {
      std::vector<std::string> cls;
      if (!Classes(c, *it, "policy_classes." + it.key(), &cls)) return c.Failure();
      out.policy_classes[it.key()] = std::move(cls);
    }
  }
  return out;
}

Result<DaemonSettings> ParseDaemonSettings(std::string_view text, const std::string& source) {
  DaemonSettings out;
  out.source = source;
  JsonChecker c("daemon " + source, FixHint("daemon.json"));
  auto parsed = ParseStrictJson(text, "daemon " + source, FixHint("daemon.json"));
  if (!parsed) return std::unexpected(parsed.error());
  const json j = std::move(*parsed);
  if (!c.Object(j, "", {"version", "retention", "evidence_log", "breakers", "metrics", "tls_interception",
                        "approvals", "auto_suspend", "description"}))
    return c.Failure();
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int64_t>() != 1) {
    c.Bad("version", "expected 1 (set \"version\": 1)");
    return c.Failure();
  }
  // A count: a non-negative integer (not 1.5, not "30", not -1), at most `max`; 0 turns it off.
  auto count = [&](const json& v, const std::string& path, uint64_t max, std::optional<uint64_t>* dst) {
    uint64_t n = 0;
    if (!c.Uint(v, path, &n, 0, max)) return false;
    *dst = n;
    return true;
  };
  if (j.contains("retention")) {
    const json& r = j["retention"];
    if (!c.Object(r, "retention", {"days", "tasks", "description"})) return c.Failure();
    if (r.contains("days") && !count(r["days"], "retention.days", kMaxRetainDays, &out.retain_days))
      return c.Failure();
    if (r.contains("tasks") && !count(r["tasks"], "retention.tasks", UINT64_MAX, &out.retain_tasks))
      return c.Failure();
  }
  if (j.contains("evidence_log")) {
    const json& e = j["evidence_log"];
    if (!c.Object(e, "evidence_log", {"retain_days", "retain_records", "signing_key", "description"})) return c.Failure();
    if (e.contains("signing_key")) {  // docs/evidence.md "Keys"; read at start only
      if (!c.String(e["signing_key"], "evidence_log.signing_key", &out.evlog_signing_key)) return c.Failure();
      if (!out.evlog_signing_key.starts_with('/') || out.evlog_signing_key.ends_with('/')) {
        c.Bad("evidence_log.signing_key", "expected the absolute path of the log's private key file (cordond creates "
                                          "it, 0600, at first start), got '" + out.evlog_signing_key + "'");
        return c.Failure();
      }
    }
    if (e.contains("retain_days") && !count(e["retain_days"], "evidence_log.retain_days", kMaxRetainDays, &out.evlog_retain_days))
      return c.Failure();
    if (e.contains("retain_records") &&
        !count(e["retain_records"], "evidence_log.retain_records", UINT64_MAX, &out.evlog_retain_records))
      return c.Failure();
  }
  if (j.contains("breakers")) {  // governance (wip/govb): circuit breakers, docs/incident-response.md
    const json& b = j["breakers"];
    if (!c.Object(b, "breakers", {"failure_rate_pct", "minimum_calls", "window_ms", "open_ms", "half_open_trials",
                                  "description"}))
      return c.Failure();
    governance::BreakerParams& p = out.breakers;
    auto field = [&](const char* name, uint64_t lo, uint64_t hi, auto* dst) {
      uint64_t n = 0;
      if (!b.contains(name)) return true;
      if (!c.Uint(b[name], std::string("breakers.") + name, &n, lo, hi)) return false;
      *dst = static_cast<std::remove_pointer_t<decltype(dst)>>(n);
      return true;
    };
    if (!field("failure_rate_pct", 1, 100, &p.failure_rate_pct) || !field("minimum_calls", 1, 1000000, &p.minimum_calls) ||
        !field("window_ms", 1, 86400000, &p.window_ms) || !field("open_ms", 1, 86400000, &p.open_ms) ||
        !field("half_open_trials", 1, 1000, &p.half_open_trials))
      return c.Failure();
  }
  if (j.contains("metrics")) {  // ops: the metrics endpoint (docs/metrics.md); --metrics-listen overrides it
    const json& m = j["metrics"];
    if (!c.Object(m, "metrics", {"listen", "description"})) return c.Failure();
    if (m.contains("listen")) {
      if (!c.String(m["listen"], "metrics.listen", &out.metrics_listen)) return c.Failure();
      if (auto ok = CheckMetricsListen(out.metrics_listen, "metrics.listen"); !ok) {
        c.Bad("metrics.listen", ok.error().Message() + " (" + ok.error().hint + ")");
        return c.Failure();
      }
    }
  }
  if (j.contains("tls_interception")) {  // identity (wip/ident): docs/network.md "TLS interception"
    const json& t = j["tls_interception"];
    if (!c.Object(t, "tls_interception", {"enabled", "upstream_ca_file", "description"})) return c.Failure();
    if (t.contains("enabled")) {
      if (!t["enabled"].is_boolean()) {
        c.Bad("tls_interception.enabled", "expected true or false");
        return c.Failure();
      }
      out.tls_interception = t["enabled"].get<bool>();
    }
    if (t.contains("upstream_ca_file")) {
      if (!t["upstream_ca_file"].is_string() || !t["upstream_ca_file"].get<std::string>().starts_with('/')) {
        c.Bad("tls_interception.upstream_ca_file", "expected an absolute path of a PEM file of CA certificates");
        return c.Failure();
      }
      out.tls_upstream_ca_file = t["upstream_ca_file"].get<std::string>();
    }
  }
  if (j.contains("approvals")) {  // governance (wip/govc): docs/governance.md "Approvals"
    const json& a = j["approvals"];
    if (!c.Object(a, "approvals", {"timeout_s", "description"})) return c.Failure();
    if (a.contains("timeout_s") && !c.Uint(a["timeout_s"], "approvals.timeout_s", &out.approval_timeout_s, 1, 30 * 86400))
      return c.Failure();
  }
  if (j.contains("auto_suspend")) {  // governance (wip/govc): docs/incident-response.md "Auto-suspend"
    const json& a = j["auto_suspend"];
    if (!c.Object(a, "auto_suspend", {"violations", "window_s", "principals", "description"})) return c.Failure();
    uint64_t n = 0;
    if (a.contains("violations")) {
      if (!c.Uint(a["violations"], "auto_suspend.violations", &n, 0, 1000000)) return c.Failure();
      out.suspend.violations = static_cast<uint32_t>(n);
    }
    if (a.contains("window_s")) {
      if (!c.Uint(a["window_s"], "auto_suspend.window_s", &n, 1, 30 * 86400)) return c.Failure();
      out.suspend.window_ms = static_cast<int64_t>(n) * 1000;
    }
    if (a.contains("principals")) {
      if (!a["principals"].is_boolean()) {
        c.Bad("auto_suspend.principals", "expected true or false");
        return c.Failure();
      }
      out.suspend.principals = a["principals"].get<bool>();
    }
  }
  return out;
}

const Principal* FindPrincipal(const Principals& p, uint32_t uid, uint32_t gid) {
  for (const auto& q : p.principals)
    if (std::find(q.uids.begin(), q.uids.end(), uid) != q.uids.end()) return &q;
  for (const auto& q : p.principals)
    if (std::find(q.gids.begin(), q.gids.end(), gid) != q.gids.end()) return &q;
  return nullptr;
}

Result<Config> LoadConfig(const ConfigPaths& paths) {
  Config cfg;
  const std::string principals_path = paths.config_dir + "/principals.json";
  struct stat st{};
  if (::stat(principals_path.c_str(), &st) < 0)
    return Fail(errno, "principals file " + principals_path,
                "create it (the shipped example is share/cordon/examples/principals.json), or pass --config-dir");
  auto text = ReadFileToString(principals_path, 4u << 20);
  if (!text) return Wrap(text.error(), "principals");
  CORDON_ASSIGN_OR_RETURN(cfg.principals, ParsePrincipals(*text, principals_path));
  cfg.notes.push_back("principals: " + principals_path + " (" + std::to_string(cfg.principals.principals.size()) +
                      " principals, " + std::to_string(cfg.principals.roles.size()) + " roles)");

  // daemon.json is optional: without it every setting is its flag's or the default.
  const std::string settings_path = paths.config_dir + "/daemon.json";
  if (::stat(settings_path.c_str(), &st) == 0) {
    auto t = ReadFileToString(settings_path, 1u << 20);
    if (!t) return Wrap(t.error(), "daemon settings");
    CORDON_ASSIGN_OR_RETURN(cfg.settings, ParseDaemonSettings(*t, settings_path));
    auto show = [](const std::optional<uint64_t>& v) { return v ? std::to_string(*v) : std::string("unset"); };
    cfg.notes.push_back("daemon settings: " + settings_path + " (retention: days " + show(cfg.settings.retain_days) +
                        ", tasks " + show(cfg.settings.retain_tasks) + ")");
  } else if (errno != ENOENT) {
    return Fail(errno, "daemon settings " + settings_path, "make it readable by cordond, or remove it");
  }

  {  // budgets.json (docs/governance.md): session classes and app/tenant envelopes; optional.
    std::string note;
    CORDON_ASSIGN_OR_RETURN(cfg.budgets, governance::LoadBudgets(paths.config_dir, &note));
    cfg.notes.push_back(note);
  }

  std::map<std::string, Policy> policies;
  {
    auto def = ParsePolicy(EmbeddedDefaultPolicy(), "<embedded default>");
    if (!def) return std::unexpected(def.error());
    policies["default"] = std::move(*def);
  }
  // Later directories replace earlier ones by name; inside one directory a name may appear once.
  for (const std::string& dir : {paths.data_dir + "/policies", paths.config_dir + "/policies"}) {
    std::set<std::string> here;
    for (const std::string& file : JsonFilesIn(dir)) {
      auto t = ReadFileToString(file, 4u << 20);
      if (!t) return Wrap(t.error(), "policy");
      auto p = ParsePolicy(*t, file);
      if (!p) return std::unexpected(p.error());
      if (!here.insert(p->name).second)
        return Fail(EINVAL, "policy " + file + ": name '" + p->name + "' is used by another file in " + dir,
                    "give every policy in a directory its own name");
      policies[p->name] = std::move(*p);
    }
  }
  std::map<std::string, std::shared_ptr<const SeccompFilter>> filters;  // one compile per profile
  for (auto& [name, pol] : policies) {
    LoadedPolicy lp;
    if (paths.compile_filters) {
      auto& f = filters[pol.seccomp_profile];
      if (!f) {
        FilterOptions fo;
        fo.data_dir = paths.data_dir;
        fo.use_cache = paths.bpf_cache;
        auto filter = LoadSeccompFilter(pol.seccomp_profile, fo);
        if (!filter) return Wrap(filter.error(), "policy " + pol.source + ": seccomp profile " + pol.seccomp_profile);
        for (const auto& w : filter->warnings) cfg.notes.push_back("warning: seccomp profile " + w);
        f = std::make_shared<const SeccompFilter>(std::move(*filter));
      }
      lp.filter = f;
    }
    cfg.notes.push_back("policy " + name + " v" + std::to_string(pol.version) + ": " + pol.source);
    lp.policy = std::make_shared<const Policy>(std::move(pol));
    cfg.policies[name] = std::move(lp);
  }
  // A restriction on a policy that does not exist restricts nothing: most likely a typo, which
  // would leave the policy it meant unrestricted.
  for (const auto& [pname, cls] : cfg.principals.policy_classes)
    if (!cfg.policies.contains(pname)) {
      std::string loaded;
      for (const auto& [n, lp] : cfg.policies) loaded += (loaded.empty() ? "" : ", ") + n;
      return FailMsg("principals " + cfg.principals.source + ": policy_classes." + pname + ": names policy '" + pname +
                      "', which is not loaded (loaded: " + loaded + ")",
                  "fix the name, or add the policy to " + paths.config_dir + "/policies, then send cordond SIGHUP");
    }
  return cfg;
}

}  // namespace cordon::daemon
