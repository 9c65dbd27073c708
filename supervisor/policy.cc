#include "supervisor/policy.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "supervisor/json_strict.h"
#include "supervisor/sha256.h"

namespace cordon {
namespace {

using nlohmann::json;

const char* TypeName(const json& j) { return j.type_name(); }

// The limits, their ranges, and whether 0 lifts them. Omitted fields keep PolicyLimits' defaults.
struct LimitField {
  const char* name;
  uint64_t PolicyLimits::*member;
  uint64_t min, max;
  bool zero_ok;
};
constexpr uint64_t kWeekMs = 7ull * 24 * 3600 * 1000;
constexpr LimitField kLimitFields[] = {
    {"max_wall_ms", &PolicyLimits::max_wall_ms, 1, kWeekMs, true},
    {"tmpfs_bytes", &PolicyLimits::tmpfs_bytes, 1 << 20, 1ull << 40, false},
    {"max_cpu_ms", &PolicyLimits::max_cpu_ms, 1, kWeekMs, true},
    {"memory_bytes", &PolicyLimits::memory_bytes, 4ull << 20, 1ull << 50, true},
    {"pids", &PolicyLimits::pids, 2, 1u << 22, true},
    {"output_bytes", &PolicyLimits::output_bytes, 1, 1ull << 50, true},
    {"nofile", &PolicyLimits::nofile, 16, 1u << 20, false},
    {"max_calls", &PolicyLimits::max_calls, 1, 1ull << 40, true},
};

bool ValidEnvName(const std::string& n) {
  if (n.empty()) return false;
  for (char c : n)
    if (c == '=' || c == '\0') return false;
  return true;
}

bool ValidHostPath(const std::string& p, std::string* why) {
  if (p.empty() || p[0] != '/') return (*why = "must be an absolute path"), false;
  if (p.find("/../") != std::string::npos || p.find("/./") != std::string::npos || p.ends_with("/..") ||
      p.ends_with("/.") || p.find("//") != std::string::npos)
    return (*why = "must be a normalised path (no '.', '..' or '//')"), false;
  if (p == "/") return (*why = "cannot mount the host's root"), false;
  return true;
}

// A mount target must be a plain absolute path that cannot shadow what Cordon builds itself.
bool ValidMountPath(const std::string& p, std::string* why) {
  if (!ValidHostPath(p, why)) return false;
  for (const char* reserved : {"/proc", "/dev", "/sys", "/tmp", "/work", "/run"}) {
    std::string r = reserved;
    if (p == r || p.starts_with(r + "/"))
      return (*why = r + " is built by Cordon for every sandbox and cannot be replaced"), false;
  }
  return true;
}

// governance (wip/govc): a side-effect class name ("deploy", "write", ...).
bool SideEffect(JsonChecker& v, const json& j, const std::string& path, std::string* out) {
  if (!v.String(j, path, out)) return false;
  bool ok = !out->empty() && out->size() <= 64;
  for (char c : *out)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) ok = false;
  if (!ok) v.Bad(path, "'" + *out + "' is not a side-effect class name: use 1 to 64 of a-z, 0-9, '_' and '-'");
  return ok;
}

}  // namespace

