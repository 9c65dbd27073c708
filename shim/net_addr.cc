// shim/net_addr.cc: one rtnetlink request, RTM_NEWADDR on lo, and its acknowledgement.
#include "shim/net_addr.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

namespace cordon::shim {

int AddAddressToLoopback(uint32_t addr) {
  const unsigned lo = ::if_nametoindex("lo");
  if (lo == 0) return errno != 0 ? errno : ENODEV;
  UniqueFd nl(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!nl) return errno;
  struct {
    nlmsghdr nh;
    ifaddrmsg ifa;
    char attrs[2 * RTA_SPACE(sizeof(uint32_t))];
  } req{};
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  req.nh.nlmsg_type = RTM_NEWADDR;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
  req.nh.nlmsg_seq = 1;
  req.ifa.ifa_family = AF_INET;
  req.ifa.ifa_prefixlen = 32;
  req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  req.ifa.ifa_index = lo;
  const uint32_t be = htonl(addr);
  for (unsigned short type : {static_cast<unsigned short>(IFA_LOCAL), static_cast<unsigned short>(IFA_ADDRESS)}) {
    auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&req) + NLMSG_ALIGN(req.nh.nlmsg_len));
    rta->rta_type = type;
    rta->rta_len = RTA_LENGTH(sizeof be);
    std::memcpy(RTA_DATA(rta), &be, sizeof be);
    req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    if (::sendto(nl.Get(), &req, req.nh.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) >= 0) break;
    if (errno != EINTR) return errno;
  }
  alignas(nlmsghdr) char buf[512];
  ssize_t n;
  do {
    n = ::recv(nl.Get(), buf, sizeof buf, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  const auto* h = reinterpret_cast<const nlmsghdr*>(buf);
  if (!NLMSG_OK(h, static_cast<unsigned>(n)) || h->nlmsg_type != NLMSG_ERROR ||
      h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr)))
    return EPROTO;
  const int err = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
  return err == EEXIST ? 0 : err;
}

}  // namespace cordon::shim
