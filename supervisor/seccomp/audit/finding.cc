#include "supervisor/seccomp/audit/finding.h"

#include <algorithm>
#include <array>
#include <map>

#include <nlohmann/json.hpp>

namespace cordon::seccomp::audit {
namespace {

constexpr std::array<std::string_view, 5> kNames = {"info", "low", "medium", "high", "critical"};

// SARIF has three levels; critical and high are errors, medium a warning, low and info notes.
const char* SarifLevel(Severity s) {
  if (s >= Severity::kHigh) return "error";
  if (s == Severity::kMedium) return "warning";
  return "note";
}

}  // namespace

std::string_view SeverityName(Severity s) { return kNames[static_cast<size_t>(s)]; }

std::optional<Severity> ParseSeverity(std::string_view s) {
  for (size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == s) return static_cast<Severity>(i);
  return std::nullopt;
}

void SortFindings(std::vector<Finding>* f) {
  std::stable_sort(f->begin(), f->end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity > b.severity;
    return a.path < b.path;
  });
}

bool AnyAtLeast(const std::vector<Finding>& f, Severity threshold) {
  return std::any_of(f.begin(), f.end(), [&](const Finding& x) { return x.severity >= threshold; });
}

std::string RenderText(const std::string& source, const std::vector<Finding>& f) {
  std::string out;
  std::array<int, 5> counts{};
  for (const auto& x : f) {
    ++counts[static_cast<size_t>(x.severity)];
    std::string sev(SeverityName(x.severity));
    sev.resize(9, ' ');
    out += sev + x.path + (x.syscall.empty() ? "" : " (" + x.syscall + ")") + ": " + x.message + " [" + x.rule + "]\n";
    if (!x.fix.empty()) out += "        fix: " + x.fix + "\n";
  }
  out += source + ": " + std::to_string(f.size()) + " finding" + (f.size() == 1 ? "" : "s");
  std::string parts;
  for (int i = 4; i >= 0; --i) {
    if (counts[i] == 0) continue;
    parts += (parts.empty() ? "" : ", ") + std::to_string(counts[i]) + " " + std::string(kNames[i]);
  }
  out += parts.empty() ? "\n" : " (" + parts + ")\n";
  return out;
}

std::string RenderJson(const std::string& source, const std::vector<Finding>& f) {
  nlohmann::ordered_json j;
  j["source"] = source;
  j["findings"] = nlohmann::ordered_json::array();
  nlohmann::ordered_json counts;
  for (auto n : kNames) counts[std::string(n)] = 0;
  for (const auto& x : f) {
    j["findings"].push_back({{"rule", x.rule}, {"severity", SeverityName(x.severity)}, {"path", x.path},
                             {"syscall", x.syscall}, {"message", x.message}, {"fix", x.fix}});
    counts[std::string(SeverityName(x.severity))] = counts[std::string(SeverityName(x.severity))].get<int>() + 1;
  }
  j["counts"] = counts;
  return j.dump() + "\n";
}

std::string RenderSarif(const std::string& uri, const std::string& tool_name, const std::vector<Finding>& f) {
  using J = nlohmann::ordered_json;
  J rules = J::array();
  std::map<std::string, size_t> rule_index;
  for (const auto& x : f) {
    if (rule_index.contains(x.rule)) continue;
    rule_index[x.rule] = rules.size();
    rules.push_back({{"id", x.rule},
                     {"shortDescription", {{"text", x.rule}}},
                     {"defaultConfiguration", {{"level", SarifLevel(x.severity)}}},
                     {"help", {{"text", x.fix.empty() ? x.message : x.fix}}}});
  }
  J results = J::array();
  for (const auto& x : f) {
    J loc = {{"physicalLocation", {{"artifactLocation", {{"uri", uri}}}}},
             {"logicalLocations", J::array({{{"fullyQualifiedName", x.path}, {"kind", "object"}}})}};
    results.push_back({{"ruleId", x.rule},
                       {"ruleIndex", rule_index[x.rule]},
                       {"level", SarifLevel(x.severity)},
                       {"message", {{"text", x.message + (x.fix.empty() ? "" : ". Fix: " + x.fix)}}},
                       {"locations", J::array({loc})},
                       {"properties", {{"severity", SeverityName(x.severity)}, {"syscall", x.syscall}}}});
  }
  J log = {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
           {"version", "2.1.0"},
           {"runs", J::array({{{"tool", {{"driver", {{"name", tool_name},
                                                    {"rules", rules}}}}},
                               {"artifacts", J::array({{{"location", {{"uri", uri}}}}})},
                               {"results", results}}})}};
  return log.dump(2) + "\n";
}

}  // namespace cordon::seccomp::audit
