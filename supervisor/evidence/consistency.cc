// supervisor/evidence/consistency.cc: consistency proofs between two checkpoints.
#include "supervisor/evidence/consistency.h"

#include <nlohmann/json.hpp>

#include "supervisor/evidence/encoding.h"
#include "supervisor/evidence/merkle.h"

namespace cordon::evlog {
namespace {

constexpr const char* kFormat = "cordon-consistency-proof/v1";

}  // namespace

Result<std::string> BuildConsistencyProof(const VerifyReport& log, const SignedCheckpoint& old) {
  if (log.checkpoints.empty()) return FailMsg("the log has no checkpoint yet");
  const SignedCheckpoint& now = log.checkpoints.back();
  if (old.cp.origin != now.cp.origin) return FailMsg("the old checkpoint is of another log ('" + old.cp.origin + "')");
  if (old.cp.size == 0 || old.cp.size > now.cp.size)
    return FailMsg("the old checkpoint covers " + std::to_string(old.cp.size) + " records and the newest " +
                       std::to_string(now.cp.size) + ": no proof that the log grew from it",
                   "run `cordon evidence verify --since` to see whether the log was rolled back");
  nlohmann::json proof = nlohmann::json::array();
  for (const Hash& h : ConsistencyProof(std::span<const Hash>(log.leaves.data(), now.cp.size), old.cp.size))
    proof.push_back(Base64Encode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size())));
  nlohmann::json out = {{"format", kFormat}, {"old", old.Text()}, {"new", now.Text()}, {"proof", proof}};
  return out.dump(2) + "\n";
}

Result<std::string> VerifyConsistencyProof(const std::string& proof_json, const PublicKey& key) {
  auto j = nlohmann::json::parse(proof_json, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != kFormat)
    return FailMsg(std::string("not a consistency proof (format ") + kFormat + ")");
  if (!j.contains("old") || !j["old"].is_string() || !j.contains("new") || !j["new"].is_string() ||
      !j.contains("proof") || !j["proof"].is_array())
    return FailMsg("the consistency proof lacks \"old\", \"new\" or \"proof\"");
  auto old = ParseSignedCheckpoint(j["old"].get<std::string>());
  if (!old) return Wrap(old.error(), "the old checkpoint");
  auto now = ParseSignedCheckpoint(j["new"].get<std::string>());
  if (!now) return Wrap(now.error(), "the new checkpoint");
  if (!old->VerifiedBy(key)) return FailMsg("the old checkpoint is not signed by key " + key.KeyId());
  if (!now->VerifiedBy(key)) return FailMsg("the new checkpoint is not signed by key " + key.KeyId());
  if (old->cp.origin != now->cp.origin) return FailMsg("the two checkpoints are of different logs");
  std::vector<Hash> path;
  for (const auto& p : j["proof"]) {
    auto h = p.is_string() ? Base64Decode(p.get<std::string>()) : std::nullopt;
    if (!h || h->size() != 32) return FailMsg("the proof holds something that is not a base64 hash");
    Hash x;
    std::copy(h->begin(), h->end(), x.begin());
    path.push_back(x);
  }
  if (!VerifyConsistency(old->cp.size, now->cp.size, old->cp.root, now->cp.root, path))
    return FailMsg("the log of " + std::to_string(now->cp.size) + " records does not extend the one of " +
                   std::to_string(old->cp.size) + ": its history was rewritten, or the proof changed");
  return "the log " + now->cp.origin + " of " + std::to_string(now->cp.size) + " records extends its state of " +
         std::to_string(old->cp.size) + " records (both checkpoints signed by key " + key.KeyId() + ")";
}

}  // namespace cordon::evlog
