#include "supervisor/seccomp/audit/diff.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

namespace cordon::seccomp::audit {
namespace {

constexpr size_t kMaxExamples = 8;

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string ArgsText(const Args& a, const std::vector<uint32_t>& compared) {
  std::string s;
  for (uint32_t i : compared) s += (s.empty() ? "" : ", ") + ("args[" + std::to_string(i) + "]=") + Hex(a[i]);
  return s;
}

std::vector<uint32_t> ComparedIndices(const Profile& a, const Profile& b, const std::string& name) {
  std::set<uint32_t> s;
  for (const Profile* p : {&a, &b})
    for (const auto& r : p->rules)
      if (r.syscall == name)
        for (const auto& c : r.conditions) s.insert(c.index);
  return {s.begin(), s.end()};
}

}  // namespace

std::vector<Change> DiffProfiles(const Profile& a, const Profile& b) {
  // Key: syscall, was, now, and the changed sample points (as a set) -> ABIs, so one change seen on
  // several ABIs prints once.
  using Key = std::tuple<std::string, std::string, std::string, std::vector<Args>>;
  std::map<Key, Change> merged;
  std::vector<Key> order;
  for (const auto& abi : KnownAbis()) {
    for (const auto& name : NamesOn(abi)) {
      const auto points = SamplePoints({&a, &b}, name);
      std::map<std::pair<std::string, std::string>, std::vector<std::pair<Args, std::pair<Decision, Decision>>>> by;
      for (const Args& x : points) {
        Decision da = Decide(a, abi, name, x, true), db = Decide(b, abi, name, x, true);
        std::string wa = Outcome(da), nb = Outcome(db);
        if (wa == nb) continue;
        by[{wa, nb}].push_back({x, {da, db}});
      }
      for (auto& [outcomes, hits] : by) {
        std::vector<Args> pts;
        for (const auto& h : hits) pts.push_back(h.first);
        Key k{name, outcomes.first, outcomes.second, pts};
        auto it = merged.find(k);
        if (it != merged.end()) {
          it->second.abis.push_back(abi.name);
          continue;
        }
        Change c;
        c.syscall = name;
        c.abis = {abi.name};
        c.all_args = hits.size() == points.size();
        c.regions = hits.size();
        for (size_t i = 0; i < hits.size() && i < kMaxExamples; ++i) c.examples.push_back(hits[i].first);
        c.compared = ComparedIndices(a, b, name);
        c.was = outcomes.first;
        c.now = outcomes.second;
        c.was_rule = hits[0].second.first.rule_path;
        c.now_rule = hits[0].second.second.rule_path;
        c.opens = !Runs(hits[0].second.first) && Runs(hits[0].second.second);
        c.closes = Runs(hits[0].second.first) && !Runs(hits[0].second.second);
        merged.emplace(k, std::move(c));
        order.push_back(k);
      }
    }
  }
  std::vector<Change> out;
  for (const auto& k : order) out.push_back(merged.at(k));
  return out;
}

std::string RenderDiffText(const std::string& a_name, const std::string& b_name, const std::vector<Change>& cs) {
  std::string out = "--- " + a_name + "\n+++ " + b_name + "\n";
  size_t opens = 0, closes = 0;
  for (const auto& c : cs) {
    opens += c.opens;
    closes += c.closes;
    std::string abis;
    for (const auto& x : c.abis) abis += (abis.empty() ? "" : ",") + x;
    std::string mark = c.opens ? "+ " : c.closes ? "- " : "~ ";
    out += mark + c.syscall + " [" + abis + "]";
    if (!c.all_args) {
      out += " where " + ArgsText(c.examples[0], c.compared);
      if (c.regions > 1) out += " (and " + std::to_string(c.regions - 1) + " more boundary value(s))";
    }
    out += ": " + c.was + " (" + c.was_rule + ") -> " + c.now + " (" + c.now_rule + ")\n";
  }
  out += std::to_string(cs.size()) + " change(s): " + std::to_string(opens) + " opening, " + std::to_string(closes) +
         " closing, " + std::to_string(cs.size() - opens - closes) + " other\n";
  return out;
}

std::string RenderDiffJson(const std::string& a_name, const std::string& b_name, const std::vector<Change>& cs) {
  using J = nlohmann::ordered_json;
  J j = {{"a", a_name}, {"b", b_name}, {"changes", J::array()}};
  for (const auto& c : cs) {
    J ex = J::array();
    for (const auto& e : c.examples) {
      J one = J::object();
      for (uint32_t i : c.compared) one["args[" + std::to_string(i) + "]"] = e[i];
      ex.push_back(one);
    }
    j["changes"].push_back({{"syscall", c.syscall}, {"abis", c.abis}, {"all_args", c.all_args},
                            {"regions", c.regions}, {"examples", ex}, {"was", c.was}, {"now", c.now},
                            {"was_rule", c.was_rule}, {"now_rule", c.now_rule},
                            {"kind", c.opens ? "opens" : c.closes ? "closes" : "changes"}});
  }
  j["differ"] = !cs.empty();
  return j.dump() + "\n";
}

}  // namespace cordon::seccomp::audit
