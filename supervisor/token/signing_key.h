// supervisor/token/signing_key.h: cordond's token signing key (Ed25519, JWS alg "EdDSA", RFC 8037)
// and the key set it publishes (JWKS, RFC 7517) for host services that verify tokens offline.
//
// On disk, under DIR (cordond: STATE/token, mode 0700):
//   signing-key.pem  the private key, PKCS#8 PEM, mode 0600, created at first start
//   jwks.json        {"keys": [{"kty":"OKP","crv":"Ed25519","x":..,"kid":..,"alg":"EdDSA","use":"sig"}]}, 0644
// The key id is the key's RFC 7638 thumbprint, so the same key always has the same kid.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cordon::token {

// One public key of a key set.
struct PublicKey {
  std::string kid;
  std::string raw;  // the 32 bytes of the Ed25519 public key
};

class SigningKey {
 public:
  // Loads DIR/signing-key.pem or, when there is none, creates it; (re)writes DIR/jwks.json.
  // `*notices`: lines for the caller's log (key created, its kid).
  static Result<SigningKey> LoadOrCreate(const std::string& dir, std::vector<std::string>* notices);
  // A fresh key held only in memory (tests, benchmarks).
  static Result<SigningKey> Generate();

  // The 64-byte Ed25519 signature of `data`.
  Result<std::string> Sign(std::string_view data) const;
  const PublicKey& public_key() const { return pub_; }

 private:
  struct Holder;
  SigningKey(std::shared_ptr<Holder> h, PublicKey pub) : key_(std::move(h)), pub_(std::move(pub)) {}
  static Result<SigningKey> FromHolder(std::shared_ptr<Holder> h);
  std::shared_ptr<Holder> key_;
  PublicKey pub_;
};

// RFC 7638 thumbprint of an Ed25519 public key: base64url(SHA-256 of its canonical JWK).
std::string Thumbprint(std::string_view raw_public_key);

// {"keys":[...]} of these keys.
std::string JwksJson(const std::vector<PublicKey>& keys);
// Reads a key set. Keys of other types (RSA, EC) are skipped; an Ed25519 key without a kid gets its
// thumbprint. Fails on malformed JSON or a key set with no Ed25519 key, naming the cause.
Result<std::vector<PublicKey>> ParseJwks(std::string_view json_text);

// True when `sig` is a valid Ed25519 signature of `data` by `key`.
bool VerifySignature(const PublicKey& key, std::string_view data, std::string_view sig);

}  // namespace cordon::token