Result<Policy> ParsePolicy(std::string_view text, const std::string& source) {
  Policy p;
  p.source = source;
  p.sha256 = Sha256Hex(text);
  p.text = std::string(text);
  // Duplicate keys, deep nesting and NUL characters are refused here, with the JSON path.
  auto parsed = ParseStrictJson(text, "policy " + source, "fix the file; see docs/policy.md for an example");
  if (!parsed) return std::unexpected(parsed.error());
  json j = std::move(*parsed);
  JsonChecker v("policy " + source, "fix the field and see docs/policy.md for the format");
  auto done = [&]() -> Result<Policy> {
    if (v.error()) return v.Failure();
    return p;
  };
  if (!v.Object(j, "", {"name", "version", "role", "seccomp_profile", "limits", "env", "mounts", "description",
                        "bindings", "data_domain", "outbound", "identity", "approval_required_for",
                        "breaker_counts_exit_nonzero", "allow_landlock_mode"}))
    return done();
  for (const char* required : {"name", "version"}) {
    if (!j.contains(required)) {
      v.Bad(required, "required field is missing");
      return done();
    }
  }
  std::string desc;
  if (!v.String(j["name"], "name", &p.name) || !v.Uint(j["version"], "version", &p.version, 1, UINT32_MAX))
    return done();
  if (j.contains("description") && !v.String(j["description"], "description", &desc, false)) return done();
  p.role = p.name;
  if (j.contains("role") && !v.String(j["role"], "role", &p.role)) return done();
  if (j.contains("seccomp_profile") && !v.String(j["seccomp_profile"], "seccomp_profile", &p.seccomp_profile))
    return done();
  if (j.contains("limits")) {
    const json& l = j["limits"];
    if (!v.Object(l, "limits", {"max_wall_ms", "tmpfs_bytes", "max_cpu_ms", "memory_bytes", "pids",
                                "output_bytes", "nofile", "max_calls"}))
      return done();
    for (const LimitField& f : kLimitFields) {
      if (l.contains(f.name) &&
          !v.Uint(l[f.name], std::string("limits.") + f.name, &(p.limits.*f.member), f.min, f.max, f.zero_ok))
        return done();
    }
  }
  if (j.contains("env")) {
    const json& e = j["env"];
    if (!v.Object(e, "env", {"allow", "set"})) return done();
    if (e.contains("allow") && !v.StringList(e["allow"], "env.allow", &p.env.allow)) return done();
    if (e.contains("set")) {
      if (!e["set"].is_object()) {
        v.Bad("env.set", std::string("expected an object of strings, got ") + TypeName(e["set"]));
        return done();
      }
      for (auto it = e["set"].begin(); it != e["set"].end(); ++it) {
        std::string val;
        if (!ValidEnvName(it.key())) {
          v.Bad("env.set." + it.key(), "not a valid variable name");
          return done();
        }
        if (!v.String(it.value(), "env.set." + it.key(), &val, false)) return done();
        p.env.set[it.key()] = val;
      }
    }
  }
  if (j.contains("mounts")) {
    const json& m = j["mounts"];
    if (!m.is_array()) {
      v.Bad("mounts", std::string("expected an array, got ") + TypeName(m));
      return done();
    }
    for (size_t i = 0; i < m.size(); ++i) {
      const std::string path = "mounts[" + std::to_string(i) + "]";
      Policy::Mount mt;
      if (m[i].is_string()) {
        mt.source = mt.target = m[i].get<std::string>();
      } else if (m[i].is_object()) {
        if (!v.Object(m[i], path, {"source", "target"})) return done();
        if (!m[i].contains("source")) {
          v.Bad(path + ".source", "required field is missing");
          return done();
        }
        if (!v.String(m[i]["source"], path + ".source", &mt.source)) return done();
        mt.target = mt.source;
        if (m[i].contains("target") && !v.String(m[i]["target"], path + ".target", &mt.target)) return done();
      } else {
        v.Bad(path, std::string("expected a path or {\"source\", \"target\"}, got ") + TypeName(m[i]));
        return done();
      }
      std::string why;
      if (!ValidHostPath(mt.source, &why)) {
        v.Bad(path, "'" + mt.source + "' " + why);
        return done();
      }
      if (!ValidMountPath(mt.target, &why)) {
        v.Bad(path, "target '" + mt.target + "' " + why);
        return done();
      }
      p.mounts.push_back(std::move(mt));
    }
  }
  if (j.contains("data_domain") && !v.String(j["data_domain"], "data_domain", &p.data_domain)) return done();
  if (j.contains("approval_required_for")) {  // governance (wip/govc, docs/governance.md "Approvals")
    const json& a = j["approval_required_for"];
    if (!a.is_array()) {
      v.Bad("approval_required_for", std::string("expected an array of side-effect classes, got ") + TypeName(a));
      return done();
    }
    for (size_t i = 0; i < a.size(); ++i) {
      std::string name;
      if (!SideEffect(v, a[i], "approval_required_for[" + std::to_string(i) + "]", &name)) return done();
      p.approval_required_for.push_back(std::move(name));
    }
  }
  if (j.contains("breaker_counts_exit_nonzero")) {  // governance (wip/govc)
    if (!j["breaker_counts_exit_nonzero"].is_boolean()) {
      v.Bad("breaker_counts_exit_nonzero", std::string("expected true or false, got ") + TypeName(j["breaker_counts_exit_nonzero"]));
      return done();
    }
    p.breaker_counts_exit_nonzero = j["breaker_counts_exit_nonzero"].get<bool>();
  }
  if (j.contains("allow_landlock_mode")) {  // docs/landlock.md (wip/landlock)
    if (!j["allow_landlock_mode"].is_boolean()) {
      v.Bad("allow_landlock_mode", std::string("expected true or false, got ") + TypeName(j["allow_landlock_mode"]));
      return done();
    }
    p.allow_landlock_mode = j["allow_landlock_mode"].get<bool>();
  }
  if (j.contains("outbound")) {
    auto o = egress::ParseOutbound(j["outbound"], "outbound");
    if (!o) {
      v.Bad("outbound", o.error().context);
      return done();
    }
    p.outbound = std::move(*o);
  }
  if (j.contains("bindings")) {
    const json& b = j["bindings"];
    if (!b.is_array()) {
      v.Bad("bindings", std::string("expected an array, got ") + TypeName(b));
      return done();
    }
    for (size_t i = 0; i < b.size(); ++i) {
      const std::string path = "bindings[" + std::to_string(i) + "]";
      if (!v.Object(b[i], path, {"name", "kind", "source", "target", "access", "data_domain", "max_bytes",
                                        "side_effect", "secret"}))
        return done();
      Binding bd;
      std::string kind, access = "ro", why;
      for (const char* req : {"name", "kind"}) {
        if (!b[i].contains(req)) {
          v.Bad(path + "." + req, "required field is missing");
          return done();
        }
      }
      if (!v.String(b[i]["name"], path + ".name", &bd.name) || !v.String(b[i]["kind"], path + ".kind", &kind))
        return done();
      for (char c : bd.name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
          v.Bad(path + ".name", "'" + bd.name + "' may only hold letters, digits and '_' (it becomes $CORDON_FD_NAME)");
          return done();
        }
      }
      for (size_t k = 0; k < p.bindings.size(); ++k) {
        if (p.bindings[k].name == bd.name) {
          v.Bad(path + ".name", "'" + bd.name + "' is already bindings[" + std::to_string(k) + "]");
          return done();
        }
      }
      static const std::pair<const char*, Binding::Kind> kKinds[] = {{"dir", Binding::Kind::kDir},
          {"file", Binding::Kind::kFile}, {"socket", Binding::Kind::kSocket}, {"state", Binding::Kind::kState},
          {"pipe", Binding::Kind::kPipe}};
      bool known = false;
      for (auto [n, k] : kKinds)
        if (kind == n) bd.kind = k, known = true;
      if (!known) {
        v.Bad(path + ".kind", "'" + kind + "' is not one of dir, file, socket, state, pipe");
        return done();
      }
      if (b[i].contains("source") && !v.String(b[i]["source"], path + ".source", &bd.source)) return done();
      if (b[i].contains("target") && !v.String(b[i]["target"], path + ".target", &bd.target)) return done();
      if (b[i].contains("access") && !v.String(b[i]["access"], path + ".access", &access)) return done();
      if (b[i].contains("data_domain") && !v.String(b[i]["data_domain"], path + ".data_domain", &bd.data_domain))
        return done();
      if (b[i].contains("side_effect") && !SideEffect(v, b[i]["side_effect"], path + ".side_effect", &bd.side_effect))
        return done();  // governance (wip/govc)
      if (b[i].contains("max_bytes") && !v.Uint(b[i]["max_bytes"], path + ".max_bytes", &bd.max_bytes, 0, 1ull << 50))
        return done();
      if (access != "ro" && access != "rw") {
        v.Bad(path + ".access", "'" + access + "' is not ro or rw");
        return done();
      }
      bd.writable = access == "rw";
      const bool needs_source = bd.kind != Binding::Kind::kState;
      if (needs_source && bd.source.empty()) {
        v.Bad(path + ".source", "required for kind " + kind + " (a host path, or \"caller\" for --fd " + bd.name + "=N)");
        return done();
      }
      if (!needs_source && !bd.source.empty()) {
        v.Bad(path + ".source", "a state binding has no source: Cordon keys it by tenant and app");
        return done();
      }
      if (bd.kind == Binding::Kind::kPipe && !bd.from_caller()) {
        v.Bad(path + ".source", "a pipe binding comes from the caller: use \"caller\"");
        return done();
      }
      if (!bd.source.empty() && !bd.from_caller() && !ValidHostPath(bd.source, &why)) {
        v.Bad(path + ".source", "'" + bd.source + "' " + why);
        return done();
      }
      const bool mountable = bd.kind == Binding::Kind::kDir || bd.kind == Binding::Kind::kState ||
                             bd.kind == Binding::Kind::kFile;
      if ((bd.kind == Binding::Kind::kDir || bd.kind == Binding::Kind::kState) && bd.target.empty()) {
        v.Bad(path + ".target", "required for kind " + kind + ": where the task finds it");
        return done();
      }
      if (!mountable && !bd.target.empty()) {
        v.Bad(path + ".target", "kind " + kind + " is handed over as an fd only ($CORDON_FD_" + bd.name + ")");
        return done();
      }
      if (!bd.target.empty() && !ValidMountPath(bd.target, &why)) {
        v.Bad(path + ".target", "'" + bd.target + "' " + why);
        return done();
      }
      if (b[i].contains("secret")) {  // evidence (wip/evlog): docs/evidence.md "Secret bindings"
        if (!b[i]["secret"].is_boolean()) {
          v.Bad(path + ".secret", std::string("expected true or false, got ") + TypeName(b[i]["secret"]));
          return done();
        }
        bd.secret = b[i]["secret"].get<bool>();
        if (bd.secret && bd.kind != Binding::Kind::kFile && bd.kind != Binding::Kind::kDir) {
          v.Bad(path + ".secret", "only a file or dir binding can be secret (cordond reads its files' values to "
                                  "redact them); a " + kind + " binding has none to read");
          return done();
        }
        if (bd.secret && bd.kind == Binding::Kind::kDir && bd.from_caller()) {
          v.Bad(path + ".secret", "a dir binding from the caller cannot be secret: give a host path as its source");
          return done();
        }
      }
      if (bd.max_bytes && bd.kind != Binding::Kind::kState) {
        v.Bad(path + ".max_bytes", "only a state binding has a quota");
        return done();
      }
      p.bindings.push_back(std::move(bd));
    }
  }
  // The legal partition: a policy bound to a data domain accepts only bindings of that domain.
  if (!p.data_domain.empty()) {
    for (size_t i = 0; i < p.bindings.size(); ++i) {
      if (p.bindings[i].data_domain != p.data_domain) {
        v.Bad("bindings[" + std::to_string(i) + "].data_domain",
              "binding '" + p.bindings[i].name + "' is in data domain '" + p.bindings[i].data_domain +
                  "' but policy '" + p.name + "' is bound to '" + p.data_domain + "'");
        return done();
      }
    }
  }
  if (j.contains("identity") && !v.error()) {  // docs/identity.md
    auto id = ParsePolicyIdentity(j["identity"], p);
    if (!id) return std::unexpected(id.error());
    p.identity = std::move(*id);
  }
  return done();
}

