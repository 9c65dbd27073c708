// supervisor/daemon/evidence_log.cc: what cordond appends to its evidence log, and when it seals.
#include "supervisor/daemon/evidence_log.h"

#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/syscalls.h"
#include "supervisor/daemon/config.h"
#include "supervisor/evidence/secret_values.h"
#include "supervisor/policy.h"

namespace cordon::daemon {

// The sealer: one thread that runs one job at a time while the loop goes on appending: a SealJob
// (evlog::RunSeal: the records' fdatasync, the Ed25519 signature, the checkpoint's write and
// fdatasync) or a PruneJob (evlog::RunPrune: that, then the marker and the kept records' copy).
// When a job is done it adds 1 to `done_fd` (an eventfd the loop watches).
class EvidenceLog::Sealer {
 public:
  explicit Sealer(int done_fd) : done_fd_(done_fd), thread_([this] { Run(); }) {}
  ~Sealer() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // What `job` refers to stays valid (and untouched by the caller) until Take() returns its result.
  void Give(std::function<Result<void>()> job) {
    std::lock_guard<std::mutex> g(mu_);
    job_ = std::move(job);
    done_ = false;
    cv_.notify_all();
  }
  // The job's result once it is done (waiting for it with `wait`), else nullopt.
  std::optional<Result<void>> Take(bool wait) {
    std::unique_lock<std::mutex> l(mu_);
    if (wait) cv_.wait(l, [&] { return done_ || !job_; });
    if (!done_) return std::nullopt;
    done_ = false;
    job_ = nullptr;
    return std::move(result_);
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [&] { return stop_ || (job_ && !done_); });
      if (stop_) return;  // the owner collected its job first (~EvidenceLog)
      std::function<Result<void>()> job = job_;
      l.unlock();
      Result<void> r = job();
      l.lock();
      result_ = std::move(r);
      done_ = true;
      cv_.notify_all();
      const uint64_t one = 1;
      (void)!::write(done_fd_, &one, sizeof one);  // cannot fail short of a counter at 2^64-2
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::function<Result<void>()> job_;
  bool done_ = false, stop_ = false;
  Result<void> result_;
  const int done_fd_;
  std::thread thread_;  // last: it starts once the members above exist
};

EvidenceLog::EvidenceLog(std::unique_ptr<evlog::LogWriter> w, std::unique_ptr<evlog::Redactor> r)
    : w_(std::move(w)), redactor_(std::move(r)) {
  if (!w_) return;
  done_fd_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (done_fd_) sealer_ = std::make_unique<Sealer>(done_fd_.Get());  // else Open fails
}

EvidenceLog::~EvidenceLog() { (void)Collect(true); }

Result<std::unique_ptr<EvidenceLog>> EvidenceLog::Open(const std::string& state_dir,
                                                       std::vector<std::string>* notices, bool enabled,
                                                       const std::string& signing_key) {
  const std::string dir = state_dir + "/evidence-log";
  if (!enabled) {
    // No log; the redaction key is still the log directory's, so tokens match a log kept later.
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Fail(errno, "create " + dir);
    notices->push_back("the evidence log is OFF (--evidence-log off): decisions and tasks are kept in the database "
                       "only, nothing is signed; for measuring its cost, never in production");
    CORDON_ASSIGN_OR_RETURN(std::string rkey, evlog::LoadOrCreateRedactionKey(dir + "/redaction.key"));
    CORDON_ASSIGN_OR_RETURN(auto redactor, evlog::Redactor::Create(std::move(rkey)));
    return std::unique_ptr<EvidenceLog>(new EvidenceLog(nullptr, std::move(redactor)));
  }
  evlog::WriterOptions o;
  // Sealing is this class's: by count and by time on the sealer thread (Pump), at shutdown here.
  o.checkpoint_every = 0;
  o.checkpoint_ms = 0;
  // A record is written (so it survives a crash of cordond) before its decision or end is
  // acknowledged, and fdatasync'd with the next checkpoint: an fdatasync per record cost 4 ms
  // p50 on the loop on the test machine (cordon-evidence-bench). The database holds each decision
  // synced; a power loss can cost the log its records after the last checkpoint.
  o.sync_each = false;
  o.signing_key = signing_key;
  if (!signing_key.empty()) o.signing_key_from = "evidence_log.signing_key in daemon.json";
  auto opened = evlog::LogWriter::Open(dir, o, notices);
  if (!opened) return Wrap(opened.error(), "the evidence log");
  std::unique_ptr<evlog::LogWriter> w = std::move(*opened);
  notices->push_back("evidence log " + dir + ": " + std::to_string(w->size()) + " records, " +
                     std::to_string(w->size() - w->sealed()) + " unsealed; signing key id " + w->public_key().KeyId() +
                     " (public key " + dir + "/signing.pub" +
                     (signing_key.empty() ? std::string() : ", private key " + signing_key + " from daemon.json") + ")");
  // The redaction key sits beside the signing key: whoever holds it can test guesses at a token.
  CORDON_ASSIGN_OR_RETURN(std::string rkey, evlog::LoadOrCreateRedactionKey(dir + "/redaction.key"));
  CORDON_ASSIGN_OR_RETURN(auto redactor, evlog::Redactor::Create(std::move(rkey)));
  std::unique_ptr<EvidenceLog> log(new EvidenceLog(std::move(w), std::move(redactor)));
  if (!log->done_fd_) return Fail(errno, "eventfd for the evidence log's sealer");
  log->signing_key_ = signing_key;
  // What a previous cordond left unsealed (it was killed) is sealed now: those records were
  // written before they were acknowledged.
  CORDON_TRY(log->w_->Checkpoint());
  return log;
}

Result<void> EvidenceLog::Collect(bool wait) {
  if (!job_ && !prune_) return {};
  std::optional<Result<void>> r = sealer_->Take(wait);
  if (!r) return {};
  if (prune_) {
    auto n = w_->FinishPrune(*prune_, std::move(*r));
    prune_.reset();
    if (!n) return Wrap(n.error(), "pruning the evidence log");
    pruned_ += *n;
    return {};
  }
  w_->FinishSeal(*job_, r->has_value());
  job_.reset();
  return std::move(*r);
}

void EvidenceLog::StartSeal() {
  if (busy()) return;
  job_ = w_->BeginSeal();
  if (job_) sealer_->Give([job = &*job_] { return evlog::RunSeal(*job); });
}

Result<void> EvidenceLog::Pump() {
  const uint64_t now = sys::MonotonicNs();
  Result<void> c = Collect(false);
  const uint64_t unsealed = w_->size() - w_->sealed();
  if (unsealed == 0) {
    seal_due_ns_ = 0;
  } else if (seal_due_ns_ == 0) {
    seal_due_ns_ = now + static_cast<uint64_t>(kCheckpointMs) * 1'000'000ull;
  }
  // A seal covers every record written so far; what arrives while it runs waits for the next one
  // (its deadline starts when this one is collected): the signatures are batched by themselves.
  if (!busy() && unsealed > 0 && (unsealed >= kCheckpointEvery || now >= seal_due_ns_)) {
    StartSeal();
    if (job_) seal_due_ns_ = 0;
  }
  return c;
}

Result<void> EvidenceLog::SealerDone() {
  uint64_t n = 0;
  (void)!::read(done_fd_.Get(), &n, sizeof n);  // clears it; busy() and the sealer's state are the truth
  if (!busy()) return {};
  return Pump();
}

Result<void> EvidenceLog::Appended(Result<uint64_t> r) {
  Result<void> c = Pump();
  if (!r) return std::unexpected(r.error());
  if (!c) return Wrap(c.error(), "the record is stored; signing a checkpoint failed");
  return {};
}

Result<void> EvidenceLog::Decision(const DecisionRow& d, int64_t decision_id, const Policy* policy) {
  if (!w_) return {};
  std::string policy_sha;
  if (policy != nullptr && !policy->text.empty()) {
    auto stored = w_->StorePolicy(policy->text, policy->sha256);  // hashed once, when the policy was loaded
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

Result<void> EvidenceLog::Task(const TaskRow& t, const std::string& evidence_json, bool is_json) {
  if (!w_) return {};
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
                         {"finished_unix_ms", t.finished_unix_ms}};
  // The evidence goes in as the text it is (RedactTask's), last, without a parse and a dump of it
  // again (nor a parse to check it: it is cordond's own dump); text that is not JSON goes in as a
  // string.
  std::string text = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.pop_back();  // '}'
  const std::string as_string =
      is_json ? std::string() : nlohmann::json(evidence_json).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const std::string& ev = is_json ? evidence_json : as_string;
  text.reserve(text.size() + ev.size() + 16);
  text += ",\"evidence\":";
  text += ev;
  text += '}';
  return Appended(w_->AppendJsonText("task", text));
}

Result<void> EvidenceLog::Governance(const std::string& event, const std::string& principal, nlohmann::json data) {
  if (!w_) return {};
  redactor_->RedactJson(&data);
  nlohmann::json record = {{"event", event}, {"principal", redactor_->Redact(principal)}, {"data", std::move(data)}};
  return Appended(w_->Append("governance", record));
}

std::vector<std::string> EvidenceLog::ConfigLoaded(const Config& cfg) {
  std::vector<std::string> notes;
  if (w_ && cfg.settings.evlog_signing_key != signing_key_)
    notes.push_back("evidence_log.signing_key changed in daemon.json; the log keeps signing with " +
                    w_->public_key().KeyId() + " (" + (signing_key_.empty() ? "its signing.key" : signing_key_) +
                    ") until cordond restarts");
  for (const auto& [name, lp] : cfg.policies) {
    for (const Binding& b : lp.policy->bindings) {
      if (!b.secret) continue;
      evlog::SecretValues v = evlog::ReadSecretBindingAt(b);
      size_t added = 0;
      for (const std::string& value : v.values) added += redactor_->AddSecret(value, "binding").has_value();
      for (std::string& n : v.notes) notes.push_back("policy " + name + ": " + std::move(n));
      if (!b.from_caller())
        notes.push_back("policy " + name + ": secret binding '" + b.name + "': " + std::to_string(added) +
                        " values redacted by value from what cordond stores");
    }
  }
  return notes;
}

void EvidenceLog::AddBindingSecrets(const std::vector<OpenBinding>* bindings) {
  if (bindings == nullptr) return;
  for (const OpenBinding& b : *bindings) {
    if (!b.binding.secret) continue;
    for (const std::string& value : evlog::ReadSecretBinding(b).values) (void)redactor_->AddSecret(value, "binding");
  }
}

bool EvidenceLog::RedactTask(TaskRow* t, std::string* evidence_json) const {
  for (auto& a : t->argv) a = redactor_->Redact(a);
  for (std::string* s : {&t->message, &t->request_id, &t->app_id}) *s = redactor_->Redact(*s);
  if (evidence_json == nullptr) return true;
  return redactor_->RedactJsonText(evidence_json);  // parsed and dumped again only when something matches
}

void EvidenceLog::RedactDecision(DecisionRow* d) const {
  for (std::string* s : {&d->reason, &d->request_id, &d->app_id}) *s = redactor_->Redact(*s);
}

std::string EvidenceLog::HashArtifact(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                      const std::string& cwd, const std::vector<OpenBinding>* bindings,
                                      const std::optional<evlog::DeclaredArtifact>& declared) {
  AddBindingSecrets(bindings);  // before anything of the task is stored (the task row comes next)
  evlog::ArtifactQuery q;
  q.argv = argv;
  q.env = env;
  q.cwd = cwd.empty() ? "/work" : cwd;
  q.bindings = bindings;
  evlog::ArtifactReport r = evlog::HashArtifacts(q, &hashes_);
  r.declared = declared;
  return evlog::ArtifactJson(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<void> EvidenceLog::Tick() {
  if (!w_ || busy() || seal_due_ns_ == 0 || sys::MonotonicNs() < seal_due_ns_) return {};
  return Pump();
}

Result<void> EvidenceLog::Seal() {
  if (!w_) return {};
  Result<void> c = Collect(true);
  auto s = w_->Checkpoint();
  (void)Pump();
  return !c ? c : s;
}

Result<std::string> EvidenceLog::RotateStagedKey() {
  if (!w_) return std::string();
  (void)Collect(true);  // the key must not change under a signature being made
  auto r = w_->RotateToStagedKey();
  (void)Pump();
  return r;
}

Result<uint64_t> EvidenceLog::ApplyRetention(uint64_t retain_days, uint64_t retain_records) {
  if (!w_ || (retain_days == 0 && retain_records == 0)) return 0;
  // What the last prune (run on the sealer) removed, reported once; none is started while one runs.
  CORDON_TRY(Collect(false));
  const uint64_t done = std::exchange(pruned_, 0);
  if (prune_) return done;
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
  if (cut <= w_->first_kept() || cut - w_->first_kept() < std::max<uint64_t>(1, (w_->size() - cut) / 8)) return done;
  // Off the loop: the prune's seal, the marker and the copy of the records it keeps run on the
  // sealer; the loop only appends the prune record now and, when the job is back, the records
  // written meanwhile (FinishPrune). A seal being signed is waited for first (one job at a time).
  CORDON_TRY(Collect(true));
  CORDON_ASSIGN_OR_RETURN(std::optional<evlog::PruneJob> job, w_->BeginPrune(cut, why));
  if (job) {
    prune_ = std::move(job);
    sealer_->Give([job = &*prune_] { return evlog::RunPrune(*job); });
  }
  (void)Pump();
  return done;
}

Result<void> EvidenceLog::Close() {
  seal_due_ns_ = 0;
  if (!w_) return {};
  Result<void> c = Collect(true);
  auto r = w_->Close();
  return !c ? c : r;
}

}  // namespace cordon::daemon
