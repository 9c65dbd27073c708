#include "supervisor/daemon/sync_worker.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace cordon::daemon {

Result<std::unique_ptr<SyncWorker>> SyncWorker::Start(const std::string& path) {
  std::unique_ptr<SyncWorker> w(new SyncWorker());
  w->file_.Reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!w->file_) return Fail(errno, "open " + path + " to sync it");
  w->event_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!w->event_) return Fail(errno, "eventfd");
  return w;
}

uint64_t SyncWorker::Request() {
  uint64_t ticket;
  {
    std::lock_guard<std::mutex> l(mu_);
    ticket = ++requested_;
  }
  queue_.Post([this, ticket] { SyncFor(ticket); });
  return ticket;
}

std::vector<SyncWorker::Completion> SyncWorker::Collect() {
  uint64_t n;
  (void)!::read(event_.Get(), &n, sizeof n);  // clears the eventfd; the list below is the truth
  std::lock_guard<std::mutex> l(mu_);
  return std::exchange(done_, {});
}

void SyncWorker::SyncFor(uint64_t ticket) {
  uint64_t target;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (synced_ >= ticket) return;  // an earlier sync began after this ticket was asked for
    target = requested_;            // every request made so far is covered by the sync below
  }
  // A group commit: the tickets asked for while this sync runs queue behind it and share the next.
  const int err = ::fdatasync(file_.Get()) == 0 ? 0 : errno;
  {
    std::lock_guard<std::mutex> l(mu_);
    synced_ = target;
    done_.push_back(Completion{target, err});
  }
  const uint64_t one = 1;
  (void)!::write(event_.Get(), &one, sizeof one);
}

}  // namespace cordon::daemon
