// tests/support/http_server.h: a small HTTP server on the host's 127.0.0.1, a thread of the test,
// for tests whose sandboxes reach out through the egress proxy (sandbox_network_test,
// identity_test). It answers every request with `body`, counts the connections it served and
// keeps each request head it got, so a test can check what arrived (a header added, a secret
// substituted) and what never did (served() == 0).
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"

namespace cordon::test {

class LoopbackHttpServer {
 public:
  explicit LoopbackHttpServer(std::string body = "hello");
  ~LoopbackHttpServer();
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  int port() const { return port_; }
  // Connections answered so far.
  int served() const { return served_; }
  // The request heads received, in order (each up to its blank line).
  std::vector<std::string> heads() const;

 private:
  void Serve();

  UniqueFd fd_;
  int port_ = 0;
  std::string response_;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
  mutable std::mutex mu_;
  std::vector<std::string> heads_;
  std::thread thread_;
};

}  // namespace cordon::test
