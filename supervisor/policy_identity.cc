// supervisor/policy_identity.cc: a policy's `identity` section (docs/identity.md): the audiences its
// tasks get tokens for, and the secrets they see only as placeholders.
#include <cctype>

#include <nlohmann/json.hpp>

#include "supervisor/json_strict.h"
#include "supervisor/policy.h"

namespace cordon {
namespace {

using json = nlohmann::json;

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

// A list of outbound allow entries ("host:port", docs/network.md) at `path`.
bool Destinations(JsonChecker& v, const json& j, const std::string& path, std::vector<egress::AllowEntry>* out) {
  std::vector<std::string> texts;
  if (!v.StringList(j, path, &texts)) return false;
  if (texts.empty()) return v.Bad(path, "name at least one destination (host:port)");
  for (size_t i = 0; i < texts.size(); ++i) {
    auto e = egress::ParseAllowEntry(texts[i]);
    if (!e) return v.Bad(JsonChecker::Index(path, i), e.error().context);
    out->push_back(std::move(*e));
  }
  return true;
}

}  // namespace

Result<PolicyIdentity> ParsePolicyIdentity(const json& j, const Policy& p) {
  JsonChecker v("policy " + p.source, "fix the field and see docs/identity.md for the format");
  PolicyIdentity id;
  auto done = [&]() -> Result<PolicyIdentity> {
    if (v.error()) return v.Failure();
    return id;
  };
  if (!v.Object(j, "identity", {"tokens", "secrets", "max_token_ttl_s"})) return done();
  if (j.contains("max_token_ttl_s") &&
      !v.Uint(j["max_token_ttl_s"], "identity.max_token_ttl_s", &id.max_token_ttl_s, 1, 86'400))
    return done();
  if (j.contains("tokens")) {
    const json& t = j["tokens"];
    if (!t.is_array()) return v.Bad("identity.tokens", "expected an array of {\"audience\", ...}"), done();
    for (size_t i = 0; i < t.size(); ++i) {
      const std::string path = JsonChecker::Index("identity.tokens", i);
      TokenGrant g;
      if (!v.Object(t[i], path, {"audience", "binding", "attach"})) return done();
      if (!t[i].contains("audience")) return v.Bad(path + ".audience", "required field is missing"), done();
      if (!v.String(t[i]["audience"], path + ".audience", &g.audience)) return done();
      for (const TokenGrant& other : id.tokens)
        if (other.audience == g.audience) return v.Bad(path + ".audience", "'" + g.audience + "' is listed twice"), done();
      if (t[i].contains("binding")) {
        if (!v.String(t[i]["binding"], path + ".binding", &g.binding)) return done();
        const Binding* b = nullptr;
        for (const Binding& x : p.bindings)
          if (x.name == g.binding) b = &x;
        if (b == nullptr || b->kind != Binding::Kind::kPipe || !b->from_caller())
          return v.Bad(path + ".binding", "declare a binding {\"name\": \"" + g.binding +
                                              "\", \"kind\": \"pipe\", \"source\": \"caller\"} for cordond to fill"),
                 done();
      }
      if (t[i].contains("attach") && !Destinations(v, t[i]["attach"], path + ".attach", &g.attach)) return done();
      if (g.binding.empty() && g.attach.empty())
        return v.Bad(path, "say how the task gets it: \"binding\" (an fd) or \"attach\" (the egress proxy adds it)"),
               done();
      id.tokens.push_back(std::move(g));
    }
  }
  if (j.contains("secrets")) {
    const json& s = j["secrets"];
    if (!s.is_array()) return v.Bad("identity.secrets", "expected an array of {\"name\", \"source\", ...}"), done();
    for (size_t i = 0; i < s.size(); ++i) {
      const std::string path = JsonChecker::Index("identity.secrets", i);
      SecretDecl d;
      if (!v.Object(s[i], path, {"name", "source", "destinations", "env", "body"})) return done();
      for (const char* required : {"name", "source", "destinations"})
        if (!s[i].contains(required)) return v.Bad(path + "." + required, "required field is missing"), done();
      if (!v.String(s[i]["name"], path + ".name", &d.name)) return done();
      if (!ValidName(d.name)) return v.Bad(path + ".name", "use letters, digits and _ (at most 64)"), done();
      for (const SecretDecl& other : id.secrets)
        if (other.name == d.name) return v.Bad(path + ".name", "'" + d.name + "' is declared twice"), done();
      if (!v.String(s[i]["source"], path + ".source", &d.source)) return done();
      if (d.source == "caller") {  // the Submit's --fd NAME=N (docs/identity.md)
        for (const Binding& b : p.bindings)
          if (b.name == d.name)
            return v.Bad(path + ".name", "'" + d.name + "' is also a binding's name; a caller's --fd " + d.name +
                                             " must name one of them"),
                   done();
      } else if (!d.source.starts_with('/')) {
        return v.Bad(path + ".source", "an absolute path of a file readable only by cordond, or \"caller\""), done();
      }
      if (!Destinations(v, s[i]["destinations"], path + ".destinations", &d.destinations)) return done();
      d.env = d.name;
      if (s[i].contains("env")) {
        if (!v.String(s[i]["env"], path + ".env", &d.env)) return done();
        if (!ValidName(d.env) || std::isdigit(static_cast<unsigned char>(d.env[0])))
          return v.Bad(path + ".env", "not a valid variable name"), done();
      }
      if (s[i].contains("body")) {
        if (!s[i]["body"].is_boolean()) return v.Bad(path + ".body", "expected true or false"), done();
        d.body = s[i]["body"].get<bool>();
      }
      id.secrets.push_back(std::move(d));
    }
  }
  return done();
}

}  // namespace cordon
