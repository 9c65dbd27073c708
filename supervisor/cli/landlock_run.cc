// `cordon run --allow-landlock-mode` where namespaces are refused (landlock_run.h, docs/landlock.md).
#include "supervisor/cli/landlock_run.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/landlock.h"
#include "common/syscalls.h"
#include "common/unique_fd.h"
#include "supervisor/host/facts.h"
#include "supervisor/host/landlock_mode.h"
#include "supervisor/task/rootfs.h"

namespace cordon::cli {
namespace {

constexpr uid_t kNobody = 65534;  // a rootful task's ids: no user namespace maps root away here
constexpr const char* kDevices[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"};

// The task's own scratch directory (its /tmp and /work), removed with everything in it at the end.
struct Scratch {
  std::string root;
  ~Scratch() {
    std::error_code ec;
    if (!root.empty()) std::filesystem::remove_all(root, ec);
  }
};

// What a child that failed before execve tells its parent through the error pipe.
struct ChildError {
  int step;  // index into kChildSteps
  int err;
};
constexpr const char* kChildSteps[] = {"fds", "rlimits", "ids", "chdir", "no-new-privs", "landlock",
                                       "seccomp (sockets)", "seccomp", "exec"};

[[noreturn]] void ChildFail(int pipe_fd, int step, int err) {
  ChildError e{step, err};
  (void)!::write(pipe_fd, &e, sizeof e);
  ::_exit(step == 8 ? (err == ENOENT ? kExitNotFound : kExitNotExecutable) : kExitCordonFailure);
}

Result<std::vector<uint8_t>> ReadBpf(const SeccompFilter& f) {
  std::vector<uint8_t> out(f.bpf_bytes);
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(f.memfd.Get(), out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(n < 0 ? errno : EIO, "read the seccomp filter's program");
    got += static_cast<size_t>(n);
  }
  if (out.empty() || out.size() % sizeof(sock_filter) != 0) return FailMsg("the seccomp filter's program is empty");
  return out;
}

// argv[0] as execvp would find it in the task's PATH; "" when no directory has it.
std::string FindCommand(const std::string& file, const std::vector<std::string>& env) {
  if (file.find('/') != std::string::npos) return file;
  std::string path = "/usr/bin:/bin";
  for (const auto& kv : env)
    if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string candidate = (end > start ? path.substr(start, end - start) : ".") + "/" + file;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// /work and /tmp of the request map to the scratch's; anything else has no place here.
std::string MapCwd(const std::string& cwd, const std::string& scratch) {
  for (const char* top : {"/work", "/tmp"}) {
    const size_t n = std::strlen(top);
    if (cwd.compare(0, n, top) == 0 && (cwd.size() == n || cwd[n] == '/')) return scratch + cwd;
  }
  return "";
}

// Kills and reaps every process left of the task: its process group, then whatever was reparented
// to us (we are a subreaper), until none is left.
void KillLeftovers(pid_t pgid) {
  (void)::kill(-pgid, SIGKILL);
  for (int round = 0; round < 100; ++round) {
    bool found = false;
    if (DIR* d = ::opendir("/proc")) {
      while (dirent* e = ::readdir(d)) {
        const pid_t p = static_cast<pid_t>(std::atoi(e->d_name));
        if (p <= 0) continue;
        char path[64], buf[512];
        std::snprintf(path, sizeof path, "/proc/%d/stat", p);
        UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
        ssize_t n = fd ? ::read(fd.Get(), buf, sizeof buf - 1) : -1;
        if (n <= 0) continue;
        buf[n] = 0;
        const char* rp = std::strrchr(buf, ')');
        int ppid = 0;
        if (rp && std::sscanf(rp + 2, "%*c %d", &ppid) == 1 && ppid == ::getpid()) {
          (void)::kill(p, SIGKILL);
          found = true;
        }
      }
      ::closedir(d);
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (!found) return;
    ::usleep(1000);
  }
}

}  // namespace

std::string FullSandboxRefusal() { return host::NamespaceRefusal(host::ProbeUserns(), host::ReadFacts()); }

Result<LandlockRunResult> RunInLandlockMode(const Policy& policy, const SeccompFilter& filter, const TaskRequest& req,
                                            const std::string& refusal) {
  const uint64_t t0 = sys::MonotonicNs();
  const int abi = landlock::Abi();
  if (abi < 1)
    return Fail(-abi, refusal + "; and this kernel has no Landlock for --allow-landlock-mode",
                "grant user namespaces as said above, or boot a kernel with Landlock (lsm=...,landlock)");
  if (policy.outbound.mode != egress::OutboundMode::kNone)
    return FailMsg("policy " + policy.name + " allows outbound traffic (" + egress::OutboundModeName(policy.outbound.mode) +
                       "), which landlock mode cannot hold to its hosts: it has no network namespace and no proxy",
                   "use a policy with outbound mode none, or grant user namespaces (cordon doctor says how)");
  const bool rootful = ::geteuid() == 0;
  const uid_t uid = rootful ? kNobody : ::getuid();
  const gid_t gid = rootful ? kNobody : ::getgid();

  // The scratch: /tmp and /work of the task, under $TMPDIR.
  Scratch scratch;
  const char* tmpdir = ::getenv("TMPDIR");
  std::string tmpl = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/cordon-landlock-XXXXXX";
  if (!::mkdtemp(tmpl.data())) return Fail(errno, "landlock mode: create the scratch directory " + tmpl, "set TMPDIR to a writable directory");
  scratch.root = tmpl;
  for (const char* sub : {"/tmp", "/work"})
    if (::mkdir((scratch.root + sub).c_str(), 0700) != 0) return Fail(errno, "landlock mode: create " + scratch.root + sub);
  if (rootful)
    for (const char* sub : {"", "/tmp", "/work"})
      if (::chown((scratch.root + sub).c_str(), uid, gid) != 0) return Fail(errno, "landlock mode: chown " + scratch.root + sub);
  const std::string cwd = MapCwd(req.cwd, scratch.root);
  if (cwd.empty())
    return FailMsg("--cwd " + req.cwd + ": landlock mode has only /work and /tmp (its scratch directory)",
                   "use --cwd /work or a directory under it");
  if (::mkdir(cwd.c_str(), 0700) != 0 && errno != EEXIST) return Fail(errno, "landlock mode: create --cwd " + cwd);
  if (rootful && ::chown(cwd.c_str(), uid, gid) != 0) return Fail(errno, "landlock mode: chown " + cwd);

  // The ruleset: what the task may reach, everything else refused.
  const uint64_t fs = landlock::FsRights(abi);
  UniqueFd rs(landlock::CreateRuleset(abi, fs, landlock::NetRights(abi), landlock::Scopes(abi)));
  if (rs.Get() < 0) return Fail(-rs.Release(), "landlock mode: create the ruleset");
  auto allow = [&](const std::string& path, uint64_t access) -> Result<void> {
    UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) return {};  // not on this host: nothing to allow
      return Fail(errno, "landlock mode: open " + path);
    }
    if (int err = landlock::AllowPath(rs.Get(), fd.Get(), access); err < 0) return Fail(-err, "landlock mode: allow " + path);
    return {};
  };
  CORDON_ASSIGN_OR_RETURN(auto runtime, BuildRootfs(policy, RootfsOptions{}));
  std::vector<std::string> runtime_paths;
  for (const proto::MountEntry& m : runtime) {
    if (m.kind != proto::MountKind::kRoBind) continue;
    CORDON_TRY(allow(m.source, landlock::kFsReadOnly));
    runtime_paths.push_back(m.source);
  }
  CORDON_TRY(allow("/proc", landlock::kFsReadFile | landlock::kFsReadDir));
  for (const char* dev : kDevices)
    CORDON_TRY(allow(dev, landlock::kFsReadFile | landlock::kFsWriteFile | (fs & landlock::kFsTruncate)));
  CORDON_TRY(allow(scratch.root, fs));
  for (int fd : {req.stdin_fd, req.stdout_fd, req.stderr_fd})
    if (int err = landlock::AllowOpenFd(rs.Get(), fd, fs, false); err < 0) return Fail(-err, "landlock mode: allow stdio");
  const size_t nbind = req.bindings ? req.bindings->size() : 0;
  for (size_t i = 0; i < nbind; ++i) {
    const OpenBinding& ob = (*req.bindings)[i];
    const bool writable = ob.binding.writable || ob.binding.kind == Binding::Kind::kState;
    if (int err = landlock::AllowOpenFd(rs.Get(), ob.fd.Get(), fs, writable); err < 0)
      return Fail(-err, "landlock mode: allow binding " + ob.binding.name);
  }

  // Everything the child uses, prepared here: after fork it only makes system calls.
  CORDON_ASSIGN_OR_RETURN(std::vector<uint8_t> bpf, ReadBpf(filter));
  const std::vector<sock_filter> net = host::NoInetSocketsFilter();
  std::vector<std::string> env = BuildTaskEnv(policy, req);
  env.push_back("TMPDIR=" + scratch.root + "/tmp");
  env.push_back("HOME=" + scratch.root + "/work");
  const std::string exe = FindCommand(req.argv[0], env);
  std::vector<char*> argv, envp;
  for (const auto& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // Fds the child holds while it places bindings at 3..3+n-1 must sit above them.
  const int high = 3 + static_cast<int>(nbind) + 8;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Fail(errno, "landlock mode: pipe");
  UniqueFd err_r(p[0]), err_w0(p[1]);
  UniqueFd err_w(::fcntl(err_w0.Get(), F_DUPFD_CLOEXEC, high)), ruleset(::fcntl(rs.Get(), F_DUPFD_CLOEXEC, high));
  std::vector<UniqueFd> bound;
  for (size_t i = 0; i < nbind; ++i) bound.emplace_back(::fcntl((*req.bindings)[i].fd.Get(), F_DUPFD_CLOEXEC, high));
  if (!err_w || !ruleset) return Fail(errno, "landlock mode: dup");
  for (const auto& b : bound)
    if (!b) return Fail(errno, "landlock mode: dup a binding");
  const PolicyLimits& lim = policy.limits;
  struct {
    int resource;
    uint64_t soft, hard;
  } const limits[] = {{RLIMIT_NOFILE, lim.nofile, lim.nofile},
                      {RLIMIT_CPU, (lim.max_cpu_ms + 999) / 1000, (lim.max_cpu_ms + 999) / 1000 + 1},
                      {RLIMIT_AS, lim.memory_bytes, lim.memory_bytes}};
  const uint32_t seccomp_flags = filter.filter_flags & ~static_cast<uint32_t>(SECCOMP_FILTER_FLAG_NEW_LISTENER);
  sock_fprog net_prog{static_cast<unsigned short>(net.size()), const_cast<sock_filter*>(net.data())};
  sock_fprog prog{static_cast<unsigned short>(bpf.size() / sizeof(sock_filter)), reinterpret_cast<sock_filter*>(bpf.data())};

  // We outlive the task: whatever it leaves behind is reparented to us and killed at the end.
  (void)::prctl(PR_SET_CHILD_SUBREAPER, 1);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Fail(errno, "landlock mode: fork");
  if (pid == 0) {
    const int ew = err_w.Get();
    // Its own session (and process group), as a full sandbox's task has: a terminal it shares with
    // the caller is then never its controlling terminal, so it cannot push input into the caller's
    // shell with TIOCSTI (bubblewrap's CVE-2017-5226). The parent does not setpgid it: a group
    // leader could not start a session.
    if (::setsid() < 0) ChildFail(ew, 2, errno);
    for (size_t i = 0; i < nbind; ++i)
      if (::dup2(bound[i].Get(), 3 + static_cast<int>(i)) < 0) ChildFail(ew, 0, errno);
    if (::syscall(SYS_close_range, 3 + nbind, ~0u, CLOSE_RANGE_CLOEXEC) != 0) ChildFail(ew, 0, errno);
    for (const auto& l : limits) {
      if (l.soft == 0) continue;  // 0 = no limit of the policy's
      rlimit r{l.soft, l.hard};
      if (::setrlimit(l.resource, &r) != 0) ChildFail(ew, 1, errno);
    }
    if (rootful && (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0))
      ChildFail(ew, 2, errno);
    // The task dies with `cordon run` (set after the id change, which clears it). Its own children
    // are not covered: without a PID namespace they are killed only when `cordon run` ends normally.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(ew, 2, errno);
    if (::getppid() != parent) ChildFail(ew, 2, ESRCH);  // `cordon run` is already gone
    if (::chdir(cwd.c_str()) != 0) ChildFail(ew, 3, errno);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ChildFail(ew, 4, errno);
    if (int err = landlock::RestrictSelf(ruleset.Get()); err < 0) ChildFail(ew, 5, -err);
    if (sys::Seccomp(SECCOMP_SET_MODE_FILTER, 0, &net_prog) < 0) ChildFail(ew, 6, errno);
    if (sys::Seccomp(SECCOMP_SET_MODE_FILTER, seccomp_flags, &prog) < 0) ChildFail(ew, 7, errno);
    if (exe.empty()) ChildFail(ew, 8, ENOENT);
    ::execve(exe.c_str(), argv.data(), envp.data());
    ChildFail(ew, 8, errno);
  }
  err_w.Reset();
  err_w0.Reset();
  const uint64_t spawned = sys::MonotonicNs();
  ChildError ce{-1, 0};
  ssize_t got;
  do got = ::read(err_r.Get(), &ce, sizeof ce);
  while (got < 0 && errno == EINTR);

  // Wait, within the wall-clock limit.
  LandlockRunResult out;
  TaskOutcome& o = out.outcome;
  int status = 0;
  bool timed_out = false;
  UniqueFd pidfd(sys::PidfdOpen(pid, 0));
  if (got != static_cast<ssize_t>(sizeof ce) && pidfd && lim.max_wall_ms) {
    pollfd pf{pidfd.Get(), POLLIN, 0};
    const uint64_t deadline = spawned + lim.max_wall_ms * 1000000ull;
    for (;;) {
      const uint64_t now = sys::MonotonicNs();
      if (now >= deadline) {
        timed_out = true;
        break;
      }
      int r = ::poll(&pf, 1, static_cast<int>(std::min<uint64_t>((deadline - now) / 1000000 + 1, 1u << 30)));
      if (r > 0) break;
      if (r < 0 && errno != EINTR) break;
    }
    if (timed_out) {
      (void)::kill(-pid, SIGKILL);
      (void)::kill(pid, SIGKILL);
    }
  }
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const uint64_t ended = sys::MonotonicNs();
  KillLeftovers(pid);
  (void)::prctl(PR_SET_CHILD_SUBREAPER, 0);

  if (got == static_cast<ssize_t>(sizeof ce)) {
    const bool exec_step = ce.step == 8;
    o.failure = exec_step ? FailureClass::kExecFailed : FailureClass::kSetupFailed;
    o.exit_code = exec_step ? (ce.err == ENOENT ? kExitNotFound : kExitNotExecutable) : kExitCordonFailure;
    o.message = std::string("landlock mode: ") + kChildSteps[ce.step] + " failed: " + std::strerror(ce.err) +
                (exec_step && ce.err == ENOENT ? " (command not found: " + req.argv[0] + ")" : "");
  } else if (timed_out) {
    o.failure = FailureClass::kWallTimeout;
    o.task_signal = SIGKILL;
    o.exit_code = 128 + SIGKILL;
    o.message = "wall-clock limit of " + std::to_string(lim.max_wall_ms) + " ms reached (policy limits.max_wall_ms); task killed";
  } else if (WIFEXITED(status)) {
    o.task_exit_code = WEXITSTATUS(status);
    o.exit_code = o.task_exit_code;
    o.failure = o.task_exit_code == 0 ? FailureClass::kNone : FailureClass::kExitNonzero;
  } else {
    o.task_signal = WTERMSIG(status);
    o.exit_code = 128 + o.task_signal;
    o.failure = o.task_signal == SIGSYS ? FailureClass::kSeccompViolation : FailureClass::kSignaled;
  }

  using nlohmann::json;
  json missing = json::array();
  for (const auto& g : host::LandlockModeGaps(abi, rootful)) missing.push_back({{"guarantee", g.guarantee}, {"effect", g.effect}});
  json scoped = json::array();
  if (abi >= 6) scoped = {"abstract_unix_socket", "signal"};
  json ev;
  ev["task_id"] = NewTaskId();
  ev["command"] = req.argv;
  ev["cwd"] = req.cwd;
  ev["policy"] = {{"name", policy.name}, {"version", policy.version}, {"role", policy.role},
                  {"sha256", policy.sha256}, {"source", policy.source}};
  ev["sandbox"] = {{"mode", "landlock"},
                   {"degraded", true},
                   {"full_mode_refused", refusal},
                   {"namespaces", json::array()},
                   {"task_uid", uid},
                   {"task_gid", gid},
                   {"host_uid", ::getuid()},
                   {"scratch", scratch.root},
                   {"runtime_read_only", runtime_paths},
                   {"landlock", {{"abi", abi}, {"layer", "only"}, {"net", abi >= 4}, {"tcp_ports_allowed", json::array()},
                                 {"scoped", scoped}}},
                   {"inet_sockets", "refused (seccomp, EACCES)"},
                   {"no_new_privs", true},
                   {"missing", missing}};
  ev["seccomp"] = {{"profile", filter.name}, {"source", filter.source}, {"profile_sha256", filter.profile_sha256},
                   {"bpf_sha256", filter.bpf_sha256}, {"notify", false}};
  ev["limits"] = {{"max_wall_ms", lim.max_wall_ms}, {"max_cpu_ms", lim.max_cpu_ms}, {"memory_bytes", lim.memory_bytes},
                  {"nofile", lim.nofile}, {"pids", lim.pids},
                  {"enforce", {{"wall", lim.max_wall_ms ? "supervisor" : "none"},
                               {"cpu", lim.max_cpu_ms ? "rlimit" : "none"},
                               {"memory", lim.memory_bytes ? "rlimit_as" : "none"},
                               {"pids", "none"}}}};
  ev["timing"] = {{"spawned_us", (spawned - t0) / 1000}, {"exit_us", (ended - t0) / 1000}};
  ev["exit"] = {{"code", o.task_exit_code >= 0 ? json(o.task_exit_code) : json(nullptr)},
                {"signal", o.task_signal ? json(o.task_signal) : json(nullptr)},
                {"cordon_exit_code", o.exit_code}};
  ev["failure_class"] = FailureClassName(o.failure);
  if (!o.message.empty()) ev["message"] = o.message;
  out.evidence = ev.dump();
  return out;
}

}  // namespace cordon::cli
