// supervisor/daemon/sandbox_builder.cc: see sandbox_builder.h.
#include "supervisor/daemon/sandbox_builder.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace cordon::daemon {

Result<std::unique_ptr<SandboxBuilder>> SandboxBuilder::Start() {
  std::unique_ptr<SandboxBuilder> b(new SandboxBuilder());
  b->event_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!b->event_) return Fail(errno, "eventfd for the sandbox builder");
  return b;
}

void SandboxBuilder::Post(uint64_t serial, uint64_t owner, Job job) {
  {
    std::lock_guard<std::mutex> l(mu_);
    waiting_[owner].push_back(Posted{serial, std::move(job)});
  }
  queue_.Post([this] { RunNext(); });  // one run per build posted: the queue never runs dry early
}

void SandboxBuilder::RunNext() {
  Posted next;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (waiting_.empty()) return;
    // Round robin: the first owner after the one served last, wrapping around.
    auto it = waiting_.upper_bound(last_owner_);
    if (it == waiting_.end()) it = waiting_.begin();
    next = std::move(it->second.front());
    it->second.pop_front();
    last_owner_ = it->first;
    if (it->second.empty()) waiting_.erase(it);
  }
  BuiltSandbox built = next.job();
  built.serial = next.serial;
  next.job = nullptr;  // what it captured goes here, on this thread
  {
    std::lock_guard<std::mutex> l(mu_);
    done_.push_back(std::move(built));
  }
  const uint64_t one = 1;
  (void)!::write(event_.Get(), &one, sizeof one);
}

std::vector<BuiltSandbox> SandboxBuilder::Collect() {
  uint64_t n;
  (void)!::read(event_.Get(), &n, sizeof n);  // clears the eventfd; the list below is the truth
  std::lock_guard<std::mutex> l(mu_);
  return std::exchange(done_, {});
}

}  // namespace cordon::daemon
