#include "supervisor/seccomp/filter.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "common/fs_util.h"
#include "supervisor/embedded.h"
#include "supervisor/search_path.h"
#include "supervisor/seccomp/compiler.h"
#include "supervisor/seccomp/groups.h"
#include "supervisor/seccomp/profile.h"
#include "supervisor/sha256.h"

namespace cordon {
namespace {

std::string KernelRelease() {
  utsname u{};
  ::uname(&u);
  return u.release;
}

bool LooksLikePath(const std::string& s) { return s.find('/') != std::string::npos || s.ends_with(".json"); }

std::string DefaultCacheDir() {
  if (::geteuid() == 0) return "/var/cache/cordon/bpf";
  const char* xdg = ::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg == '/') return std::string(xdg) + "/cordon/bpf";
  const char* home = ::getenv("HOME");
  if (home && *home == '/') return std::string(home) + "/.cache/cordon/bpf";
  return {};
}

// A cache another user could write to would let them swap in a permissive filter: only use a
// directory we own that nobody else can write, and create it that way.
bool PrepareCacheDir(const std::string& dir) {
  if (dir.empty()) return false;
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) {  // first use: create it (every later run skips this)
    MkdirAll(dir, 0700);
    if (::lstat(dir.c_str(), &st) != 0) return false;
  }
  return S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() && (st.st_mode & 022) == 0;
}

// Whether the filter allows every one of `names` whatever the arguments: an allow verdict, and no
// conditional rule for the name. Between its filter and its execve the shim may only make such
// calls: a denial there would be notified to a listener that reaches the supervisor only after the
// exec, and nobody would answer it.
bool AllowsAlways(const seccomp::Profile& p, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto nr = seccomp::SyscallNumber(name);
    uint64_t args[6] = {};
    if (!nr || seccomp::Evaluate(p, seccomp::NativeAuditArch(), *nr, args).action != seccomp::Action::kAllow)
      return false;
    for (const seccomp::Rule& r : p.rules)
      if (r.syscall == name && !r.conditions.empty()) return false;
  }
  return true;
}

}  // namespace

std::shared_ptr<const seccomp::Profile> SeccompFilter::ParsedProfile() const {
  std::call_once(parsed_->once, [this] {
    seccomp::LoadOptions lo;
    lo.strict = strict;
    lo.source_name = source;
    if (auto kv = seccomp::ParseKernelRelease(KernelRelease())) lo.context.kernel = *kv;
    if (auto p = seccomp::ParseProfile(text, lo)) parsed_->profile = std::make_shared<const seccomp::Profile>(std::move(*p));
  });
  return parsed_->profile;
}

Result<std::pair<std::string, std::string>> ReadSeccompProfile(const std::string& name, const std::string& data_dir) {
  std::string source;
  if (LooksLikePath(name)) {
    source = name;
  } else {
    source = FindNamedJson("seccomp-profiles", name, data_dir);
    if (source.empty()) {
      if (name != "default")
        return FailMsg("seccomp profile '" + name + "' not found in " + SearchPathText("seccomp-profiles", data_dir),
                       "name a shipped profile (default, strict) or give a path to an OCI seccomp JSON file");
      return std::make_pair(std::string("<embedded default>"), std::string(EmbeddedDefaultSeccompProfile()));
    }
  }
  auto r = ReadFileToString(source);
  if (!r) return Wrap(r.error(), "seccomp profile");
  return std::make_pair(source, std::move(*r));
}

