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
  // The thread must not take the daemon's signals: they are blocked here as in the loop's
  // thread (RunDaemon blocks them before the daemon starts), and a new thread inherits the mask.
  w->thread_ = std::thread([p = w.get()] { p->Loop(); });
  return w;
}

SyncWorker::~SyncWorker() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

uint64_t SyncWorker::Request() {
  uint64_t ticket;
  {
    std::lock_guard<std::mutex> l(mu_);
    ticket = ++requested_;
  }
  cv_.notify_one();
  return ticket;
}

std::vector<SyncWorker::Completion> SyncWorker::Collect() {
  uint64_t n;
  (void)!::read(event_.Get(), &n, sizeof n);  // clears the eventfd; the list below is the truth
  std::lock_guard<std::mutex> l(mu_);
  return std::exchange(done_, {});
}

void SyncWorker::Loop() {
  uint64_t synced = 0;
  for (;;) {
    uint64_t target;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || requested_ > synced; });
      if (stop_) return;
      target = requested_;  // every request made so far is covered by the sync below
    }
    int err = ::fdatasync(file_.Get()) == 0 ? 0 : errno;
    synced = target;
    {
      std::lock_guard<std::mutex> l(mu_);
      done_.push_back(Completion{target, err});
    }
    const uint64_t one = 1;
    (void)!::write(event_.Get(), &one, sizeof one);
  }
}

}  // namespace cordon::daemon
