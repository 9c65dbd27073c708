// supervisor/daemon/metrics_listen.cc: CheckMetricsListen (metrics.h), apart from the metrics
// themselves: daemon.json's parser (config.cc) checks metrics.listen with it, and the `cordon` CLI,
// which links the parser statically, must not pull in prometheus-cpp.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "supervisor/daemon/metrics.h"

namespace cordon::daemon {

Result<void> CheckMetricsListen(const std::string& addr_port, const std::string& what) {
  const std::string hint = "give a loopback address and a port, e.g. 127.0.0.1:9464";
  size_t colon = addr_port.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr_port.size())
    return Fail(EINVAL, what + " '" + addr_port + "': no port", hint);
  std::string host = addr_port.substr(0, colon), port = addr_port.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoul(port) == 0 ||
      std::stoul(port) > 65535)
    return Fail(EINVAL, what + " '" + addr_port + "': '" + port + "' is not a port (1-65535)", hint);
  in_addr a4{};
  in6_addr a6{};
  if (host.size() > 2 && host.front() == '[' && host.back() == ']' &&
      ::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&a6)) return {};
  } else if (::inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    if ((ntohl(a4.s_addr) >> 24) == 127) return {};
  } else {
    return Fail(EINVAL, what + " '" + addr_port + "': '" + host + "' is not an IP address", hint);
  }
  return Fail(EINVAL,
              what + " '" + addr_port + "': " + host +
                  " is not a loopback address; the metrics endpoint has no authentication, so it only listens on "
                  "this host (scrape it through a local agent or a proxy)",
              hint);
}

}  // namespace cordon::daemon
