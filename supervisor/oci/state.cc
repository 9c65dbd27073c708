// supervisor/oci/state.cc: the container directory (state.h).
#include "supervisor/oci/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/unique_fd.h"

namespace cordon::oci {

bool HostRoot() {
  if (::geteuid() != 0) return false;
  // The initial user namespace's map: "0 0 4294967295". A namespace that maps fewer ids is not
  // the host's, whatever uid 0 means inside it.
  auto map = ReadWholeFile("/proc/self/uid_map");
  if (!map) return true;
  std::istringstream in(*map);
  uint64_t inside = 0, outside = 0, count = 0, total = 0;
  bool zero_is_zero = false;
  while (in >> inside >> outside >> count) {
    total += count;
    if (inside == 0 && outside == 0) zero_is_zero = true;
  }
  return zero_is_zero && total >= 4294967295ull;
}

std::string DefaultRoot() {
  if (HostRoot()) return "/run/cordon-runc";
  if (const char* x = ::getenv("XDG_RUNTIME_DIR"); x && *x) return std::string(x) + "/cordon-runc";
  return "/tmp/cordon-runc-" + std::to_string(::geteuid());
}

Result<void> CheckId(const std::string& id) {
  auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (!first && (c == '_' || c == '.' || c == '-' || c == '+'));
  };
  bool good = !id.empty() && id.size() <= 1024;
  for (size_t i = 0; good && i < id.size(); ++i) good = ok(id[i], i == 0);
  if (!good)
    return FailMsg("container id '" + id + "' is not valid",
                   "use letters, digits, '_', '.', '-' and '+', starting with a letter or digit");
  return {};
}

std::string ContainerDir(const std::string& root, const std::string& id) { return root + "/" + id; }

Result<std::string> MakeContainerDir(const std::string& root, const std::string& id) {
  CORDON_TRY(CheckId(id));
  // Its parents too: containerd names /run/containerd/runc/<namespace> before it exists.
  for (size_t slash = root.find('/', 1); slash != std::string::npos; slash = root.find('/', slash + 1))
    if (::mkdir(root.substr(0, slash).c_str(), 0711) < 0 && errno != EEXIST)
      return Fail(errno, "create the runtime root's parent " + root.substr(0, slash), "give a writable --root");
  if (::mkdir(root.c_str(), 0700) < 0 && errno != EEXIST)
    return Fail(errno, "create the runtime root " + root, "give a writable --root");
  std::string dir = ContainerDir(root, id);
  if (::mkdir(dir.c_str(), 0700) < 0) {
    if (errno == EEXIST)
      return FailMsg("container " + id + " already exists in " + root, "delete it first, or choose another id");
    return Fail(errno, "create " + dir);
  }
  return dir;
}

Result<void> WriteFileAtomic(const std::string& dir, const std::string& name, const std::string& text) {
  std::string tmp = dir + "/." + name + ".tmp", path = dir + "/" + name;
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return Fail(errno, "create " + tmp);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd.Get(), text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(n < 0 ? errno : ENOSPC, "write " + tmp);
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.Get()) < 0) return Fail(errno, "fsync " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) < 0) return Fail(errno, "rename to " + path);
  return {};
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(errno ? errno : ENOENT, "read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<void> WriteState(const std::string& dir, const ContainerState& st) {
  nlohmann::json j = {{"id", st.id},         {"pid", st.pid},         {"pid_start", st.pid_start},
                      {"bundle", st.bundle}, {"rootfs", st.rootfs},   {"created", st.created},
                      {"uid", st.uid},       {"annotations", st.annotations},
                      {"evidence_dir", st.evidence_dir}};
  return WriteFileAtomic(dir, "state.json", j.dump() + "\n");
}

Result<ContainerState> ReadState(const std::string& root, const std::string& id) {
  CORDON_TRY(CheckId(id));
  std::string path = ContainerDir(root, id) + "/state.json";
  struct stat sb;
  if (::stat(path.c_str(), &sb) < 0)
    return FailMsg("container " + id + " does not exist in " + root, "list them with: ls " + root);
  CORDON_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return FailMsg("container " + id + ": " + path + " is not valid JSON", "delete the container with --force");
  ContainerState st;
  st.id = j.value("id", id);
  st.pid = j.value("pid", 0);
  st.pid_start = j.value("pid_start", uint64_t{0});
  st.bundle = j.value("bundle", "");
  st.rootfs = j.value("rootfs", "");
  st.created = j.value("created", "");
  st.uid = j.value("uid", 0u);
  st.evidence_dir = j.value("evidence_dir", "");
  if (j.contains("annotations") && j["annotations"].is_object())
    st.annotations = j["annotations"].get<std::map<std::string, std::string>>();
  return st;
}

uint64_t ProcessStartTime(pid_t pid) {
  auto text = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return 0;
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  auto close = text->rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(text->substr(close + 2));
  std::string field;
  std::vector<std::string> f;
  while (in >> field) f.push_back(field);
  // f[0] is field 3 (state); starttime is field 22.
  if (f.size() < 20 || f[0] == "Z" || f[0] == "X") return 0;
  return std::strtoull(f[19].c_str(), nullptr, 10);
}

bool MonitorAlive(const ContainerState& st) {
  return st.pid > 0 && st.pid_start != 0 && ProcessStartTime(st.pid) == st.pid_start;
}

std::string Status(const std::string& root, const ContainerState& st) {
  if (!MonitorAlive(st)) return "stopped";
  struct stat sb;
  if (::stat((ContainerDir(root, st.id) + "/start.fifo").c_str(), &sb) == 0) return "created";
  if (::stat((ContainerDir(root, st.id) + "/paused").c_str(), &sb) == 0) return "paused";
  return "running";
}

std::vector<pid_t> Descendants(pid_t pid) {
  std::vector<pid_t> out, todo{pid};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    std::string task_dir = "/proc/" + std::to_string(p) + "/task";
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(task_dir.c_str()), ::closedir);
    if (!d) continue;
    while (dirent* e = ::readdir(d.get())) {
      if (e->d_name[0] == '.') continue;
      auto kids = ReadWholeFile(task_dir + "/" + e->d_name + "/children");
      if (!kids) continue;
      std::istringstream in(*kids);
      pid_t c;
      while (in >> c) {
        out.push_back(c);
        todo.push_back(c);
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void RemoveContainerDir(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (d) {
    while (dirent* e = ::readdir(d.get())) {
      std::string n = e->d_name;
      if (n != "." && n != "..") ::unlink((dir + "/" + n).c_str());
    }
  }
  ::rmdir(dir.c_str());
}

std::string NowRfc3339() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  ::gmtime_r(&ts.tv_sec, &t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec);
  return buf;
}

}  // namespace cordon::oci
