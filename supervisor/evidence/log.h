// supervisor/evidence/log.h: the append-only evidence log directory (docs/evidence.md "Layout").
//   DIR/records       the records, each framed as a 4-byte big-endian length and then its exact bytes
//   DIR/checkpoints   signed checkpoints (checkpoint.h), appended
//   DIR/signing.key   the Ed25519 private key, 0600 (created with the log)
//   DIR/signing.pub   its public key (PEM), the one `cordon evidence verify` uses without --key
//   DIR/signing.key.next  a new key staged by `cordon evidence rotate-key`, until the writer
//                     rotates to it (rotation.h)
//   DIR/pruned        what retention removed from the front of DIR/records (pruned.h)
// A record is one JSON object whose bytes are hashed as stored, never re-serialised:
//   {"data":{...},"kind":"...","prev":"<hex leaf hash of the previous record>","seq":N,"time_unix_ms":T}
// Record 0 has kind "log" and names the log's origin and key. The writer holds an exclusive flock
// on DIR/records; readers take none.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/evidence/checkpoint.h"
#include "supervisor/evidence/keys.h"
#include "supervisor/evidence/merkle.h"
#include "supervisor/evidence/pruned.h"

namespace cordon::evlog {

inline constexpr uint32_t kMaxRecordBytes = 16u << 20;

struct LogPaths {
  explicit LogPaths(std::string d, std::string key = {}) : dir(std::move(d)), key_path(std::move(key)) {}
  std::string dir;
  std::string key_path;  // the private key elsewhere (cordond's daemon.json evidence_log.signing_key); "" = DIR/signing.key
  std::string records() const { return dir + "/records"; }
  std::string checkpoints() const { return dir + "/checkpoints"; }
  std::string private_key() const { return key_path.empty() ? dir + "/signing.key" : key_path; }
  std::string public_key() const { return dir + "/signing.pub"; }
  std::string next_key() const { return dir + "/signing.key.next"; }
  std::string pruned() const { return dir + "/pruned"; }
};

// `dir` itself when it holds a log, else `dir`/evidence-log when that does (cordond's state
// directory), else an error that says what was looked for.
Result<std::string> ResolveLogDir(const std::string& dir);

// Every whole frame of DIR/records. A last frame that runs past the end of the file is a torn
// write: `torn_bytes` counts it and it is not in `records`.
struct RecordFile {
  std::vector<std::string> records;
  uint64_t whole_bytes = 0, torn_bytes = 0;
};
Result<RecordFile> ReadRecordFile(const std::string& path);
std::string Frame(std::string_view record);

struct WriterOptions {
  uint64_t checkpoint_every = 64;  // records; 0 = only by time and at Close
  int64_t checkpoint_ms = 1000;    // a record older than this unsealed is sealed by Tick(); 0 = never by time
  bool sync_each = true;           // fdatasync every record before Append returns
  bool wait_for_lock = false;      // Open waits for another writer instead of failing
  // The private key's path when it is not DIR/signing.key (created there, 0600, with a new log);
  // `signing_key_from` names where the path came from, for the hints of its errors.
  std::string signing_key;
  std::string signing_key_from = "the log's signing.key";
};

// A checkpoint to sign and store, taken from a LogWriter (BeginSeal) so that the slow part (the
// records' fdatasync, the signature, the checkpoint's write and fdatasync) can run on another
// thread while the writer goes on appending (cordond's sealer, daemon/evidence_log.h).
struct SealJob {
  Checkpoint cp;
  int records_fd = -1, checkpoints_fd = -1;  // the writer's; valid until FinishSeal
  const SigningKey* key = nullptr;
  bool sync_records = false;
  std::string records_path, checkpoints_path;  // for errors
};
// Does the job's slow part. Thread-safe against the writer's Append; not against the writer's
// calls that write checkpoints, rotate the key or replace the records (finish the job first).
Result<void> RunSeal(const SealJob& job);

// A prune split the same way (docs/evidence.md "Retention"): BeginPrune, on the writer's thread,
// appends the prune record and takes the seal job that covers it; RunPrune, on any thread while
// the writer appends, seals, writes DIR/pruned and copies the records it keeps (up to the length
// the file had at BeginPrune) into DIR/records.new; FinishPrune, on the writer's thread, adds the
// records appended meanwhile, syncs the new file and puts it in place of DIR/records.
struct PruneJob {
  SealJob seal;
  uint64_t old_first_kept = 0, first_kept = 0;
  uint64_t file_bytes = 0;  // DIR/records's length at BeginPrune
  std::string records_path, pruned_path, new_path;
  bool sealed = false;      // out: the seal was written
};
Result<void> RunPrune(PruneJob& job);

class LogWriter {
 public:
  // Opens the log in `dir`, creating the directory (0700), its key and record 0 at first use.
  // A torn last record or checkpoint (a crash in the middle of its write, never acknowledged) is
  // cut off; `*notices` gets one line per such repair and one when the key was created.
  static Result<std::unique_ptr<LogWriter>> Open(const std::string& dir, const WriterOptions& opts,
                                                 std::vector<std::string>* notices);
  ~LogWriter();

