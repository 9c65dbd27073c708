// supervisor/token/jwt.cc: minting and verifying cordond's identity tokens (compact JWS, EdDSA).
#include "supervisor/token/jwt.h"

#include <sys/random.h>

#include <cerrno>

#include "supervisor/json_strict.h"
#include "supervisor/token/base64url.h"

namespace cordon::token {
namespace {

using json = nlohmann::json;

// A token is a few hundred bytes; a bound keeps a hostile one from costing anything.
constexpr size_t kMaxTokenBytes = 8192;

std::string DurationText(int64_t s) { return std::to_string(s) + " s"; }

}  // namespace

json ClaimsJson(const Claims& c) {
  json cordon = {{"task", c.task_id},
                 {"class", c.task_class},
                 {"policy", c.policy},
                 {"policy_sha256", c.policy_sha256},
                 {"capabilities", c.capabilities}};
  if (!c.session.empty()) cordon["session"] = c.session;
  if (!c.step.empty()) cordon["step"] = c.step;
  return json{{"iss", c.iss}, {"sub", c.sub}, {"aud", c.aud}, {"iat", c.iat}, {"nbf", c.nbf},
              {"exp", c.exp}, {"jti", c.jti}, {"cordon", cordon}};
}

Result<std::string> NewJti() {
  unsigned char b[16];
  size_t got = 0;
  while (got < sizeof b) {
    ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(errno, "getrandom");
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

Result<std::string> Mint(const SigningKey& key, const Claims& claims) {
  json header = {{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", key.public_key().kid}};
  std::string signing_input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(ClaimsJson(claims).dump());
  CORDON_ASSIGN_OR_RETURN(std::string sig, key.Sign(signing_input));
  return signing_input + "." + Base64UrlEncode(sig);
}

Result<Verified> Verify(std::string_view token, const std::vector<PublicKey>& keys, const VerifyOptions& opts) {
  if (token.size() > kMaxTokenBytes) return FailMsg("token longer than " + std::to_string(kMaxTokenBytes) + " bytes");
  const size_t d1 = token.find('.');
  const size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return FailMsg("not a compact JWS (header.payload.signature)");
  auto header_text = Base64UrlDecode(token.substr(0, d1));
  auto payload_text = Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig = Base64UrlDecode(token.substr(d2 + 1));
  if (!header_text || !payload_text || !sig) return FailMsg("a part of the token is not base64url");
  auto header = ParseStrictJson(*header_text, "token header", "");
  if (!header || !header->is_object()) return FailMsg("the token header is not a JSON object");
  // The algorithm is fixed, never taken from the token ("alg": "none" and key confusion).
  auto alg = header->find("alg");
  if (alg == header->end() || *alg != "EdDSA") return FailMsg("the token's alg is not EdDSA");
  auto kid_it = header->find("kid");
  if (kid_it == header->end() || !kid_it->is_string()) return FailMsg("the token header has no kid");
  const std::string kid = kid_it->get<std::string>();
  const PublicKey* key = nullptr;
  for (const PublicKey& k : keys)
    if (k.kid == kid) key = &k;
  if (key == nullptr) return FailMsg("no key with the token's kid " + kid + " in the key set");
  if (!VerifySignature(*key, token.substr(0, d2), *sig)) return FailMsg("signature does not verify");

  auto payload = ParseStrictJson(*payload_text, "token claims", "");
  if (!payload || !payload->is_object()) return FailMsg("the token's claims are not a JSON object");
  const json& p = *payload;
  Verified v;
  v.kid = kid;
  Claims& c = v.claims;
  auto str = [&](const char* name, std::string* out) {
    auto it = p.find(name);
    if (it == p.end() || !it->is_string()) return false;
    *out = it->get<std::string>();
    return true;
  };
  auto num = [&](const char* name, int64_t* out) {
    auto it = p.find(name);
    if (it == p.end() || !it->is_number_integer()) return false;
    *out = it->get<int64_t>();
    return true;
  };
  for (const char* name : {"iss", "sub", "aud", "jti"}) {
    std::string* field = name == std::string_view("iss") ? &c.iss
                         : name == std::string_view("sub") ? &c.sub
                         : name == std::string_view("aud") ? &c.aud
                                                           : &c.jti;
    if (!str(name, field)) return FailMsg(std::string("claim ") + name + " missing or not a string");
  }
  if (!num("iat", &c.iat) || !num("nbf", &c.nbf) || !num("exp", &c.exp))
    return FailMsg("claims iat, nbf and exp must be integers");
  auto co = p.find("cordon");
  if (co == p.end() || !co->is_object()) return FailMsg("claim cordon missing or not an object");
  auto cstr = [&](const char* name, std::string* out) {
    auto it = co->find(name);
    if (it != co->end() && it->is_string()) *out = it->get<std::string>();
  };
  cstr("task", &c.task_id);
  cstr("session", &c.session);
  cstr("class", &c.task_class);
  cstr("policy", &c.policy);
  cstr("policy_sha256", &c.policy_sha256);
  cstr("step", &c.step);
  if (auto caps = co->find("capabilities"); caps != co->end() && caps->is_array())
    for (const json& e : *caps)
      if (e.is_string()) c.capabilities.push_back(e.get<std::string>());
  if (c.task_id.empty()) return FailMsg("claim cordon.task missing");

  if (opts.now + opts.leeway_s < c.nbf) return FailMsg("token not valid before " + DurationText(c.nbf - opts.now) + " from now");
  if (opts.now - opts.leeway_s >= c.exp) return FailMsg("token expired " + DurationText(opts.now - c.exp) + " ago");
  if (!opts.audience.empty() && c.aud != opts.audience)
    return FailMsg("token is for audience '" + c.aud + "', not '" + opts.audience + "'");
  if (!opts.issuer.empty() && c.iss != opts.issuer)
    return FailMsg("token is from issuer '" + c.iss + "', not '" + opts.issuer + "'");
  v.payload = std::move(*payload);
  return v;
}

}  // namespace cordon::token
