#include "supervisor/egress/resolver.h"

#include <netdb.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

namespace cordon::egress {

Resolver SystemResolver() {
  return [](const std::string& host) -> Result<std::vector<IpAddress>> {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
      if (rc == EAI_SYSTEM) return Fail(errno, "resolve " + host);
      return FailMsg("resolve " + host + ": " + ::gai_strerror(rc));
    }
    std::vector<IpAddress> out;
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      auto a = FromSockaddr(ai->ai_addr, ai->ai_addrlen);
      if (a && std::find(out.begin(), out.end(), *a) == out.end()) out.push_back(*a);
    }
    ::freeaddrinfo(res);
    return out;
  };
}

struct ResolverPool::Shared {
  Resolver resolve;
  UniqueFd event;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<uint64_t, std::string>> jobs;  // guarded by mu
  std::vector<Done> done;                             // guarded by mu
  bool stop = false;                                  // guarded by mu
};

Result<std::unique_ptr<ResolverPool>> ResolverPool::Create(Resolver resolver, size_t max_threads) {
  int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) return Fail(errno, "eventfd for the egress resolver");
  auto s = std::make_shared<Shared>();
  s->resolve = std::move(resolver);
  s->event.Reset(efd);
  return std::unique_ptr<ResolverPool>(new ResolverPool(std::move(s), std::max<size_t>(1, max_threads)));
}

ResolverPool::ResolverPool(std::shared_ptr<Shared> s, size_t max_threads)
    : shared_(std::move(s)), max_threads_(max_threads) {}

ResolverPool::~ResolverPool() {
  std::lock_guard lock(shared_->mu);
  shared_->stop = true;
  shared_->jobs.clear();
  shared_->cv.notify_all();
}

int ResolverPool::event_fd() const { return shared_->event.Get(); }

Result<void> ResolverPool::Submit(uint64_t tag, std::string host) {
  {
    std::lock_guard lock(shared_->mu);
    shared_->jobs.emplace_back(tag, std::move(host));
    shared_->cv.notify_one();
  }
  // Threads start with demand, up to the pool's size.
  if (started_ < max_threads_) {
    try {
      std::thread(WorkerLoop, shared_).detach();
      ++started_;
    } catch (const std::system_error& e) {
      if (started_ == 0) {
        std::lock_guard lock(shared_->mu);
        shared_->jobs.pop_back();
        return Fail(e.code().value(), "start an egress resolver thread");
      }
    }
  }
  return {};
}

void ResolverPool::Cancel(uint64_t tag) {
  std::lock_guard lock(shared_->mu);
  std::erase_if(shared_->jobs, [tag](const auto& job) { return job.first == tag; });
}

std::vector<ResolverPool::Done> ResolverPool::TakeDone() {
  uint64_t v;
  while (::read(shared_->event.Get(), &v, sizeof v) > 0) {
  }
  std::lock_guard lock(shared_->mu);
  return std::exchange(shared_->done, {});
}

void ResolverPool::WorkerLoop(std::shared_ptr<Shared> s) {
  std::unique_lock lock(s->mu);
  while (true) {
    s->cv.wait(lock, [&] { return s->stop || !s->jobs.empty(); });
    if (s->stop) return;
    auto [tag, host] = std::move(s->jobs.front());
    s->jobs.pop_front();
    lock.unlock();
    auto result = s->resolve(host);
    lock.lock();
    if (s->stop) return;
    s->done.push_back(ResolverPool::Done{tag, std::move(result)});
    uint64_t one = 1;
    // The eventfd is non-blocking; a full counter (2^64-2) cannot happen with a bounded pool.
    [[maybe_unused]] ssize_t n = ::write(s->event.Get(), &one, sizeof one);
  }
}

}  // namespace cordon::egress
