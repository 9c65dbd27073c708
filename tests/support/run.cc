#include "tests/support/run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/syscalls.h"

extern char** environ;

namespace cordon::test {

RunResult RunProgram(const std::vector<std::string>& argv, const RunOptions& opts) {
  RunResult r;
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) < 0 || ::pipe2(out, O_CLOEXEC) < 0 || ::pipe2(err, O_CLOEXEC) < 0) return r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<char*> av, ev;
  for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  for (const auto& e : opts.env) ev.push_back(const_cast<char*>(e.c_str()));
  ev.push_back(nullptr);
  pid_t pid;
  int rc = ::posix_spawn(&pid, av[0], &fa, nullptr, av.data(), opts.env.empty() ? environ : ev.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    r.err = std::string("posix_spawn: ") + std::strerror(rc);
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    return r;
  }
  // Feed stdin in the same loop as reading: a large input must not deadlock against full pipes.
  size_t in_off = 0;
  int in_fd = in[1];
  if (opts.stdin_data.empty()) {
    ::close(in_fd);
    in_fd = -1;
  } else {
    ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  const uint64_t deadline = sys::MonotonicNs() + uint64_t(opts.timeout_ms) * 1000000ull;
  int fds_open = 2;
  while (fds_open > 0) {
    pollfd p[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
    uint64_t now = sys::MonotonicNs();
    if (now >= deadline) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    int n = ::poll(p, 3, static_cast<int>((deadline - now) / 1000000) + 1);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t k = ::read(p[i].fd, buf, sizeof buf);
      if (k > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(k));
      } else {
        ::close(i == 0 ? out[0] : err[0]);
        (i == 0 ? out[0] : err[0]) = -1;
        --fds_open;
      }
    }
    if (in_fd >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t k = ::write(in_fd, opts.stdin_data.data() + in_off, opts.stdin_data.size() - in_off);
      if (k > 0) in_off += static_cast<size_t>(k);
      if (k < 0 || in_off == opts.stdin_data.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  if (out[0] >= 0) ::close(out[0]);
  if (err[0] >= 0) ::close(err[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string BuildPath(const std::string& rel) {
  // The pooled.* run (tests/CMakeLists.txt): `cordon` is the test build whose run is pooled.
  if (rel == "bin/cordon" && PooledRun()) return ::getenv("CORDON_TEST_CLI");
  return std::string(CORDON_BUILD_DIR) + "/" + rel;
}

bool PooledRun() {
  const char* cli = ::getenv("CORDON_TEST_CLI");
  return cli != nullptr && *cli != '\0';
}
std::string SourcePath(const std::string& rel) { return std::string(CORDON_SOURCE_DIR) + "/" + rel; }

RunResult CordonRun(const std::vector<std::string>& cmd, const std::vector<std::string>& extra,
                    const RunOptions& opts) {
  std::vector<std::string> argv = {BuildPath("bin/cordon"), "run"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("--");
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  return RunProgram(argv, opts);
}

std::string WriteTempFile(const std::string& name, const std::string& text) {
  static std::string dir;
  if (dir.empty()) {
    const char* t = ::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/cordon-test-XXXXXX";
    char* d = ::mkdtemp(tmpl.data());
    dir = d ? d : "/tmp";
    ::chmod(dir.c_str(), 0755);
  }
  std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  ::chmod(path.c_str(), 0644);
  return path;
}

std::string FreshTempDir(const std::string& name) {
  namespace fs = std::filesystem;
  std::string d = fs::path(WriteTempFile(".anchor", "")).parent_path() / (name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

bool IsRoot() { return ::geteuid() == 0; }

std::string EvidenceLine(const RunResult& r) {
  std::string s = r.out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

std::vector<std::string> EnvWith(const std::string& kv) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.push_back(kv);
  return env;
}

std::string JsonField(const std::string& line, const std::string& path) {
  try {
    auto j = nlohmann::json::parse(line);
    nlohmann::json* cur = &j;
    size_t start = 0;
    while (start <= path.size()) {
      size_t slash = path.find('/', start);
      std::string key = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
      if (cur->is_array()) {
        size_t idx = std::stoul(key);
        if (idx >= cur->size()) return "";
        cur = &(*cur)[idx];
      } else if (cur->is_object() && cur->contains(key)) {
        cur = &(*cur)[key];
      } else {
        return "";
      }
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    return cur->is_string() ? cur->get<std::string>() : cur->dump();
  } catch (...) {
    return "";
  }
}

RunResult CordonCommand(const std::string& subcommand, const std::vector<std::string>& args) {
  std::vector<std::string> argv{BuildPath("bin/cordon"), subcommand};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv);
}

}  // namespace cordon::test
