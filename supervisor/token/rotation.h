// supervisor/token/rotation.h: rotating cordond's token signing key (docs/identity.md "Key
// rotation"). A retired key stays in the published key set until every token it may have signed
// has expired, so that host services verifying offline keep accepting them; then it drops out.
//
// Under DIR (STATE/token), beside signing-key.pem and jwks.json:
//   retired-keys.json  {"keys": [{<the key's JWK>, "exp": <Unix seconds it leaves the set>}]}, 0644
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "supervisor/token/signing_key.h"

namespace cordon::token {

// How long a retired key stays published: the longest token life a policy may ask for
// (identity.max_token_ttl_s at most 86400 s), plus five minutes of clock slack.
inline constexpr int64_t kRetiredKeyLifeS = 86400 + 300;

// The key set to publish at `now`: `current` first, then DIR's retired keys not yet past their exp.
Result<std::vector<PublicKey>> PublishedKeys(const std::string& dir, const PublicKey& current, int64_t now);

struct Rotation {
  std::string old_kid, new_kid;
  int64_t old_until = 0;  // when the old key leaves the set
};
// Retires DIR's current key (published until now + kRetiredKeyLifeS), creates a new one and
// rewrites jwks.json. cordond signs with the new key from its next token on.
Result<Rotation> RotateSigningKey(const std::string& dir, int64_t now);

}  // namespace cordon::token
