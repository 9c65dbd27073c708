// tests/support/daemon_process.h: a real cordond for a test, on its own temporary socket, state dir
// and config dir; stopped as an operator stops it (SIGTERM) when the test ends, which then checks
// that the daemon left no task cgroup behind (its warm pool's or a task's).
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "supervisor/daemon/client.h"
#include "tests/support/cgroup_bases.h"
#include "tests/support/run.h"

namespace cordon::test {

namespace api = ::cordon::api::v1;
using daemon::ClientConnection;

// Our uid may use the default policy (interactive, batch); no role lists "analyst".
inline std::string PrincipalsFor(uid_t uid) {
  return R"({"version": 1,
    "roles": {"runner": {"policies": ["default"], "classes": ["interactive", "batch"]},
              "analysts": {"policies": ["analyst"], "classes": ["batch"]}},
    "principals": [{"name": "tester", "tenant": "ci", "uids": [)" +
         std::to_string(uid) + R"(], "roles": ["runner"]}]})";
}

inline size_t CountFds(pid_t pid) {
  size_t n = 0;
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

// The daemon's fd count once it has stopped changing for `steady` (polled every 20 ms, at most
// `limit`). Its warm pool refills after each task it serves (after the task ends, or 50 ms), so
// a shorter look can catch the pool one sandbox short and its fds with it.
inline size_t SteadyFdCount(pid_t pid, std::chrono::milliseconds steady = std::chrono::milliseconds(300),
                            std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  size_t last = CountFds(pid);
  auto since = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    size_t now = CountFds(pid);
    if (now != last) {
      last = now;
      since = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - since >= steady) {
      break;
    }
  }
  return last;
}

// One cordond child process with its own directories. `extra`: more cordond flags.
class DaemonProcess {
 public:
  explicit DaemonProcess(const std::string& principals, std::vector<std::string> extra = {})
      : extra_(std::move(extra)) {
    const char* t = ::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/cordond-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl.data());
    ::chmod(dir_.c_str(), 0755);  // the unknown-uid client must reach the socket
    ::mkdir((dir_ + "/conf").c_str(), 0755);
    WritePrincipals(principals);
    Start();
  }
  // A cordond stopped with SIGTERM, or one that exited by itself, must leave no task cgroup: a
  // failure of the test. One a test crashed on purpose (Signal(SIGKILL)) leaves its warm pool's
  // cgroups until a later cordond on its state dir sweeps them (tested in daemon_fault_test); here
  // the test side removes what is left of it.
  ~DaemonProcess() {
    Stop();
    for (pid_t p : stopped_) {
      std::vector<std::string> left = CgroupsOwnedBy(p);
      if (left.empty()) continue;
      std::string dirs;
      for (const auto& dir : left) dirs += "\n  " + dir;
      ADD_FAILURE() << "cordond " << p << " was stopped and left " << left.size() << " task cgroup directories:" << dirs;
      RemoveCgroupsOwnedBy(p);
    }
    for (pid_t p : crashed_) RemoveCgroupsOwnedBy(p);
    RunProgram({"/bin/rm", "-rf", dir_});
  }

  // SIGTERM; once cordond has begun stopping, a second SIGTERM skips the grace period of the tasks
  // a test left running. SIGKILL (and a failure) only if it has not exited within 30 s.
  void Stop() {
    if (pid_ <= 0) return;
    const size_t log_before = Log().size();
    ::kill(pid_, SIGTERM);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    bool second = false;
    for (;;) {
      if (Reaped(::waitpid(pid_, nullptr, WNOHANG) == pid_, false)) return;
      if (std::chrono::steady_clock::now() >= give_up) break;
      if (!second && Log().find("stopping:", log_before) != std::string::npos) {
        ::kill(pid_, SIGTERM);
        second = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "cordond did not stop within 30 s of SIGTERM: " << Log();
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    Reaped(true, true);
  }

  void WritePrincipals(const std::string& text) {
    std::ofstream(dir_ + "/conf/principals.json.tmp") << text;
    ::rename((dir_ + "/conf/principals.json.tmp").c_str(), (dir_ + "/conf/principals.json").c_str());
  }

  void Start() {
    std::vector<std::string> argv = {BuildPath("bin/cordond"), "--socket", socket(), "--state-dir", dir_ + "/state",
                                     "--config-dir", dir_ + "/conf", "--read-timeout-ms", "500"};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    const size_t log_before = Log().size();
    pid_ = ::fork();
    if (pid_ == 0) {
      int log = ::open((dir_ + "/cordond.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(log, 2);
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      std::vector<char*> av;
      for (auto& a : argv) av.push_back(a.data());
      av.push_back(nullptr);
      ::execv(av[0], av.data());
      _exit(127);
    }
    // Ready when this daemon says it listens and the socket accepts. (The socket alone can mislead
    // after a kill -9: a child the old daemon was spawning may hold its listening socket until
    // its exec, and accept a connection meanwhile.)
    for (int i = 0; i < 1000; ++i) {
      if (Log().find("listening on", log_before) != std::string::npos && ClientConnection::Open(socket())) return;
      int st;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        Reaped(true, false);
        ADD_FAILURE() << "cordond exited at start: " << Log();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "cordond did not listen within 10 s: " << Log();
  }

  // Returns the wait status, or -1 when no daemon runs (never kill(-1, ...): that is every process).
  int Signal(int sig, int timeout_ms = 20000) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    int st = -1;
    for (int i = 0; i < timeout_ms / 10; ++i) {
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        Reaped(true, WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        return st;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

  // Waits (10 s at most, looking every 10 ms) until the log has `text` at or after offset `from`.
  bool WaitForLog(const std::string& text, size_t from = 0,
                  std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) const {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (Log().find(text, from) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= give_up) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  // Sends SIGHUP and waits until the daemon has logged the reload's outcome: the new configuration
  // in effect (its last line, "SIGHUP: retention: ...") or refused ("SIGHUP: reload failed").
  // Returns the log lines that reload added.
  std::string Reload() {
    const size_t before = Log().size();
    if (pid_ <= 0) {
      ADD_FAILURE() << "no cordond to reload";
      return "";
    }
    ::kill(pid_, SIGHUP);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      std::string added = Log().substr(std::min(before, Log().size()));
      if (added.find("SIGHUP: reload failed") != std::string::npos) return added;
      if (size_t at = added.find("SIGHUP: retention:"); at != std::string::npos && added.find('\n', at) != std::string::npos)
        return added;
      if (std::chrono::steady_clock::now() >= give_up) {
        ADD_FAILURE() << "cordond logged no outcome of SIGHUP within 10 s: " << added;
        return added;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  RunResult Cli(std::vector<std::string> args, const RunOptions& opts = {}) {
    std::vector<std::string> argv = {BuildPath("bin/cordon"), args[0], "--socket", socket()};
    argv.insert(argv.end(), args.begin() + 1, args.end());
    return RunProgram(argv, opts);
  }

  Result<api::Response> Call(const api::Request& req) {
    CORDON_ASSIGN_OR_RETURN(ClientConnection c, ClientConnection::Open(socket()));
    return c.Call(req, nullptr, 0, 30000);
  }

  std::string Log() const {
    std::ifstream f(dir_ + "/cordond.log");
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  std::string socket() const { return dir_ + "/cordond.sock"; }
  std::string conf() const { return dir_ + "/conf"; }
  std::string evidence_log() const { return dir_ + "/state/evidence-log"; }  // its evidence log's directory
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return pid_; }

 private:
  // When `reaped`, files the daemon under crashed_ (killed with SIGKILL) or stopped_, and forgets
  // its pid. Returns `reaped`.
  bool Reaped(bool reaped, bool killed) {
    if (!reaped) return false;
    (killed ? crashed_ : stopped_).push_back(pid_);
    pid_ = -1;
    return true;
  }

  std::string dir_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
  std::vector<pid_t> stopped_, crashed_;  // every cordond this fixture ran and reaped
};

}  // namespace cordon::test
