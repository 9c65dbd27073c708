#include "supervisor/seccomp/audit/policy_lint.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "supervisor/seccomp/audit/lint.h"

namespace cordon::seccomp::audit {
namespace {

using J = nlohmann::json;

// Well-known credential shapes (the patterns secret scanners such as gitleaks use for these).
struct SecretShape {
  const char* what;
  std::regex re;
};
const std::vector<SecretShape>& Shapes() {
  static const std::vector<SecretShape> k = {
      {"an AWS access key id", std::regex("(AKIA|ASIA)[0-9A-Z]{16}")},
      {"a private key", std::regex("-----BEGIN [A-Z ]*PRIVATE KEY-----")},
      {"a GitHub token", std::regex("gh[pousr]_[A-Za-z0-9]{36}")},
      {"a Slack token", std::regex("xox[abprs]-[A-Za-z0-9-]{10,}")},
      {"an OpenAI-style API key", std::regex("sk-[A-Za-z0-9_-]{20,}")},
      {"a JSON web token", std::regex("eyJ[A-Za-z0-9_-]{10,}\\.eyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{10,}")},
      {"a password in a URL", std::regex("[a-z][a-z0-9+.-]*://[^/:@\\s]+:[^/@\\s]+@")},
  };
  return k;
}

bool SecretName(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
  for (const char* w : {"SECRET", "TOKEN", "PASSWORD", "PASSWD", "API_KEY", "APIKEY", "PRIVATE_KEY", "CREDENTIAL"})
    if (name.find(w) != std::string::npos) return true;
  return false;
}

// Walks every string of the raw policy, with its JSON path.
void WalkStrings(const J& j, const std::string& path, const std::function<void(const std::string&, const std::string&)>& f) {
  if (j.is_string()) {
    f(path, j.get<std::string>());
  } else if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) WalkStrings(it.value(), path.empty() ? it.key() : path + "." + it.key(), f);
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) WalkStrings(j[i], path + "[" + std::to_string(i) + "]", f);
  }
}

void CheckSecrets(const Policy& p, std::string_view raw, std::vector<Finding>* out) {
  J j = J::parse(raw, nullptr, false);
  if (j.is_discarded()) return;
  std::set<std::string> flagged;
  WalkStrings(j, "", [&](const std::string& path, const std::string& v) {
    for (const auto& s : Shapes()) {
      if (!std::regex_search(v, s.re)) continue;
      flagged.insert(path);
      out->push_back({"secrets/literal", Severity::kCritical, path, "",
                      "looks like " + std::string(s.what) + ": a secret written into a policy is readable by everyone "
                      "who can read the policy and by every task that runs under it",
                      "remove it and rotate it; hand the task a credential through a binding or a broker, never the policy"});
      return;
    }
  });
  for (const auto& [k, v] : p.env.set) {
    const std::string path = "env.set." + k;
    if (flagged.contains(path) || v.empty() || !SecretName(k)) continue;
    out->push_back({"secrets/literal", Severity::kHigh, path, "",
                    "env.set forces " + k + " to a literal value: every task and every reader of the policy sees it",
                    "pass the secret through a binding (a file or socket the task reads) or leave it to --env under env.allow"});
  }
}

}  // namespace

