// supervisor/oci/exec.cc: exec and run (exec.h).
#include "supervisor/oci/exec.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/scm_rights.h"
#include "common/syscalls.h"
#include "supervisor/oci/query.h"
#include "supervisor/oci/spec.h"
#include "supervisor/oci/state.h"
#include "supervisor/seccomp/filter.h"
#include "supervisor/task/task.h"

extern char** environ;

namespace cordon::oci {
namespace {

// The process whose namespaces exec joins: the sandbox's PID 1 where this caller may (root), else
// the lowest-numbered process inside the sandbox it may (PID 1 is not dumpable, so an unprivileged
// caller can reach only the task's side). Every one of them is inside the sandbox.
pid_t JoinTarget(pid_t monitor) {
  std::vector<std::pair<long, pid_t>> inside;  // (pid in the sandbox, host pid)
  for (pid_t p : Descendants(monitor)) {
    auto status = ReadWholeFile("/proc/" + std::to_string(p) + "/status");
    if (!status) continue;
    std::istringstream in(*status);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("NSpid:", 0) != 0) continue;
      std::istringstream f(line.substr(6));
      std::vector<long> ids;
      long v;
      while (f >> v) ids.push_back(v);
      if (ids.size() >= 2) inside.push_back({ids.back(), p});
    }
  }
  std::sort(inside.begin(), inside.end());
  for (auto [inner, host] : inside) {
    UniqueFd ns(::open(("/proc/" + std::to_string(host) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
    if (ns) return host;
  }
  return -1;
}

struct Process {
  std::vector<std::string> args, env;
  std::string cwd = "/";
  bool terminal = false;
};

Result<Process> ReadProcess(const ExecOptions& o) {
  Process p;
  if (o.process_file.empty()) {
    if (o.args.empty()) return FailMsg("exec needs --process FILE or a command", "cordon-runc --help");
    p.args = o.args;
    p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    p.terminal = o.tty;
    return p;
  }
  CORDON_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(o.process_file));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return FailMsg("--process " + o.process_file + " is not a JSON object");
  if (!j.contains("args") || !j["args"].is_array() || j["args"].empty())
    return FailMsg("--process " + o.process_file + ": args must be a non-empty array");
  for (const auto& a : j["args"]) p.args.push_back(a.get<std::string>());
  if (j.contains("env"))
    for (const auto& e : j["env"]) p.env.push_back(e.get<std::string>());
  p.cwd = j.value("cwd", std::string("/"));
  p.terminal = j.value("terminal", false) || o.tty;
  if (j.contains("capabilities") && j["capabilities"].is_object())
    for (auto it = j["capabilities"].begin(); it != j["capabilities"].end(); ++it)
      for (const auto& c : *it)
        if (c.is_string() && IsPrivilegedCapability(c.get<std::string>()))
          return FailMsg("--process " + o.process_file + ": capabilities." + it.key() + " asks for " +
                             c.get<std::string>() + ", which Cordon never grants",
                         "exec without --privileged or --cap-add");
  return p;
}

// In the container, just before execve: the task's ids, no capabilities, no_new_privs, seccomp.
[[noreturn]] void BecomeTask(const Process& p, uint32_t uid, uint32_t gid, const std::string& bpf, int tty) {
  auto die = [](const char* what) {
    std::fprintf(stderr, "cordon-runc exec: %s: %s\n", what, std::strerror(errno));
    ::_exit(126);
  };
  if (tty >= 0) {
    ::setsid();
    (void)::ioctl(tty, TIOCSCTTY, 0);
    for (int fd = 0; fd < 3; ++fd) ::dup2(tty, fd);
    if (tty > 2) ::close(tty);
  }
  (void)::setgroups(0, nullptr);  // refused where the sandbox denied setgroups: it has none then
  if (::setresgid(gid, gid, gid) < 0) die("setresgid");
  for (int c = 0; c <= 63; ++c) (void)::prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
  if (::setresuid(uid, uid, uid) < 0) die("setresuid");
  (void)::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capset, &hdr, data) < 0) die("capset");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("PR_SET_NO_NEW_PRIVS");
  if (::chdir(p.cwd.c_str()) < 0) die("chdir to process.cwd");
  std::vector<char*> argv, envp;
  for (const auto& a : p.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : p.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  sock_fprog prog{static_cast<unsigned short>(bpf.size() / sizeof(sock_filter)),
                  reinterpret_cast<sock_filter*>(const_cast<char*>(bpf.data()))};
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) die("seccomp");
  environ = envp.data();
  ::execvp(argv[0], argv.data());
  std::fprintf(stderr, "cordon-runc exec: %s: %s\n", argv[0], std::strerror(errno));
  ::_exit(errno == ENOENT ? 127 : 126);
}

Result<std::string> ReadMemfd(int fd) {
  std::string out;
  char buf[65536];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0) return Fail(errno, "read the compiled filter");
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

