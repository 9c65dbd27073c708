// supervisor/token/jwt.h: cordond's per-task identity tokens: compact JWS (RFC 7515) JWTs
// (RFC 7519) signed with Ed25519 ("alg": "EdDSA"), and their offline verification against a key set.
// docs/identity.md lists the claims.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "supervisor/token/signing_key.h"

namespace cordon::token {

// What a token says. Times are Unix seconds.
struct Claims {
  std::string iss;      // "cordond" unless the deployment names itself
  std::string sub;      // "<tenant>/<app>/<principal>"
  std::string aud;      // exactly one audience
  int64_t iat = 0, nbf = 0, exp = 0;
  std::string jti;      // 32 hex characters, unique per token
  // The `cordon` object.
  std::string task_id;
  std::string session;  // "" when the task belongs to no session (the member is then left out)
  std::string task_class;
  std::string policy;
  std::string policy_sha256;
  std::vector<std::string> capabilities;  // "binding:<name>", "outbound:<entry>", "token:<audience>"
  std::string step;     // a per-step token's step (TokenMint); "" for the task's own (left out)
};

nlohmann::json ClaimsJson(const Claims& c);

// header.payload.signature, the header {"alg":"EdDSA","typ":"JWT","kid":<key's kid>}.
Result<std::string> Mint(const SigningKey& key, const Claims& claims);

// A fresh jti: 16 random bytes (getrandom), hex.
Result<std::string> NewJti();

struct VerifyOptions {
  int64_t now = 0;            // Unix seconds
  std::string audience;       // "" = any audience; otherwise `aud` must equal it
  std::string issuer;         // "" = any issuer
  int64_t leeway_s = 0;       // clock skew allowed on nbf and exp
};

struct Verified {
  Claims claims;
  nlohmann::json payload;  // the claims as signed
  std::string kid;
};

// Verifies the signature against the key named by the header's kid, then the claims: every
// registered claim present and well typed, nbf <= now < exp, aud and iss when asked. The error's
// context is one phrase a verifier can print ("token expired 12 s ago", "signature does not
// verify", ...); it never quotes the token.
Result<Verified> Verify(std::string_view token, const std::vector<PublicKey>& keys, const VerifyOptions& opts);

}  // namespace cordon::token
