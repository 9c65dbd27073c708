// supervisor/evidence/bundle.cc: export and offline check of one record's inclusion proof.
#include "supervisor/evidence/bundle.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "supervisor/evidence/encoding.h"
#include "supervisor/evidence/merkle.h"

namespace cordon::evlog {
namespace {

constexpr const char* kFormat = "cordon-evidence-bundle/v1";

std::string HashB64(const Hash& h) { return Base64Encode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size())); }

}  // namespace

Result<uint64_t> FindRecord(const VerifyReport& log, const std::string& id) {
  if (id.starts_with("seq:")) {
    uint64_t seq = 0;
    const std::string_view n = std::string_view(id).substr(4);
    auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), seq);
    if (ec != std::errc() || p != n.data() + n.size() || n.empty() || seq >= log.records)
      return FailMsg("'" + id + "' is not a record of this log (it holds seq:0..seq:" + std::to_string(log.records - 1) + ")");
    return seq;
  }
  for (uint64_t i = log.records; i-- > 0;) {
    auto j = nlohmann::json::parse(log.record_bytes[i], nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.value("kind", "") != "task") continue;
    if (j.contains("data") && j["data"].is_object() && j["data"].value("task_id", "") == id) return i;
  }
  return FailMsg("no task record for '" + id + "' in this log",
                 "give a task id as `cordon ps` shows it, or seq:N for the record at position N");
}

Result<std::string> BuildBundle(const VerifyReport& log, uint64_t seq) {
  if (seq < log.record_bytes.size() && log.record_bytes[seq].empty())
    return FailMsg("record " + std::to_string(seq) + " was pruned by retention: the log keeps only its leaf hash");
  const SignedCheckpoint* cp = nullptr;
  for (const auto& c : log.checkpoints)
    if (c.cp.size > seq) {
      cp = &c;
      break;
    }
  if (cp == nullptr)
    return FailMsg("record " + std::to_string(seq) + " is not sealed by a checkpoint yet",
                   "cordond seals within its checkpoint interval and at shutdown; export again after that");
  nlohmann::json proof = nlohmann::json::array();
  const std::span<const Hash> leaves(log.leaves.data(), cp->cp.size);
  for (const Hash& h : InclusionProof(leaves, seq)) proof.push_back(HashB64(h));
  nlohmann::json b = {{"format", kFormat},
                      {"seq", seq},
                      {"record_b64", Base64Encode(log.record_bytes[seq])},
                      {"tree_size", cp->cp.size},
                      {"inclusion_proof", proof},
                      {"checkpoint", cp->Text()},
                      {"checkpoint_body", cp->cp.Body()},
                      {"checkpoint_signature", Base64Encode(cp->signature)},
                      {"key_id", cp->key_id}};
  auto rec = nlohmann::json::parse(log.record_bytes[seq], nullptr, false);
  const std::string policy = rec.is_object() && rec.contains("data") && rec["data"].is_object()
                                 ? rec["data"].value("policy_sha256", "")
                                 : "";
  if (!policy.empty())
    for (uint64_t i = 0; i < log.records; ++i) {
      auto p = nlohmann::json::parse(log.record_bytes[i], nullptr, false);
      if (p.is_object() && p.value("kind", "") == "policy" && p["data"].value("sha256", "") == policy) {
        b["policy"] = p["data"];
        break;
      }
    }
  return b.dump(2) + "\n";
}

Result<BundleCheck> VerifyBundle(const std::string& bundle_json, const PublicKey& key) {
  auto b = nlohmann::json::parse(bundle_json, nullptr, false);
  if (b.is_discarded() || !b.is_object()) return FailMsg("the bundle is not a JSON object");
  if (b.value("format", "") != kFormat) return FailMsg(std::string("the bundle's format is not ") + kFormat);
  for (const char* k : {"record_b64", "checkpoint", "key_id"})
    if (!b.contains(k) || !b[k].is_string()) return FailMsg(std::string("the bundle has no string \"") + k + "\"");
  if (!b.contains("seq") || !b["seq"].is_number_unsigned() || !b.contains("inclusion_proof") ||
      !b["inclusion_proof"].is_array())
    return FailMsg("the bundle has no \"seq\" or \"inclusion_proof\"");
  BundleCheck out;
  out.seq = b["seq"].get<uint64_t>();
  auto cp = ParseSignedCheckpoint(b["checkpoint"].get<std::string>());
  if (!cp) return Wrap(cp.error(), "the bundle's checkpoint");
  if (!cp->VerifiedBy(key))
    return FailMsg("the bundle's checkpoint is not signed by key " + key.KeyId() + " (it names key " + cp->key_id + ")");
  auto rec = Base64Decode(b["record_b64"].get<std::string>());
  if (!rec) return FailMsg("the bundle's record_b64 is not base64");
  std::vector<Hash> proof;
  for (const auto& p : b["inclusion_proof"]) {
    auto h = p.is_string() ? Base64Decode(p.get<std::string>()) : std::nullopt;
    if (!h || h->size() != 32) return FailMsg("the bundle's inclusion_proof holds something that is not a base64 hash");
    Hash x;
    std::copy(h->begin(), h->end(), x.begin());
    proof.push_back(x);
  }
  if (!VerifyInclusion(LeafHash(*rec), out.seq, cp->cp.size, proof, cp->cp.root))
    return FailMsg("record " + std::to_string(out.seq) + " is not in the signed tree of size " +
                   std::to_string(cp->cp.size) + ": its bytes or the proof were changed");
  auto j = nlohmann::json::parse(*rec, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("seq") || j["seq"] != out.seq)
    return FailMsg("the record's own seq is not the bundle's seq " + std::to_string(out.seq));
  out.tree_size = cp->cp.size;
  out.record = std::move(*rec);
  out.checked = "record " + std::to_string(out.seq) + " is included in the log " + cp->cp.origin + " of " +
                std::to_string(cp->cp.size) + " records, checkpoint signed by key " + key.KeyId() + " at unix ms " +
                std::to_string(cp->cp.time_unix_ms);
  return out;
}

}  // namespace cordon::evlog
