// supervisor/evidence/log.cc: writing and reading the evidence log directory.
#include "supervisor/evidence/log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "supervisor/sha256.h"
#include "supervisor/evidence/encoding.h"
#include "supervisor/evidence/rotation.h"

namespace cordon::evlog {
namespace {

std::string HashHex(const Hash& h) { return HexEncode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size())); }

// `*written`: how many bytes went out before a failure.
Result<void> WriteAll(int fd, std::string_view bytes, const std::string& what, size_t* written = nullptr) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (written) *written = off;
      return Fail(n < 0 ? errno : ENOSPC, "write " + what);
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

// Appends `bytes` (to an O_APPEND fd only its writer writes) whole or not at all: a short write
// (a full disk) is cut back off, so the file keeps only whole frames. The length before is found
// only then (the length now less what went out), not asked for at every append.
Result<void> AppendWhole(int fd, std::string_view bytes, const std::string& what) {
  size_t written = 0;
  if (auto w = WriteAll(fd, bytes, what, &written); !w) {
    struct stat st{};
    if (written > 0 && ::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) >= written)
      (void)!::ftruncate(fd, st.st_size - static_cast<off_t>(written));
    return w;
  }
  return {};
}

Result<UniqueFd> OpenAppend(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return Fail(errno, "open " + path);
  return fd;
}

// DIR/records opened and locked by its writer. The lock is on the file: a prune replaces the
// file (rename), so a lock that is granted on a file no longer at `path` is let go and taken again.
Result<UniqueFd> LockRecords(const std::string& path, bool wait) {
  for (;;) {
    CORDON_ASSIGN_OR_RETURN(UniqueFd fd, OpenAppend(path));
    if (::flock(fd.Get(), LOCK_EX | (wait ? 0 : LOCK_NB)) != 0)
      return Fail(errno, "lock " + path, "another process is writing this evidence log; give each writer its own directory");
    struct stat held{}, named{};
    if (::fstat(fd.Get(), &held) != 0) return Fail(errno, "fstat " + path);
    if (::stat(path.c_str(), &named) == 0 && named.st_dev == held.st_dev && named.st_ino == held.st_ino) return fd;
  }
}

}  // namespace

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::string> ResolveLogDir(const std::string& dir) {
  struct stat st{};
  if (::stat(LogPaths(dir).records().c_str(), &st) == 0) return dir;
  const std::string nested = dir + "/evidence-log";
  if (::stat(LogPaths(nested).records().c_str(), &st) == 0) return nested;
  return FailMsg("no evidence log in " + dir + " (looked for " + LogPaths(dir).records() + " and " +
                     LogPaths(nested).records() + ")",
                 "give --log the log directory, or cordond's state directory");
}

std::string Frame(std::string_view record) {
  const uint32_t n = static_cast<uint32_t>(record.size());
  std::string f;
  f.reserve(record.size() + 4);
  f += char(n >> 24);
  f += char(n >> 16);
  f += char(n >> 8);
  f += char(n);
  f += record;
  return f;
}

Result<RecordFile> ReadRecordFile(const std::string& path) {
  CORDON_ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(path));
  RecordFile rf;
  size_t pos = 0;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 4) break;
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data() + pos);
    const uint32_t n = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
    if (n > kMaxRecordBytes)
      return FailMsg(path + ": the frame at byte " + std::to_string(pos) + " (record " +
                     std::to_string(rf.records.size()) + ") claims " + std::to_string(n) +
                     " bytes, more than a record may hold: the file is damaged there");
    if (bytes.size() - pos - 4 < n) break;
    rf.records.emplace_back(bytes, pos + 4, n);
    pos += 4 + n;
  }
  rf.whole_bytes = pos;
  rf.torn_bytes = bytes.size() - pos;
  return rf;
}

