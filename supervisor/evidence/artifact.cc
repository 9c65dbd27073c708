// supervisor/evidence/artifact.cc: hashing what a task runs, before it runs (artifact.h).
#include "supervisor/evidence/artifact.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/unique_fd.h"
#include "supervisor/sha256.h"
#include "supervisor/sha256_stream.h"

namespace cordon::evlog {
namespace {

constexpr size_t kMaxScripts = 16;                 // arguments looked at beyond argv[0]
constexpr uint64_t kMaxHashBytes = 1ull << 30;     // a file larger than this is listed, not hashed

bool IsLowerHex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// `path` made absolute against `cwd` and cleaned lexically ("." and ".." removed, as the kernel
// would on a tree without symlinks; a symlink inside a binding is resolved by openat2 below).
std::string Normalize(const std::string& cwd, const std::string& path) {
  const std::string full = !path.empty() && path[0] == '/' ? path : cwd + "/" + path;
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= full.size()) {
    size_t j = full.find('/', i);
    if (j == std::string::npos) j = full.size();
    std::string p = full.substr(i, j - i);
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!p.empty() && p != ".") {
      parts.push_back(std::move(p));
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

bool IsRuntimePath(const std::string& p) {
  for (const char* top : {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    const size_t n = std::char_traits<char>::length(top);
    if (p.compare(0, n, top) == 0 && (p.size() == n || p[n] == '/')) return true;
  }
  return false;
}

// A file the sandbox will see at `path`, opened on the host, and where it comes from. An error
// says why it cannot be had (ENOENT for "not there before the task").
struct Found {
  UniqueFd owned;
  int fd = -1;
  std::string from;
};

Result<Found> OpenAsSandboxSees(const ArtifactQuery& q, const std::string& path) {
  const OpenBinding* best = nullptr;
  if (q.bindings != nullptr) {
    for (const auto& b : *q.bindings) {
      const std::string& t = b.binding.target;
      if (!b.mounted || t.empty() || !b.fd) continue;
      if (path != t && path.compare(0, t.size() + 1, t + "/") != 0) continue;
      if (best == nullptr || t.size() > best->binding.target.size()) best = &b;
    }
  }
  Found f;
  if (best != nullptr) {
    f.from = "binding " + best->binding.name;
    const std::string rest = path.size() > best->binding.target.size() ? path.substr(best->binding.target.size() + 1) : "";
    if (best->binding.kind == Binding::Kind::kFile) {
      if (!rest.empty()) return FailMsg("below the file binding " + best->binding.name);
      f.fd = best->fd.Get();
      return f;
    }
    if (best->binding.kind != Binding::Kind::kDir && best->binding.kind != Binding::Kind::kState)
      return FailMsg("in a " + std::string(BindingKindName(best->binding.kind)) + " binding");
    if (rest.empty()) return FailMsg("the binding's directory itself");
    auto fd = OpenBeneath(best->fd.Get(), rest, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
    if (!fd) return Wrap(fd.error(), "in binding " + best->binding.name);
    f.owned = std::move(*fd);
  } else if (IsRuntimePath(path) && !q.host_root.empty()) {
    f.from = "runtime";
    UniqueFd root(::open(q.host_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return Fail(errno, "open " + q.host_root);
    auto fd = OpenBeneath(root.Get(), path.substr(1), RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (!fd) return std::unexpected(fd.error());
    f.owned = std::move(*fd);
  } else {
    return FailMsg("in the sandbox's own tmpfs, empty before the task starts (not a binding or the runtime)");
  }
  f.fd = f.owned.Get();
  return f;
}

std::string ErrnoWhy(const Error& e) {
  if (e.err == ENOENT) return "no such file before the task started";
  return e.Message();
}

}  // namespace

Result<UniqueFd> OpenBeneath(int dirfd, const std::string& rel, uint64_t resolve) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;  // O_NONBLOCK: a FIFO must not block us
  how.resolve = resolve;
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, dirfd, rel.c_str(), &how, sizeof how)));
  if (!fd) return Fail(errno, "open");
  return fd;
}


Result<DeclaredArtifact> DeclareArtifact(const std::optional<std::string>& content, const std::string& sha256,
                                         const std::string& name, const std::string& hashed_by) {
  DeclaredArtifact a;
  a.name = name;
  if (name.size() > 4096 || name.find('\0') != std::string::npos)
    return FailMsg("artifact.name is longer than 4096 bytes or holds a NUL", "name the artifact briefly, e.g. its file name");
  if (!sha256.empty() && !IsLowerHex64(sha256))
    return FailMsg("artifact.sha256 '" + sha256.substr(0, 80) + "' is not 64 lower-case hex characters",
                   "send the hex SHA-256 of the artifact (sha256sum FILE), or its bytes");
  if (content) {
    a.sha256 = Sha256Hex(*content);
    a.bytes = content->size();
    a.hashed_by = hashed_by;
    if (!sha256.empty() && sha256 != a.sha256)
      return FailMsg("artifact.sha256 " + sha256 + " is not the SHA-256 of the artifact's bytes (" + a.sha256 + ")",
                     "send the bytes or their hash, or both when they agree");
    return a;
  }
  if (sha256.empty()) return FailMsg("artifact names neither content nor sha256", "send the artifact's bytes or its hex SHA-256");
  a.sha256 = sha256;
  a.hashed_by = "client";
  return a;
}

Result<std::pair<std::string, uint64_t>> FileHashCache::Hash(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return Fail(errno, "fstat");
  if (!S_ISREG(st.st_mode)) return FailMsg("not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxHashBytes)
    return FailMsg("larger than " + std::to_string(kMaxHashBytes >> 20) + " MiB; not hashed");
  const Key key{st.st_dev, st.st_ino, st.st_size, int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                int64_t(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec};
  if (auto it = map_.find(key); it != map_.end()) {
    ++hits_;
    return std::make_pair(it->second, static_cast<uint64_t>(st.st_size));
  }
  // Sha256Stream, not EVP (sha256_stream.h).
  Sha256Stream sha;
  std::vector<char> buf(1 << 16);
  uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(total));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(errno, "read");
    if (n == 0) break;
    sha.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
    total += static_cast<uint64_t>(n);
  }
  std::string hex = sha.FinalHex();
  // Cached only when the file changed neither while it was read nor in the last 2 s: file times
  // have the kernel's coarse clock (a jiffy), so a same-size rewrite within one tick of the last
  // change would keep the key ("racily clean", as git calls it). Runtime binaries are old.
  struct stat after{};
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  if (::fstat(fd, &after) == 0 && after.st_size == st.st_size && after.st_ctim.tv_sec == st.st_ctim.tv_sec &&
      after.st_ctim.tv_nsec == st.st_ctim.tv_nsec && total == static_cast<uint64_t>(st.st_size) &&
      now.tv_sec - std::max(st.st_ctim.tv_sec, st.st_mtim.tv_sec) > 2) {
    if (map_.size() >= kMaxEntries) map_.clear();
    map_[key] = hex;
  }
  return std::make_pair(hex, total);
}

ArtifactReport HashArtifacts(const ArtifactQuery& q, FileHashCache* cache) {
  FileHashCache local;
  FileHashCache& c = cache != nullptr ? *cache : local;
  ArtifactReport r;
  if (q.argv.empty()) return r;
  auto hash = [&](const std::string& role, const std::string& named, const std::string& path) -> Result<void> {
    CORDON_ASSIGN_OR_RETURN(Found f, OpenAsSandboxSees(q, path));
    for (const auto& h : r.files)
      if (h.path == path) return {};  // named twice: listed once
    CORDON_ASSIGN_OR_RETURN(auto h, c.Hash(f.fd));
    r.files.push_back(HashedFile{role, path, named, f.from, h.first, h.second});
    return {};
  };
  // The executable, found as the shim's exec finds it (shim/task.cc): a name with a '/' as it is,
  // otherwise the first PATH entry where it is a regular file.
  const std::string& prog = q.argv[0];
  if (prog.find('/') != std::string::npos) {
    if (auto h = hash("executable", prog, Normalize(q.cwd, prog)); !h) r.unhashed.emplace_back(prog, ErrnoWhy(h.error()));
  } else {
    std::string path_env = "/usr/local/bin:/usr/bin:/bin";
    for (const auto& e : q.env)
      if (e.rfind("PATH=", 0) == 0) path_env = e.substr(5);
    std::string why = "not found in PATH (" + path_env + ") before the task started";
    bool done = false;
    size_t i = 0;
    while (!done && i <= path_env.size()) {
      size_t j = path_env.find(':', i);
      if (j == std::string::npos) j = path_env.size();
      const std::string dir = j > i ? path_env.substr(i, j - i) : ".";  // an empty entry is the cwd
      i = j + 1;
      auto h = hash("executable", prog, Normalize(q.cwd, dir + "/" + prog));
      if (h) done = true;
      else if (h.error().err != ENOENT && h.error().err != ENOTDIR && h.error().err != 0) why = h.error().Message();
    }
    if (!done) r.unhashed.emplace_back(prog, why);
  }
  // Scripts: later arguments naming a regular file in a binding. Options and inline code
  // (`-c ...`) are not files; an argument that is not a file in a binding is not listed.
  size_t looked = 0;
  for (size_t i = 1; i < q.argv.size() && looked < kMaxScripts; ++i) {
    const std::string& a = q.argv[i];
    if (a.empty() || a[0] == '-' || a.size() > 4096 || a.find('\n') != std::string::npos) continue;
    const std::string path = Normalize(q.cwd, a);
    auto f = OpenAsSandboxSees(q, path);
    if (!f && (f.error().err == EXDEV || f.error().err == ELOOP)) {
      r.unhashed.emplace_back(a, "a symlink that leaves its binding: not followed");
      continue;
    }
    if (!f || f->from == "runtime") continue;  // not in a binding (or absent): not a script the task brings
    ++looked;
    auto h = c.Hash(f->fd);
    if (!h) {
      if (h.error().Message() != "not a regular file") r.unhashed.emplace_back(a, h.error().Message());
      continue;
    }
    if (std::none_of(r.files.begin(), r.files.end(), [&](const HashedFile& h) { return h.path == path; }))
      r.files.push_back(HashedFile{"script", path, a, f->from, h->first, h->second});
  }
  return r;
}

nlohmann::json ArtifactJson(const ArtifactReport& r) {
  nlohmann::json j = nlohmann::json::object();
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : r.files)
    files.push_back({{"role", f.role}, {"path", f.path}, {"named", f.named}, {"from", f.from}, {"sha256", f.sha256},
                     {"bytes", f.bytes}});
  j["executed"] = std::move(files);
  nlohmann::json un = nlohmann::json::array();
  for (const auto& [named, why] : r.unhashed) un.push_back({{"named", named}, {"why", why}});
  j["unhashed"] = std::move(un);
  if (r.declared) {
    nlohmann::json d = {{"sha256", r.declared->sha256}, {"name", r.declared->name}, {"hashed_by", r.declared->hashed_by}};
    d["bytes"] = r.declared->bytes ? nlohmann::json(*r.declared->bytes) : nlohmann::json(nullptr);
    nlohmann::json matches = nlohmann::json::array();
    for (const auto& f : r.files)
      if (f.sha256 == r.declared->sha256) matches.push_back(f.path);
    d["matches"] = std::move(matches);
    j["declared"] = std::move(d);
  }
  return j;
}

}  // namespace cordon::evlog