std::vector<Finding> LintPolicy(const Policy& p, std::string_view raw_json, const Profile* profile) {
  std::vector<Finding> out;
  CheckSecrets(p, raw_json, &out);
  for (size_t i = 0; i < p.env.allow.size(); ++i) {
    if (p.env.allow[i] != "*") continue;
    out.push_back({"env/allow-any", Severity::kMedium, "env.allow[" + std::to_string(i) + "]", "",
                   "any caller may set any environment variable (LD_PRELOAD, PYTHONPATH, …) for the task",
                   "list the names (or NAME_* prefixes) the task needs"});
  }
  const bool monitored = p.outbound.mode == egress::OutboundMode::kMonitored;
  for (size_t i = 0; i < p.bindings.size(); ++i) {
    const auto& b = p.bindings[i];
    if (b.writable && monitored) {
      out.push_back({"exfiltration/writable-and-monitored", Severity::kHigh, "bindings[" + std::to_string(i) + "].access", "",
                     "binding '" + b.name + "' is writable while outbound is `monitored` (every public destination): "
                     "the task can read and change host data and send it anywhere",
                     "make the binding read-only, or use outbound `allowlist` with the destinations the task needs"});
    }
  }
  for (size_t i = 0; i < p.outbound.allow.size(); ++i) {
    const auto& e = p.outbound.allow[i];
    bool wildcard = e.kind == egress::AllowEntry::Kind::kAnyHost ||
                    (e.kind == egress::AllowEntry::Kind::kAddress && e.range.prefix == 0);
    if (!wildcard) continue;
    out.push_back({"egress/wildcard", Severity::kHigh, "outbound.allow[" + std::to_string(i) + "]", "",
                   "'" + e.text + "' allows every destination" + (e.port ? " on that port" : "") +
                       ": the allowlist no longer limits where data goes",
                   "name the hosts (api.example.com:443) or the narrowest address ranges"});
  }
  const std::pair<const char*, uint64_t> limits[] = {{"max_wall_ms", p.limits.max_wall_ms},
                                                     {"max_cpu_ms", p.limits.max_cpu_ms},
                                                     {"memory_bytes", p.limits.memory_bytes},
                                                     {"pids", p.limits.pids}};
  for (const auto& [name, v] : limits) {
    if (v != 0) continue;
    out.push_back({"limits/unbounded", Severity::kMedium, std::string("limits.") + name, "",
                   std::string(name) + " is lifted (0): one task can hold the host's " +
                       (std::string(name) == "pids" ? "process table" : std::string(name).starts_with("max") ? "time" : "memory"),
                   "set a bound (docs/policy.md, \"Default budgets\")"});
  }
  std::set<std::string> domains;
  for (const auto& b : p.bindings) domains.insert(b.data_domain);
  if (p.data_domain.empty() && domains.size() > 1) {
    std::string list;
    for (const auto& d : domains) list += (list.empty() ? "" : ", ") + (d.empty() ? std::string("(none)") : "'" + d + "'");
    out.push_back({"data-domain/mixed", Severity::kMedium, "bindings", "",
                   "the bindings mix data domains (" + list + ") with no policy data_domain: one task can move data "
                   "between them",
                   "split the policy per domain, or set data_domain so mixing is refused"});
  }
  if (profile) {
    for (auto f : LintProfile(*profile)) {
      f.path = "seccomp_profile: " + f.path;
      out.push_back(std::move(f));
    }
  }
  SortFindings(&out);
  return out;
}