Result<std::unique_ptr<LogWriter>> LogWriter::Open(const std::string& dir, const WriterOptions& opts,
                                                   std::vector<std::string>* notices) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Fail(errno, "create the evidence log directory " + dir);
  LogPaths paths(dir, opts.signing_key);
  // The lock first: a log another process writes says so (EWOULDBLOCK), whatever its key.
  CORDON_ASSIGN_OR_RETURN(UniqueFd records, LockRecords(paths.records(), opts.wait_for_lock));
  bool created = false;
  // A key is made only with a new log: a log that has records and no key lost it (or it lives
  // elsewhere), and a fresh key would not be the one its checkpoints name.
  struct stat rst{}, kst{};
  if (::stat(paths.records().c_str(), &rst) == 0 && rst.st_size > 0 && ::lstat(paths.private_key().c_str(), &kst) != 0 &&
      errno == ENOENT)
    return FailMsg("the evidence log in " + dir + " has records but its signing key " + paths.private_key() +
                       " does not exist",
                   "restore the key; if cordond's daemon.json names it (evidence_log.signing_key), use the log "
                   "through cordond (`cordon evidence rotate-key` then SIGHUP)");
  CORDON_ASSIGN_OR_RETURN(SigningKey key, SigningKey::LoadOrCreate(paths.private_key(), paths.public_key(), &created,
                                                                   opts.signing_key_from));
  if (created)
    notices->push_back("created the evidence log signing key " + paths.private_key() + "; key id (fingerprint) " +
                       key.Public().KeyId());
  std::unique_ptr<LogWriter> w(new LogWriter(paths, opts, std::move(key)));
  w->records_ = std::move(records);
  CORDON_ASSIGN_OR_RETURN(w->checkpoints_, OpenAppend(paths.checkpoints()));
  CORDON_TRY(w->Load(notices));

  CORDON_ASSIGN_OR_RETURN(std::string cps, ReadWholeFile(paths.checkpoints()));
  size_t whole = 0;
  const auto blocks = SplitCheckpointBlocks(cps, &whole);
  if (whole < cps.size()) {
    if (::ftruncate(w->checkpoints_.Get(), static_cast<off_t>(whole)) != 0)
      return Fail(errno, "cut the torn last checkpoint off " + paths.checkpoints());
    notices->push_back("cut a torn checkpoint of " + std::to_string(cps.size() - whole) + " bytes off the end of " +
                       paths.checkpoints());
  }
  if (!blocks.empty()) {
    auto last = ParseSignedCheckpoint(blocks.back());
    if (!last) return Wrap(last.error(), "the last checkpoint in " + paths.checkpoints());
    if (last->cp.size > w->frontier_.size())
      return FailMsg("the evidence log in " + dir + " holds " + std::to_string(w->frontier_.size()) +
                         " records but its last checkpoint covers " + std::to_string(last->cp.size) +
                         ": records were removed",
                     "run `cordon evidence verify --log " + dir + "`; move " + dir +
                         " away (keep it as evidence): a new log is created in its place");
    w->sealed_ = last->cp.size;
  }
  if (w->frontier_.size() == 0) {
    uint8_t id[16];
    if (::getrandom(id, sizeof id, 0) != sizeof id) return Fail(errno, "getrandom for the log id");
    w->origin_ = "cordon-evidence-log " + HexEncode(std::string_view(reinterpret_cast<char*>(id), sizeof id));
    w->key_in_force_ = w->public_key().KeyId();
    CORDON_TRY(w->AppendRaw("log", {{"origin", w->origin_}, {"key_id", w->key_in_force_}}));
  }
  if (w->origin_.empty()) return FailMsg(paths.records() + ": record 0 is not the log's header (kind \"log\" with its origin)");
  if (w->key_in_force_ != w->public_key().KeyId()) {
    // A rotation whose record is written but whose staged key was not yet moved into place (a
    // crash in between): finish it. Any other mismatch is a key file that does not belong here.
    auto staged = SigningKey::Load(paths.next_key());
    if (!staged || staged->Public().KeyId() != w->key_in_force_)
      return FailMsg("signing key " + paths.private_key() + " (key id " + w->public_key().KeyId() +
                         ") is not the key the evidence log in " + dir + " says is in force (" + w->key_in_force_ + ")",
                     "restore the log's signing key; a key is changed with `cordon evidence rotate-key`");
    CORDON_TRY(w->InstallStagedKey(std::move(*staged)));
    notices->push_back("finished the key rotation a crash interrupted: signing key id " + w->key_in_force_);
  }
  if (w->sealed_ < w->frontier_.size()) w->oldest_unsealed_ms_ = NowUnixMs();
  CORDON_ASSIGN_OR_RETURN(std::string rotated, w->RotateToStagedKey());
  if (!rotated.empty()) notices->push_back(rotated);
  return w;
}

