// supervisor/daemon/evidence_log.h: cordond's side of the tamper-evident evidence log
// (docs/evidence.md "cordond"). The log lives in STATE/evidence-log; every admission decision
// (allow and deny) and every finished task's record is appended to it as it is written to the
// database, the policy text of a decision is stored once, content-addressed, and a checkpoint is
// signed every kCheckpointEvery records, kCheckpointMs after an unsealed record, and at shutdown.
// It belongs to the event loop, which appends (a write, before the decision or the task's end is
// acknowledged); the checkpoints are signed and synced by a sealer thread of its own (the loop
// hands it a SealJob; the sealer signals event_fd() when it is done and the loop collects it), so
// the loop never waits for an fdatasync except at shutdown, a key rotation, a prune and crash
// recovery's seal. A failing append is logged by the caller; the database keeps the record
// whatever the log does.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/daemon/store.h"
#include "supervisor/evidence/artifact.h"
#include "supervisor/evidence/log.h"
#include "supervisor/evidence/redact.h"

namespace cordon {
struct Policy;
}

namespace cordon::daemon {

struct Config;

class EvidenceLog {
 public:
  static constexpr uint64_t kCheckpointEvery = 64;
  static constexpr int64_t kCheckpointMs = 1000;

  // Opens (creating at first start) STATE/evidence-log. `*notices`: lines for cordond's log
  // (the key created, torn writes cut off, the key id).
  // `enabled` false (cordond --evidence-log off): no log is written, redaction and the artifact
  // hash still apply (for measuring the log's cost; docs/evidence.md "Cost").
  // `signing_key`: the private key's path from daemon.json (evidence_log.signing_key), "" for
  // STATE/evidence-log/signing.key; created 0600 at first start, refused when others may read it.
  static Result<std::unique_ptr<EvidenceLog>> Open(const std::string& state_dir, std::vector<std::string>* notices,
                                                   bool enabled = true, const std::string& signing_key = {});
  ~EvidenceLog();
  bool enabled() const { return w_ != nullptr; }
  // The writer (nullptr when the log is off): its key, origin and sizes, for the EvidenceKey call.
  const evlog::LogWriter* writer() const { return w_.get(); }

  // Appends decision `decision_id`, and before it `policy`'s exact text when the log does not hold
  // it yet (nullptr: the policy named was not loaded).
  Result<void> Decision(const DecisionRow& d, int64_t decision_id, const Policy* policy);
  // Appends a finished task's record with its evidence: `evidence_json` is one JSON value (cordond's
  // own dump, as RedactTask left it) and goes in as the bytes it is, not parsed again; with
  // `is_json` false (RedactTask found no JSON) it goes in as a JSON string.
  Result<void> Task(const TaskRow& t, const std::string& evidence_json, bool is_json = true);
  // Appends a control-plane state change (kind "governance"): `event` names it ("freeze",
  // "breaker_open", "session_budget", "approval_granted", ...), `principal` is who caused it
  // (a principal's name, or "cordond" for a rule that fired), `data` the rest. Redacted like a
  // decision before it is written.
  Result<void> Governance(const std::string& event, const std::string& principal, nlohmann::json data);
  // Redaction before storage (docs/evidence.md "Redaction"): what cordond keeps of a task (argv,
  // message, request id, app id) and its evidence JSON, and of a decision, with secrets replaced
  // by tokens; called before the database and the log get them.
  // A value cordond knows is secret (a minted token, a policy's secret) is redacted by exact value
  // and its encodings from everything stored after this call (rule name `rule`).
  Result<void> AddSecret(std::string_view value, const std::string& rule) { return redactor_->AddSecret(value, rule); }
  // Secret bindings (docs/evidence.md "Secret bindings"): the values of every binding a loaded
  // policy marks "secret" are read by path and redacted from everything stored from now on, and
  // the signing key's path in use is compared with daemon.json's (a change needs a restart).
  // Called at start and on SIGHUP with the configuration just loaded; returns lines for the log.
  std::vector<std::string> ConfigLoaded(const Config& cfg);
  // The same for one task's open bindings, read through their fds (what the task reads; HashArtifact
  // calls it before the task runs): a value that changed since the policy was loaded.
  void AddBindingSecrets(const std::vector<OpenBinding>* bindings);
  // Returns false when `evidence_json` was not JSON (it is then redacted as plain text).
  bool RedactTask(TaskRow* t, std::string* evidence_json) const;
  void RedactDecision(DecisionRow* d) const;
  // The evidence record's "artifact" object (JSON text) of a task about to be handed its sandbox:
  // the hashes of its executable and scripts (supervisor/evidence/artifact.h, cached by file
  // identity) and the artifact its client declared.
  std::string HashArtifact(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                           const std::string& cwd, const std::vector<OpenBinding>* bindings,
                           const std::optional<evlog::DeclaredArtifact>& declared);
  // A checkpoint if one is due by time; call from the loop's deadlines.
  Result<void> Tick();
  // The monotonic time (ns) Tick() has work: a checkpoint due by time, 0 for none (or while the
  // sealer has a job: its end comes through event_fd()).
  uint64_t NextCheckpointNs() const { return busy() ? 0 : seal_due_ns_; }
  // Readable when the sealer has finished a job (an eventfd; -1 with the log off): the loop
  // watches it and calls SealerDone(), which takes the job back (its error, if any) and starts the
  // next seal when one is due. Before, the loop looked for the result at 4, 8, 16... ms: two or
  // three turns of the loop per checkpoint for nothing.
  int event_fd() const { return done_fd_.Get(); }
  Result<void> SealerDone();
  // Seals what is left and closes; at shutdown.
  Result<void> Close();

