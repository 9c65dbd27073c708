// supervisor/seccomp/groups.cc: group lookup and expansion over the table in groups_table.cc.
#include "supervisor/seccomp/groups.h"

#include <functional>
#include <set>

#include <nlohmann/json.hpp>

#include "supervisor/sha256.h"

namespace cordon::seccomp {

bool IsKnownGroup(std::string_view name) {
  for (const auto& def : GroupTable()) {
    if (def.name == name) return true;
  }
  return false;
}

std::string KnownGroupNames() {
  std::string out;
  for (const auto& def : GroupTable()) out += (out.empty() ? "" : " ") + def.name;
  return out;
}

std::vector<std::string> ExpandGroup(std::string_view name) {
  std::set<std::string> out, seen;
  std::function<void(std::string_view)> add = [&](std::string_view g) {
    if (!seen.emplace(g).second) return;
    for (const auto& def : GroupTable()) {
      if (def.name != g) continue;
      for (const auto& m : def.members) {
        if (m.starts_with("@")) {
          add(m);
        } else {
          out.insert(m);
        }
      }
    }
  };
  add(name);
  return {out.begin(), out.end()};
}

// Taken by CMake from groups_table.cc's bytes (supervisor/CMakeLists.txt): a one-shot `cordon run`
// whose filter comes from the BPF cache never builds the table (~0.25 ms of a cold process's CPU).
std::string GroupTableDigest() { return CORDON_GROUPS_TABLE_SHA256; }

namespace {

using json = nlohmann::ordered_json;

std::unexpected<Error> Bad(const std::string& source, const std::string& path, const std::string& reason) {
  return FailMsg(source + ": " + path + ": " + reason);
}

std::unexpected<Error> UnknownGroup(const std::string& source, const std::string& path, const std::string& name) {
  return Bad(source, path, "unknown syscall group \"" + name + "\" (known groups: " + KnownGroupNames() + ")");
}

// The names of one entry with every group replaced by its members; first occurrence wins.
Result<json> ExpandNames(const json& names, const std::string& source, const std::string& path) {
  json out = json::array();
  std::set<std::string> seen;
  auto push = [&](const std::string& n) {
    if (seen.insert(n).second) out.push_back(n);
  };
  for (size_t i = 0; i < names.size(); ++i) {
    if (!names[i].is_string()) return Bad(source, path + "[" + std::to_string(i) + "]", "expected a string");
    std::string n = names[i].get<std::string>();
    if (!n.starts_with("@")) {
      push(n);
      continue;
    }
    if (!IsKnownGroup(n)) return UnknownGroup(source, path + "[" + std::to_string(i) + "]", n);
    for (const auto& m : ExpandGroup(n)) push(m);
  }
  return out;
}

}  // namespace

Result<std::string> ExpandProfileGroups(std::string_view json_text, const std::string& source_name) {
  json root;
  try {
    root = json::parse(json_text.begin(), json_text.end());
  } catch (const json::parse_error& e) {
    return Bad(source_name, "$", std::string("invalid JSON: ") + e.what());
  }
  if (!root.is_object()) return Bad(source_name, "$", "expected an object");
  if (root.contains("syscalls") && !root["syscalls"].is_null()) {
    json& rules = root["syscalls"];
    if (!rules.is_array()) return Bad(source_name, "syscalls", "expected an array");
    for (size_t i = 0; i < rules.size(); ++i) {
      const std::string path = "syscalls[" + std::to_string(i) + "]";
      json& r = rules[i];
      if (!r.is_object()) return Bad(source_name, path, "expected an object");
      if (r.contains("names") && r["names"].is_array()) {
        CORDON_ASSIGN_OR_RETURN(r["names"], ExpandNames(r["names"], source_name, path + ".names"));
      }
      if (r.contains("name") && r["name"].is_string() && r["name"].get<std::string>().starts_with("@")) {
        // The legacy single-name form cannot hold a list: the group's members move to `names`.
        const std::string g = r["name"].get<std::string>();
        if (!IsKnownGroup(g)) return UnknownGroup(source_name, path + ".name", g);
        json names = r.contains("names") && r["names"].is_array() ? r["names"] : json::array();
        for (const auto& m : ExpandGroup(g)) names.push_back(m);
        CORDON_ASSIGN_OR_RETURN(r["names"], ExpandNames(names, source_name, path + ".names"));
        r.erase("name");
      }
    }
  }
  return root.dump(2) + "\n";
}

}  // namespace cordon::seccomp