void LogWriter::Note(const std::string& bytes) {
  auto j = nlohmann::json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("data") || !j["data"].is_object()) return;  // verify reports it
  const std::string kind = j.value("kind", "");
  const nlohmann::json& d = j["data"];
  if (kind == "policy") policies_.insert(d.value("sha256", ""));
  if (kind == "log" && j.value("seq", uint64_t(1)) == 0) {
    origin_ = d.value("origin", "");
    key_in_force_ = d.value("key_id", "");
  }
  if (kind == "key_rotation") key_in_force_ = d.value("new_key_id", "");
}

Result<void> LogWriter::Load(std::vector<std::string>* notices) {
  CORDON_ASSIGN_OR_RETURN(std::optional<PrunedPrefix> marker, ReadPrunedPrefix(paths_.pruned()));
  CORDON_ASSIGN_OR_RETURN(RecordFile rf, ReadRecordFile(paths_.records()));
  if (rf.torn_bytes > 0) {
    if (::ftruncate(records_.Get(), static_cast<off_t>(rf.whole_bytes)) != 0)
      return Fail(errno, "cut the torn last record off " + paths_.records());
    notices->push_back("cut a torn record of " + std::to_string(rf.torn_bytes) + " bytes off the end of " +
                       paths_.records() + " (a crash during its write; it was never acknowledged)");
  }
  size_t skip = 0;
  if (marker) {
    first_kept_ = marker->first_kept;
    for (const Hash& h : marker->leaves) frontier_.Append(last_leaf_ = h);
    for (const auto& [seq, bytes] : marker->records) Note(bytes);
    // A prune that wrote DIR/pruned but not yet the shortened DIR/records (a crash in between):
    // the records it covers are still at the front. Finish it.
    while (skip < rf.records.size()) {
      auto j = nlohmann::json::parse(rf.records[skip], nullptr, false);
      if (j.is_discarded() || !j.is_object() || j.value("seq", UINT64_MAX) >= first_kept_) break;
      ++skip;
    }
    if (skip > 0) {
      CORDON_TRY(ReplaceRecords(rf.records, skip));
      notices->push_back("finished a prune a crash interrupted: removed " + std::to_string(skip) +
                         " records already in " + paths_.pruned());
    }
  }
  for (size_t i = skip; i < rf.records.size(); ++i) {
    frontier_.Append(last_leaf_ = LeafHash(rf.records[i]));
    Note(rf.records[i]);
  }
  return {};
}

Result<void> LogWriter::ReplaceRecords(const std::vector<std::string>& records, size_t from) {
  std::string bytes;
  for (size_t i = from; i < records.size(); ++i) bytes += Frame(records[i]);
  CORDON_TRY(WriteFileAtomic(paths_.records(), bytes, 0600, false));
  // The new file is locked before the old one is let go; a writer waiting on the old one sees
  // that its file was replaced and opens the new one (LockRecords).
  CORDON_ASSIGN_OR_RETURN(UniqueFd fd, LockRecords(paths_.records(), false));
  records_ = std::move(fd);
  return {};
}

Result<void> LogWriter::InstallStagedKey(SigningKey staged) {
  CORDON_TRY(WriteFileAtomic(paths_.public_key(), staged.Public().Pem(), 0644, false));
  // Written in place, not renamed: the key may live on another filesystem (WriterOptions::signing_key).
  // A crash before the unlink leaves the staged copy, which Open finds already in force and removes.
  CORDON_ASSIGN_OR_RETURN(std::string pem, staged.PrivatePem());
  CORDON_TRY(WriteFileAtomic(paths_.private_key(), pem, 0600, false));
  if (::unlink(paths_.next_key().c_str()) != 0 && errno != ENOENT) return Fail(errno, "remove " + paths_.next_key());
  key_ = std::move(staged);
  key_in_force_ = key_.Public().KeyId();
  return {};
}

