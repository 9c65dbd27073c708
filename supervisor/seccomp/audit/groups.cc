#include "supervisor/seccomp/audit/groups.h"

#include <nlohmann/json.hpp>

#include "supervisor/seccomp/audit/decide.h"

namespace cordon::seccomp::audit {

std::vector<GroupCoverage> GroupsFor(const Profile& p) {
  const Abi native = KnownAbis()[0];
  std::vector<GroupCoverage> out;
  for (const auto& def : GroupTable()) {
    GroupCoverage g;
    g.name = def.name;
    for (const auto& s : ExpandGroup(def.name)) {
      if (!NumberOn(native, s)) {
        ++g.absent;
        continue;
      }
      size_t runs = 0, points = 0;
      for (const Args& a : SamplePoints({&p}, s)) {
        ++points;
        runs += Runs(Decide(p, native, s, a, false));
      }
      if (runs == 0) {
        g.denied.push_back(s);
      } else {
        g.allowed.push_back(s);
        if (runs < points) g.partly.push_back(s);
      }
    }
    if (g.allowed.empty()) {
      g.verdict = "none";
    } else if (g.denied.empty() && g.partly.empty()) {
      g.verdict = "full";
    } else {
      g.verdict = "part";
    }
    out.push_back(std::move(g));
  }
  return out;
}

std::string RenderGroupsText(const std::string& source, const std::vector<GroupCoverage>& gs) {
  std::string out;
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
    return s;
  };
  for (const auto& g : gs) {
    std::string name = g.name;
    name.resize(18, ' ');
    std::string verdict = g.verdict;
    verdict.resize(5, ' ');
    out += name + verdict + std::to_string(g.allowed.size()) + "/" + std::to_string(g.allowed.size() + g.denied.size());
    if (g.verdict == "part") {
      if (g.denied.empty()) {
      } else if (g.allowed.size() <= g.denied.size()) {
        out += "  allowed: " + list(g.allowed);
      } else {
        out += "  denied: " + list(g.denied);
      }
      if (!g.partly.empty()) out += "  (for some arguments only: " + list(g.partly) + ")";
    }
    out += "\n";
  }
  out += source + ": " + std::to_string(gs.size()) + " groups (systemd's sets); full = every member allowed for every "
         "argument, none = no member ever runs\n";
  return out;
}

std::string RenderGroupsJson(const std::string& source, const std::vector<GroupCoverage>& gs) {
  nlohmann::ordered_json j = {{"source", source}, {"groups", nlohmann::ordered_json::array()}};
  for (const auto& g : gs) {
    j["groups"].push_back({{"group", g.name}, {"verdict", g.verdict}, {"allowed", g.allowed},
                           {"allowed_for_some_args", g.partly}, {"denied", g.denied}, {"absent_on_abi", g.absent}});
  }
  return j.dump() + "\n";
}

}  // namespace cordon::seccomp::audit
