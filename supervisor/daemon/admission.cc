#include "supervisor/daemon/admission.h"

#include <algorithm>

#include "supervisor/sha256.h"

namespace cordon::daemon {
namespace {

constexpr size_t kMaxArgs = 4096;
constexpr size_t kMaxEnv = 1024;

void Put(std::string* out, std::string_view tag, std::string_view v) {
  out->append(tag);
  out->append(std::to_string(v.size()));
  out->push_back(':');
  out->append(v);
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "none" : s;
}

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The first field of `s` that holds a NUL character, with where in it, or "". The task would see
// only the part before it (execve and the environment are C strings) while the record and the
// status kept the whole: three versions of one request. So a NUL is refused everywhere.
std::string NulField(const Submission& s) {
  auto at = [](const std::string& v) { return v.find('\0'); };
  auto where = [](const std::string& name, size_t pos) {
    return name + " contains a NUL character at byte " + std::to_string(pos);
  };
  for (size_t i = 0; i < s.argv.size(); ++i)
    if (size_t p = at(s.argv[i]); p != std::string::npos) return where("argv[" + std::to_string(i) + "]", p);
  for (size_t i = 0; i < s.env.size(); ++i)
    if (size_t p = at(s.env[i]); p != std::string::npos) {
      const size_t eq = s.env[i].find('=');
      return where("env[" + std::to_string(i) + "] " + (eq == std::string::npos || p < eq ? "(its name)" : "(its value)"),
                   p);
    }
  const std::pair<const char*, const std::string*> fields[] = {
      {"cwd", &s.cwd}, {"policy", &s.policy}, {"app_id", &s.app_id}, {"request_id", &s.request_id}};
  for (const auto& [name, v] : fields)
    if (size_t p = at(*v); p != std::string::npos) return where(name, p);
  for (size_t i = 0; i < s.fd_bindings.size(); ++i)
    if (size_t p = at(s.fd_bindings[i]); p != std::string::npos)
      return where("fd_bindings[" + std::to_string(i) + "]", p);
  return "";
}

}  // namespace

std::string Fingerprint(const Submission& s) {
  std::string c = "cordon-submit-v1\n";
  c += "argv#" + std::to_string(s.argv.size()) + "\n";
  for (const auto& a : s.argv) Put(&c, "a", a);
  c += "env#" + std::to_string(s.env.size()) + "\n";
  for (const auto& e : s.env) Put(&c, "e", e);
  Put(&c, "cwd", s.cwd);
  Put(&c, "policy", s.policy);
  Put(&c, "app", s.app_id);
  Put(&c, "class", s.cls);
  if (s.artifact) Put(&c, "artifact", s.artifact->sha256);  // only when declared: older fingerprints stay
  return Sha256Hex(c);
}

Decision Admit(const Config& cfg, const PeerCred& peer, const Submission& s) {
  Decision d;
  auto deny = [&](Verdict v, std::string why) {
    d.verdict = v;
    d.reason = std::move(why);
    return d;
  };
  d.principal = FindPrincipal(cfg.principals, peer.uid, peer.gid);
  if (d.principal == nullptr)
    return deny(Verdict::kUnauthenticated,
                "uid " + std::to_string(peer.uid) + " gid " + std::to_string(peer.gid) + " is not a principal in " +
                    cfg.principals.source + "; an operator must add it under \"principals\" with the roles it "
                    "needs, then send cordond SIGHUP");
  const Principal& p = *d.principal;
  const std::string who = "principal '" + p.name + "' (tenant " + p.tenant + ")";

  if (std::string nul = NulField(s); !nul.empty())
    return deny(Verdict::kInvalidArgument,
                nul + ": Linux arguments, variables and paths end at a NUL, so the task would not get what was "
                      "sent; remove it");
  auto it = cfg.policies.find(s.policy);
  if (it != cfg.policies.end()) d.policy = &it->second;
  if (s.argv.empty() || s.argv[0].empty()) return deny(Verdict::kInvalidArgument, "argv is empty: give a command to run");
  if (s.argv.size() > kMaxArgs) return deny(Verdict::kInvalidArgument, "argv has more than 4096 elements");
  if (s.env.size() > kMaxEnv) return deny(Verdict::kInvalidArgument, "env has more than 1024 entries");
  if (s.cwd.empty() || s.cwd[0] != '/')
    return deny(Verdict::kInvalidArgument, "cwd '" + s.cwd + "' must be an absolute path inside the sandbox");
  if (!IsClassName(s.cls))
    return deny(Verdict::kInvalidArgument, "class '" + s.cls + "' is unknown (interactive, batch, privileged)");
  if (d.policy == nullptr) {
    std::vector<std::string> loaded;
    for (const auto& [n, lp] : cfg.policies) loaded.push_back(n);
    return deny(Verdict::kInvalidArgument, "policy '" + s.policy + "' is not loaded (loaded: " + Join(loaded) + ")");
  }

  // Authorization: some role of the principal must list the policy and the class together.
  std::vector<std::string> roles_with_policy, classes_with_policy, allowed_policies;
  for (const auto& rn : p.roles) {
    const Role& r = cfg.principals.roles.at(rn);
    for (const auto& pol : r.policies) allowed_policies.push_back(pol);
    if (!Contains(r.policies, s.policy) && !Contains(r.policies, "*")) continue;
    roles_with_policy.push_back(rn);
    for (const auto& c : r.classes)
      if (!Contains(classes_with_policy, c)) classes_with_policy.push_back(c);
  }
  if (roles_with_policy.empty())
    return deny(Verdict::kPermissionDenied,
                who + " may not use policy '" + s.policy + "': none of its roles (" + Join(p.roles) +
                    ") lists it; policies it may use: " + Join(allowed_policies) +
                    ". Ask an operator to add the policy to one of its roles in " + cfg.principals.source);
  if (!Contains(classes_with_policy, s.cls))
    return deny(Verdict::kPermissionDenied,
                who + " may use policy '" + s.policy + "' only with class " + Join(classes_with_policy) +
                    " (roles " + Join(roles_with_policy) + "), not '" + s.cls + "'");
  if (auto pc = cfg.principals.policy_classes.find(s.policy);
      pc != cfg.principals.policy_classes.end() && !Contains(pc->second, s.cls))
    return deny(Verdict::kPermissionDenied, "policy '" + s.policy + "' accepts class " + Join(pc->second) +
                                                " only (policy_classes in " + cfg.principals.source + "), not '" +
                                                s.cls + "'");

  const Policy& pol = *d.policy->policy;
  for (const auto& kv : s.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return deny(Verdict::kInvalidArgument, "env entry '" + kv + "' is not NAME=VALUE");
    std::string name = kv.substr(0, eq);
    if (name.rfind("CORDON_", 0) == 0)
      return deny(Verdict::kPermissionDenied, "env " + name + ": names starting with CORDON_ are reserved");
    if (pol.env.set.contains(name))
      return deny(Verdict::kPermissionDenied, "env " + name + ": policy '" + pol.name + "' forces this variable");
    if (!EnvNameAllowed(pol.env, name))
      return deny(Verdict::kPermissionDenied,
                  "env " + name + ": not allowed by policy '" + pol.name + "' (env.allow: " + Join(pol.env.allow) + ")");
  }
  d.verdict = Verdict::kAllow;
  d.reason = who + " role " + roles_with_policy.front() + " allows policy '" + s.policy + "' class " + s.cls;
  return d;
}

bool MayManage(const Principals& cfg, const Principal& p, const std::string& owner) {
  if (p.name == owner) return true;
  for (const auto& rn : p.roles)
    if (auto it = cfg.roles.find(rn); it != cfg.roles.end() && it->second.manage_all_tasks) return true;
  return false;
}

}  // namespace cordon::daemon
