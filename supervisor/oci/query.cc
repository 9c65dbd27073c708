// supervisor/oci/query.cc: state, ps, events --stats, features (query.h).
#include "supervisor/oci/query.h"

#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "supervisor/oci/spec.h"
#include "supervisor/oci/state.h"

namespace cordon::oci {
namespace {

uint64_t ReadNumber(const std::string& path) {
  auto t = ReadWholeFile(path);
  if (!t) return 0;
  return std::strtoull(t->c_str(), nullptr, 10);
}

// Key `key` of a flat "key value" file (memory.stat, cpu.stat).
uint64_t StatField(const std::string& path, const std::string& key) {
  auto t = ReadWholeFile(path);
  if (!t) return 0;
  std::istringstream in(*t);
  std::string k;
  uint64_t v;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

}  // namespace

Result<void> PrintState(const Globals& g, const std::string& id) {
  CORDON_ASSIGN_OR_RETURN(ContainerState st, ReadState(g.root, id));
  const std::string status = Status(g.root, st);
  nlohmann::json ann = nlohmann::json::object();
  for (const auto& [k, v] : st.annotations) ann[k] = v;
  nlohmann::json j = {{"ociVersion", "1.0.2"},
                      {"id", st.id},
                      {"pid", status == "stopped" ? 0 : st.pid},
                      {"status", status},
                      {"bundle", st.bundle},
                      {"rootfs", st.rootfs},
                      {"created", st.created},
                      {"owner", ""},
                      {"annotations", ann}};
  std::printf("%s\n", j.dump(2).c_str());
  return {};
}

Result<void> PrintPs(const Globals& g, const std::string& id, bool json) {
  CORDON_ASSIGN_OR_RETURN(ContainerState st, ReadState(g.root, id));
  std::vector<pid_t> pids;
  if (MonitorAlive(st)) {
    pids.push_back(st.pid);
    for (pid_t p : Descendants(st.pid)) pids.push_back(p);
  }
  if (json) {
    std::printf("%s\n", nlohmann::json(pids).dump().c_str());
  } else {
    std::printf("PID\n");
    for (pid_t p : pids) std::printf("%d\n", p);
  }
  return {};
}

std::string ContainerCgroupDir(const Globals& g, const std::string& id, const std::string& controller) {
  auto st = ReadState(g.root, id);
  if (!st || !MonitorAlive(*st)) return "";
  // The monitor stays where the engine put it; its descendants (the shim and the sandbox) are in
  // the task's cgroup.
  for (pid_t p : Descendants(st->pid)) {
    auto text = ReadWholeFile("/proc/" + std::to_string(p) + "/cgroup");
    if (!text) continue;
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      // hierarchy-id:controllers:path
      auto a = line.find(':'), b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
      if (path.find("task-") == std::string::npos) continue;
      if (controller.empty() && ctrls.empty()) {
        std::string base = ::access("/sys/fs/cgroup/unified", F_OK) == 0 ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
        return base + path;
      }
      std::istringstream cs(ctrls);
      std::string c;
      while (std::getline(cs, c, ','))
        if (c == controller) return "/sys/fs/cgroup/" + ctrls + path;
    }
  }
  return "";
}

Result<void> PrintStats(const Globals& g, const std::string& id) {
  CORDON_ASSIGN_OR_RETURN(ContainerState st, ReadState(g.root, id));
  if (!MonitorAlive(st)) return FailMsg("container " + id + " is not running", "");
  nlohmann::json data = nlohmann::json::object();
  // cgroup v1 controllers where the host has them, else the cgroup2 files.
  if (std::string mem = ContainerCgroupDir(g, id, "memory"); !mem.empty()) {
    data["memory"] = {{"usage", {{"usage", ReadNumber(mem + "/memory.usage_in_bytes")},
                                 {"max", ReadNumber(mem + "/memory.max_usage_in_bytes")},
                                 {"limit", ReadNumber(mem + "/memory.limit_in_bytes")}}},
                      {"cache", StatField(mem + "/memory.stat", "cache")}};
  } else if (std::string v2 = ContainerCgroupDir(g, id, ""); !v2.empty()) {
    data["memory"] = {{"usage", {{"usage", ReadNumber(v2 + "/memory.current")}}}};
  }
  if (std::string cpu = ContainerCgroupDir(g, id, "cpuacct"); !cpu.empty()) {
    data["cpu"] = {{"usage", {{"total", ReadNumber(cpu + "/cpuacct.usage")}}}};
  } else if (std::string v2 = ContainerCgroupDir(g, id, ""); !v2.empty()) {
    data["cpu"] = {{"usage", {{"total", StatField(v2 + "/cpu.stat", "usage_usec") * 1000}}}};
  }
  if (std::string pids = ContainerCgroupDir(g, id, "pids"); !pids.empty()) {
    data["pids"] = {{"current", ReadNumber(pids + "/pids.current")}, {"limit", ReadNumber(pids + "/pids.max")}};
  } else if (std::string v2 = ContainerCgroupDir(g, id, ""); !v2.empty()) {
    data["pids"] = {{"current", ReadNumber(v2 + "/pids.current")}};
  }
  nlohmann::json ev = {{"type", "stats"}, {"id", id}, {"data", data}};
  std::printf("%s\n", ev.dump().c_str());
  return {};
}

void PrintFeatures() {
  nlohmann::json f = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.1.0"},
      {"hooks", nlohmann::json::array()},
      {"mountOptions", {"bind", "rbind", "ro"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}},
        {"capabilities", nlohmann::json::array()},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
        {"seccomp", {{"enabled", true}, {"actions", {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_LOG", "SCMP_ACT_TRAP"}}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}}}},
      {"annotations", {{kPolicyAnnotation, "a Cordon policy (name or path) for the container"}}}};
  std::printf("%s\n", f.dump(2).c_str());
}

}  // namespace cordon::oci
