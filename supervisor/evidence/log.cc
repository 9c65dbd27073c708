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

namespace cordon::evlog {
namespace {

std::string HashHex(const Hash& h) { return HexEncode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size())); }

Result<void> WriteAll(int fd, std::string_view bytes, const std::string& what) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(n < 0 ? errno : ENOSPC, "write " + what);
    off += static_cast<size_t>(n);
  }
  return {};
}

// Appends `bytes` whole or not at all: a short write (a full disk) is cut back off, so the file
// keeps only whole frames.
Result<void> AppendWhole(int fd, std::string_view bytes, const std::string& what) {
  const off_t before = ::lseek(fd, 0, SEEK_END);
  if (before < 0) return Fail(errno, "lseek " + what);
  if (auto w = WriteAll(fd, bytes, what); !w) {
    (void)!::ftruncate(fd, before);
    return w;
  }
  return {};
}

Result<UniqueFd> OpenAppend(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return Fail(errno, "open " + path);
  return fd;
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
  LogPaths paths(dir);
  bool created = false;
  CORDON_ASSIGN_OR_RETURN(SigningKey key, SigningKey::LoadOrCreate(paths.private_key(), paths.public_key(), &created));
  if (created)
    notices->push_back("created the evidence log signing key " + paths.private_key() + "; key id (fingerprint) " +
                       key.Public().KeyId());
  std::unique_ptr<LogWriter> w(new LogWriter(paths, opts, std::move(key)));
  CORDON_ASSIGN_OR_RETURN(w->records_, OpenAppend(paths.records()));
  if (::flock(w->records_.Get(), LOCK_EX | (opts.wait_for_lock ? 0 : LOCK_NB)) != 0)
    return Fail(errno, "lock " + paths.records(), "another process is writing this evidence log; give each writer its own directory");
  CORDON_ASSIGN_OR_RETURN(w->checkpoints_, OpenAppend(paths.checkpoints()));

  CORDON_ASSIGN_OR_RETURN(RecordFile rf, ReadRecordFile(paths.records()));
  if (rf.torn_bytes > 0) {
    if (::ftruncate(w->records_.Get(), static_cast<off_t>(rf.whole_bytes)) != 0)
      return Fail(errno, "cut the torn last record off " + paths.records());
    notices->push_back("cut a torn record of " + std::to_string(rf.torn_bytes) + " bytes off the end of " +
                       paths.records() + " (a crash during its write; it was never acknowledged)");
  }
  for (const std::string& r : rf.records) {
    w->last_leaf_ = LeafHash(r);
    w->frontier_.Append(w->last_leaf_);
    auto j = nlohmann::json::parse(r, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;  // verify reports it; appending goes on
    if (j.value("kind", "") == "policy" && j.contains("data") && j["data"].is_object())
      w->policies_.insert(j["data"].value("sha256", ""));
    if (w->frontier_.size() == 1 && j.value("kind", "") == "log" && j.contains("data"))
      w->origin_ = j["data"].value("origin", "");
  }

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
    CORDON_TRY(w->AppendRaw("log", {{"origin", w->origin_}, {"key_id", w->public_key().KeyId()}}));
  }
  if (w->origin_.empty()) return FailMsg(paths.records() + ": record 0 is not the log's header (kind \"log\" with its origin)");
  if (w->sealed_ < w->frontier_.size()) w->oldest_unsealed_ms_ = NowUnixMs();
  return w;
}

LogWriter::~LogWriter() {
  if (!closed_) (void)Close();
}

Result<uint64_t> LogWriter::AppendRaw(const std::string& kind, const nlohmann::json& data) {
  const uint64_t seq = frontier_.size();
  const int64_t now = NowUnixMs();
  nlohmann::json rec = {{"seq", seq},
                        {"prev", seq == 0 ? std::string() : HashHex(last_leaf_)},
                        {"time_unix_ms", now},
                        {"kind", kind},
                        {"data", data}};
  std::string bytes;
  try {
    bytes = rec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const nlohmann::json::exception& e) {
    return FailMsg(std::string("serialise an evidence record: ") + e.what());
  }
  if (bytes.size() > kMaxRecordBytes)
    return FailMsg("an evidence record of " + std::to_string(bytes.size()) + " bytes is over the " +
                   std::to_string(kMaxRecordBytes) + "-byte limit");
  CORDON_TRY(AppendWhole(records_.Get(), Frame(bytes), paths_.records()));
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

Result<std::string> LogWriter::StorePolicy(std::string_view text) {
  std::string sha = Sha256Hex(text);
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

Result<void> LogWriter::Checkpoint() {
  if (sealed_ == size()) return {};
  if (!opts_.sync_each && ::fdatasync(records_.Get()) != 0) return Fail(errno, "fdatasync " + paths_.records());
  evlog::Checkpoint cp{origin_, size(), frontier_.Root(), NowUnixMs()};
  CORDON_ASSIGN_OR_RETURN(SignedCheckpoint s, Sign(cp, key_));
  CORDON_TRY(AppendWhole(checkpoints_.Get(), s.Text() + "\n", paths_.checkpoints()));
  if (::fdatasync(checkpoints_.Get()) != 0) return Fail(errno, "fdatasync " + paths_.checkpoints());
  sealed_ = size();
  oldest_unsealed_ms_ = 0;
  return {};
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
