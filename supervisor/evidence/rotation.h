// supervisor/evidence/rotation.h: signing key rotation in the evidence log (docs/evidence.md "Key
// rotation"). A rotation is a record of kind "key_rotation" whose data is
//   {"old_key_id": hex, "old_public_key": base64 of 32 bytes, "new_key_id": hex,
//    "new_public_key": base64 of 32 bytes, "signature": base64 of 64 bytes}
// where the signature is the OLD key's Ed25519 signature of RotationStatement(origin, old, new).
// A checkpoint is signed by the key in force at its size: record 0's key until the first rotation
// record, that rotation's new key for every checkpoint that covers it, and so on. Pure code apart
// from the signatures.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"
#include "supervisor/evidence/keys.h"

namespace cordon::evlog {

// The exact signed bytes:
//   "cordon-evidence-log key rotation\n" <origin> "\nold " <old key id> "\nnew " <new key id> "\n"
std::string RotationStatement(const std::string& origin, const std::string& old_id, const std::string& new_id);

// The data of a rotation record from `old_key` (the key in force) to `new_key`.
Result<nlohmann::json> RotationData(const std::string& origin, const SigningKey& old_key, const PublicKey& new_key);

// Checks one rotation record's data against the key in force (`in_force_id`; its public key may
// be unknown yet, as for record 0's key before the first rotation). Returns the old and new keys,
// or what is wrong ("not signed by the previous key", "names another old key", ...).
struct Rotation {
  PublicKey old_key, new_key;
};
Result<Rotation> CheckRotation(const nlohmann::json& data, const std::string& origin, const std::string& in_force_id);

// The log's signing keys in order: each with the first tree size it signs (0 for record 0's key;
// rotation seq + 1 for a rotation's new key). `pub` is known for every key but possibly the first
// when the log never rotated (then only its id is in record 0).
struct KeyEpoch {
  uint64_t from_size = 0;
  std::string id;
  std::optional<PublicKey> pub;
};
// The epoch whose key signs a checkpoint of `size` records.
const KeyEpoch& EpochFor(const std::vector<KeyEpoch>& chain, uint64_t size);

}  // namespace cordon::evlog
