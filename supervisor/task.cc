#include "supervisor/task.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "common/scm_rights.h"
#include "common/syscalls.h"
#include "supervisor/rootfs.h"
#include "supervisor/seccomp/compiler.h"
#include "supervisor/seccomp/profile.h"

namespace cordon {
namespace {

constexpr uint64_t kKillGraceNs = 2'000'000'000ull;  // SIGKILL via PID 1, then the shim itself

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

Result<UniqueFd> MemfdWithContent(const char* name, const std::string& data) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return Fail(errno, "memfd_create");
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.Get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(errno, "write memfd");
    off += static_cast<size_t>(n);
  }
  ::fcntl(fd.Get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return fd;
}

struct ShimExec {
  const char* path;
  int ctrl_child;
};

// Runs in the spawned child, on its own stack, sharing our memory until execve: system calls only.
int ShimChild(void* p) {
  const ShimExec* a = static_cast<const ShimExec*>(p);
  const char* argv[] = {"cordon-shim", nullptr};
  const char* envp[] = {nullptr};
  ::setpgid(0, 0);
  if (a->ctrl_child == 3) {
    ::fcntl(3, F_SETFD, 0);
  } else if (::dup2(a->ctrl_child, 3) < 0) {
    _exit(kExitCordonFailure);
  }
  sys::CloseRange(4, ~0u, CLOSE_RANGE_CLOEXEC);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(a->path, const_cast<char* const*>(argv), const_cast<char* const*>(envp));
  _exit(kExitCordonFailure);
}

// Starts the shim with the control socket as fd 3, in its own process group so that terminal
// signals reach only the supervisor, which forwards them deliberately.
Result<std::pair<pid_t, UniqueFd>> SpawnShim(const std::string& shim, int ctrl_child) {
  int pidfd = -1;
  ShimExec args{shim.c_str(), ctrl_child};
  pid_t pid = sys::CloneVfork(ShimChild, &args, CLONE_PIDFD, &pidfd);
  if (pid < 0) return Fail(errno, "clone for the shim");
  return std::make_pair(pid, UniqueFd(pidfd));
}

std::vector<std::string> BuildEnv(const Policy& policy, const TaskRequest& req) {
  std::map<std::string, std::string> env;
  for (const auto& kv : req.env) {
    auto eq = kv.find('=');
    env[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  for (const auto& [k, v] : policy.env.set) env[k] = v;  // forced: the policy wins
  if (!env.contains("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

int64_t Us(uint64_t t, uint64_t origin) {
  return t == 0 ? -1 : static_cast<int64_t>((t - origin) / 1000);
}

}  // namespace

const char* FailureClassName(FailureClass c) {
  switch (c) {
    case FailureClass::kNone: return "none";
    case FailureClass::kExitNonzero: return "exit_nonzero";
    case FailureClass::kSignaled: return "signaled";
    case FailureClass::kSetupFailed: return "setup_failed";
    case FailureClass::kExecFailed: return "exec_failed";
    case FailureClass::kWallTimeout: return "wall_timeout";
    case FailureClass::kKilled: return "killed";
    case FailureClass::kSeccompViolation: return "seccomp_violation";
  }
  return "unknown";
}

Result<RuntimePaths> LocateRuntime() {
  RuntimePaths rt;
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) return Fail(errno, "readlink /proc/self/exe");
  std::string self(exe, static_cast<size_t>(n));
  std::string prefix = self.substr(0, self.rfind('/'));
  prefix = prefix.substr(0, prefix.rfind('/'));  // .../bin/cordon -> ...
  const char* env_shim = ::getenv("CORDON_SHIM");
  rt.shim = env_shim && *env_shim ? env_shim : prefix + "/" CORDON_INSTALL_LIBEXECDIR "/cordon/cordon-shim";
  rt.data_dir = prefix + "/" CORDON_INSTALL_DATADIR "/cordon";
  if (::access(rt.shim.c_str(), X_OK) < 0)
    return Fail(errno, "the shim " + rt.shim + " is not executable",
                "reinstall Cordon (cmake --install) so that libexec/cordon/cordon-shim sits beside bin/cordon, "
                "or set CORDON_SHIM to its path");
  return rt;
}

Result<std::unique_ptr<Task>> Task::Start(const RuntimePaths& rt, std::shared_ptr<const Policy> policy_ptr,
                                          std::shared_ptr<const SeccompFilter> filter_ptr, TaskIdentity identity,
                                          const TaskRequest& req, uint64_t received_ns) {
  const Policy& policy = *policy_ptr;
  const SeccompFilter& filter = *filter_ptr;
  std::unique_ptr<Task> t(new Task());
  t->id_ = NewTaskId();
  t->policy_ = std::move(policy_ptr);
  t->filter_ = std::move(filter_ptr);
  t->identity_ = std::move(identity);
  t->req_ = req;
  t->timing_.received = received_ns;
  t->timing_.admitted = sys::MonotonicNs();

  proto::LaunchSpec& s = t->spec_;
  s.flags = (t->identity_.rootful ? proto::kFlagRootful : 0) | (req.tty ? proto::kFlagDevTty : 0);
  s.host_uid = t->identity_.host_uid;
  s.host_gid = t->identity_.host_gid;
  s.tmpfs_bytes = policy.limits.tmpfs_bytes;
  s.seccomp_flags = filter.filter_flags;
  s.fail_at_step = req.fail_at_step;
  s.cwd = req.cwd.empty() ? "/work" : req.cwd;
  s.argv = req.argv;
  s.envp = BuildEnv(policy, req);
  RootfsOptions ro;
  ro.task_uid = s.task_uid;
  ro.task_gid = s.task_gid;
  ro.hostname = s.hostname;
  CORDON_ASSIGN_OR_RETURN(s.mounts, BuildRootfs(policy, ro));

  CORDON_ASSIGN_OR_RETURN(UniqueFd spec_fd, MemfdWithContent("cordon-spec", proto::EncodeLaunchSpec(s)));
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return Fail(errno, "socketpair");
  t->ctrl_.Reset(sp[0]);
  UniqueFd child_end(sp[1]);
  CORDON_ASSIGN_OR_RETURN(auto spawned, SpawnShim(rt.shim, child_end.Get()));
  t->shim_pid_ = spawned.first;
  t->pidfd_ = std::move(spawned.second);
  child_end.Reset();
  t->timing_.spawned = sys::MonotonicNs();

  proto::MsgHeader hdr{proto::kMagic, proto::MsgType::kLaunch};
  int fds[] = {spec_fd.Get(), filter.memfd.Get(), req.stdin_fd, req.stdout_fd, req.stderr_fd};
  auto sent = SendMsg(t->ctrl_.Get(), &hdr, sizeof hdr, fds, 5);
  if (!sent) {
    sys::PidfdSendSignal(t->pidfd_.Get(), SIGKILL);
    ::waitpid(t->shim_pid_, nullptr, 0);
    return Wrap(sent.error(), "send launch message to the shim");
  }
  ::fcntl(t->ctrl_.Get(), F_SETFL, O_NONBLOCK);
  return t;
}

Task::~Task() {
  if (!pidfd_ || reaped_) return;
  if (!finished_) {
    sys::PidfdSendSignal(pidfd_.Get(), SIGKILL);
    ::waitpid(shim_pid_, nullptr, 0);
    return;
  }
  // Finished but the shim is still exiting: reap it if it is done, otherwise leave it to our
  // parent-of-last-resort (the process is on its way out and holds nothing of the task).
  siginfo_t si{};
  ::waitid(P_PIDFD, static_cast<id_t>(pidfd_.Get()), &si, WEXITED | WNOHANG);
}

void Task::Finish() {
  if (finished_) return;
  timing_.done = sys::MonotonicNs();
  Settle();
  finished_ = true;
}

void Task::HandleRecord(const void* buf, size_t len, std::vector<UniqueFd>* fds) {
  proto::MsgHeader hdr;
  if (len < sizeof hdr) return;
  std::memcpy(&hdr, buf, sizeof hdr);
  if (hdr.magic != proto::kMagic) return;
  switch (hdr.type) {
    case proto::MsgType::kExecOk: {
      if (len != sizeof(proto::ExecOkRecord)) return;
      proto::ExecOkRecord r;
      std::memcpy(&r, buf, sizeof r);
      exec_ok_ = true;
      timing_.ready = r.ready_ns;
      timing_.exec = r.exec_ns;
      timing_.steps.assign(r.marks, r.marks + std::min<uint32_t>(r.nmarks, proto::kMaxStepMarks));
      if (!fds->empty() && (filter_->filter_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER))
        listener_ = std::move((*fds)[0]);
      break;
    }
    case proto::MsgType::kError: {
      if (len != sizeof(proto::ErrorRecord) || outcome_.setup_error) return;
      proto::ErrorRecord r;
      std::memcpy(&r, buf, sizeof r);
      r.msg[sizeof r.msg - 1] = '\0';
      outcome_.setup_error = r;
      break;
    }
    case proto::MsgType::kExit: {
      if (len != sizeof(proto::ExitRecord)) return;
      proto::ExitRecord r;
      std::memcpy(&r, buf, sizeof r);
      exit_ = r;
      timing_.exit = r.exit_ns;
      Finish();
      break;
    }
    default:
      break;
  }
}

bool Task::OnControlReadable() {
  for (;;) {
    alignas(8) char buf[2048];
    auto got = RecvMsg(ctrl_.Get(), buf, sizeof buf, 1, MSG_DONTWAIT);
    if (!got) return got.error().err == EAGAIN;
    if (got->eof) return false;
    HandleRecord(buf, got->len, &got->fds);
  }
}

void Task::RecordDenial(const seccomp_notif& req) {
  const uint64_t now = sys::MonotonicNs();
  ++denied_total_;
  if (!profile_) {
    seccomp::LoadOptions lo;
    lo.strict = filter_->strict;
    lo.source_name = filter_->source;
    utsname u{};
    ::uname(&u);
    if (auto kv = seccomp::ParseKernelRelease(u.release)) lo.context.kernel = *kv;
    auto p = seccomp::ParseProfile(filter_->text, lo);
    if (p) profile_ = std::make_shared<seccomp::Profile>(std::move(*p));
  }
  seccomp::Decision d;
  d.action = seccomp::Action::kErrno;
  d.errno_ret = EPERM;
  d.rule_path = "unknown (the profile could not be parsed again)";
  uint64_t args[6];
  for (int i = 0; i < 6; ++i) args[i] = req.data.args[i];
  if (profile_) d = seccomp::Evaluate(*static_cast<seccomp::Profile*>(profile_.get()), req.data.arch, req.data.nr, args);
  SeccompDenial* rec = nullptr;
  for (auto& r : denials_)
    if (r.nr == req.data.nr && r.rule == d.rule_path) rec = &r;
  if (rec == nullptr && denials_.size() < 256) {
    SeccompDenial r;
    r.nr = req.data.nr;
    r.name = seccomp::SyscallName(req.data.nr).value_or("syscall_" + std::to_string(req.data.nr));
    r.action = std::string(seccomp::ActionName(d.action));
    r.errno_ret = d.action == seccomp::Action::kErrno ? d.errno_ret : 0;
    r.rule = d.rule_path;
    r.first_ns = now;
    std::memcpy(r.args, args, sizeof r.args);
    denials_.push_back(r);
    rec = &denials_.back();
  }
  if (rec) ++rec->count;

  seccomp_notif_resp resp{};
  resp.id = req.id;
  if (d.action == seccomp::Action::kKillProcess || d.action == seccomp::Action::kKillThread) {
    // A kill rule: the call must never run. The task is blocked in it until we answer, so kill it
    // first; the kernel then drops the notification. Whole process, as SCMP_ACT_KILL_PROCESS does.
    if (!seccomp_kill_ && rec) seccomp_kill_ = *rec;
    UniqueFd victim(sys::PidfdOpen(static_cast<pid_t>(req.pid), 0));
    if (victim) sys::PidfdSendSignal(victim.Get(), SIGKILL);
    return;
  }
  // Every other notified action is a denial (ERRNO, or an ALLOW that should not have been notified,
  // which is answered EPERM rather than let through): never SECCOMP_USER_NOTIF_FLAG_CONTINUE.
  resp.error = -(d.action == seccomp::Action::kErrno && d.errno_ret > 0 ? d.errno_ret : EPERM);
  (void)::ioctl(listener_.Get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

void Task::OnListenerReadable() {
  for (;;) {
    pollfd p{listener_.Get(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN)) {
      if (p.revents & POLLHUP) listener_.Reset();  // no task left that uses the filter
      return;
    }
    seccomp_notif req{};
    if (::ioctl(listener_.Get(), SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
      if (errno == EINTR || errno == ENOENT) continue;  // ENOENT: the caller died meanwhile
      listener_.Reset();
      return;
    }
    RecordDenial(req);
  }
}

void Task::OnShimExited() {
  if (reaped_) return;
  siginfo_t si{};
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.Get()), &si, WEXITED) == 0)
    shim_status_ = si.si_code == CLD_EXITED ? (si.si_status << 8) : si.si_status;
  reaped_ = true;
  OnControlReadable();
  Finish();
}

void Task::ForwardSignal(int signo) {
  proto::SignalRecord r;
  r.signo = signo;
  (void)SendMsg(ctrl_.Get(), &r, sizeof r, nullptr, 0);
}

void Task::Kill(FailureClass why, const std::string& message) {
  if (!killed_) {
    killed_ = why;
    kill_message_ = message;
  }
  ForwardSignal(SIGKILL);
}

void Task::Settle() {
  TaskOutcome& o = outcome_;
  if (exit_ && exit_->task_reported) {
    int st = exit_->status;
    if (WIFEXITED(st)) {
      o.task_exit_code = WEXITSTATUS(st);
      o.exit_code = o.task_exit_code;
      o.failure = o.task_exit_code == 0 ? FailureClass::kNone : FailureClass::kExitNonzero;
    } else if (WIFSIGNALED(st)) {
      o.task_signal = WTERMSIG(st);
      o.exit_code = 128 + o.task_signal;
      o.failure = FailureClass::kSignaled;
      if (o.task_signal == SIGSYS) {
        // Kill rules come to the supervisor as notifications and are named there; a native SIGSYS
        // death is the filter's own architecture check (x32 or i386 syscalls) or a SCMP_ACT_TRAP.
        o.failure = FailureClass::kSeccompViolation;
        o.message = "the task was killed by SIGSYS: a syscall of a foreign ABI (x32 or i386 int 0x80), "
                    "which the seccomp filter kills, or a SCMP_ACT_TRAP rule it did not handle";
      }
    }
  }
  if (o.setup_error) {
    const proto::ErrorRecord& e = *o.setup_error;
    std::string detail = e.msg;
    if (e.err != 0) detail += std::string(": ") + std::strerror(e.err);
    if (e.step == SetupStep::kExec) {
      o.failure = FailureClass::kExecFailed;
      bool missing = e.err == ENOENT || e.err == ENOTDIR;
      o.exit_code = missing ? kExitNotFound : kExitNotExecutable;
      o.message = (missing ? "command not found: " : "command cannot be executed: ") + detail +
                  (missing ? " (the sandbox sees only /usr, /bin, /lib* and the policy's mounts; "
                             "give a path inside it or install the program on the host)"
                           : " (check the file's mode and that it is a binary or a script with a #! line)");
    } else {
      o.failure = FailureClass::kSetupFailed;
      o.exit_code = kExitCordonFailure;
      o.message = std::string("sandbox setup failed at step ") + SetupStepName(e.step) + ": " + detail;
      if (e.step == SetupStep::kClone && (e.err == EPERM || e.err == ENOSPC || e.err == EINVAL))
        o.message += " (this host does not permit new user namespaces here: check "
                     "sysctl user.max_user_namespaces and kernel.unprivileged_userns_clone, and any "
                     "AppArmor/SELinux userns restriction)";
      if (e.step == SetupStep::kChdir) o.message += " (--cwd must name a directory inside the sandbox)";
    }
  } else if (!exit_ || !exit_->task_reported) {
    if (!killed_) {
      o.failure = FailureClass::kSetupFailed;
      o.exit_code = kExitCordonFailure;
      char buf[160];
      snprintf(buf, sizeof buf, "the shim ended without a report (shim wait status %d, PID 1 status %d)",
               shim_status_, exit_ ? exit_->init_status : -1);
      o.message = std::string(buf) + "; run with the same policy again, and report a bug if it repeats";
    }
  }
  if (seccomp_kill_ && !killed_) {
    o.failure = FailureClass::kSeccompViolation;
    o.message = "the task called " + seccomp_kill_->name + ", which seccomp profile " + filter_->name +
                " kills (" + seccomp_kill_->rule + "); the task was killed";
    if (o.task_signal == 0 && o.task_exit_code < 0) {
      o.task_signal = SIGKILL;
      o.exit_code = 128 + SIGKILL;
    }
  }
  if (killed_) {
    o.failure = *killed_;
    o.message = kill_message_;
    if (o.task_signal == 0 && o.task_exit_code < 0) {
      o.task_signal = SIGKILL;
      o.exit_code = 128 + SIGKILL;
    }
  }
}

std::string Task::EvidenceJson() const {
  using nlohmann::json;
  const uint64_t t0 = timing_.received;
  json ev;
  ev["task_id"] = id_;
  ev["command"] = req_.argv;
  ev["cwd"] = spec_.cwd;
  ev["policy"] = {{"name", policy_->name},     {"version", policy_->version}, {"role", policy_->role},
                  {"sha256", policy_->sha256}, {"source", policy_->source}};
  char map[64];
  json sandbox;
  sandbox["mode"] = identity_.rootful ? "rootful" : "rootless";
  sandbox["namespaces"] = {"user", "mount", "pid", "net", "ipc", "uts", "cgroup"};
  snprintf(map, sizeof map, "%u %u 1", spec_.task_uid, spec_.host_uid);
  sandbox["uid_map"] = map;
  snprintf(map, sizeof map, "%u %u 1", spec_.task_gid, spec_.host_gid);
  sandbox["gid_map"] = map;
  sandbox["task_uid"] = spec_.task_uid;
  sandbox["host_uid"] = spec_.host_uid;
  sandbox["hostname"] = spec_.hostname;
  sandbox["tmpfs_bytes"] = spec_.tmpfs_bytes;
  sandbox["shim_pid"] = shim_pid_;
  ev["sandbox"] = sandbox;
  json denied = json::array();
  for (const auto& d : denials_) {
    json args = json::array();
    for (uint64_t a : d.args) args.push_back(a);
    json jd = {{"syscall", d.name}, {"nr", d.nr},       {"action", d.action}, {"rule", d.rule},
               {"count", d.count},  {"first_us", Us(d.first_ns, t0)}, {"args", args}};
    if (d.errno_ret) jd["errno"] = strerrorname_np(d.errno_ret);
    denied.push_back(jd);
  }
  ev["seccomp"] = {{"profile", filter_->name},
                   {"notify", filter_->notify},
                   {"denied_total", denied_total_},
                   {"denied", denied},
                   {"profile_source", filter_->source},
                   {"profile_sha256", filter_->profile_sha256},
                   {"bpf_sha256", filter_->bpf_sha256},
                   {"bpf_bytes", filter_->bpf_bytes},
                   {"from_cache", filter_->from_cache}};
  ev["timing"] = {{"received_us", 0},
                  {"admitted_us", Us(timing_.admitted, t0)},
                  {"spawned_us", Us(timing_.spawned, t0)},
                  {"ready_us", Us(timing_.ready, t0)},
                  {"exec_us", Us(timing_.exec, t0)},
                  {"exit_us", Us(timing_.exit, t0)},
                  {"done_us", Us(timing_.done, t0)}};
  json steps = json::array();
  for (const auto& m : timing_.steps)
    steps.push_back({{"step", SetupStepName(m.step)}, {"start_us", Us(m.ns, t0)}});
  ev["timing"]["steps"] = steps;
  json exit_j = {{"code", outcome_.task_exit_code >= 0 ? json(outcome_.task_exit_code) : json(nullptr)},
                 {"signal", outcome_.task_signal ? json(outcome_.task_signal) : json(nullptr)},
                 {"cordon_exit_code", outcome_.exit_code}};
  ev["exit"] = exit_j;
  ev["failure_class"] = FailureClassName(outcome_.failure);
  if (outcome_.setup_error) {
    const auto& e = *outcome_.setup_error;
    ev["error"] = {{"step", SetupStepName(e.step)},
                   {"step_number", static_cast<uint32_t>(e.step)},
                   {"errno", e.err},
                   {"errno_name", e.err ? strerrorname_np(e.err) : ""},
                   {"message", e.msg}};
  }
  if (!outcome_.message.empty()) ev["message"] = outcome_.message;
  json usage;
  if (exit_) {
    const rusage& ru = exit_->usage;
    usage = {{"source", exit_->task_reported
                            ? "getrusage(RUSAGE_CHILDREN) of the sandbox's PID 1 after it reaped every process"
                            : "wait4 rusage of the sandbox's PID 1 (it died before the task)"},
             {"cpu_user_usec", ru.ru_utime.tv_sec * 1000000ll + ru.ru_utime.tv_usec},
             {"cpu_system_usec", ru.ru_stime.tv_sec * 1000000ll + ru.ru_stime.tv_usec},
             {"max_rss_kib", ru.ru_maxrss},
             {"minor_faults", ru.ru_minflt},
             {"major_faults", ru.ru_majflt},
             {"block_reads", ru.ru_inblock},
             {"block_writes", ru.ru_oublock},
             {"voluntary_switches", ru.ru_nvcsw},
             {"involuntary_switches", ru.ru_nivcsw}};
  } else {
    usage = {{"source", "unavailable: the sandbox's PID 1 was not reaped by the shim"}};
  }
  ev["usage"] = usage;
  return ev.dump();
}

Result<std::unique_ptr<Task>> RunTaskToCompletion(const RuntimePaths& rt, std::shared_ptr<const Policy> policy_ptr,
                                                  std::shared_ptr<const SeccompFilter> filter,
                                                  const TaskRequest& req, const IdRange& ids, uint64_t received_ns) {
  const Policy& policy = *policy_ptr;
  CORDON_ASSIGN_OR_RETURN(TaskIdentity identity, AcquireIdentity(ids));
  // Signals that a user sends to `cordon run` are meant for the task: collect them on a signalfd
  // and forward. They are blocked before the shim starts so none is lost in between.
  sigset_t fwd, old;
  sigemptyset(&fwd);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH})
    sigaddset(&fwd, s);
  ::sigprocmask(SIG_BLOCK, &fwd, &old);
  struct Restore {
    sigset_t m;
    ~Restore() { ::sigprocmask(SIG_SETMASK, &m, nullptr); }
  } restore{old};
  UniqueFd sigfd(::signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) return Fail(errno, "signalfd");

  CORDON_ASSIGN_OR_RETURN(auto task, Task::Start(rt, policy_ptr, std::move(filter), std::move(identity), req, received_ns));

  UniqueFd wall(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!wall) return Fail(errno, "timerfd_create");
  if (policy.limits.max_wall_ms > 0) {
    itimerspec its{};
    its.it_value.tv_sec = static_cast<time_t>(policy.limits.max_wall_ms / 1000);
    its.it_value.tv_nsec = static_cast<long>((policy.limits.max_wall_ms % 1000) * 1000000);
    ::timerfd_settime(wall.Get(), 0, &its, nullptr);
  }
  uint64_t hard_kill_at = 0;
  bool ctrl_open = true;
  while (!task->finished()) {
    pollfd p[5] = {{ctrl_open ? task->control_fd() : -1, POLLIN, 0},
                   {task->shim_pidfd(), POLLIN, 0},
                   {sigfd.Get(), POLLIN, 0},
                   {wall.Get(), POLLIN, 0},
                   {task->listener_fd(), POLLIN, 0}};
    int timeout = -1;
    if (hard_kill_at) {
      uint64_t now = sys::MonotonicNs();
      timeout = now >= hard_kill_at ? 0 : static_cast<int>((hard_kill_at - now) / 1000000 + 1);
    }
    int rc = ::poll(p, 5, timeout);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return Fail(errno, "poll");
    if (rc == 0 && hard_kill_at) {
      // PID 1 did not go within the grace period: kill the shim, PDEATHSIG takes the rest.
      sys::PidfdSendSignal(task->shim_pidfd(), SIGKILL);
      hard_kill_at = 0;
      continue;
    }
    if (p[4].revents) task->OnListenerReadable();
    if (p[0].revents) ctrl_open = task->OnControlReadable();
    if (p[2].revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(sigfd.Get(), &si, sizeof si) == sizeof si) task->ForwardSignal(static_cast<int>(si.ssi_signo));
    }
    if (p[3].revents & POLLIN) {
      uint64_t ticks;
      (void)!::read(wall.Get(), &ticks, sizeof ticks);
      task->Kill(FailureClass::kWallTimeout,
                 "wall-clock limit of " + std::to_string(policy.limits.max_wall_ms) +
                     " ms reached (policy limits.max_wall_ms); the sandbox was killed");
      hard_kill_at = sys::MonotonicNs() + kKillGraceNs;
    }
    if (p[1].revents & POLLIN) task->OnShimExited();
  }
  return task;
}

}  // namespace cordon
