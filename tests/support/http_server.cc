// tests/support/http_server.cc: the loopback HTTP server of http_server.h.
#include "tests/support/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace cordon::test {

LoopbackHttpServer::LoopbackHttpServer(std::string body)
    : response_("HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\nConnection: close\r\n\r\n" + body) {
  fd_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (!fd_ || ::bind(fd_.Get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(fd_.Get(), 16) < 0 ||
      ::getsockname(fd_.Get(), reinterpret_cast<sockaddr*>(&a), &len) < 0) {
    std::perror("tests/support/http_server: listen on 127.0.0.1");
    std::abort();  // a fixture that cannot listen would make every test using it meaningless
  }
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

LoopbackHttpServer::~LoopbackHttpServer() {
  stop_ = true;
  thread_.join();
}

std::vector<std::string> LoopbackHttpServer::heads() const {
  std::lock_guard lock(mu_);
  return heads_;
}

void LoopbackHttpServer::Serve() {
  while (!stop_) {
    pollfd p{fd_.Get(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    UniqueFd c(::accept4(fd_.Get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) continue;
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
      pollfd q{c.Get(), POLLIN, 0};
      if (::poll(&q, 1, 5000) <= 0) break;
      ssize_t n = ::read(c.Get(), buf, sizeof buf);
      if (n <= 0) break;
      head.append(buf, static_cast<size_t>(n));
    }
    (void)!::write(c.Get(), response_.data(), response_.size());
    c.Reset();
    {
      std::lock_guard lock(mu_);
      heads_.push_back(std::move(head));
    }
    ++served_;
  }
}

}  // namespace cordon::test