  // Appends one record; returns its seq once it is written (and synced with sync_each). Seals
  // with a checkpoint when checkpoint_every records are unsealed.
  Result<uint64_t> Append(const std::string& kind, const nlohmann::json& data);
  // The same with `data` already serialised: `data_json` must be one JSON value (the caller's own
  // nlohmann::json dump); it is stored as it is, not parsed again.
  Result<uint64_t> AppendJsonText(const std::string& kind, std::string_view data_json);
  // Stores a policy's exact bytes once (kind "policy", data {"sha256","text"}), keyed by the hex
  // SHA-256 of `text`, which the caller may give when it has it (`sha256`, else computed). Returns that key.
  Result<std::string> StorePolicy(std::string_view text, std::string_view sha256 = {});
  // Seals by time: a checkpoint when the oldest unsealed record is older than checkpoint_ms.
  Result<void> Tick(int64_t now_unix_ms);
  // A checkpoint over every record so far, unless the last one already covers them.
  Result<void> Checkpoint();
  // The same in three steps, for a caller that runs the middle one on another thread: the job
  // covering every record so far (nullopt when sealed, or when a job is out), RunSeal(job), then
  // FinishSeal (`ok`: RunSeal succeeded) on the writer's thread. One job at a time.
  std::optional<SealJob> BeginSeal();
  void FinishSeal(const SealJob& job, bool ok);
  bool sealing() const { return sealing_; }
  // Checkpoint(), then release the log.
  Result<void> Close();

  // Key rotation (docs/evidence.md "Key rotation"). When DIR/signing.key.next holds a staged key,
  // seals what is unsealed with the key in force, appends the rotation record (signed by that
  // key), makes the staged key DIR/signing.key (the old private key is gone) and DIR/signing.pub,
  // and seals the rotation with the new key. Returns a line saying so, or "" with nothing staged.
  // Open() runs it too, so a rotation a crash cut short is finished.
  Result<std::string> RotateToStagedKey();

  // Retention (docs/evidence.md "Retention"): removes records [first_kept(), first_kept) from
  // DIR/records. It first seals, appends a "prune" record {first_kept, pruned, reason} and seals
  // it, then writes DIR/pruned (the leaf hashes of every pruned record and copies of the pruned
  // header, rotations and policies) and only then the shortened DIR/records. `first_kept` is
  // clamped to the records sealed so far; returns how many records went (0: nothing to do).
  Result<uint64_t> Prune(uint64_t first_kept, const nlohmann::json& reason);
  // Prune in three steps (PruneJob): nullopt when there is nothing to prune (`first_kept` is
  // clamped to the records sealed so far) or a job is out; FinishPrune returns how many went.
  Result<std::optional<PruneJob>> BeginPrune(uint64_t first_kept, const nlohmann::json& reason);
  Result<uint64_t> FinishPrune(const PruneJob& job, Result<void> ran);
  uint64_t first_kept() const { return first_kept_; }
  // The tree size of the newest checkpoint signed at or before `unix_ms` (0 when none): what
  // retention by age may prune, since every record it covers is older.
  Result<uint64_t> SealedBefore(int64_t unix_ms) const;

  const PublicKey& public_key() const { return key_.Public(); }
  const std::string& origin() const { return origin_; }
  const std::string& dir() const { return paths_.dir; }
  uint64_t size() const { return frontier_.size(); }
  uint64_t sealed() const { return sealed_; }

 private:
  LogWriter(LogPaths paths, WriterOptions opts, SigningKey key)
      : paths_(std::move(paths)), opts_(opts), key_(std::move(key)) {}
  Result<uint64_t> AppendRaw(const std::string& kind, const nlohmann::json& data);
  Result<uint64_t> AppendText(const std::string& kind, std::string_view data_json);
  Result<void> Load(std::vector<std::string>* notices);
  Result<void> ReplaceRecords(const std::vector<std::string>& records, size_t from);
  Result<void> InstallStagedKey(SigningKey staged);
  void Note(const std::string& record_bytes);

  LogPaths paths_;
  WriterOptions opts_;
  SigningKey key_;
  UniqueFd records_, checkpoints_;
  Frontier frontier_;
  Hash last_leaf_{};
  uint64_t sealed_ = 0;
  int64_t oldest_unsealed_ms_ = 0;
  std::string origin_;
  std::set<std::string> policies_;
  uint64_t first_kept_ = 0;       // records before it are pruned (DIR/pruned)
  std::string key_in_force_;      // the key id the records say signs the next checkpoint
  bool closed_ = false;
  bool sealing_ = false;          // a SealJob is out (BeginSeal .. FinishSeal)
};

int64_t NowUnixMs();

}  // namespace cordon::evlog