  // A checkpoint now over whatever is unsealed (crash recovery seals the records it appends
  // before cordond serves anyone, as Open() sealed what the previous cordond left).
  Result<void> Seal();
  // Key rotation (docs/evidence.md "Key rotation"): when `cordon evidence rotate-key` staged a
  // new key, rotates to it (the rotation record signed by the old key). Called on SIGHUP.
  // Returns the line for cordond's log, "" when no key was staged.
  Result<std::string> RotateStagedKey();
  // Retention of the log (daemon.json "evidence_log"): prunes the records beyond the newest
  // `retain_records` and those sealed more than `retain_days` ago (0 = no such limit), once that
  // removes at least an eighth as many records as it keeps. The prune runs on the sealer thread
  // (PruneJob); returns the number a prune finished since the last call removed.
  Result<uint64_t> ApplyRetention(uint64_t retain_days, uint64_t retain_records);

 private:
  class Sealer;
  EvidenceLog(std::unique_ptr<evlog::LogWriter> w, std::unique_ptr<evlog::Redactor> r);
  Result<void> Appended(Result<uint64_t> r);
  // Takes a finished job back from the sealer (its error, if any); `wait`: waits for it.
  Result<void> Collect(bool wait);
  // Hands the sealer a job over everything unsealed, if none is out.
  void StartSeal();
  // After an append or at a deadline: collects a finished job, starts one when kCheckpointEvery
  // records or kCheckpointMs are reached, sets the deadlines. Returns a finished job's error.
  Result<void> Pump();

  std::unique_ptr<evlog::LogWriter> w_;
  std::unique_ptr<evlog::Redactor> redactor_;
  evlog::FileHashCache hashes_;
  std::unique_ptr<Sealer> sealer_;
  bool busy() const { return job_.has_value() || prune_.has_value(); }
  std::optional<evlog::SealJob> job_;  // out with the sealer
  std::optional<evlog::PruneJob> prune_;  // or this (never both)
  uint64_t pruned_ = 0;                // records the last finished prune removed, not yet reported
  uint64_t seal_due_ns_ = 0;    // the oldest unsealed record's checkpoint is due (0: none unsealed)
  UniqueFd done_fd_;            // the sealer's "job done" eventfd (event_fd())
  std::string signing_key_;     // daemon.json's evidence_log.signing_key in force ("" = the default)
};

}  // namespace cordon::daemon
