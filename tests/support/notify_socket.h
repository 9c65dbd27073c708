// tests/support/notify_socket.h: a datagram socket standing in for systemd's notify socket
// (NOTIFY_SOCKET), for tests that follow a real cordond's READY/STATUS messages: the systemd tests,
// and the daemon tests that wait for the warm pool's fill ("pool 1/1 ready") instead of a time.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace cordon::test {

// A datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << path;
  }
  ~NotifySocket() { ::close(fd_); }
  // Collects messages until one contains `want` (returned), or `limit` passes ("").
  std::string WaitFor(const std::string& want, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      std::string msg(buf, static_cast<size_t>(n));
      seen_ += msg + "\n---\n";
      if (msg.find(want) != std::string::npos) return msg;
    }
  }
  const std::string& seen() const { return seen_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::string seen_;
};

}  // namespace cordon::test
