// supervisor/evidence/checkpoint.h: signed tree heads ("checkpoints") of the evidence log
// (docs/evidence.md "Checkpoints"). The signed body is four lines of text, each ending in "\n":
//   <origin>                 "cordon-evidence-log <log id>"
//   <tree size>              decimal, no leading zeros
//   <root hash>              base64 of the 32-byte RFC 6962 root of the first <tree size> records
//   time <unix ms>           when it was signed
// followed, in its stored form, by one line "sig <key id hex> <base64 Ed25519 signature of the
// body bytes>\n". Checkpoints are stored one after another in DIR/checkpoints, each followed by an
// empty line. Pure code apart from the signature.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "supervisor/evidence/keys.h"
#include "supervisor/evidence/merkle.h"

namespace cordon::evlog {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  int64_t time_unix_ms = 0;
  std::string Body() const;  // the exact signed bytes
};

struct SignedCheckpoint {
  Checkpoint cp;
  std::string key_id;     // hex, as written on the sig line
  std::string signature;  // 64 raw bytes
  // Body + sig line: one block of DIR/checkpoints, without the empty line that separates blocks.
  std::string Text() const;
  bool VerifiedBy(const PublicKey& key) const;
};

Result<SignedCheckpoint> Sign(const Checkpoint& cp, const SigningKey& key);
// Parses one block (as Text() writes it; a trailing empty line is allowed). Refuses anything not
// in canonical form, so a block has exactly one byte representation.
Result<SignedCheckpoint> ParseSignedCheckpoint(std::string_view text);

// DIR/checkpoints split into its blocks. `*whole_bytes` is the length of the prefix made of
// complete blocks: anything after it is a torn write (a crash in the middle of an append).
std::vector<std::string_view> SplitCheckpointBlocks(std::string_view file, size_t* whole_bytes);

}  // namespace cordon::evlog
