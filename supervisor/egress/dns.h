// supervisor/egress/dns.h: the answers of the sandbox's own DNS server (transparent egress,
// docs/network.md "DNS inside the sandbox"). Pure: one query packet in, one reply packet out.
//
// Only the policy's exact names exist: an allowed name's A query gets its 127.77.x.y (the address
// its transparent listener has, as in the sandbox's /etc/hosts); any other type of it gets an empty
// answer (NOERROR); every other name is NXDOMAIN. Nothing is ever asked of a real resolver, so a
// name the policy does not allow never leaves the sandbox, not even as a lookup.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace cordon::egress {

struct DnsAnswer {
  std::string reply;   // the packet to send back; "" when the query is dropped (not a DNS query)
  std::string name;    // the question's name, lower case, without the final dot
  uint16_t qtype = 0;  // 1 A, 28 AAAA, ...
  bool known = false;  // the name is one of `names`
};

// `names`: lower-case name -> IPv4 address (host byte order).
DnsAnswer AnswerDns(std::string_view query, const std::map<std::string, uint32_t>& names);

}  // namespace cordon::egress
