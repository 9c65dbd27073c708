// supervisor/oci/container.cc: create, start, kill, delete (container.h).
#include "supervisor/oci/container.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "common/scm_rights.h"
#include "common/syscalls.h"
#include "supervisor/oci/monitor.h"
#include "supervisor/oci/record.h"
#include "supervisor/oci/resources.h"
#include "supervisor/oci/state.h"
#include "supervisor/policy_loader.h"
#include "supervisor/sha256.h"

namespace cordon::oci {
namespace {

// The pty's master end goes to the engine over its console socket (SCM_RIGHTS), as runc sends it.
Result<UniqueFd> SendConsole(const std::string& socket_path) {
  int master = -1, slave = -1;
  if (::openpty(&master, &slave, nullptr, nullptr, nullptr) < 0)
    return Fail(errno, "openpty for process.terminal");
  UniqueFd m(master), s(slave);
  ::fcntl(master, F_SETFD, FD_CLOEXEC);
  ::fcntl(slave, F_SETFD, FD_CLOEXEC);
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return Fail(errno, "socket");
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof sa.sun_path) return FailMsg("--console-socket " + socket_path + ": path too long");
  std::memcpy(sa.sun_path, socket_path.c_str(), socket_path.size());
  if (::connect(sock.Get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
    return Fail(errno, "connect to --console-socket " + socket_path);
  const char name[] = "/dev/ptmx";
  const int fds[1] = {m.Get()};
  CORDON_TRY(SendMsg(sock.Get(), name, sizeof name - 1, fds, 1));
  return s;
}

Result<void> WritePidFile(const std::string& path, pid_t pid) {
  if (path.empty()) return {};
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  return WriteFileAtomic(dir.empty() ? "." : dir, name, std::to_string(pid));
}

Result<int> ParseSignal(const std::string& s) {
  static const std::pair<const char*, int> kNames[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
      {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"CONT", SIGCONT},
      {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"WINCH", SIGWINCH}, {"ABRT", SIGABRT}, {"TTIN", SIGTTIN},
      {"TTOU", SIGTTOU}, {"URG", SIGURG}, {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"PROF", SIGPROF}};
  std::string n = s.rfind("SIG", 0) == 0 ? s.substr(3) : s;
  for (auto [name, num] : kNames)
    if (n == name) return num;
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (!s.empty() && *end == '\0' && v > 0 && v < 65) return static_cast<int>(v);
  return FailMsg("unknown signal '" + s + "'", "give a name (TERM, SIGKILL) or a number");
}

}  // namespace

int KillRequestSignal() { return SIGRTMIN + 1; }

std::string EvidenceDir() {
  if (const char* e = ::getenv("CORDON_OCI_EVIDENCE_DIR"); e && *e) return e;
  if (HostRoot()) return "/var/lib/cordon/oci-evidence";
  if (const char* x = ::getenv("XDG_STATE_HOME"); x && *x) return std::string(x) + "/cordon/oci-evidence";
  const char* home = ::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.local/state/cordon/oci-evidence";
}

Result<void> Create(const Globals& g, const CreateOptions& o) {
  if (o.preserve_fds > 0)
    return FailMsg("--preserve-fds " + std::to_string(o.preserve_fds) + ": Cordon hands a container no host fds",
                   "give the container what it needs as a Cordon binding (annotation org.cordon.policy)");
  char real[PATH_MAX];
  if (!::realpath(o.bundle.c_str(), real)) return Fail(errno, "--bundle " + o.bundle);
  const std::string bundle = real;
  auto text = ReadWholeFile(bundle + "/config.json");
  if (!text) return Wrap(text.error(), "the bundle's config.json");
  CORDON_ASSIGN_OR_RETURN(OciSpec spec, ParseOciSpec(*text, bundle));
  struct stat sb;
  if (::stat(spec.root_path.c_str(), &sb) < 0 || !S_ISDIR(sb.st_mode))
    return FailMsg("config.json root.path: " + spec.root_path + " is not a directory", "give the image's root directory");
  if (spec.terminal && o.console_socket.empty())
    return FailMsg("config.json process.terminal is true but no --console-socket was given",
                   "pass --console-socket PATH (the engine's), or set terminal false");

  CORDON_ASSIGN_OR_RETURN(RuntimePaths rt, LocateRuntime());
  // The policy: the annotation's, or the default one without time budgets (a container is a
  // service: it runs until it is stopped). config.json's limits apply on top, recorded as such.
  auto ann = spec.annotations.find(kPolicyAnnotation);
  const bool named = ann != spec.annotations.end();
  CORDON_ASSIGN_OR_RETURN(Policy policy, LoadPolicy(named ? ann->second : "default", rt.data_dir));
  if (!named) {
    policy.limits.max_wall_ms = 0;
    policy.limits.max_cpu_ms = 0;
  }
  auto override = [&](const std::string& name, uint64_t v) -> Result<void> {
    CORDON_TRY(OverrideLimit(&policy, name + "=" + (v == 0 ? std::string("none") : std::to_string(v))));
    return {};
  };
  if (spec.memory_bytes) CORDON_TRY(override("memory_bytes", *spec.memory_bytes));
  if (spec.pids) CORDON_TRY(override("pids", *spec.pids));
  if (spec.nofile) {
    // Engines ask for 1048576 by default; above what this host lets the runtime hold, the task
    // gets the host's hard limit, and the evidence says so.
    uint64_t want = *spec.nofile;
    rlimit hard{};
    if (::getrlimit(RLIMIT_NOFILE, &hard) == 0 && hard.rlim_max != RLIM_INFINITY && want > hard.rlim_max) {
      spec.notes.push_back("process.rlimits RLIMIT_NOFILE " + std::to_string(want) + " lowered to the host's hard limit " +
                           std::to_string(hard.rlim_max));
      want = hard.rlim_max;
    }
    CORDON_TRY(override("nofile", want));
  }
  for (const auto& m : spec.mounts) policy.mounts.push_back({m.source, m.target});

  CORDON_ASSIGN_OR_RETURN(std::string dir, MakeContainerDir(g.root, o.id));
  auto undo = [&](Error e) {
    RemoveContainerDir(dir);
    return std::unexpected(std::move(e));
  };
  // A profile in config.json is compiled by Cordon's compiler, unless the Cordon policy names one.
  if (spec.seccomp_json && !named) {
    if (auto w = WriteFileAtomic(dir, "seccomp.json", *spec.seccomp_json); !w) return undo(w.error());
    policy.seccomp_profile = dir + "/seccomp.json";
  }
  // What `exec` needs to put a process in the same state as the task.
  {
    nlohmann::json ex = {{"seccomp_profile", policy.seccomp_profile}, {"uid", spec.uid}, {"gid", spec.gid}};
    if (auto w = WriteFileAtomic(dir, "exec.json", ex.dump()); !w) return undo(w.error());
  }
  if (::mkfifo((dir + "/start.fifo").c_str(), 0600) < 0) return undo(Error{errno, "mkfifo " + dir + "/start.fifo", ""});

  MonitorPlan plan;
  plan.id = o.id;
  plan.dir = dir;
  plan.bundle = bundle;
  plan.config_sha256 = Sha256Hex(*text);
  plan.rt = rt;
  if (spec.terminal) {
    auto tty = SendConsole(o.console_socket);
    if (!tty) return undo(tty.error());
    plan.tty = std::move(*tty);
  }
  plan.spec = std::move(spec);
  plan.policy = std::move(policy);

  int rp[2];
  if (::pipe2(rp, O_CLOEXEC) < 0) return undo(Error{errno, "pipe", ""});
  UniqueFd rd(rp[0]), wr(rp[1]);
  pid_t pid = ::fork();
  if (pid < 0) return undo(Error{errno, "fork the container's monitor", ""});
  if (pid == 0) {
    rd.Reset();
    MonitorMain(std::move(plan), std::move(wr));
  }
  wr.Reset();
  plan.tty.Reset();
  std::string line;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(rd.Get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  while (!line.empty() && line.back() == '\n') line.pop_back();
  if (line != "ok") {
    ::waitpid(pid, nullptr, 0);
    return undo(Error{0, line.empty() ? "the container's monitor exited before it was ready" : line, ""});
  }
  ContainerState st;
  st.id = o.id;
  st.pid = pid;
  st.pid_start = ProcessStartTime(pid);
  st.bundle = bundle;
  st.rootfs = plan.spec.root_path;
  st.created = NowRfc3339();
  st.annotations = plan.spec.annotations;
  st.uid = ::geteuid();
  st.evidence_dir = g.evidence_dir.empty() ? EvidenceDir() : g.evidence_dir;
  if (auto w = WriteState(dir, st); !w) {
    ::kill(pid, SIGKILL);
    return undo(w.error());
  }
  if (auto w = WritePidFile(o.pid_file, pid); !w) {
    ::kill(pid, SIGKILL);
    return undo(w.error());
  }
  return {};
}

Result<void> Start(const Globals& g, const std::string& id) {
  CORDON_ASSIGN_OR_RETURN(ContainerState st, ReadState(g.root, id));
  std::string status = Status(g.root, st);
  if (status != "created")
    return FailMsg("container " + id + " is " + status + ", not created", "only a created container can be started");
  const std::string fifo = ContainerDir(g.root, id) + "/start.fifo";
  UniqueFd fd(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return Fail(errno, "container " + id + ": its monitor is not waiting for start");
  ::unlink(fifo.c_str());
  if (::write(fd.Get(), "s", 1) != 1) return Fail(errno, "container " + id + ": write start.fifo");
  return {};
}

Result<void> Kill(const Globals& g, const std::string& id, const std::string& signal, bool all) {
  (void)all;  // the sandbox's processes all go with its PID 1 (a PID namespace of its own)
  CORDON_ASSIGN_OR_RETURN(int sig, ParseSignal(signal));
  CORDON_ASSIGN_OR_RETURN(ContainerState st, ReadState(g.root, id));
  if (!MonitorAlive(st)) return FailMsg("container " + id + " is not running", "");
  const int send = sig == SIGKILL ? KillRequestSignal() : sig;
  if (::kill(st.pid, send) < 0) return Fail(errno, "signal container " + id);
  return {};
}

Result<void> Delete(const Globals& g, const std::string& id, bool force) {
  CORDON_ASSIGN_OR_RETURN(ContainerState st, ReadState(g.root, id));
  const std::string dir = ContainerDir(g.root, id);
  if (MonitorAlive(st)) {
    const std::string status = Status(g.root, st);
    if (!force && status != "created")
      return FailMsg("container " + id + " is " + status, "stop it first, or delete --force");
    // A paused container is thawed first: on the v1 freezer a frozen process dies only once thawed.
    if (status == "paused") (void)Resume(g, id);
    ::kill(st.pid, KillRequestSignal());
    // The monitor kills the sandbox through Cordon and writes its record; a monitor that does not
    // end within 10 s is killed outright.
    const uint64_t deadline = sys::MonotonicNs() + 10'000'000'000ull;
    while (MonitorAlive(st) && sys::MonotonicNs() < deadline) ::usleep(5000);
    if (MonitorAlive(st)) ::kill(st.pid, SIGKILL);
  }
  // The evidence record: the monitor's, or what is known when it left none; with the container's
  // pause/resume/update events (resources.h).
  nlohmann::json record;
  if (auto r = ReadWholeFile(dir + "/evidence.json"); r && !r->empty()) record = nlohmann::json::parse(*r, nullptr, false);
  if (!record.is_object())
    record = {{"outcome", {{"failure_class", "unknown"},
                           {"message", "the container's monitor left no record (it was killed)"}}},
              {"oci", {{"id", id}, {"bundle", st.bundle}}}};
  if (nlohmann::json events = nlohmann::json::parse(ContainerEvents(dir), nullptr, false);
      events.is_array() && !events.empty())
    record["oci"]["events"] = std::move(events);
  const std::string edir =
      !st.evidence_dir.empty() ? st.evidence_dir : (g.evidence_dir.empty() ? EvidenceDir() : g.evidence_dir);
  CORDON_TRY(WriteContainerRecord(edir, id, record.dump()));
  RemoveContainerDir(dir);
  return {};
}

}  // namespace cordon::oci
