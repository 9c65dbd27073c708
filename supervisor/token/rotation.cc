// supervisor/token/rotation.cc: retired keys and the rotation of the signing key.
#include "supervisor/token/rotation.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "supervisor/json_strict.h"
#include "supervisor/token/base64url.h"

namespace cordon::token {
namespace {

using json = nlohmann::json;

struct Retired {
  PublicKey key;
  int64_t exp = 0;
};

Result<std::vector<Retired>> ReadRetired(const std::string& dir) {
  const std::string path = dir + "/retired-keys.json";
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::vector<Retired>{};  // none retired yet
  std::ostringstream s;
  s << f.rdbuf();
  CORDON_ASSIGN_OR_RETURN(json j, ParseStrictJson(s.str(), path, "remove it if it is damaged (its keys then leave the key set)"));
  std::vector<Retired> out;
  if (!j.is_object() || !j.contains("keys") || !j["keys"].is_array()) return FailMsg(path + ": expected {\"keys\": [...]}");
  for (const json& k : j["keys"]) {
    if (!k.is_object() || !k.contains("exp") || !k["exp"].is_number_integer() || !k.contains("x") || !k["x"].is_string())
      return FailMsg(path + ": a key without \"x\" or an integer \"exp\"");
    auto raw = Base64UrlDecode(k["x"].get<std::string>());
    if (!raw || raw->size() != 32) return FailMsg(path + ": a key's \"x\" is not 32 bytes of base64url");
    out.push_back({{Thumbprint(*raw), *raw}, k["exp"].get<int64_t>()});
  }
  return out;
}

Result<void> WriteText(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f || !(f << text) || !f.flush()) return FailMsg("cannot write " + tmp);
  }
  if (::chmod(tmp.c_str(), mode) < 0) return Fail(errno, "chmod " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) < 0) return Fail(errno, "rename " + tmp + " to " + path);
  return {};
}

}  // namespace

Result<std::vector<PublicKey>> PublishedKeys(const std::string& dir, const PublicKey& current, int64_t now) {
  CORDON_ASSIGN_OR_RETURN(std::vector<Retired> retired, ReadRetired(dir));
  std::vector<PublicKey> keys{current};
  for (const Retired& r : retired)
    if (r.exp > now && r.key.kid != current.kid) keys.push_back(r.key);
  return keys;
}

Result<Rotation> RotateSigningKey(const std::string& dir, int64_t now) {
  CORDON_ASSIGN_OR_RETURN(SigningKey old, SigningKey::LoadOrCreate(dir, nullptr));
  CORDON_ASSIGN_OR_RETURN(std::vector<Retired> retired, ReadRetired(dir));
  Rotation r{old.public_key().kid, "", now + kRetiredKeyLifeS};
  json arr = json::array();
  for (const Retired& k : retired)  // the expired ones are dropped for good
    if (k.exp > now) arr.push_back({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", Base64UrlEncode(k.key.raw)}, {"kid", k.key.kid}, {"exp", k.exp}});
  arr.push_back({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", Base64UrlEncode(old.public_key().raw)},
                 {"kid", old.public_key().kid}, {"exp", r.old_until}});
  // The old key is published as retired before it stops signing: no moment without it.
  CORDON_TRY(WriteText(dir + "/retired-keys.json", json{{"keys", arr}}.dump() + "\n", 0644));
  if (::unlink((dir + "/signing-key.pem").c_str()) < 0) return Fail(errno, "remove " + dir + "/signing-key.pem");
  CORDON_ASSIGN_OR_RETURN(SigningKey fresh, SigningKey::LoadOrCreate(dir, nullptr));  // new key, jwks.json rewritten
  r.new_kid = fresh.public_key().kid;
  return r;
}

}  // namespace cordon::token
