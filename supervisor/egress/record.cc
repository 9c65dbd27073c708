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
  return j;
}

}  // namespace cordon::egress
