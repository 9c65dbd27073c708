// supervisor/evidence/pruned.h: the pruned-prefix marker of an evidence log (docs/evidence.md
// "Retention"). Retention removes the oldest records from DIR/records; DIR/pruned then says what
// went and keeps what verification still needs:
//   {"format": "cordon-evidence-pruned 1",
//    "first_kept": P,                        records 0..P-1 are pruned
//    "leaves": "<base64 of P leaf hashes, 32 bytes each, in order>",
//    "records": [{"seq": S, "bytes": "<exact record bytes>"}, ...]}
// `records` holds the exact bytes of the pruned records a verifier still needs: record 0 (the
// header: origin and first key), every key rotation and every policy snapshot. Nothing in the
// marker is trusted on its own: each leaf hash is covered by the signed checkpoints (their roots
// are recomputed over it), each kept record must hash to its leaf, and the last "prune" record
// of the log (sealed, in the part that remains) must name the same P. Pure code.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "supervisor/evidence/merkle.h"

namespace cordon::evlog {

struct PrunedPrefix {
  uint64_t first_kept = 0;
  std::vector<Hash> leaves;                  // first_kept of them
  std::map<uint64_t, std::string> records;   // seq -> exact bytes (header, rotations, policies)
  std::string Text() const;
};

// The kinds of record a prune keeps copies of.
bool KeptWhenPruned(const std::string& kind);

// Reads DIR/pruned: nullopt when there is none (nothing was ever pruned).
Result<std::optional<PrunedPrefix>> ReadPrunedPrefix(const std::string& path);
Result<PrunedPrefix> ParsePrunedPrefix(std::string_view text);

}  // namespace cordon::evlog
