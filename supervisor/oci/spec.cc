// supervisor/oci/spec.cc: config.json onto what a Cordon sandbox is (spec.h). Engines write many
// fields Cordon has no use for (apparmorProfile, cgroupsPath, maskedPaths...): those are accepted
// when they ask for nothing Cordon does not already give, and refused by name when they ask for
// the host (a namespace path, a device, a writable host path, a privileged capability, a hook).
#include "supervisor/oci/spec.h"

#include <nlohmann/json.hpp>

#include "supervisor/json_strict.h"

namespace cordon::oci {
namespace {

using nlohmann::json;

constexpr const char* kHint = "see docs/kubernetes.md \"What a pod can ask\"";

std::unexpected<Error> Refuse(const std::string& field, const std::string& why) {
  return FailMsg("config.json " + field + ": " + why, kHint);
}

// The mounts a runtime is expected to provide and that Cordon's sandbox has its own way.
bool Provided(const std::string& type, const std::string& dst) {
  static const std::map<std::string, std::vector<std::string>> kOwn = {
      {"proc", {"/proc"}},
      {"sysfs", {"/sys"}},
      {"cgroup", {"/sys/fs/cgroup"}},
      {"cgroup2", {"/sys/fs/cgroup"}},
      {"devpts", {"/dev/pts"}},
      {"mqueue", {"/dev/mqueue"}},
      {"tmpfs", {"/dev", "/dev/shm", "/tmp", "/run", "/run/lock", "/var/tmp"}},
      {"shm", {"/dev/shm"}},
  };
  auto it = kOwn.find(type);
  if (it == kOwn.end()) return false;
  for (const auto& d : it->second)
    if (d == dst) return true;
  return false;
}

// Host files an engine binds that Cordon's sandbox generates itself (rootfs.cc) or has no use for.
bool GeneratedByCordon(const std::string& dst) {
  for (const char* d : {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv", "/dev/shm",
                        "/run/secrets", "/dev/termination-log"})
    if (dst == d) return true;
  return false;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<uint64_t> Uint(const json& j, const std::string& field) {
  if (!j.is_number_integer() && !j.is_number_unsigned()) return Refuse(field, "must be an integer");
  if (j.is_number_integer() && j.get<int64_t>() < 0) return Refuse(field, "must not be negative");
  return j.get<uint64_t>();
}

Result<void> ParseProcess(const json& p, OciSpec* s) {
  if (!p.is_object()) return Refuse("process", "must be an object");
  s->terminal = p.value("terminal", false);
  if (!p.contains("args") || !p["args"].is_array() || p["args"].empty())
    return Refuse("process.args", "must be a non-empty array of strings (the command to run)");
  for (size_t i = 0; i < p["args"].size(); ++i) {
    if (!p["args"][i].is_string()) return Refuse("process.args[" + std::to_string(i) + "]", "must be a string");
    s->args.push_back(p["args"][i].get<std::string>());
  }
  if (p.contains("env")) {
    for (size_t i = 0; i < p["env"].size(); ++i) {
      const json& e = p["env"][i];
      if (!e.is_string() || e.get<std::string>().find('=') == std::string::npos)
        return Refuse("process.env[" + std::to_string(i) + "]", "must be a string KEY=VALUE");
      s->env.push_back(e.get<std::string>());
    }
  }
  if (p.contains("cwd")) {
    s->cwd = Str(p, "cwd");
    if (s->cwd.empty() || s->cwd[0] != '/') return Refuse("process.cwd", "must be an absolute path");
  }
  if (p.contains("user")) {
    const json& u = p["user"];
    if (u.contains("uid")) {
      CORDON_ASSIGN_OR_RETURN(s->uid, Uint(u["uid"], "process.user.uid"));
    }
    if (u.contains("gid")) {
      CORDON_ASSIGN_OR_RETURN(s->gid, Uint(u["gid"], "process.user.gid"));
    }
    if (u.contains("username") && !Str(u, "username").empty())
      return Refuse("process.user.username", "is for Windows containers; give uid and gid");
    if (u.contains("additionalGids") && !u["additionalGids"].empty())
      s->notes.push_back("process.user.additionalGids ignored: the task has its one group");
  }
  if (p.contains("capabilities") && p["capabilities"].is_object()) {
    for (const char* set : {"bounding", "effective", "permitted", "inheritable", "ambient"}) {
      auto it = p["capabilities"].find(set);
      if (it == p["capabilities"].end() || !it->is_array()) continue;
      for (const auto& c : *it) {
        if (!c.is_string()) continue;
        std::string cap = c.get<std::string>();
        if (IsPrivilegedCapability(cap))
          return Refuse(std::string("process.capabilities.") + set,
                        "asks for " + cap + ", which Cordon never grants (a privileged container); drop it "
                        "(podman --cap-drop=" + cap + ", or a pod securityContext without it)");
        if (std::string(set) == "bounding") s->capabilities.push_back(cap);
      }
    }
    if (!s->capabilities.empty())
      s->notes.push_back("process.capabilities not granted: a Cordon task runs with none");
  }
  if (p.contains("rlimits")) {
    for (size_t i = 0; i < p["rlimits"].size(); ++i) {
      const json& r = p["rlimits"][i];
      std::string type = Str(r, "type");
      if (type == "RLIMIT_NOFILE" && r.contains("hard")) {
        CORDON_ASSIGN_OR_RETURN(uint64_t hard, Uint(r["hard"], "process.rlimits[" + std::to_string(i) + "].hard"));
        if (hard == 0) return Refuse("process.rlimits[" + std::to_string(i) + "].hard", "RLIMIT_NOFILE must not be 0");
        s->nofile = hard;
      } else {
        s->notes.push_back("process.rlimits " + type + " ignored: Cordon's cgroup and policy limits hold instead");
      }
    }
  }
  if (p.contains("noNewPrivileges") && !p.value("noNewPrivileges", true))
    s->notes.push_back("process.noNewPrivileges false overridden: every Cordon task has no_new_privs");
  return {};
}

Result<void> ParseLinux(const json& l, OciSpec* s) {
  if (!l.is_object()) return Refuse("linux", "must be an object");
  bool has_net = false;
  if (l.contains("namespaces")) {
    for (size_t i = 0; i < l["namespaces"].size(); ++i) {
      const json& n = l["namespaces"][i];
      const std::string field = "linux.namespaces[" + std::to_string(i) + "]";
      std::string type = Str(n, "type");
      if (type != "pid" && type != "network" && type != "mount" && type != "ipc" && type != "uts" && type != "user" &&
          type != "cgroup" && type != "time")
        return Refuse(field + ".type", "'" + type + "' is not a namespace type of the runtime spec");
      if (!Str(n, "path").empty())
        return Refuse(field + ".path", "joins the existing " + type + " namespace " + Str(n, "path") +
                                           "; a Cordon sandbox always has namespaces of its own (for the network: "
                                           "podman --network none, or a pod without hostNetwork)");
      has_net = has_net || type == "network";
    }
  }
  if (!has_net)
    return Refuse("linux.namespaces", "has no network namespace, which means the host's network; Cordon gives "
                                      "every sandbox its own (podman --network none; no hostNetwork in a pod)");
  if (l.contains("devices") && l["devices"].is_array() && !l["devices"].empty())
    return Refuse("linux.devices[0]", "asks for the device " + Str(l["devices"][0], "path") +
                                          "; a Cordon sandbox has only /dev/null, zero, full, random, urandom and tty");
  if (l.contains("sysctl") && l["sysctl"].is_object()) {
    for (auto it = l["sysctl"].begin(); it != l["sysctl"].end(); ++it) {
      if (it.key().rfind("net.", 0) == 0) {
        s->notes.push_back("linux.sysctl " + it.key() + " ignored: the sandbox's network namespace keeps its defaults");
        continue;
      }
      return Refuse("linux.sysctl." + it.key(), "Cordon does not set kernel parameters for a container; drop it");
    }
  }
  if (l.contains("resources") && l["resources"].is_object()) {
    const json& r = l["resources"];
    if (r.contains("memory") && r["memory"].contains("limit") && !r["memory"]["limit"].is_null()) {
      const json& m = r["memory"]["limit"];
      if (m.is_number_integer() && m.get<int64_t>() == -1) {
        s->memory_bytes = 0;
      } else {
        CORDON_ASSIGN_OR_RETURN(uint64_t v, Uint(m, "linux.resources.memory.limit"));
        s->memory_bytes = v;
      }
    }
    if (r.contains("pids") && r["pids"].contains("limit") && !r["pids"]["limit"].is_null()) {
      const json& m = r["pids"]["limit"];
      if (m.is_number_integer() && m.get<int64_t>() <= 0) {
        s->pids = 0;
      } else {
        CORDON_ASSIGN_OR_RETURN(uint64_t v, Uint(m, "linux.resources.pids.limit"));
        s->pids = v;
      }
    }
    if (r.contains("cpu") && r["cpu"].is_object() && (r["cpu"].contains("quota") || r["cpu"].contains("shares")))
      s->notes.push_back("linux.resources.cpu ignored: Cordon budgets CPU time (limits.max_cpu_ms), not a rate");
  }
  if (l.contains("seccomp") && !l["seccomp"].is_null()) {
    if (!l["seccomp"].is_object() || !l["seccomp"].contains("defaultAction"))
      return Refuse("linux.seccomp", "must be an object with defaultAction");
    json prof = l["seccomp"];
    // Cordon's compiler reads the profile format podman and Docker write; the runtime-spec's
    // extra keys say how to load it, which Cordon decides itself (a listener for denials).
    prof.erase("flags");
    prof.erase("listenerPath");
    prof.erase("listenerMetadata");
    s->seccomp_json = prof.dump();
  }
  if (l.contains("uidMappings") || l.contains("gidMappings"))
    s->notes.push_back("linux.uidMappings/gidMappings replaced by Cordon's one-id map");
  return {};
}

Result<void> ParseMounts(const json& ms, const std::string& bundle, OciSpec* s) {
  if (!ms.is_array()) return Refuse("mounts", "must be an array");
  for (size_t i = 0; i < ms.size(); ++i) {
    const json& m = ms[i];
    const std::string field = "mounts[" + std::to_string(i) + "]";
    std::string dst = Str(m, "destination"), type = Str(m, "type"), src = Str(m, "source");
    if (dst.empty() || dst[0] != '/') return Refuse(field + ".destination", "must be an absolute path");
    bool bind = type == "bind" || type == "rbind";
    bool ro = false;
    if (m.contains("options"))
      for (const auto& o : m["options"]) {
        if (!o.is_string()) continue;
        std::string v = o.get<std::string>();
        bind = bind || v == "bind" || v == "rbind";
        ro = ro || v == "ro";
      }
    if (!bind) {
      if (Provided(type, dst)) continue;
      return Refuse(field, "a " + (type.empty() ? std::string("typeless") : type) + " mount at " + dst +
                               "; Cordon mounts only its own /proc, /dev, /tmp, /work and /dev/shm");
    }
    if (GeneratedByCordon(dst)) {
      s->notes.push_back(field + " " + dst + " replaced by the sandbox's own");
      continue;
    }
    if (!ro)
      return Refuse(field, "binds the host path " + src + " at " + dst +
                               " writable; Cordon gives host paths read-only (add the ro option: podman -v " + src +
                               ":" + dst + ":ro)");
    if (!src.empty() && src[0] != '/') src = bundle + "/" + src;
    s->mounts.push_back({src, dst});
  }
  return {};
}

}  // namespace

bool IsPrivilegedCapability(std::string_view cap) {
  for (const char* c : {"CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_PTRACE", "CAP_NET_ADMIN",
                        "CAP_SYS_BOOT", "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_BPF", "CAP_PERFMON", "CAP_SYS_TIME",
                        "CAP_DAC_READ_SEARCH", "CAP_LINUX_IMMUTABLE", "CAP_SYSLOG", "CAP_AUDIT_CONTROL",
                        "CAP_SYS_RESOURCE", "CAP_CHECKPOINT_RESTORE", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
                        "CAP_IPC_LOCK", "CAP_LEASE", "CAP_SYS_NICE", "CAP_SYS_TTY_CONFIG", "CAP_SYS_PACCT"})
    if (cap == c) return true;
  return false;
}

Result<OciSpec> ParseOciSpec(std::string_view text, const std::string& bundle) {
  CORDON_ASSIGN_OR_RETURN(json j, ParseStrictJson(text, "config.json in " + bundle, "a runtime-spec config.json"));
  if (!j.is_object()) return Refuse("(top level)", "must be an object");
  OciSpec s;
  s.oci_version = Str(j, "ociVersion");
  if (s.oci_version.rfind("1.", 0) != 0) return Refuse("ociVersion", "'" + s.oci_version + "' is not a 1.x runtime spec");
  if (!j.contains("root") || Str(j["root"], "path").empty()) return Refuse("root.path", "is required");
  s.root_path = Str(j["root"], "path");
  if (s.root_path[0] != '/') s.root_path = bundle + "/" + s.root_path;
  if (!j["root"].value("readonly", false))
    s.notes.push_back("root.readonly false: the root is read-only; /tmp, /work and /dev/shm are writable");
  if (!j.contains("process")) return Refuse("process", "is required");
  CORDON_TRY(ParseProcess(j["process"], &s));
  s.hostname = Str(j, "hostname");
  if (s.hostname.size() > 64) return Refuse("hostname", "is longer than 64 bytes");
  if (!j.contains("linux")) return Refuse("linux", "is required (Cordon runs Linux containers)");
  CORDON_TRY(ParseLinux(j["linux"], &s));
  if (j.contains("mounts")) CORDON_TRY(ParseMounts(j["mounts"], bundle, &s));
  if (j.contains("hooks") && j["hooks"].is_object())
    for (auto it = j["hooks"].begin(); it != j["hooks"].end(); ++it)
      if (it->is_array() && !it->empty())
        return Refuse("hooks." + it.key(), "Cordon does not run OCI hooks (they run on the host, outside the sandbox)");
  if (j.contains("annotations") && j["annotations"].is_object())
    for (auto it = j["annotations"].begin(); it != j["annotations"].end(); ++it)
      if (it->is_string()) s.annotations[it.key()] = it->get<std::string>();
  return s;
}

}  // namespace cordon::oci
