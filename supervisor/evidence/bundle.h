// supervisor/evidence/bundle.h: one record's self-contained proof (docs/evidence.md "Bundles"): its
// exact bytes, its RFC 9162 inclusion proof in the tree of a signed checkpoint, that checkpoint,
// and the signing key's id. A JSON object:
//   {"format":"cordon-evidence-bundle/v1","seq":N,"record_b64":"...","tree_size":S,
//    "inclusion_proof":["<base64 hash>",...],"checkpoint":"<checkpoint text with its sig line>",
//    "checkpoint_body":"<the signed bytes>","checkpoint_signature":"<base64>","key_id":"<hex>",
//    "policy":{"sha256":"...","text":"..."}}           (policy: when the record names one)
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "supervisor/evidence/keys.h"
#include "supervisor/evidence/verify.h"

namespace cordon::evlog {

// From a verified log (`log.verdict` is not kTampered): the bundle of record `seq`, proved in the
// first checkpoint that covers it. Fails when no checkpoint covers it yet.
Result<std::string> BuildBundle(const VerifyReport& log, uint64_t seq);

// Finds the seq of the newest record of kind "task" or "decision" whose data names `id`
// (data.task_id), or reads "seq:N".
Result<uint64_t> FindRecord(const VerifyReport& log, const std::string& id);

struct BundleCheck {
  uint64_t seq = 0, tree_size = 0;
  std::string record;  // the exact record bytes
  std::string checked; // one line: what was proved
};
// Fails, naming what is wrong, unless the bundle's checkpoint is signed by `key` and its record is
// included in that checkpoint's tree at its seq.
Result<BundleCheck> VerifyBundle(const std::string& bundle_json, const PublicKey& key);

}  // namespace cordon::evlog