std::vector<PolicyChange> DiffPolicies(const Policy& a, const Policy& b, const std::vector<Change>& seccomp) {
  std::vector<PolicyChange> out;
  auto add = [&](std::string path, std::string was, std::string now, std::string kind) {
    out.push_back({std::move(path), std::move(was), std::move(now), std::move(kind)});
  };
  // Bindings by name.
  auto desc = [](const Binding& x) {
    return std::string(BindingKindName(x.kind)) + " " + (x.source.empty() ? "(state)" : x.source) +
           (x.target.empty() ? "" : " at " + x.target) + (x.writable ? " rw" : " ro") +
           (x.data_domain.empty() ? "" : " domain " + x.data_domain);
  };
  std::map<std::string, const Binding*> ba, bb;
  for (const auto& x : a.bindings) ba[x.name] = &x;
  for (const auto& x : b.bindings) bb[x.name] = &x;
  for (const auto& [n, x] : ba) {
    if (!bb.contains(n)) {
      add("bindings." + n, desc(*x), "(none)", "takes away");
    } else if (desc(*x) != desc(*bb[n])) {
      bool wider = !x->writable && bb[n]->writable;
      add("bindings." + n, desc(*x), desc(*bb[n]), wider ? "grants" : "changes");
    }
  }
  for (const auto& [n, x] : bb)
    if (!ba.contains(n)) add("bindings." + n, "(none)", desc(*x), "grants");
  // Outbound network.
  auto rank = [](egress::OutboundMode m) { return m == egress::OutboundMode::kNone ? 0 : m == egress::OutboundMode::kAllowlist ? 1 : 2; };
  if (a.outbound.mode != b.outbound.mode) {
    add("outbound.mode", egress::OutboundModeName(a.outbound.mode), egress::OutboundModeName(b.outbound.mode),
        rank(b.outbound.mode) > rank(a.outbound.mode) ? "grants" : "takes away");
  }
  std::set<std::string> ea, eb;
  for (const auto& e : a.outbound.allow) ea.insert(e.text);
  for (const auto& e : b.outbound.allow) eb.insert(e.text);
  for (const auto& e : eb)
    if (!ea.contains(e)) add("outbound.allow", "(none)", e, "grants");
  for (const auto& e : ea)
    if (!eb.contains(e)) add("outbound.allow", e, "(none)", "takes away");
  // Budgets: 0 is "none", the widest.
  static constexpr std::pair<const char*, uint64_t PolicyLimits::*> kLimits[] = {
      {"max_wall_ms", &PolicyLimits::max_wall_ms}, {"tmpfs_bytes", &PolicyLimits::tmpfs_bytes},
      {"max_cpu_ms", &PolicyLimits::max_cpu_ms},   {"memory_bytes", &PolicyLimits::memory_bytes},
      {"pids", &PolicyLimits::pids},               {"output_bytes", &PolicyLimits::output_bytes},
      {"nofile", &PolicyLimits::nofile},           {"max_calls", &PolicyLimits::max_calls}};
  for (const auto& [name, field] : kLimits) {
    const uint64_t va = a.limits.*field, vb = b.limits.*field;
    if (va == vb) continue;
    auto show = [](uint64_t v) { return v == 0 ? std::string("none") : std::to_string(v); };
    bool wider = vb == 0 || (va != 0 && vb > va);
    add(std::string("limits.") + name, show(va), show(vb), wider ? "grants" : "takes away");
  }
  // Environment.
  std::set<std::string> aa(a.env.allow.begin(), a.env.allow.end()), ab(b.env.allow.begin(), b.env.allow.end());
  for (const auto& e : ab)
    if (!aa.contains(e)) add("env.allow", "(none)", e, "grants");
  for (const auto& e : aa)
    if (!ab.contains(e)) add("env.allow", e, "(none)", "takes away");
  // Values of secret-looking names are not repeated into review logs.
  auto shown = [](const std::string& k, const std::string& v) { return SecretName(k) ? std::string("(a value, redacted)") : v; };
  for (const auto& [k, v] : b.env.set) {
    auto it = a.env.set.find(k);
    if (it == a.env.set.end()) add("env.set." + k, "(unset)", shown(k, v), "changes");
    else if (it->second != v) add("env.set." + k, shown(k, it->second), shown(k, v), "changes");
  }
  for (const auto& [k, v] : a.env.set)
    if (!b.env.set.contains(k)) add("env.set." + k, shown(k, v), "(unset)", "changes");
  // Mounts, role, data domain.
  std::set<std::string> ma, mb;
  for (const auto& m : a.mounts) ma.insert(m.source + " at " + m.target);
  for (const auto& m : b.mounts) mb.insert(m.source + " at " + m.target);
  for (const auto& m : mb)
    if (!ma.contains(m)) add("mounts", "(none)", m, "grants");
  for (const auto& m : ma)
    if (!mb.contains(m)) add("mounts", m, "(none)", "takes away");
  if (a.role != b.role) add("role", a.role, b.role, "changes");
  if (a.data_domain != b.data_domain) add("data_domain", a.data_domain, b.data_domain, "changes");
  // The seccomp profile, by meaning.
  if (a.seccomp_profile != b.seccomp_profile && seccomp.empty())
    add("seccomp_profile", a.seccomp_profile, b.seccomp_profile + " (decides every call alike)", "changes");
  for (const auto& c : seccomp) {
    std::string abis;
    for (const auto& x : c.abis) abis += (abis.empty() ? "" : ",") + x;
    add("seccomp_profile: " + c.syscall + " [" + abis + "]" + (c.all_args ? "" : " for some arguments"), c.was, c.now,
        c.opens ? "grants" : c.closes ? "takes away" : "changes");
  }
  return out;
}

std::string RenderPolicyDiffText(const std::string& a, const std::string& b, const std::vector<PolicyChange>& cs) {
  std::string out = "--- " + a + "\n+++ " + b + "\n";
  size_t grants = 0, takes = 0;
  for (const auto& c : cs) {
    grants += c.kind == "grants";
    takes += c.kind == "takes away";
    std::string mark = c.kind == "grants" ? "+ " : c.kind == "takes away" ? "- " : "~ ";
    out += mark + c.path + ": " + c.was + " -> " + c.now + "\n";
  }
  out += std::to_string(cs.size()) + " change(s): " + std::to_string(grants) + " grant, " + std::to_string(takes) +
         " take away, " + std::to_string(cs.size() - grants - takes) + " other\n";
  return out;
}

std::string RenderPolicyDiffJson(const std::string& a, const std::string& b, const std::vector<PolicyChange>& cs) {
  nlohmann::ordered_json j = {{"a", a}, {"b", b}, {"changes", nlohmann::ordered_json::array()}};
  for (const auto& c : cs) j["changes"].push_back({{"path", c.path}, {"was", c.was}, {"now", c.now}, {"kind", c.kind}});
  j["differ"] = !cs.empty();
  return j.dump() + "\n";
}

}  // namespace cordon::seccomp::audit