Result<std::string> LogWriter::RotateToStagedKey() {
  if (::access(paths_.next_key().c_str(), F_OK) != 0) return std::string();
  CORDON_ASSIGN_OR_RETURN(SigningKey staged, SigningKey::Load(paths_.next_key()));
  const std::string old_id = key_.Public().KeyId(), new_id = staged.Public().KeyId();
  if (new_id == old_id) {
    (void)::unlink(paths_.next_key().c_str());
    return std::string();
  }
  CORDON_TRY(Checkpoint());  // everything before the rotation is sealed by the old key
  CORDON_ASSIGN_OR_RETURN(nlohmann::json data, RotationData(origin_, key_, staged.Public()));
  CORDON_ASSIGN_OR_RETURN(uint64_t seq, AppendRaw("key_rotation", data));
  if (::fdatasync(records_.Get()) != 0) return Fail(errno, "fdatasync " + paths_.records());
  CORDON_TRY(InstallStagedKey(std::move(staged)));
  CORDON_TRY(Checkpoint());  // the rotation itself is sealed by the new key
  return "rotated the evidence log signing key from " + old_id + " to " + new_id + " (record " + std::to_string(seq) +
         ", signed by the old key; " + paths_.public_key() + " is the new public key)";
}

Result<uint64_t> LogWriter::SealedBefore(int64_t unix_ms) const {
  CORDON_ASSIGN_OR_RETURN(std::string cps, ReadWholeFile(paths_.checkpoints()));
  size_t whole = 0;
  uint64_t best = 0;
  for (auto block : SplitCheckpointBlocks(cps, &whole))
    if (auto c = ParseSignedCheckpoint(block); c && c->cp.time_unix_ms <= unix_ms) best = std::max(best, c->cp.size);
  return best;
}

Result<uint64_t> LogWriter::Prune(uint64_t first_kept, const nlohmann::json& reason) {
  CORDON_TRY(Checkpoint());
  CORDON_ASSIGN_OR_RETURN(std::optional<PruneJob> job, BeginPrune(first_kept, reason));
  if (!job) return 0;
  Result<void> ran = RunPrune(*job);
  return FinishPrune(*job, std::move(ran));
}

Result<std::optional<PruneJob>> LogWriter::BeginPrune(uint64_t first_kept, const nlohmann::json& reason) {
  if (sealing_) return std::optional<PruneJob>();
  first_kept = std::min(first_kept, sealed_);
  if (first_kept <= first_kept_) return std::optional<PruneJob>();
  // The prune is itself a record, sealed before anything is removed: a verifier accepts the
  // marker only when the log's last prune record names the same cut.
  CORDON_TRY(AppendRaw("prune", {{"first_kept", first_kept}, {"pruned", first_kept - first_kept_}, {"reason", reason}}));
  const off_t end = ::lseek(records_.Get(), 0, SEEK_END);
  if (end < 0) return Fail(errno, "lseek " + paths_.records());
  PruneJob j;
  j.old_first_kept = first_kept_;
  j.first_kept = first_kept;
  j.file_bytes = static_cast<uint64_t>(end);
  j.records_path = paths_.records();
  j.pruned_path = paths_.pruned();
  j.new_path = paths_.records() + ".new";
  std::optional<SealJob> seal = BeginSeal();
  if (!seal) return FailMsg("the prune record of " + paths_.records() + " could not be sealed");
  j.seal = std::move(*seal);
  return std::optional<PruneJob>(std::move(j));
}

Result<void> RunPrune(PruneJob& job) {
  CORDON_TRY(RunSeal(job.seal));
  job.sealed = true;
  CORDON_ASSIGN_OR_RETURN(std::optional<PrunedPrefix> old, ReadPrunedPrefix(job.pruned_path));
  PrunedPrefix m = old ? std::move(*old) : PrunedPrefix{};
  if (m.first_kept != job.old_first_kept)
    return FailMsg(job.pruned_path + " names first_kept " + std::to_string(m.first_kept) + ", the writer " +
                   std::to_string(job.old_first_kept));
  // The records file as it was at BeginPrune; what the writer appends meanwhile is past file_bytes.
  CORDON_ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(job.records_path));
  if (bytes.size() < job.file_bytes) return FailMsg(job.records_path + " is shorter than when the prune began");
  bytes.resize(job.file_bytes);
  const uint64_t n = job.first_kept - job.old_first_kept;
  size_t pos = 0;
  for (uint64_t i = 0; i < n; ++i) {
    if (bytes.size() - pos < 4) return FailMsg(job.records_path + " holds fewer records than it should");
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data() + pos);
    const uint32_t len = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
    if (bytes.size() - pos - 4 < len) return FailMsg(job.records_path + " holds fewer records than it should");
    const std::string_view rec(bytes.data() + pos + 4, len);
    m.leaves.push_back(LeafHash(rec));
    auto j = nlohmann::json::parse(rec, nullptr, false);
    if (!j.is_discarded() && j.is_object() && KeptWhenPruned(j.value("kind", "")))
      m.records[job.old_first_kept + i] = std::string(rec);
    pos += 4 + len;
  }
  m.first_kept = job.first_kept;
  CORDON_TRY(WriteFileAtomic(job.pruned_path, m.Text(), 0600, false));
  // The records it keeps, into a new file that FinishPrune completes and puts in place. A crash
  // from here on leaves the marker with the pruned records still at the front of DIR/records,
  // which the next writer finishes (Load).
  UniqueFd out(::open(job.new_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out) return Fail(errno, "create " + job.new_path);
  CORDON_TRY(WriteAll(out.Get(), std::string_view(bytes).substr(pos), job.new_path));
  if (::fdatasync(out.Get()) != 0) return Fail(errno, "fdatasync " + job.new_path);
  return {};
}

