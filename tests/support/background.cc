#include "tests/support/background.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/syscalls.h"

extern char** environ;

namespace cordon::test {
namespace {

int MsLeft(uint64_t deadline_ns) {
  uint64_t now = sys::MonotonicNs();
  return now >= deadline_ns ? 0 : static_cast<int>((deadline_ns - now) / 1000000) + 1;
}

// Reads what is there from fd into `to`; false at EOF or on an error.
bool Drain(int fd, std::string& to) {
  char b[65536];
  ssize_t k = ::read(fd, b, sizeof b);
  if (k > 0) to.append(b, static_cast<size_t>(k));
  return k > 0 || (k < 0 && errno == EINTR);
}

}  // namespace

Background::Background(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) < 0) return;
  in_.Reset(in[1]);
  UniqueFd in_child(in[0]);
  if (::pipe2(out, O_CLOEXEC) < 0) return;
  out_.Reset(out[0]);
  UniqueFd out_child(out[1]);
  if (::pipe2(err, O_CLOEXEC) < 0) return;
  err_.Reset(err[0]);
  UniqueFd err_child(err[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_child.Get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_child.Get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_child.Get(), 2);
  std::vector<char*> av, ev;
  for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  for (const auto& e : env) ev.push_back(const_cast<char*>(e.c_str()));
  ev.push_back(nullptr);
  pid_t pid;
  if (::posix_spawn(&pid, av[0], &fa, nullptr, av.data(), env.empty() ? environ : ev.data()) == 0) pid_ = pid;
  posix_spawn_file_actions_destroy(&fa);
}

Background::~Background() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

std::optional<std::string> Background::ReadLine(std::chrono::milliseconds limit) {
  const uint64_t deadline = sys::MonotonicNs() + static_cast<uint64_t>(limit.count()) * 1000000ull;
  while (buf_.find('\n') == std::string::npos) {
    if (!out_) return std::nullopt;
    pollfd p[2] = {{out_.Get(), POLLIN, 0}, {err_ ? err_.Get() : -1, POLLIN, 0}};
    int n = ::poll(p, 2, MsLeft(deadline));
    if (n == 0) return std::nullopt;
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (p[1].revents && !Drain(err_.Get(), err_text_)) err_.Reset();
    if (p[0].revents && !Drain(out_.Get(), buf_)) out_.Reset();
  }
  size_t nl = buf_.find('\n');
  std::string line = buf_.substr(0, nl);
  buf_.erase(0, nl + 1);
  return line;
}

Background::Ended Background::Wait(std::chrono::milliseconds limit) {
  Ended e;
  if (pid_ <= 0) return e;
  const uint64_t deadline = sys::MonotonicNs() + static_cast<uint64_t>(limit.count()) * 1000000ull;
  while (out_ || err_) {
    pollfd p[2] = {{out_ ? out_.Get() : -1, POLLIN, 0}, {err_ ? err_.Get() : -1, POLLIN, 0}};
    int n = ::poll(p, 2, MsLeft(deadline));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents && !Drain(out_.Get(), buf_)) out_.Reset();
    if (p[1].revents && !Drain(err_.Get(), err_text_)) err_.Reset();
  }
  if (out_ || err_) ::kill(pid_, SIGKILL);  // past the limit
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  const bool in_time = !out_ && !err_;
  pid_ = -1;
  if (in_time) e.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  e.out = std::move(buf_);
  e.err = std::move(err_text_);
  return e;
}

}  // namespace cordon::test