Result<UniqueFd> ConsoleFor(const std::string& socket_path) {
  int master = -1, slave = -1;
  if (::openpty(&master, &slave, nullptr, nullptr, nullptr) < 0) return Fail(errno, "openpty");
  UniqueFd m(master), s(slave);
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof sa.sun_path) return FailMsg("--console-socket: path too long");
  std::memcpy(sa.sun_path, socket_path.c_str(), socket_path.size());
  if (::connect(sock.Get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
    return Fail(errno, "connect to --console-socket " + socket_path);
  const int fds[1] = {m.Get()};
  CORDON_TRY(SendMsg(sock.Get(), "/dev/ptmx", 9, fds, 1));
  return s;
}

int StatusToCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

Result<int> Exec(const Globals& g, const ExecOptions& o) {
  CORDON_ASSIGN_OR_RETURN(ContainerState st, ReadState(g.root, o.id));
  if (Status(g.root, st) != "running") return FailMsg("container " + o.id + " is not running", "start it first");
  CORDON_ASSIGN_OR_RETURN(Process p, ReadProcess(o));
  if (p.terminal && o.console_socket.empty())
    return FailMsg("exec with a terminal needs --console-socket", "pass the engine's console socket");
  const std::string dir = ContainerDir(g.root, o.id);
  CORDON_ASSIGN_OR_RETURN(std::string ex_text, ReadWholeFile(dir + "/exec.json"));
  auto ex = nlohmann::json::parse(ex_text, nullptr, false);
  if (ex.is_discarded()) return FailMsg(dir + "/exec.json is not valid JSON");
  const uint32_t uid = ex.value("uid", 0u), gid = ex.value("gid", 0u);
  CORDON_ASSIGN_OR_RETURN(RuntimePaths rt, LocateRuntime());
  FilterOptions fo;
  fo.data_dir = rt.data_dir;
  CORDON_ASSIGN_OR_RETURN(SeccompFilter filter, LoadSeccompFilter(ex.value("seccomp_profile", "default"), fo));
  CORDON_ASSIGN_OR_RETURN(std::string bpf, ReadMemfd(filter.memfd.Get()));

  pid_t target = JoinTarget(st.pid);
  if (target < 0) return FailMsg("container " + o.id + ": no process of its sandbox can be joined", "is it still starting?");
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, target, 0)));
  if (!pidfd) return Fail(errno, "pidfd_open a process of the sandbox");
  // The sandbox's cgroups, joined before the namespaces (the paths are the host's).
  std::vector<std::string> cgroups;
  for (const char* c : {"memory", "pids", "cpuacct", ""})
    if (std::string d = ContainerCgroupDir(g, o.id, c); !d.empty()) cgroups.push_back(d);
  UniqueFd tty;
  if (p.terminal) {
    auto t = ConsoleFor(o.console_socket);
    if (!t) return std::unexpected(t.error());
    tty = std::move(*t);
  }

  if (!o.detach) ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  int pp[2];
  if (::pipe2(pp, O_CLOEXEC) < 0) return Fail(errno, "pipe");
  UniqueFd rd(pp[0]), wr(pp[1]);
  pid_t helper = ::fork();
  if (helper < 0) return Fail(errno, "fork");
  if (helper == 0) {
    rd.Reset();
    for (const auto& d : cgroups) {
      UniqueFd f(::open((d + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
      if (f) (void)!::write(f.Get(), "0", 1);
    }
    if (::setns(pidfd.Get(), CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                                 CLONE_NEWCGROUP) < 0) {
      std::fprintf(stderr, "cordon-runc exec: join the sandbox's namespaces: %s\n", std::strerror(errno));
      ::_exit(126);
    }
    pid_t child = ::fork();
    if (child == 0) BecomeTask(p, uid, gid, bpf, tty ? tty.Get() : -1);
    (void)!::write(wr.Get(), &child, sizeof child);
    ::_exit(child < 0 ? 126 : 0);
  }
  wr.Reset();
  tty.Reset();
  pid_t child = -1;
  ssize_t n = ::read(rd.Get(), &child, sizeof child);
  int hs = 0;
  ::waitpid(helper, &hs, 0);
  if (n != sizeof child || child <= 0) return FailMsg("exec into container " + o.id + " failed (see above)");
  if (!o.pid_file.empty()) {
    std::string path = o.pid_file, d = ".", name = path;
    if (auto s = path.rfind('/'); s != std::string::npos) {
      d = path.substr(0, s);
      name = path.substr(s + 1);
    }
    CORDON_TRY(WriteFileAtomic(d.empty() ? "/" : d, name, std::to_string(child)));
  }
  if (o.detach) return 0;
  int status = 0;
  while (::waitpid(child, &status, 0) < 0)
    if (errno != EINTR) return Fail(errno, "wait for the exec'd process");
  return StatusToCode(status);
}

Result<int> RunAndWait(const Globals& g, const CreateOptions& o) {
  CORDON_TRY(Create(g, o));
  CORDON_ASSIGN_OR_RETURN(ContainerState st, ReadState(g.root, o.id));
  CORDON_TRY(Start(g, o.id));
  int status = 0;
  while (::waitpid(st.pid, &status, 0) < 0)
    if (errno != EINTR) return Fail(errno, "wait for container " + o.id);
  CORDON_TRY(Delete(g, o.id, false));
  return StatusToCode(status);
}

}  // namespace cordon::oci