Result<uint64_t> LogWriter::FinishPrune(const PruneJob& job, Result<void> ran) {
  FinishSeal(job.seal, job.sealed);
  if (!ran) {
    (void)::unlink(job.new_path.c_str());
    return std::unexpected(ran.error());
  }
  // The records appended while the job ran: from file_bytes to the end, after the kept ones.
  UniqueFd out(::open(job.new_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!out) return Fail(errno, "open " + job.new_path);
  const off_t end = ::lseek(records_.Get(), 0, SEEK_END);
  if (end < 0) return Fail(errno, "lseek " + paths_.records());
  std::string tail(static_cast<size_t>(static_cast<uint64_t>(end) - job.file_bytes), '\0');
  size_t got = 0;
  while (got < tail.size()) {
    const ssize_t n = ::pread(records_.Get(), tail.data() + got, tail.size() - got, static_cast<off_t>(job.file_bytes + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(n < 0 ? errno : EIO, "read " + paths_.records());
    got += static_cast<size_t>(n);
  }
  CORDON_TRY(WriteAll(out.Get(), tail, job.new_path));
  if (::fdatasync(out.Get()) != 0) return Fail(errno, "fdatasync " + job.new_path);
  if (::rename(job.new_path.c_str(), paths_.records().c_str()) != 0)
    return Fail(errno, "rename " + job.new_path + " to " + paths_.records());
  // The new file is locked before the old one is let go (LockRecords, as ReplaceRecords does).
  CORDON_ASSIGN_OR_RETURN(UniqueFd fd, LockRecords(paths_.records(), false));
  records_ = std::move(fd);
  first_kept_ = job.first_kept;
  return job.first_kept - job.old_first_kept;
}

LogWriter::~LogWriter() {
  if (!closed_) (void)Close();
}

Result<uint64_t> LogWriter::AppendRaw(const std::string& kind, const nlohmann::json& data) {
  std::string text;
  try {
    text = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const nlohmann::json::exception& e) {
    return FailMsg(std::string("serialise an evidence record: ") + e.what());
  }
  return AppendText(kind, text);
}

Result<uint64_t> LogWriter::AppendText(const std::string& kind, std::string_view data_json) {
  const uint64_t seq = frontier_.size();
  const int64_t now = NowUnixMs();
  // What nlohmann::json would print for {"data","kind","prev","seq","time_unix_ms"} (keys in that
  // order, no spaces), put together without copying `data_json` into a json tree and out again.
  const std::string kind_json = nlohmann::json(kind).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const std::string prev = seq == 0 ? std::string() : HashHex(last_leaf_);
  std::string framed(4, '\0');
  framed.reserve(4 + data_json.size() + kind_json.size() + prev.size() + 80);
  framed += "{\"data\":";
  framed += data_json;
  framed += ",\"kind\":";
  framed += kind_json;
  framed += ",\"prev\":\"";
  framed += prev;
  framed += "\",\"seq\":";
  framed += std::to_string(seq);
  framed += ",\"time_unix_ms\":";
  framed += std::to_string(now);
  framed += '}';
  const std::string_view bytes = std::string_view(framed).substr(4);
  if (bytes.size() > kMaxRecordBytes)
    return FailMsg("an evidence record of " + std::to_string(bytes.size()) + " bytes is over the " +
                   std::to_string(kMaxRecordBytes) + "-byte limit");
  const uint32_t n = static_cast<uint32_t>(bytes.size());
  framed[0] = char(n >> 24), framed[1] = char(n >> 16), framed[2] = char(n >> 8), framed[3] = char(n);
  CORDON_TRY(AppendWhole(records_.Get(), framed, paths_.records()));
  if (opts_.sync_each && ::fdatasync(records_.Get()) != 0) return Fail(errno, "fdatasync " + paths_.records());
  last_leaf_ = LeafHash(bytes);
  frontier_.Append(last_leaf_);
  if (oldest_unsealed_ms_ == 0) oldest_unsealed_ms_ = now;
  return seq;
}

Result<uint64_t> LogWriter::Append(const std::string& kind, const nlohmann::json& data) {
  CORDON_ASSIGN_OR_RETURN(uint64_t seq, AppendRaw(kind, data));
  if (opts_.checkpoint_every > 0 && size() - sealed_ >= opts_.checkpoint_every)
    if (auto c = Checkpoint(); !c) return Wrap(c.error(), "record " + std::to_string(seq) + " is stored; sealing it");
  return seq;
}

Result<uint64_t> LogWriter::AppendJsonText(const std::string& kind, std::string_view data_json) {
  CORDON_ASSIGN_OR_RETURN(uint64_t seq, AppendText(kind, data_json));
  if (opts_.checkpoint_every > 0 && size() - sealed_ >= opts_.checkpoint_every)
    if (auto c = Checkpoint(); !c) return Wrap(c.error(), "record " + std::to_string(seq) + " is stored; sealing it");
  return seq;
}

Result<std::string> LogWriter::StorePolicy(std::string_view text, std::string_view sha256) {
  std::string sha = sha256.empty() ? Sha256Hex(text) : std::string(sha256);
  if (policies_.contains(sha)) return sha;
  CORDON_TRY(Append("policy", {{"sha256", sha}, {"text", std::string(text)}}));
  policies_.insert(sha);
  return sha;
}

Result<void> LogWriter::Tick(int64_t now_unix_ms) {
  if (sealed_ < size() && opts_.checkpoint_ms > 0 && now_unix_ms - oldest_unsealed_ms_ >= opts_.checkpoint_ms)
    return Checkpoint();
  return {};
}

Result<void> RunSeal(const SealJob& job) {
  // The records first: a checkpoint on disk must never cover records that are not.
  if (job.sync_records && ::fdatasync(job.records_fd) != 0) return Fail(errno, "fdatasync " + job.records_path);
  CORDON_ASSIGN_OR_RETURN(SignedCheckpoint s, Sign(job.cp, *job.key));
  CORDON_TRY(AppendWhole(job.checkpoints_fd, s.Text() + "\n", job.checkpoints_path));
  if (::fdatasync(job.checkpoints_fd) != 0) return Fail(errno, "fdatasync " + job.checkpoints_path);
  return {};
}

std::optional<SealJob> LogWriter::BeginSeal() {
  if (sealed_ == size() || sealing_ || closed_) return std::nullopt;
  sealing_ = true;
  SealJob j;
  j.cp = evlog::Checkpoint{origin_, size(), frontier_.Root(), NowUnixMs()};
  j.records_fd = records_.Get();
  j.checkpoints_fd = checkpoints_.Get();
  j.key = &key_;
  j.sync_records = !opts_.sync_each;
  j.records_path = paths_.records();
  j.checkpoints_path = paths_.checkpoints();
  return j;
}

void LogWriter::FinishSeal(const SealJob& job, bool ok) {
  sealing_ = false;
  if (!ok || job.cp.size <= sealed_) return;
  sealed_ = job.cp.size;
  oldest_unsealed_ms_ = sealed_ == size() ? 0 : NowUnixMs();
}

Result<void> LogWriter::Checkpoint() {
  if (sealing_) return FailMsg("a checkpoint is being signed elsewhere; finish it first (LogWriter::FinishSeal)");
  std::optional<SealJob> job = BeginSeal();
  if (!job) return {};
  auto r = RunSeal(*job);
  FinishSeal(*job, r.has_value());
  return r;
}

Result<void> LogWriter::Close() {
  if (closed_) return {};
  auto c = Checkpoint();
  closed_ = true;
  records_.Reset();
  checkpoints_.Reset();
  return c;
}

}  // namespace cordon::evlog
