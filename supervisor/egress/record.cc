#include "supervisor/egress/record.h"

#include <nlohmann/json.hpp>

namespace cordon::egress {

nlohmann::json ToJson(const EgressRecord& r) {
  // Every string here is ASCII: hosts, methods and allow entries passed the proxy's validators, so
  // dump() cannot throw on invalid UTF-8.
  nlohmann::json j = {
      {"time_us", r.time_us},       {"host", r.host},         {"address", r.address},
      {"port", r.port},             {"method", r.method},     {"decision", r.decision},
      {"reason", r.reason},         {"status", r.status},     {"bytes_up", r.bytes_up},
      {"bytes_down", r.bytes_down}, {"duration_us", r.duration_us},
  };
  if (!r.error.empty()) j["error"] = r.error;
  if (!r.via.empty()) j["via"] = r.via;
  if (!r.payload_class.empty()) j["payload_class"] = r.payload_class;
  if (!r.credentials.empty()) j["credentials"] = r.credentials;  // identity (secret.h)
  if (!r.tls.empty()) {
    j["tls"] = r.tls;
    if (!r.tls_server_sha256.empty()) j["tls_server_sha256"] = r.tls_server_sha256;
    // A subject is the server's text: kept only as valid UTF-8 would need checking, so replace
    // anything outside printable ASCII.
    std::string subj = r.tls_server_subject;
    for (char& ch : subj)
      if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e) ch = '?';
    if (!subj.empty()) j["tls_server_subject"] = subj;
  }
  return j;
}

}  // namespace cordon::egress
