// supervisor/daemon/evidence_log.cc: what cordond appends to its evidence log, and when it seals.
#include "supervisor/daemon/evidence_log.h"

#include <nlohmann/json.hpp>

#include "common/syscalls.h"
#include "supervisor/policy.h"

namespace cordon::daemon {

Result<std::unique_ptr<EvidenceLog>> EvidenceLog::Open(const std::string& state_dir,
                                                       std::vector<std::string>* notices) {
  evlog::WriterOptions o;
  o.checkpoint_every = kCheckpointEvery;
  o.checkpoint_ms = kCheckpointMs;
  // A record is written (so it survives a crash of cordond) before its decision or end is
  // acknowledged, and fdatasync'd with the next checkpoint: an fdatasync per record cost 4 ms
  // p50 on the loop on the test machine (cordon-evidence-bench). The database holds each decision
  // synced; a power loss can cost the log its records after the last checkpoint.
  o.sync_each = false;
  const std::string dir = state_dir + "/evidence-log";
  CORDON_ASSIGN_OR_RETURN(auto w, evlog::LogWriter::Open(dir, o, notices));
  notices->push_back("evidence log " + dir + ": " + std::to_string(w->size()) + " records, " +
                     std::to_string(w->size() - w->sealed()) + " unsealed; signing key id " + w->public_key().KeyId() +
                     " (public key " + dir + "/signing.pub)");
  // The redaction key sits beside the signing key: whoever holds it can test guesses at a token.
  CORDON_ASSIGN_OR_RETURN(std::string rkey, evlog::LoadOrCreateRedactionKey(dir + "/redaction.key"));
  CORDON_ASSIGN_OR_RETURN(auto redactor, evlog::Redactor::Create(std::move(rkey)));
  std::unique_ptr<EvidenceLog> log(new EvidenceLog(std::move(w), std::move(redactor)));
  // What a previous cordond left unsealed (it was killed) is sealed now: those records were
  // written before they were acknowledged.
  CORDON_TRY(log->w_->Checkpoint());
  return log;
}

Result<void> EvidenceLog::Appended(Result<uint64_t> r) {
  if (w_->sealed() < w_->size()) {
    if (due_ns_ == 0) due_ns_ = sys::MonotonicNs() + static_cast<uint64_t>(kCheckpointMs) * 1'000'000ull;
  } else {
    due_ns_ = 0;
  }
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<void> EvidenceLog::Decision(const DecisionRow& d, int64_t decision_id, const Policy* policy) {
  std::string policy_sha;
  if (policy != nullptr && !policy->text.empty()) {
    auto stored = w_->StorePolicy(policy->text);
    if (!stored) return Appended(std::unexpected(stored.error()));
    policy_sha = *stored;
  }
  nlohmann::json data = {{"decision_id", decision_id},
                         {"decision", d.allowed ? "allow" : "deny"},
                         {"reason", d.reason},
                         {"time_unix_ms", d.time_unix_ms},
                         {"peer", {{"pid", d.peer_pid}, {"uid", d.peer_uid}, {"gid", d.peer_gid}}},
                         {"principal", d.principal},
                         {"tenant", d.tenant},
                         {"policy", d.policy},
                         {"policy_version", d.policy_version},
                         {"policy_sha256", policy_sha.empty() ? d.policy_sha256 : policy_sha},
                         {"principals_sha256", d.principals_sha256},
                         {"fingerprint", d.fingerprint},
                         {"request_id", d.request_id},
                         {"app_id", d.app_id},
                         {"class", d.cls}};
  return Appended(w_->Append("decision", data));
}

Result<void> EvidenceLog::Task(const TaskRow& t, const std::string& evidence_json) {
  nlohmann::json ev = nlohmann::json::parse(evidence_json, nullptr, false);
  if (ev.is_discarded()) ev = evidence_json;  // kept as the string it is
  nlohmann::json data = {{"task_id", t.id},
                         {"decision_id", t.decision_id},
                         {"principal", t.principal},
                         {"tenant", t.tenant},
                         {"app_id", t.app_id},
                         {"class", t.cls},
                         {"policy", t.policy},
                         {"policy_version", t.policy_version},
                         {"policy_sha256", t.policy_sha256},
                         {"fingerprint", t.fingerprint},
                         {"request_id", t.request_id},
                         {"exit_code", t.exit_code},
                         {"failure_class", t.failure_class},
                         {"message", t.message},
                         {"created_unix_ms", t.created_unix_ms},
                         {"finished_unix_ms", t.finished_unix_ms},
                         {"evidence", ev}};
  return Appended(w_->Append("task", data));
}

Result<void> EvidenceLog::Governance(const std::string& event, const std::string& principal, nlohmann::json data) {
  redactor_->RedactJson(&data);
  nlohmann::json record = {{"event", event}, {"principal", redactor_->Redact(principal)}, {"data", std::move(data)}};
  return Appended(w_->Append("governance", record));
}

void EvidenceLog::RedactTask(TaskRow* t, std::string* evidence_json) const {
  for (auto& a : t->argv) a = redactor_->Redact(a);
  for (std::string* s : {&t->message, &t->request_id, &t->app_id}) *s = redactor_->Redact(*s);
  if (evidence_json == nullptr) return;
  nlohmann::json ev = nlohmann::json::parse(*evidence_json, nullptr, false);
  if (ev.is_discarded()) {
    *evidence_json = redactor_->Redact(*evidence_json);
    return;
  }
  redactor_->RedactJson(&ev);
  *evidence_json = ev.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void EvidenceLog::RedactDecision(DecisionRow* d) const {
  for (std::string* s : {&d->reason, &d->request_id, &d->app_id}) *s = redactor_->Redact(*s);
}

Result<void> EvidenceLog::Tick() {
  if (due_ns_ == 0 || sys::MonotonicNs() < due_ns_) return {};
  due_ns_ = 0;
  return w_->Checkpoint();
}

Result<void> EvidenceLog::Seal() {
  auto c = w_->Checkpoint();
  (void)Appended(0);
  return c;
}

Result<std::string> EvidenceLog::RotateStagedKey() {
  auto r = w_->RotateToStagedKey();
  (void)Appended(0);
  return r;
}

Result<uint64_t> EvidenceLog::ApplyRetention(uint64_t retain_days, uint64_t retain_records) {
  if (retain_days == 0 && retain_records == 0) return 0;
  uint64_t cut = 0;
  nlohmann::json why = {{"by", "cordond retention (daemon.json evidence_log)"}};
  if (retain_records > 0) {
    cut = w_->size() > retain_records ? w_->size() - retain_records : 0;
    why["retain_records"] = retain_records;
  }
  if (retain_days > 0) {
    CORDON_ASSIGN_OR_RETURN(uint64_t old, w_->SealedBefore(evlog::NowUnixMs() - static_cast<int64_t>(retain_days) * 86'400'000));
    cut = std::max(cut, old);
    why["retain_days"] = retain_days;
  }
  // A prune rewrites the records it keeps (and appends a prune record and a checkpoint): it runs
  // only once it removes at least an eighth as many records as it keeps, so a log at its limit
  // is not rewritten at every sweep for the few records that arrived since.
  if (cut <= w_->first_kept() || cut - w_->first_kept() < std::max<uint64_t>(1, (w_->size() - cut) / 8)) return 0;
  auto n = w_->Prune(cut, why);
  (void)Appended(0);
  return n;
}

Result<void> EvidenceLog::Close() {
  due_ns_ = 0;
  return w_->Close();
}

}  // namespace cordon::daemon
