// supervisor/state_walker.cc: see state_walker.h.
#include "supervisor/state_walker.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "common/bindings/grant.h"

namespace cordon {

std::vector<uint64_t> StateWalker::Walk::Take() {
  std::lock_guard lock(mu_);
  if (!done_) return {};
  return std::move(bytes_);
}

Result<std::shared_ptr<StateWalker::Walk>> StateWalker::Measure(const std::vector<int>& dirs) {
  auto w = std::make_shared<Walk>();
  w->event_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!w->event_) return Fail(errno, "eventfd for a state walk");
  for (int fd : dirs) {
    UniqueFd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
    if (!dup) return Fail(errno, "duplicating a state directory's fd for its walk");
    w->dirs_.push_back(std::move(dup));
  }
  queue_.Post([w] {
    // dirs_ is the worker's alone once queued: the loop touches only event_, mu_ and the results.
    std::vector<uint64_t> bytes;
    for (auto& d : w->dirs_) {
      bytes.push_back(DirectoryBytes(d.Get()));
      d.Reset();
    }
    {
      std::lock_guard lock(w->mu_);
      w->bytes_ = std::move(bytes);
      w->done_ = true;
    }
    const uint64_t one = 1;
    ssize_t n;
    do n = ::write(w->event_.Get(), &one, sizeof one);
    while (n < 0 && errno == EINTR);
  });
  return w;
}

}  // namespace cordon
