#include "common/protocol.h"

#include "common/wire.h"

namespace cordon::proto {

std::string EncodeLaunchSpec(const LaunchSpec& s) {
  wire::Writer w;
  w.U32(kMagic);
  w.U32(kSpecVersion);
  w.U32(s.flags);
  w.U32(s.host_uid);
  w.U32(s.host_gid);
  w.U32(s.task_uid);
  w.U32(s.task_gid);
  w.U64(s.tmpfs_bytes);
  w.U32(s.setup_timeout_ms);
  w.U32(s.bound_fds);
  w.U32(s.seccomp_flags);
  w.U64(s.rlimit_cpu_s);
  w.U64(s.rlimit_nofile);
  w.U64(s.rlimit_nproc);
  w.U64(s.rlimit_as);
  w.U32(s.proxy_port);
  w.U32(static_cast<uint32_t>(s.transparent.size()));
  for (const auto& t : s.transparent) {
    w.U32(t.addr);
    w.U32(t.port);
  }
  w.Str(s.hostname);
  w.Str(s.cwd);
  w.StrList(s.argv);
  w.StrList(s.envp);
  w.U32(static_cast<uint32_t>(s.mounts.size()));
  for (const auto& m : s.mounts) {
    w.U32(static_cast<uint32_t>(m.kind));
    w.U32(m.mode);
    w.Str(m.source);
    w.Str(m.target);
  }
  w.U32(static_cast<uint32_t>(s.binds.size()));
  for (const auto& b : s.binds) {
    w.U32(b.fd_index);
    w.U32(b.flags);
    w.U64(b.dev);
    w.U64(b.ino);
    w.Str(b.source);
    w.Str(b.target);
  }
  w.U64(s.memory_bytes);
  return w.data();
}

bool DecodeLaunchSpec(const char* data, size_t size, LaunchSpec* s) {
  wire::Reader r(data, size);
  if (r.U32() != kMagic || r.U32() != kSpecVersion) return false;
  s->flags = r.U32();
  s->host_uid = r.U32();
  s->host_gid = r.U32();
  s->task_uid = r.U32();
  s->task_gid = r.U32();
  s->tmpfs_bytes = r.U64();
  s->setup_timeout_ms = r.U32();
  s->bound_fds = r.U32();
  s->seccomp_flags = r.U32();
  s->rlimit_cpu_s = r.U64();
  s->rlimit_nofile = r.U64();
  s->rlimit_nproc = r.U64();
  s->rlimit_as = r.U64();
  s->proxy_port = r.U32();
  if (s->proxy_port > 65535) return false;
  uint32_t nt = r.U32();
  if (!r.ok() || nt > kMaxTransparentListeners || (nt != 0 && s->proxy_port == 0)) return false;
  s->transparent.clear();
  for (uint32_t i = 0; i < nt && r.ok(); ++i) {
    TransparentListen t;
    t.addr = r.U32();
    t.port = r.U32();
    // 127.0.0.0/8, or a unicast address the shim puts on lo (0.0.0.0/8, multicast and above: never).
    const uint32_t port = t.port & ~kTransparentUdp;
    if ((t.addr >> 24) == 0 || (t.addr >> 28) >= 0xe || port == 0 || port > 65535) return false;
    s->transparent.push_back(t);
  }
  s->hostname = r.Str();
  s->cwd = r.Str();
  s->argv = r.StrList();
  s->envp = r.StrList();
  uint32_t n = r.U32();
  if (!r.ok() || n > r.Remaining() / 16) return false;
  s->mounts.clear();
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    MountEntry m;
    uint32_t kind = r.U32();
    if (kind < 1 || kind > 4) return false;
    m.kind = static_cast<MountKind>(kind);
    m.mode = r.U32();
    m.source = r.Str();
    m.target = r.Str();
    if (m.target.empty() || m.target[0] != '/') return false;
    s->mounts.push_back(std::move(m));
  }
  uint32_t nb = r.U32();
  if (!r.ok() || nb > s->bound_fds) return false;
  s->binds.clear();
  for (uint32_t i = 0; i < nb && r.ok(); ++i) {
    BindEntry b;
    b.fd_index = r.U32();
    b.flags = r.U32();
    b.dev = r.U64();
    b.ino = r.U64();
    b.source = r.Str();
    b.target = r.Str();
    if (b.fd_index >= s->bound_fds) return false;
    if ((b.flags & kBindMount) && (b.target.empty() || b.target[0] != '/' || b.source.empty())) return false;
    s->binds.push_back(std::move(b));
  }
  s->memory_bytes = r.U64();
  const bool argv_ok = (s->flags & kFlagPooled) ? s->argv.empty() : !s->argv.empty() && !s->argv[0].empty();
  return r.ok() && r.AtEnd() && argv_ok &&
         s->bound_fds + 4 <= static_cast<uint32_t>(kMaxFdsPerLaunch) && !s->cwd.empty() && s->cwd[0] == '/';
}

std::string EncodeTaskPart(const TaskPart& p) {
  wire::Writer w;
  w.U32(kMagic);
  w.U32(kSpecVersion);
  w.Str(p.cwd);
  w.StrList(p.argv);
  w.StrList(p.envp);
  return w.data();
}

bool DecodeTaskPart(const char* data, size_t size, TaskPart* p) {
  wire::Reader r(data, size);
  if (r.U32() != kMagic || r.U32() != kSpecVersion) return false;
  p->cwd = r.Str();
  p->argv = r.StrList();
  p->envp = r.StrList();
  return r.ok() && r.AtEnd() && !p->argv.empty() && !p->argv[0].empty() && !p->cwd.empty() && p->cwd[0] == '/';
}

}  // namespace cordon::proto
