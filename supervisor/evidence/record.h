// supervisor/evidence/record.h: the task's evidence record (docs/evidence.md), built from the
// plain TaskReport (report.h) that the finished task fills in. Pure: no system calls.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "supervisor/evidence/report.h"

namespace cordon {

// The record as an object (cordond adds its admission block before serialising it once).
nlohmann::json BuildEvidence(const TaskReport& report);
// The record as one line of JSON. A command line or path need not be UTF-8: invalid bytes are
// replaced instead of failing the record.
std::string EvidenceText(const nlohmann::json& record);

}  // namespace cordon
