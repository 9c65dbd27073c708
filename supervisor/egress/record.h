// supervisor/egress/record.h: one line of egress telemetry per proxied request or CONNECT, for the
// evidence `egress` array (docs/network.md). Never payloads, never credentials: no URL, path,
// query or header is recorded, and the host comes from the target with userinfo removed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace cordon::egress {

struct EgressRecord {
  uint64_t time_us = 0;     // when the client connected, CLOCK_MONOTONIC minus the caller's origin
  std::string host;         // destination as asked for: name or IP literal; "" if never parsed
  std::string address;      // the address connected to (or the first refused one); "" if none
  uint16_t port = 0;
  std::string method;       // "GET", "POST", ..., "CONNECT"; "" if the request line was unreadable
  std::string decision;     // "allow", "deny" (policy or limits), "error" (bad request, timeout, ...)
  std::string reason;       // why; for "allow", the matching entry or "public destination (monitored)"
  int status = 0;           // status the client got: the origin's, or the proxy's own; 0 if none
  uint64_t bytes_up = 0;    // bytes sent to the destination (request head and body, or tunnel)
  uint64_t bytes_down = 0;  // bytes received from the destination
  uint64_t duration_us = 0; // client connect to close
  std::string error;        // how an allowed connection ended early ("idle timeout", "connect: ..."); "" if clean
  std::string via;          // "transparent" for a client that ignored the proxy variables; "" through the proxy
  std::string payload_class;  // what the first bytes up look like: http, tls, ssh, postgres, opaque; "" if none
  // What the proxy put into the request (docs/identity.md): "secret:<name>", "token:<audience>";
  // names only, never values. Empty (and left out of the JSON) for none.
  std::vector<std::string> credentials;
  // TLS interception (docs/network.md): "intercepted" when the proxy terminated the task's TLS;
  // then the destination's verified certificate: SHA-256 of its DER (hex) and its subject.
  std::string tls;
  std::string tls_server_sha256, tls_server_subject;
};

// {"time_us":..,"host":..,"address":..,"port":..,"method":..,"decision":..,"reason":..,
//  "status":..,"bytes_up":..,"bytes_down":..,"duration_us":..[,"error":..]}
nlohmann::json ToJson(const EgressRecord& r);

}  // namespace cordon::egress
