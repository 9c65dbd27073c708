// supervisor/egress/resolver.h: host-side name resolution for the egress proxy.
//
// getaddrinfo() blocks (up to resolv.conf's timeout × attempts), and the proxy runs on the
// supervisor's event loop, so names are resolved on a few worker threads and the answers come back
// through an eventfd the loop polls. IP literals never reach the resolver.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/egress/address.h"

namespace cordon::egress {

// Resolves one name to its addresses, in the order to try them. Runs on a worker thread, so it
// must be thread-safe; it may block. Tests inject a fake one.
using Resolver = std::function<Result<std::vector<IpAddress>>(const std::string& host)>;

// getaddrinfo(host, AF_UNSPEC, SOCK_STREAM) in the supervisor's network namespace; duplicates
// removed, the resolver's order kept.
Resolver SystemResolver();

// A bounded pool of detached worker threads running a Resolver. The pool's state is shared with
// the workers, so destroying the pool never waits for a lookup in progress: the worker finishes
// it, drops the answer and exits. Threads start on the first Submit(), not before, so a proxy that
// only sees IP literals never creates one.
class ResolverPool {
 public:
  struct Done {
    uint64_t tag = 0;
    Result<std::vector<IpAddress>> result;
  };

  static Result<std::unique_ptr<ResolverPool>> Create(Resolver resolver, size_t max_threads);
  ~ResolverPool();
  ResolverPool(const ResolverPool&) = delete;
  ResolverPool& operator=(const ResolverPool&) = delete;

  // Readable (EFD_NONBLOCK eventfd) when TakeDone() has answers. Owned by the pool.
  int event_fd() const;
  // Queues a lookup; its answer comes back from TakeDone() with the same tag. Fails only when no
  // worker thread can be started at all.
  Result<void> Submit(uint64_t tag, std::string host);
  // Drops a lookup that has not started yet (its connection timed out or closed). A lookup already
  // running finishes; its answer is returned and the caller ignores it.
  void Cancel(uint64_t tag);
  // Answers ready so far; clears the eventfd.
  std::vector<Done> TakeDone();

 private:
  struct Shared;
  explicit ResolverPool(std::shared_ptr<Shared> s, size_t max_threads);
  static void WorkerLoop(std::shared_ptr<Shared> s);
  std::shared_ptr<Shared> shared_;
  size_t max_threads_;
  size_t started_ = 0;
};

}  // namespace cordon::egress
