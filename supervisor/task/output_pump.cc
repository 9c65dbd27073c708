// supervisor/task/output_pump.cc: forwarding a task's output to the caller's fds (output_pump.h).
#include "supervisor/task/output_pump.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/syscalls.h"

namespace cordon {
namespace {

// Writes as much as the caller's fd takes now, without blocking and without touching its flags
// (O_NONBLOCK would change the caller's own open file description): RWF_NOWAIT where the kernel
// supports it for this file (pipes and sockets), otherwise a zero-timeout poll first. Returns the
// bytes written; -1 when the reader is gone.
ssize_t WriteNoWait(int fd, const char* data, size_t len) {
  iovec iov{const_cast<char*>(data), len};
  ssize_t w = ::pwritev2(fd, &iov, 1, -1, RWF_NOWAIT);
  if (w >= 0) return w;
  if (errno == EAGAIN || errno == EINTR) return 0;
  if (errno != EOPNOTSUPP && errno != EINVAL && errno != ESPIPE) return -1;
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, 0) <= 0 || !(p.revents & POLLOUT)) return 0;
  w = ::write(fd, data, len);
  if (w < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
  return w;
}

constexpr uint64_t kPumpRetryNs = 10'000'000ull;  // a slow reader is tried again every 10 ms

}  // namespace