const std::vector<std::string>& LimitNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const LimitField& f : kLimitFields) n.emplace_back(f.name);
    return n;
  }();
  return names;
}

Result<void> OverrideLimit(Policy* policy, const std::string& arg) {
  const auto eq = arg.find('=');
  const std::string name = arg.substr(0, eq);
  std::string names;
  for (const auto& n : LimitNames()) names += (names.empty() ? "" : ", ") + n;
  const LimitField* field = nullptr;
  for (const LimitField& f : kLimitFields)
    if (name == f.name) field = &f;
  if (field == nullptr)
    return FailMsg("--limit " + arg + ": unknown limit '" + name + "'", "use one of " + names);
  if (eq == std::string::npos || eq + 1 == arg.size())
    return FailMsg("--limit " + arg + ": no value", "use --limit " + name + "=VALUE (an integer; 0 or none lifts it)");
  std::string value = arg.substr(eq + 1);
  if (value == "none" || value == "unlimited") value = "0";
  uint64_t v = 0;
  for (char c : value) {
    if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10)
      return FailMsg("--limit " + arg + ": '" + value + "' is not a non-negative integer",
                     "give a number in the limit's unit (ms, bytes or a count), or none");
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v == 0 && !field->zero_ok)
    return FailMsg("--limit " + arg + ": " + name + " cannot be lifted to none",
                   "give a value between " + std::to_string(field->min) + " and " + std::to_string(field->max));
  if (v != 0 && (v < field->min || v > field->max))
    return FailMsg("--limit " + arg + ": " + name + " must be " + (field->zero_ok ? "0 (none) or " : "") + "between " +
                       std::to_string(field->min) + " and " + std::to_string(field->max),
                   "see docs/policy.md");
  policy->limits.*(field->member) = v;
  policy->limit_overrides.push_back(name + "=" + std::to_string(v));
  return {};
}

const char* BindingKindName(Binding::Kind k) {
  switch (k) {
    case Binding::Kind::kDir: return "dir";
    case Binding::Kind::kFile: return "file";
    case Binding::Kind::kSocket: return "socket";
    case Binding::Kind::kState: return "state";
    case Binding::Kind::kPipe: return "pipe";
  }
  return "unknown";
}

bool EnvNameAllowed(const PolicyEnv& env, std::string_view name) {
  for (const auto& a : env.allow) {
    if (a == "*" || a == name) return true;
    if (a.size() > 1 && a.back() == '*' && name.starts_with(std::string_view(a).substr(0, a.size() - 1)))
      return true;
  }
  return false;
}

}  // namespace cordon
