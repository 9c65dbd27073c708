#include "supervisor/daemon/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "supervisor/sha256.h"

namespace cordon::daemon {
namespace {

constexpr std::string_view kMagic = "cordond-record-spool 1\n";

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutBytes(std::string* out, std::string_view b) {
  PutU64(out, b.size());
  out->append(b);
}

struct Reader {
  std::string_view in;
  bool ok = true;
  uint64_t U64() {
    if (in.size() < 8) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in[static_cast<size_t>(i)])) << (8 * i);
    in.remove_prefix(8);
    return v;
  }
  std::string Bytes() {
    uint64_t n = U64();
    if (!ok || n > in.size()) {
      ok = false;
      return {};
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

void PutRecord(std::string* out, const PendingRecord& p) {
  const TaskRow& t = p.row;
  for (const std::string* s : {&t.id, &t.principal, &t.tenant, &t.app_id, &t.cls, &t.policy, &t.policy_sha256,
                               &t.request_id, &t.fingerprint, &t.state, &t.failure_class, &t.message})
    PutBytes(out, *s);
  PutU64(out, t.argv.size());
  for (const auto& a : t.argv) PutBytes(out, a);
  for (int64_t v : {static_cast<int64_t>(t.policy_version), static_cast<int64_t>(t.shim_pid),
                    static_cast<int64_t>(t.shim_start_time), static_cast<int64_t>(t.exit_code), t.created_unix_ms,
                    t.finished_unix_ms, t.decision_id})
    PutU64(out, static_cast<uint64_t>(v));
  PutBytes(out, p.evidence);
}

PendingRecord GetRecord(Reader& r) {
  PendingRecord p;
  TaskRow& t = p.row;
  for (std::string* s : {&t.id, &t.principal, &t.tenant, &t.app_id, &t.cls, &t.policy, &t.policy_sha256,
                         &t.request_id, &t.fingerprint, &t.state, &t.failure_class, &t.message})
    *s = r.Bytes();
  uint64_t argc = r.U64();
  for (uint64_t i = 0; r.ok && i < argc; ++i) t.argv.push_back(r.Bytes());
  t.policy_version = r.U64();
  t.shim_pid = static_cast<int32_t>(r.U64());
  t.shim_start_time = r.U64();
  t.exit_code = static_cast<int32_t>(r.U64());
  t.created_unix_ms = static_cast<int64_t>(r.U64());
  t.finished_unix_ms = static_cast<int64_t>(r.U64());
  t.decision_id = static_cast<int64_t>(r.U64());
  p.evidence = r.Bytes();
  return p;
}

}  // namespace

std::string EncodeSpool(const std::vector<const PendingRecord*>& records) {
  std::string body;
  PutU64(&body, records.size());
  for (const PendingRecord* p : records) PutRecord(&body, *p);
  std::string out(kMagic);
  PutBytes(&out, body);
  const auto digest = Sha256(body);
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return out;
}

Result<std::vector<PendingRecord>> DecodeSpool(const std::string& bytes) {
  std::vector<PendingRecord> out;
  if (bytes.empty() || bytes[0] == '\0') return out;  // never written
  if (bytes.compare(0, kMagic.size(), kMagic) != 0) return FailMsg("not a cordond record spool", "");
  Reader r{std::string_view(bytes).substr(kMagic.size())};
  std::string body = r.Bytes();
  if (!r.ok || r.in.size() < 32) return FailMsg("the record spool is truncated", "");
  const auto digest = Sha256(body);
  if (std::memcmp(digest.data(), r.in.data(), 32) != 0)
    return FailMsg("the record spool's checksum does not match (a torn write)", "");
  Reader b{body};
  uint64_t n = b.U64();
  for (uint64_t i = 0; b.ok && i < n; ++i) out.push_back(GetRecord(b));
  if (!b.ok) return FailMsg("the record spool's records do not parse", "");
  return out;
}

Result<RecordSpool> RecordSpool::Open(const std::string& path, uint64_t capacity) {
  RecordSpool s;
  s.path_ = path;
  s.capacity_ = capacity;
  s.fd_.Reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!s.fd_) return Fail(errno, "open " + path);
  // mode 0 allocates without changing what is there: a previous daemon's records stay readable.
  s.reserved_ = ::fallocate(s.fd_.Get(), 0, 0, static_cast<off_t>(capacity)) == 0;
  return s;
}

Result<std::vector<PendingRecord>> RecordSpool::Load() {
  struct stat st{};
  if (::fstat(fd_.Get(), &st) < 0) return Fail(errno, "stat " + path_);
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::pread(fd_.Get(), bytes.data() + off, bytes.size() - off, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(errno, "read " + path_);
    if (n == 0) break;
    off += static_cast<size_t>(n);
  }
  auto recs = DecodeSpool(bytes);
  if (!recs) return FailMsg(path_ + ": " + recs.error().context, "move it aside to start without its records");
  return recs;
}

Result<void> RecordSpool::Save(const std::vector<const PendingRecord*>& records, size_t* written) {
  // The oldest records first, as many as fit.
  std::vector<const PendingRecord*> fit = records;
  std::string bytes = EncodeSpool(fit);
  while (bytes.size() > capacity_ && !fit.empty()) {
    fit.pop_back();
    bytes = EncodeSpool(fit);
  }
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::pwrite(fd_.Get(), bytes.data() + off, bytes.size() - off, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(n < 0 ? errno : ENOSPC, "write " + path_);
    off += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_.Get()) < 0) return Fail(errno, "fdatasync " + path_);
  *written = fit.size();
  return {};
}

}  // namespace cordon::daemon
