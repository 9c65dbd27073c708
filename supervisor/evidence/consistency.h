// supervisor/evidence/consistency.h: proof that a log only grew between two checkpoints (RFC 9162
// section 2.1.4), as a self-contained JSON object an auditor checks without the log:
//   {"format":"cordon-consistency-proof/v1","old":"<checkpoint text>","new":"<checkpoint text>",
//    "proof":["<base64 hash>",...]}
#pragma once

#include <string>

#include "common/result.h"
#include "supervisor/evidence/checkpoint.h"
#include "supervisor/evidence/keys.h"
#include "supervisor/evidence/verify.h"

namespace cordon::evlog {

// From a verified log: the proof that its newest checkpoint extends `old` (an earlier checkpoint
// of the same log, signed by its key).
Result<std::string> BuildConsistencyProof(const VerifyReport& log, const SignedCheckpoint& old);

// Fails, naming what is wrong, unless both checkpoints are signed by `key`, are of one log, and the
// proof shows the new tree extends the old one. Returns a line saying what was proved.
Result<std::string> VerifyConsistencyProof(const std::string& proof_json, const PublicKey& key);

}  // namespace cordon::evlog