Result<SeccompFilter> LoadSeccompFilter(const std::string& name, const FilterOptions& opts) {
  SeccompFilter f;
  f.name = name;
  CORDON_ASSIGN_OR_RETURN(auto found, ReadSeccompProfile(name, opts.data_dir));
  f.source = std::move(found.first);
  std::string text = std::move(found.second);
  f.profile_sha256 = Sha256Hex(text);

  // The key covers everything the BPF depends on: the bytes, how they are read (strict, the
  // running kernel for minKernel, the native arch), the compiler, and the `@group` table the
  // loader expands names with.
  const std::string release = KernelRelease();
  f.text = text;
  f.strict = opts.strict;
  f.notify = opts.notify;
  const std::string key = Sha256Hex(f.profile_sha256 + "\n" + (opts.strict ? "strict" : "lenient") + "\n" +
                                    (opts.notify ? "notify2" : "direct") + "\n" +
                                    release + "\n" + seccomp::NativeArchName() + "\n" +
                                    seccomp::LibseccompVersion() + "\ncordon " CORDON_VERSION "\n" +
                                    "groups " + seccomp::GroupTableDigest() + "\n");
  std::string cache_dir = opts.cache_dir.empty() ? DefaultCacheDir() : opts.cache_dir;
  bool cache_ok = opts.use_cache && PrepareCacheDir(cache_dir);
  std::string cache_path = cache_dir + "/" + key + ".bpf";
  // Cache file: "CRDBPF3\0", u32 filter flags, u32 properties (bit 0: allows_held_wait, bit 1:
  // allows_clock), then the sock_filter array.
  constexpr char kMagic[8] = {'C', 'R', 'D', 'B', 'P', 'F', '3', '\0'};
  std::vector<uint8_t> bpf;
  if (cache_ok) {
    auto cached = ReadFileToString(cache_path, 1 << 20);
    if (cached && cached->size() > 16 && (cached->size() - 16) % 8 == 0 &&
        std::memcmp(cached->data(), kMagic, 8) == 0) {
      std::memcpy(&f.filter_flags, cached->data() + 8, 4);
      uint32_t props = 0;
      std::memcpy(&props, cached->data() + 12, 4);
      f.allows_held_wait = props & 1;
      f.allows_clock = props & 2;
      bpf.assign(cached->begin() + 16, cached->end());
      f.from_cache = true;
    }
  }
  if (bpf.empty()) {
    seccomp::LoadOptions lo;
    lo.strict = opts.strict;
    lo.source_name = f.source;
    if (auto kv = seccomp::ParseKernelRelease(release)) lo.context.kernel = *kv;
    auto profile = seccomp::ParseProfile(text, lo);
    if (!profile) return std::unexpected(profile.error());
    f.warnings = profile->warnings;
    // A profile that denies execve or exit_group could never start a task (the shim's last calls)
    // and would leave its task blocked on its own denial: refuse it up front.
    for (const char* needed : {"execve", "exit_group"}) {
      auto nr = seccomp::SyscallNumber(needed);
      uint64_t args[6] = {};
      if (nr && seccomp::Evaluate(*profile, seccomp::NativeAuditArch(), *nr, args).action != seccomp::Action::kAllow)
        return FailMsg("seccomp profile " + f.source + " does not allow " + needed,
                       "every task ends its setup with execve and may exit with exit_group: allow both");
    }
    // A held task's wait for kGo: recv (recvfrom), the step's stamp (clock_gettime: a system call
    // where the vDSO falls back to one), and exit_group when withdrawn.
    f.allows_held_wait = AllowsAlways(*profile, {"recvfrom", "clock_gettime", "exit_group"});
    f.allows_clock = AllowsAlways(*profile, {"clock_gettime"});
    seccomp::CompileOptions co;
    co.notify_denials = opts.notify;
    auto compiled = seccomp::Compile(*profile, co);
    if (!compiled) return Wrap(compiled.error(), "compile seccomp profile " + f.source);
    bpf = std::move(compiled->bpf);
    f.filter_flags = compiled->filter_flags;
    if (cache_ok) {
      // Write-then-rename: a concurrent reader sees the old file or the whole new one.
      std::string tmp = cache_path + ".tmp." + std::to_string(::getpid());
      UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
      char hdr[16] = {};
      std::memcpy(hdr, kMagic, 8);
      std::memcpy(hdr + 8, &f.filter_flags, 4);
      const uint32_t props = (f.allows_held_wait ? 1u : 0u) | (f.allows_clock ? 2u : 0u);
      std::memcpy(hdr + 12, &props, 4);
      if (out && ::write(out.Get(), hdr, sizeof hdr) == sizeof hdr &&
          ::write(out.Get(), bpf.data(), bpf.size()) == static_cast<ssize_t>(bpf.size())) {
        out.Reset();
        if (::rename(tmp.c_str(), cache_path.c_str()) < 0) ::unlink(tmp.c_str());
      } else {
        ::unlink(tmp.c_str());
      }
    }
  }
  f.bpf_bytes = bpf.size();
  f.bpf_sha256 = Sha256Hex(std::string_view(reinterpret_cast<const char*>(bpf.data()), bpf.size()));
  CORDON_ASSIGN_OR_RETURN(
      f.memfd, SealedMemfd("cordon-bpf", std::string_view(reinterpret_cast<const char*>(bpf.data()), bpf.size())));
  return f;
}

}  // namespace cordon
