// supervisor/evidence/rotation.cc: key rotation records, made and checked.
#include "supervisor/evidence/rotation.h"

#include <nlohmann/json.hpp>

#include "supervisor/evidence/encoding.h"

namespace cordon::evlog {

std::string RotationStatement(const std::string& origin, const std::string& old_id, const std::string& new_id) {
  return "cordon-evidence-log key rotation\n" + origin + "\nold " + old_id + "\nnew " + new_id + "\n";
}

Result<nlohmann::json> RotationData(const std::string& origin, const SigningKey& old_key, const PublicKey& new_key) {
  const std::string old_id = old_key.Public().KeyId(), new_id = new_key.KeyId();
  if (old_id == new_id) return FailMsg("the new signing key is the key in force (" + old_id + ")");
  CORDON_ASSIGN_OR_RETURN(std::string sig, old_key.Sign(RotationStatement(origin, old_id, new_id)));
  return nlohmann::json{{"old_key_id", old_id},
                        {"old_public_key", Base64Encode(old_key.Public().raw())},
                        {"new_key_id", new_id},
                        {"new_public_key", Base64Encode(new_key.raw())},
                        {"signature", Base64Encode(sig)}};
}

Result<Rotation> CheckRotation(const nlohmann::json& data, const std::string& origin, const std::string& in_force_id) {
  auto str = [&](const char* k) { return data.contains(k) && data[k].is_string() ? data[k].get<std::string>() : std::string(); };
  const std::string old_id = str("old_key_id"), new_id = str("new_key_id");
  auto old_raw = Base64Decode(str("old_public_key")), new_raw = Base64Decode(str("new_public_key"));
  auto sig = Base64Decode(str("signature"));
  if (old_id.empty() || new_id.empty() || !old_raw || !new_raw || !sig)
    return FailMsg("a key rotation needs old_key_id, old_public_key, new_key_id, new_public_key and signature");
  CORDON_ASSIGN_OR_RETURN(PublicKey old_key, PublicKey::FromRaw(*old_raw));
  CORDON_ASSIGN_OR_RETURN(PublicKey new_key, PublicKey::FromRaw(*new_raw));
  if (old_key.KeyId() != old_id || new_key.KeyId() != new_id)
    return FailMsg("a key id does not match its public key");
  if (old_id != in_force_id)
    return FailMsg("it rotates from key " + old_id + " but the key in force is " + in_force_id +
                   " (a rotation not made by the previous key)");
  if (new_id == old_id) return FailMsg("it rotates to the key already in force");
  if (!old_key.Verify(RotationStatement(origin, old_id, new_id), *sig))
    return FailMsg("its signature does not verify with the previous key " + old_id +
                   " (a rotation not signed by the previous key)");
  return Rotation{std::move(old_key), std::move(new_key)};
}

const KeyEpoch& EpochFor(const std::vector<KeyEpoch>& chain, uint64_t size) {
  size_t i = 0;
  while (i + 1 < chain.size() && chain[i + 1].from_size <= size) ++i;
  return chain[i];
}

}  // namespace cordon::evlog
