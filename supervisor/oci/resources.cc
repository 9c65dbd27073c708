// supervisor/oci/resources.cc: pause, resume, update (resources.h).
#include "supervisor/oci/resources.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/syscalls.h"
#include "common/unique_fd.h"
#include "supervisor/oci/query.h"
#include "supervisor/oci/state.h"

namespace cordon::oci {
namespace {

using nlohmann::json;

Result<void> WriteControl(const std::string& path, const std::string& value, const std::string& field) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Fail(errno, field + ": open " + path);
  if (::write(fd.Get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    if (errno == EBUSY && field.find("memory") != std::string::npos)
      return Fail(errno, field + ": the container uses more memory than " + value,
                  "give a limit above its current usage (events --stats)");
    return Fail(errno, field + ": write " + value + " to " + path);
  }
  return {};
}

// The container's freezer: cgroup.freeze in its cgroup2 directory, else the v1 freezer's
// freezer.state. `v2` says which.
struct Freezer {
  std::string dir;
  bool v2 = false;
};

Result<Freezer> FindFreezer(const Globals& g, const std::string& id) {
  if (std::string d = ContainerCgroupDir(g, id, ""); !d.empty() && ::access((d + "/cgroup.freeze").c_str(), W_OK) == 0)
    return Freezer{d, true};
  if (std::string d = ContainerCgroupDir(g, id, "freezer"); !d.empty()) return Freezer{d, false};
  return FailMsg("container " + id + " has no cgroup freezer of its own (rootless without a delegated cgroup, "
                                     "or a kernel before 5.2 without the v1 freezer)",
                 "run the engine as root, or give it a delegated cgroup (systemd Delegate=yes)");
}

bool IsFrozen(const Freezer& f) {
  if (f.v2) {
    auto t = ReadWholeFile(f.dir + "/cgroup.events");
    return t && t->find("frozen 1") != std::string::npos;
  }
  auto t = ReadWholeFile(f.dir + "/freezer.state");
  return t && t->rfind("FROZEN", 0) == 0;
}

Result<void> SetFrozen(const std::string& id, const Freezer& f, bool frozen) {
  const std::string file = f.dir + (f.v2 ? "/cgroup.freeze" : "/freezer.state");
  CORDON_TRY(WriteControl(file, f.v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED"), "freezer"));
  // The kernel freezes asynchronously; a thaw is done when the write returns.
  if (!frozen) return {};
  const uint64_t deadline = sys::MonotonicNs() + 5'000'000'000ull;
  while (!IsFrozen(f)) {
    if (sys::MonotonicNs() >= deadline) {
      (void)WriteControl(file, f.v2 ? "0" : "THAWED", "freezer");
      return FailMsg("container " + id + ": its processes did not all freeze within 5 s (thawed again)",
                     "retry; a process in uninterruptible I/O delays the freezer");
    }
    ::usleep(1000);
  }
  return {};
}

// One line of the container's events.jsonl: what changed, when.
void Note(const std::string& dir, json event) {
  event["time"] = NowRfc3339();
  const std::string line = event.dump() + "\n";
  UniqueFd fd(::open((dir + "/events.jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (fd) (void)!::write(fd.Get(), line.data(), line.size());
}

Result<ContainerState> RunningContainer(const Globals& g, const std::string& id, const std::string& cmd,
                                        const std::string& want) {
  CORDON_ASSIGN_OR_RETURN(ContainerState st, ReadState(g.root, id));
  const std::string status = Status(g.root, st);
  if (status != want)
    return FailMsg(cmd + ": container " + id + " is " + status + ", not " + want,
                   want == "running" ? "start it first (or resume it)" : "pause it first");
  return st;
}

}  // namespace

Result<void> Pause(const Globals& g, const std::string& id) {
  CORDON_TRY(RunningContainer(g, id, "pause", "running"));
  CORDON_ASSIGN_OR_RETURN(Freezer f, FindFreezer(g, id));
  const std::string dir = ContainerDir(g.root, id);
  CORDON_TRY(SetFrozen(id, f, true));
  if (auto w = WriteFileAtomic(dir, "paused", f.dir + "\n"); !w) {
    (void)SetFrozen(id, f, false);
    return w;
  }
  Note(dir, {{"op", "pause"}, {"freezer", f.v2 ? "cgroup2" : "v1"}});
  return {};
}

Result<void> Resume(const Globals& g, const std::string& id) {
  CORDON_TRY(RunningContainer(g, id, "resume", "paused"));
  CORDON_ASSIGN_OR_RETURN(Freezer f, FindFreezer(g, id));
  const std::string dir = ContainerDir(g.root, id);
  CORDON_TRY(SetFrozen(id, f, false));
  ::unlink((dir + "/paused").c_str());
  Note(dir, {{"op", "resume"}});
  return {};
}

Result<ResourceUpdate> ParseResources(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return FailMsg("--resources: not a JSON object (an OCI linux.resources)", "");
  ResourceUpdate u;
  auto number = [](const json& v, const std::string& path, std::optional<int64_t>* out) -> Result<void> {
    if (v.is_null()) return {};
    if (!v.is_number_integer()) return FailMsg("--resources " + path + ": expected an integer", "");
    *out = v.get<int64_t>();
    return {};
  };
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (v.is_null() || (v.is_array() && v.empty()) || (v.is_object() && v.empty())) continue;
    if (k == "memory" && v.is_object()) {
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (m.key() == "limit") {
          CORDON_TRY(number(m.value(), "memory.limit", &u.memory_limit));
        } else if (!m.value().is_null()) {
          u.ignored.push_back("memory." + m.key());
        }
      }
    } else if (k == "pids" && v.is_object()) {
      if (v.contains("limit")) CORDON_TRY(number(v["limit"], "pids.limit", &u.pids_limit));
    } else if (k == "cpu" && v.is_object()) {
      for (auto c = v.begin(); c != v.end(); ++c)
        if (!c.value().is_null() && !(c.value().is_string() && c.value().get<std::string>().empty()))
          u.ignored.push_back("cpu." + c.key());
    } else {
      return FailMsg("--resources " + k + ": Cordon cannot change it on a running sandbox",
                     "recreate the container with it in config.json");
    }
  }
  return u;
}

Result<void> Update(const Globals& g, const std::string& id, const ResourceUpdate& u) {
  CORDON_ASSIGN_OR_RETURN(ContainerState st, ReadState(g.root, id));
  const std::string status = Status(g.root, st);
  if (status != "running" && status != "paused")
    return FailMsg("update: container " + id + " is " + status + ", not running", "");
  const std::string v2 = ContainerCgroupDir(g, id, "");
  // Each limit in the hierarchy that holds the controller for this container: its v1 directory,
  // else its cgroup2 one when that has the controller's file.
  auto where = [&](const std::string& v1_controller, const std::string& v1_file, const std::string& v2_file,
                   const std::string& field) -> Result<std::pair<std::string, bool>> {
    if (std::string d = ContainerCgroupDir(g, id, v1_controller); !d.empty()) return std::pair{d + "/" + v1_file, false};
    if (!v2.empty() && ::access((v2 + "/" + v2_file).c_str(), F_OK) == 0) return std::pair{v2 + "/" + v2_file, true};
    return FailMsg("update " + field + ": container " + id + " has no " + v1_controller + " controller in its cgroup" +
                       (v2.empty() ? " (it has no cgroup of its own: rootless without a delegated cgroup)" : ""),
                   "run the engine as root or with a delegated cgroup, or recreate the container with the new limit");
  };
  json set = json::object();
  if (u.memory_limit) {
    CORDON_ASSIGN_OR_RETURN(auto f, where("memory", "memory.limit_in_bytes", "memory.max", "memory.limit"));
    const bool none = *u.memory_limit < 0;
    const std::string value = none ? (f.second ? "max" : "-1") : std::to_string(*u.memory_limit);
    // v1: Cordon sets memory+swap (memsw) equal to the limit (no swap), and the kernel keeps memsw
    // >= limit: a raise writes memsw first, a cut writes it last (absent with swapaccount=0).
    const std::string memsw = f.first.substr(0, f.first.rfind('/')) + "/memory.memsw.limit_in_bytes";
    const bool has_memsw = !f.second && ::access(memsw.c_str(), W_OK) == 0;
    auto current = ReadWholeFile(f.first);
    const bool raise = none || !current || std::strtoull(current->c_str(), nullptr, 10) < uint64_t(*u.memory_limit);
    if (has_memsw && raise) CORDON_TRY(WriteControl(memsw, value, "memory.limit (memory+swap)"));
    CORDON_TRY(WriteControl(f.first, value, "memory.limit"));
    if (has_memsw && !raise) CORDON_TRY(WriteControl(memsw, value, "memory.limit (memory+swap)"));
    set["memory_bytes"] = none ? json(nullptr) : json(*u.memory_limit);
  }
  if (u.pids_limit) {
    CORDON_ASSIGN_OR_RETURN(auto f, where("pids", "pids.max", "pids.max", "pids.limit"));
    const bool none = *u.pids_limit <= 0;
    // v1: the outer shim sits in the task's pids cgroup too (task/accounting.cc): one more, as at create.
    const int64_t n = *u.pids_limit + (f.second ? 0 : 1);
    CORDON_TRY(WriteControl(f.first, none ? "max" : std::to_string(n), "pids.limit"));
    set["pids"] = none ? json(nullptr) : json(*u.pids_limit);
  }
  if (set.empty() && u.ignored.empty())
    return FailMsg("update: nothing to change", "give --memory, --pids-limit or --resources FILE");
  json event = {{"op", "update"}, {"set", set}};
  if (!u.ignored.empty()) event["ignored"] = u.ignored;  // as at create: Cordon budgets CPU time, not a rate
  Note(ContainerDir(g.root, id), std::move(event));
  return {};
}

std::string ContainerEvents(const std::string& dir) {
  json events = json::array();
  auto text = ReadWholeFile(dir + "/events.jsonl");
  if (text) {
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) {
      json e = json::parse(line, nullptr, false);
      if (e.is_object()) events.push_back(std::move(e));
    }
  }
  return events.dump();
}

}  // namespace cordon::oci
