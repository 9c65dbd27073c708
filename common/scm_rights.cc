#include "common/scm_rights.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace cordon {

Result<void> SendMsg(int sock, const void* data, size_t len, const int* fds, size_t nfds) {
  if (nfds > kMaxFdsPerMessage) return Fail(EINVAL, "sendmsg: too many fds");
  iovec iov{const_cast<void*>(data), len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  // Sized for the maximum so no allocation is needed (the child calls this after clone).
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  if (nfds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  for (;;) {
    ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0) {
      if (static_cast<size_t>(n) != len) return Fail(EMSGSIZE, "sendmsg: short write");
      return {};
    }
    if (errno != EINTR) return Fail(errno, "sendmsg");
  }
}

Result<ReceivedMsg> RecvMsg(int sock, void* buf, size_t cap, size_t max_fds, int flags) {
  iovec iov{buf, cap};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Fail(errno, "recvmsg");

  ReceivedMsg out;
  out.len = static_cast<size_t>(n);
  // Take ownership of every fd first, so that whatever fails below closes them all.
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        out.fds.emplace_back(fd);
      }
    } else {
      return Fail(EBADMSG, "recvmsg: unexpected control message");
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) return Fail(EMSGSIZE, "recvmsg: control data truncated (too many fds)");
  if (msg.msg_flags & MSG_TRUNC) return Fail(EMSGSIZE, "recvmsg: message larger than expected");
  if (out.fds.size() > max_fds) return Fail(EBADMSG, "recvmsg: more fds than expected");
  out.eof = (n == 0 && out.fds.empty());
  return out;
}

}  // namespace cordon