// Forwards the task's output to the caller's fd, counting it against limits.output_bytes. Never
// blocks the supervisor's loop on a caller that stopped reading: what the caller's fd does not
// take stays in `pending`, the task's pipe is not read meanwhile (so the task blocks on its own
// write: backpressure), and the rest is retried on a deadline.
// `drain` (the task is gone): the pipe's tail is read at once. With output_drain_ms (cordond),
// what the caller does not take now is retried on deadlines until that much time has passed, on
// a duplicate of the caller's fd, and then dropped: the loop never waits for one caller. Without
// it (`cordon run`, whose caller is its own stdout) the drain waits until the caller took it all.
bool OutputPump::Pump(int which, bool drain) {
  Stream& p = streams_[which];
  const uint64_t budget = budget_;
  const uint64_t patience = patience_ns_;
  bool over_budget = false;
  // Draining with no patience (the CLI's own stdout) waits here for the caller; a daemon serving
  // many callers never blocks: the tail is kept and retried on deadlines until give_up_ns.
  const bool wait_here = drain && patience == 0;
  if (drain && patience && p.give_up_ns == 0) p.give_up_ns = sys::MonotonicNs() + patience;
  auto flush = [&]() {
    while (!p.pending.empty()) {
      ssize_t w = p.dest_is_file ? ::write(p.dest, p.pending.data(), p.pending.size())
                                 : WriteNoWait(p.dest, p.pending.data(), p.pending.size());
      if (w < 0 && p.dest_is_file && errno == EINTR) w = 0;
      if (w < 0) {
        // The caller is gone: the bytes are dropped, the count stands, and the task's pipe closes,
        // so that its next write fails with EPIPE/SIGPIPE as it would on the caller's own pipe.
        p.pending.clear();
        p.read_end.Reset();
        break;
      }
      p.pending.erase(0, static_cast<size_t>(w));
      if (w == 0) {
        if (wait_here) {
          pollfd pf{p.dest, POLLOUT, 0};
          ::poll(&pf, 1, 100);
          continue;
        }
        if (p.give_up_ns && sys::MonotonicNs() >= p.give_up_ns) {
          p.pending.clear();  // the task is gone and the caller did not read in time: give up
          p.read_end.Reset();
          break;
        }
        p.retry_ns = sys::MonotonicNs() + kPumpRetryNs;
        return false;
      }
    }
    p.retry_ns = 0;
    if (!p.read_end) p.owned_dest.Reset();  // nothing left for the caller's fd
    return true;
  };
  if (!flush() && !drain) return false;
  p.wait_dest = false;
  // Into a pipe or a file, splice() moves the task's pages to the caller's fd without copying
  // them through us. Up to the budget only: the bytes past it (the cut) take the read path below,
  // and so does a destination splice refuses (EINVAL: a file opened O_APPEND).
  while (p.splice_ok && p.pending.empty() && p.read_end && (!budget || total_ < budget)) {
    const size_t want = budget ? static_cast<size_t>(std::min<uint64_t>(1u << 20, budget - total_)) : 1u << 20;
    ssize_t n = ::splice(p.read_end.Get(), nullptr, p.dest, nullptr, want, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (n > 0) {
      total_ += static_cast<uint64_t>(n);
      continue;
    }
    if (n == 0) {
      p.read_end.Reset();  // EOF: every writer is gone
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EPIPE) {
      p.read_end.Reset();  // the caller's reader is gone: the task gets EPIPE/SIGPIPE next
      break;
    }
    if (errno != EAGAIN) {
      p.splice_ok = false;  // not for this destination: copy instead
      break;
    }
    // Nothing to move, or no room at the caller's end: the task's pipe tells which.
    pollfd in{p.read_end.Get(), POLLIN, 0};
    if (::poll(&in, 1, 0) <= 0 || !(in.revents & POLLIN)) {
      if (!drain || !(in.revents & POLLHUP)) return false;  // empty (drained: and every writer gone)
      continue;
    }
    if (wait_here) {
      pollfd out{p.dest, POLLOUT, 0};
      ::poll(&out, 1, 100);
      continue;
    }
    if (drain) break;  // the task is gone: collect its tail below and retry it on deadlines
    p.wait_dest = true;  // wait for POLLOUT on the caller's fd (or the retry deadline)
    p.retry_ns = sys::MonotonicNs() + kPumpRetryNs;
    return false;
  }
  char buf[65536];
  while (p.read_end) {
    ssize_t n = ::read(p.read_end.Get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && !drain) return over_budget;
    if (n <= 0) {
      p.read_end.Reset();  // EOF: every writer is gone
      break;
    }
    size_t keep = static_cast<size_t>(n);
    bool over = budget && total_ + keep > budget;
    if (over) keep = static_cast<size_t>(budget - total_);
    total_ += keep;
    p.pending.append(buf, keep);
    if (over) {
      // Cut: close both pipes (further writes get EPIPE/SIGPIPE); the caller stops the task.
      streams_[0].read_end.Reset();
      streams_[1].read_end.Reset();
      over_budget = true;
    }
    // Draining, the tail (at most a pipe's worth) is collected even when the caller takes none.
    if (!flush() && !drain) return over_budget;
  }
  if (!flush() && drain && !p.owned_dest) {
    // Retried after this call returns: the caller's fd is borrowed for the task's life only.
    p.owned_dest.Reset(::fcntl(p.dest, F_DUPFD_CLOEXEC, 3));
    if (p.owned_dest) {
      p.dest = p.owned_dest.Get();
    } else {
      p.pending.clear();
      p.retry_ns = 0;
    }
  }
  return over_budget;
}

void OutputPump::Configure(uint64_t budget, uint32_t drain_ms) {
  budget_ = budget;
  patience_ns_ = drain_ms ? uint64_t{drain_ms} * 1000000ull : 0;
}

void OutputPump::Attach(int which, UniqueFd read_end, int dest, const struct stat& dest_st) {
  Stream& s = streams_[which];
  ::fcntl(read_end.Get(), F_SETFL, O_NONBLOCK);
  s.read_end = std::move(read_end);
  s.dest = dest;
  s.dest_is_file = S_ISREG(dest_st.st_mode);
  s.splice_ok = S_ISREG(dest_st.st_mode) || S_ISFIFO(dest_st.st_mode);
}

void OutputPump::AddReadWatches(std::vector<int>* fds) const {
  for (const auto& s : streams_)
    if (s.read_end && s.pending.empty() && !s.wait_dest) fds->push_back(s.read_end.Get());
}

void OutputPump::AddWriteWatches(std::vector<int>* fds) const {
  for (const auto& s : streams_)
    if ((!s.pending.empty() || s.wait_dest) && s.dest >= 0) fds->push_back(s.dest);
}

bool OutputPump::OnReady(int fd) {
  bool over = false;
  for (int i = 0; i < 2; ++i) {
    const Stream& s = streams_[i];
    if ((s.read_end && fd == s.read_end.Get()) || ((!s.pending.empty() || s.wait_dest) && fd == s.dest))
      over = Pump(i, false) || over;
  }
  return over;
}

uint64_t OutputPump::NextDeadlineNs() const {
  uint64_t next = 0;
  for (const auto& s : streams_)
    if (s.retry_ns && (next == 0 || s.retry_ns < next)) next = s.retry_ns;
  return next;
}

bool OutputPump::OnDeadline(uint64_t now) {
  bool over = false;
  for (int i = 0; i < 2; ++i)
    if (streams_[i].retry_ns && now >= streams_[i].retry_ns) over = Pump(i, false) || over;
  return over;
}

bool OutputPump::Drain() {
  bool over = Pump(0, true);
  return Pump(1, true) || over;
}

}  // namespace cordon
