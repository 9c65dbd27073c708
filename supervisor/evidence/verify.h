// supervisor/evidence/verify.h: the offline verifier of an evidence log directory (docs/evidence.md
// "Verifying"). Reads the directory only; never repairs. Every record is checked from the first to
// the last: its framing, its seq (its position), its prev (the previous record's leaf hash), and
// every checkpoint: canonical text, origin, signature by the given key, sizes that only grow, and
// the RFC 6962 root of the records it covers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "supervisor/evidence/checkpoint.h"
#include "supervisor/evidence/keys.h"
#include "supervisor/evidence/merkle.h"

namespace cordon::evlog {

enum class Verdict {
  kSealed = 0,    // valid, and the last checkpoint covers every record
  kTampered = 1,  // `problem` names the first bad record or checkpoint and what is wrong
  kUnsealed = 2,  // valid, but `unsealed` records after the last checkpoint are not signed yet
};

struct VerifyOptions {
  std::string dir;                         // the log directory (ResolveLogDir already applied)
  std::optional<PublicKey> key;            // pinned; else DIR/signing.pub
  std::optional<SignedCheckpoint> since;   // an earlier checkpoint the log must still extend
  int64_t now_unix_ms = 0;
};

struct VerifyReport {
  Verdict verdict = Verdict::kSealed;
  std::vector<std::string> checked;  // what was checked, one line each
  std::string problem;               // kTampered: the first problem found
  uint64_t records = 0, sealed = 0, unsealed = 0;
  int64_t unsealed_age_ms = 0;       // age of the oldest unsealed record
  std::string key_id;
  std::string origin;
  // What export builds its bundles from (valid only unless kTampered).
  std::vector<std::string> record_bytes;
  std::vector<Hash> leaves;
  std::vector<SignedCheckpoint> checkpoints;
};

// An error only when the log cannot be read at all (missing directory, unreadable file, no key).
Result<VerifyReport> VerifyLog(const VerifyOptions& opts);

}  // namespace cordon::evlog
