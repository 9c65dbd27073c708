// supervisor/task/launcher.cc: building and starting a task's sandbox: the launch spec (sandbox
// part and task part), the shim's spawn with the launch message, and the warm pool's hand-over.
// The running task's side (records, limits, output, outcome) is in task.cc.
#include "supervisor/task/launcher.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstring>
#include <map>

#include "common/fs_util.h"
#include "common/landlock.h"
#include "common/scm_rights.h"
#include "common/syscalls.h"
#include "supervisor/task/rootfs.h"
#include "supervisor/task/transparent_egress.h"

namespace cordon {
namespace {
constexpr uint16_t kProxyPort = 3128;  // the egress proxy, on the sandbox's own 127.0.0.1

std::vector<std::string> BuildEnv(const Policy& policy, const TaskRequest& req) {
  std::map<std::string, std::string> env;
  if (req.bindings) {
    // Like systemd's LISTEN_FDNAMES: the task finds each capability by name.
    for (size_t i = 0; i < req.bindings->size(); ++i) {
      std::string name = (*req.bindings)[i].binding.name;
      for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      env["CORDON_FD_" + name] = std::to_string(3 + i);
    }
  }
  for (const auto& kv : req.env) {
    auto eq = kv.find('=');
    env[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  for (const auto& [k, v] : policy.env.set) env[k] = v;  // forced: the policy wins
  if (policy.outbound.mode != egress::OutboundMode::kNone) {
    for (const auto& kv : egress::ProxyEnvironment(kProxyPort)) {
      auto eq = kv.find('=');
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    // Only the name "localhost" bypasses the proxy (for the sandbox's own services): an address
    // such as 127.0.0.1 goes through it, so the policy decides about the host's loopback too.
    env["NO_PROXY"] = env["no_proxy"] = "localhost";
  }
  if (!env.contains("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}
}  // namespace

std::string NewTaskId() {
  uint8_t b[16];
  if (::getrandom(b, sizeof b, 0) != sizeof b) {
    uint64_t t = sys::MonotonicNs() ^ (static_cast<uint64_t>(::getpid()) << 32);
    std::memcpy(b, &t, 8);
    std::memcpy(b + 8, &t, 8);
  }
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

std::vector<std::string> BuildTaskEnv(const Policy& policy, const TaskRequest& req) { return BuildEnv(policy, req); }

Result<RuntimePaths> LocateRuntime() {
  RuntimePaths rt;
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) return Fail(errno, "readlink /proc/self/exe");
  std::string self(exe, static_cast<size_t>(n));
  std::string prefix = self.substr(0, self.rfind('/'));
  // .../libexec/cordon/cordon-run (the lean `cordon run`) -> ...; .../bin/cordon -> ...
  const std::string libexec = "/" CORDON_INSTALL_LIBEXECDIR "/cordon";
  if (prefix.size() > libexec.size() && prefix.ends_with(libexec))
    prefix.resize(prefix.size() - libexec.size());
  else
    prefix = prefix.substr(0, prefix.rfind('/'));
  const char* env_shim = ::getenv("CORDON_SHIM");
  rt.shim = env_shim && *env_shim ? env_shim : prefix + "/" CORDON_INSTALL_LIBEXECDIR "/cordon/cordon-shim";
  rt.data_dir = prefix + "/" CORDON_INSTALL_DATADIR "/cordon";
  if (::access(rt.shim.c_str(), X_OK) < 0)
    return Fail(errno, "the shim " + rt.shim + " is not executable",
                "reinstall Cordon (cmake --install) so that libexec/cordon/cordon-shim sits beside bin/cordon, "
                "or set CORDON_SHIM to its path");
  return rt;
}

Result<TaskLauncher> TaskLauncher::Create(std::shared_ptr<const Policy> policy_ptr,
                                          std::shared_ptr<const SeccompFilter> filter_ptr,
                                          const TaskIdentity& identity) {
  const Policy& policy = *policy_ptr;
  TaskLauncher l;
  l.policy_ = std::move(policy_ptr);
  l.filter_ = std::move(filter_ptr);
  l.host_uid_ = identity.host_uid;
  l.host_gid_ = identity.host_gid;
  proto::LaunchSpec& s = l.spec_;
  s.flags = identity.rootful ? proto::kFlagRootful : 0;
  s.host_uid = identity.host_uid;
  s.host_gid = identity.host_gid;
  s.tmpfs_bytes = policy.limits.tmpfs_bytes;
  s.memory_bytes = policy.limits.memory_bytes;  // the sandbox's /proc/meminfo MemTotal
  s.seccomp_flags = l.filter_->filter_flags;
  if (l.filter_->allows_held_wait) s.flags |= proto::kFlagFilterBeforeGo;
  if (l.filter_->allows_clock) s.flags |= proto::kFlagClockAfterFilter;
  // Landlock behind the namespaces where the kernel has it (docs/landlock.md); CORDON_LANDLOCK=off
  // leaves it out, to measure what it costs.
  if (const char* ll = ::getenv("CORDON_LANDLOCK"); !(ll && std::strcmp(ll, "off") == 0) && landlock::Abi() > 0)
    s.flags |= proto::kFlagLandlock;
  if (policy.outbound.mode != egress::OutboundMode::kNone) s.proxy_port = kProxyPort;
  const PolicyLimits& lim = policy.limits;
  // Soft and hard, from the policy alone: never the caller's (docs/policy.md limits.nofile). The
  // task lowers its own. Raising it past our hard limit takes CAP_SYS_RESOURCE in the initial user
  // namespace, which the task never has: we raise our own hard limit (the shim inherits it), or
  // refuse with the reason when we cannot.
  s.rlimit_nofile = lim.nofile;
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_max != RLIM_INFINITY && lim.nofile > nofile.rlim_max) {
    rlimit raised{nofile.rlim_cur, lim.nofile};
    if (::setrlimit(RLIMIT_NOFILE, &raised) < 0)
      return Fail(errno,
                  "limits.nofile of policy " + policy.name + " is " + std::to_string(lim.nofile) +
                      ", above this process's hard limit of " + std::to_string(nofile.rlim_max) +
                      " open files, which it cannot raise (that takes CAP_SYS_RESOURCE)",
                  "raise the hard limit (ulimit -Hn, or LimitNOFILE= of the service), or lower it with "
                  "--limit nofile=" + std::to_string(nofile.rlim_max));
  }
  return l;
}

// The sandbox's shape: its filesystem (policy mounts, /dev/tty, mounted bindings).
Result<void> TaskLauncher::BuildSandbox(const TaskRequest& shape) {
  proto::LaunchSpec& s = spec_;
  if (shape.tty) s.flags |= proto::kFlagDevTty;
  if (shape.bindings) {
    for (size_t i = 0; i < shape.bindings->size(); ++i) {
      const OpenBinding& ob = (*shape.bindings)[i];
      if (!ob.mounted) continue;
      proto::BindEntry be;
      be.fd_index = static_cast<uint32_t>(i);
      const bool dir = ob.binding.kind == Binding::Kind::kDir || ob.binding.kind == Binding::Kind::kState;
      be.flags = proto::kBindMount | (dir ? proto::kBindDir : 0) |
                 (ob.binding.writable || ob.binding.kind == Binding::Kind::kState ? proto::kBindWritable : 0);
      be.dev = ob.dev;
      be.ino = ob.ino;
      be.source = ob.host_path;
      be.target = ob.binding.target;
      s.binds.push_back(std::move(be));
    }
    if (shape.bindings->size() + 6 > static_cast<size_t>(proto::kMaxFdsPerLaunch))
      return FailMsg("too many bindings (" + std::to_string(shape.bindings->size()) + ")", "at most 240 per task");
    s.bound_fds = static_cast<uint32_t>(shape.bindings->size());
  }
  if (shape.task_uid) s.task_uid = *shape.task_uid;
  if (shape.task_gid) s.task_gid = *shape.task_gid;
  if (!shape.hostname.empty()) s.hostname = shape.hostname;
  RootfsOptions ro;
  ro.image_root = shape.image_root;
  ro.task_uid = s.task_uid;
  ro.task_gid = s.task_gid;
  ro.hostname = s.hostname;
  ro.trust_dir = shape.trust_dir;
  CORDON_ASSIGN_OR_RETURN(s.mounts, BuildRootfs(*policy_, ro));
  AddTransparentEgress(policy_->outbound, &s);  // after the mounts: it adds to /etc/hosts
  return {};
}

// The task's own part (launcher.h); the output pump: output_pump.h.
Result<std::array<int, 3>> TaskLauncher::BuildTaskPart(const TaskRequest& req, OutputPump* output,
                                                       std::array<UniqueFd, 2>* keep) {
  proto::LaunchSpec& s = spec_;
  s.cwd = req.cwd.empty() ? "/work" : req.cwd;
  s.argv = req.argv;
  s.envp = BuildEnv(*policy_, req);
  // The task's stdio comes from the caller. A directory there would be a way out of the sandbox
  // (".." from a host directory fd walks the host's tree), so stdio must not be one.
  struct stat st[3];
  const int fds[3] = {req.stdin_fd, req.stdout_fd, req.stderr_fd};
  const char* names[3] = {"stdin", "stdout", "stderr"};
  for (int i = 0; i < 3; ++i) {
    if (::fstat(fds[i], &st[i]) < 0)
      return Fail(errno, std::string("the task's ") + names[i] + " (fd " + std::to_string(fds[i]) + ")",
                  "give the task open stdin, stdout and stderr");
    if (S_ISDIR(st[i].st_mode))
      return FailMsg(std::string("the task's ") + names[i] + " is a directory; a directory is handed over only as a binding",
                     "redirect it from a file, a pipe or /dev/null");
  }
  // Which output goes through a pipe of the task's own that we forward: all of it with an output
  // budget (we count it), otherwise a pipe or file the task's host uid could not reopen. Scripts
  // reopen their output by name (`echo x > /dev/stdout`, `tee /dev/stderr`); the kernel checks
  // that reopen (/proc/self/fd/N) against the inode's owner and mode, and a rootful task runs
  // under a host uid of its own, which the caller's pipe or file does not admit. A pipe owned by
  // that uid does, and gives the task nothing of the caller's but the bytes it writes. Anything
  // else (a terminal, /dev/null, a socket) passes through untouched, and so does output the task
  // can reopen anyway (rootless: the caller's own pipes): nothing is copied then.
  const uid_t uid = host_uid_;
  const gid_t gid = host_gid_;
  auto reopenable = [&](const struct stat& o) {
    if (!S_ISFIFO(o.st_mode) && !S_ISREG(o.st_mode)) return true;
    if (o.st_uid == uid) return (o.st_mode & S_IWUSR) != 0;
    if (o.st_gid == gid) return (o.st_mode & S_IWGRP) != 0;
    return (o.st_mode & S_IWOTH) != 0;
  };
  output->Configure(policy_->limits.output_bytes, req.output_drain_ms);
  const bool budget = policy_->limits.output_bytes != 0;
  const bool pump[2] = {budget || !reopenable(st[1]), budget || !reopenable(st[2])};
  if (!pump[0] && !pump[1]) return std::array<int, 3>{req.stdin_fd, req.stdout_fd, req.stderr_fd};
  // stdout and stderr on one pipe or file (2>&1): one pipe for both, so their order survives.
  const bool shared = pump[0] && pump[1] && st[1].st_dev == st[2].st_dev && st[1].st_ino == st[2].st_ino;
  std::array<int, 3> out{req.stdin_fd, req.stdout_fd, req.stderr_fd};
  for (int i = 0; i < 2; ++i) {
    if (!pump[i] || (shared && i == 1)) continue;
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return Fail(errno, i == 0 ? "pipe for stdout" : "pipe for stderr");
    output->Attach(i, UniqueFd(p[0]), fds[i + 1], st[i + 1]);
    (*keep)[static_cast<size_t>(i)].Reset(p[1]);
    // A larger pipe: fewer wake-ups of the supervisor per byte forwarded (best effort; the
    // default is 64 KiB, fs.pipe-max-size allows 1 MiB to anyone).
    (void)::fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    // The pipe's inode belongs to its creator; the task's host uid must own it to reopen it.
    if (::geteuid() != uid && ::fchown(p[1], uid, gid) < 0)
      return Fail(errno, std::string("give the task's ") + names[i + 1] + " pipe to its host uid " + std::to_string(uid));
    out[static_cast<size_t>(i) + 1] = p[1];
  }
  if (shared) out[2] = out[1];
  return out;
}

// Spawns the shim and sends it the launch message (launcher.h).
Result<ShimProcess> TaskLauncher::Spawn(const std::string& shim_path, const std::vector<int>& head,
                                        const std::shared_ptr<std::vector<OpenBinding>>& bindings,
                                        cgroup::TaskCgroup* cgroup) {
  CORDON_ASSIGN_OR_RETURN(UniqueFd spec_fd, SealedMemfd("cordon-spec", proto::EncodeLaunchSpec(spec_)));
  CORDON_ASSIGN_OR_RETURN(ShimProcess shim, ShimProcess::Spawn(shim_path));
  auto abandon = [&](const Error& e, const std::string& what) {
    shim.KillAndReap();
    return Wrap(e, what);
  };
  // v1 hierarchies have no CLONE_INTO_CGROUP: place the outer shim in them now, before it gets the
  // launch message and so before it clones anything; PID 1 and the task inherit the placement.
  if (cgroup) {
    if (auto a = cgroup->AttachPid(shim.pid(), cgroup::V2Entry::kEnteredViaClone); !a)
      return abandon(a.error(), "place the shim in the task's v1 cgroups");
  }
  proto::MsgHeader hdr{proto::kMagic, proto::MsgType::kLaunch};
  std::vector<int> fds = {spec_fd.Get(), filter_->memfd.Get()};
  fds.insert(fds.end(), head.begin(), head.end());
  if (bindings)
    for (const OpenBinding& ob : *bindings) fds.push_back(ob.fd.Get());
  if (spec_.flags & proto::kFlagCgroupFd) fds.push_back(cgroup->V2DirFd());
  if (auto sent = shim.Send(&hdr, sizeof hdr, fds.data(), fds.size()); !sent)
    return abandon(sent.error(), "send launch message to the shim");
  shim.MakeControlNonBlocking();
  return shim;
}

Result<UniqueFd> TaskLauncher::PooledHead() {
  spec_.flags |= proto::kFlagPooled;
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return Fail(errno, "socketpair");
  start_.Reset(sp[0]);
  return UniqueFd(sp[1]);
}

Result<void> TaskLauncher::SendTask(const std::array<int, 3>& stdio, bool hold_exec) {
  // One task per sandbox: the socket goes with this call, or with ReleaseExec() when held.
  UniqueFd start = std::move(start_);
  proto::TaskPart part{spec_.cwd, spec_.argv, spec_.envp};
  const std::string encoded = proto::EncodeTaskPart(part);
  proto::MsgHeader hdr{proto::kMagic, hold_exec ? proto::MsgType::kStartHold : proto::MsgType::kStart};
  std::string msg(reinterpret_cast<const char*>(&hdr), sizeof hdr);
  std::vector<int> fds = {stdio[0], stdio[1], stdio[2]};
  UniqueFd part_fd;
  if (encoded.size() <= proto::kMaxInlineTaskPart) {
    msg += encoded;  // the common case: no memfd to create, seal and read
  } else {
    CORDON_ASSIGN_OR_RETURN(part_fd, SealedMemfd("cordon-task", encoded));
    fds.push_back(part_fd.Get());
  }
  if (auto sent = SendMsg(start.Get(), msg.data(), msg.size(), fds.data(), fds.size()); !sent)
    return Wrap(sent.error(), "send the task to its pooled sandbox");
  if (hold_exec) held_ = std::move(start);
  return {};
}

Result<void> TaskLauncher::ReleaseExec(const std::string& task_id) {
  if (!held_) return FailMsg("task " + task_id + " is not held before its exec", "call Launch with hold_exec");
  UniqueFd go = std::move(held_);
  proto::MsgHeader hdr{proto::kMagic, proto::MsgType::kGo};
  auto sent = SendMsg(go.Get(), &hdr, sizeof hdr, nullptr, 0);
  // The task process is gone before its hold point (a setup step failed after the request, e.g.
  // chdir to a missing cwd): its error record reaches us on the control socket, and that is the
  // outcome to report, not this send's EPIPE.
  if (!sent && (sent.error().err == EPIPE || sent.error().err == ECONNRESET)) return {};
  return sent;
}

}  // namespace cordon
