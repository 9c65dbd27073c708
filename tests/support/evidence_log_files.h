// tests/support/evidence_log_files.h: reading and rewriting a real evidence log's files
// (STATE/evidence-log/records, docs/evidence.md) the way a tamperer would, for the tests that
// check `cordon evidence verify` catches it (evidence_log_test, evidence_log_lifecycle_test), and
// reading the governance records the governance tests check.
#pragma once

#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "supervisor/evidence/encoding.h"
#include "supervisor/evidence/log.h"
#include "supervisor/evidence/merkle.h"

namespace cordon::test {

// A record hash as the log and `cordon evidence` print it.
inline std::string HashHex(const evlog::Hash& h) {
  return evlog::HexEncode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

// The records of the log directory `log`, each as its exact bytes (a failure to read fails the test).
inline std::vector<std::string> ReadRecords(const std::string& log) {
  auto rf = evlog::ReadRecordFile(log + "/records");
  EXPECT_TRUE(rf.has_value()) << rf.error().Message();
  return rf ? rf->records : std::vector<std::string>{};
}

// Replaces the log's records with `recs`, framed as the log frames them.
inline void WriteRecords(const std::string& log, const std::vector<std::string>& recs) {
  std::string bytes;
  for (const auto& r : recs) bytes += evlog::Frame(r);
  std::ofstream(log + "/records", std::ios::binary | std::ios::trunc) << bytes;
}

// The "data" of each governance record (kind "governance", docs/governance.md) of the log
// directory `log`, in order.
inline std::vector<nlohmann::json> GovernanceRecords(const std::string& log) {
  std::vector<nlohmann::json> out;
  for (const auto& r : ReadRecords(log)) {
    nlohmann::json j = nlohmann::json::parse(r);
    if (j.value("kind", "") == "governance") out.push_back(j["data"]);
  }
  return out;
}

}  // namespace cordon::test
