// supervisor/oci/main.cc: `cordon-runc`, the runc-compatible front end that container engines
// (Podman through conmon, containerd's io.containerd.runc.v2 shim) drive. docs/kubernetes.md.
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "supervisor/oci/container.h"
#include "supervisor/oci/exec.h"
#include "supervisor/oci/query.h"
#include "supervisor/oci/resources.h"
#include "supervisor/oci/state.h"

namespace cordon::oci {
namespace {

constexpr const char* kUsage =
    "usage: cordon-runc [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup] [--evidence-dir DIR]\n"
    "                   COMMAND ...\n"
    "A runc-compatible OCI runtime that runs each container in a Cordon sandbox (docs/kubernetes.md).\n"
    "commands:\n"
    "  create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ID\n"
    "  start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID\n"
    "  run [--bundle DIR] [--pid-file FILE] ID      create + start + wait\n"
    "  exec --process FILE [--detach] [--pid-file FILE] [--console-socket SOCK] ID\n"
    "  pause ID | resume ID       freeze and thaw the container's cgroup\n"
    "  update [--resources FILE|-] [--memory BYTES] [--pids-limit N] ID\n"
    "                             change the memory and pids limits of a running container\n"
    "  ps [--format table|json] ID | events --stats ID | features | --version\n";

Globals g_globals;

void LogError(const Error& e) {
  std::string msg = e.Message();
  if (!e.hint.empty()) msg += " (" + e.hint + ")";
  std::fprintf(stderr, "cordon-runc: %s\n", msg.c_str());
  if (g_globals.log.empty()) return;
  FILE* f = std::fopen(g_globals.log.c_str(), "ae");
  if (!f) return;
  if (g_globals.log_json) {
    nlohmann::json j = {{"level", "error"}, {"msg", msg}, {"time", NowRfc3339()}};
    std::fprintf(f, "%s\n", j.dump().c_str());
  } else {
    std::fprintf(f, "%s cordon-runc: %s\n", NowRfc3339().c_str(), msg.c_str());
  }
  std::fclose(f);
}

int Failed(const Error& e) {
  LogError(e);
  return 1;
}
int Usage(const std::string& why) { return Failed(Error{0, why, "cordon-runc --help"}); }

// One command's arguments: flags (--name VALUE, --name=VALUE, or a boolean) and positionals.
struct Args {
  std::vector<std::string> pos;
  std::map<std::string, std::string> val;
  std::map<std::string, bool> flag;
};

// `value_flags` take a value; every other --flag is a boolean. Short forms map to long names.
Result<Args> Parse(int argc, char** argv, std::initializer_list<const char*> value_flags,
                   std::initializer_list<std::pair<const char*, const char*>> shorts = {}) {
  Args a;
  for (int i = 0; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--") {
      for (++i; i < argc; ++i) a.pos.push_back(argv[i]);
      break;
    }
    if (s.size() < 2 || s[0] != '-') {
      a.pos.push_back(s);
      continue;
    }
    std::string name = s.substr(s.find_first_not_of('-')), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    for (auto [sh, lg] : shorts)
      if (name == sh) name = lg;
    bool takes = false;
    for (const char* v : value_flags) takes = takes || name == v;
    if (takes) {
      if (!has_value) {
        if (i + 1 >= argc) return FailMsg("--" + name + " needs a value", "cordon-runc --help");
        value = argv[++i];
      }
      a.val[name] = value;
    } else {
      a.flag[name] = !has_value || value == "true";
    }
  }
  return a;
}

int Done(Result<void> r) { return r ? 0 : Failed(r.error()); }

// Bytes as runc's --memory takes them: a number with an optional k, m, g (or kb, mb, gb) suffix;
// -1 is no limit.
Result<int64_t> ParseBytes(const std::string& s, const std::string& flag) {
  char* end = nullptr;
  long long n = std::strtoll(s.c_str(), &end, 10);
  std::string unit = end ? end : "";
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  int64_t mul = unit.empty() ? 1 : unit == "k" ? 1024 : unit == "m" ? 1024 * 1024 : unit == "g" ? 1024LL * 1024 * 1024 : 0;
  if (s.empty() || end == s.c_str() || mul == 0 || (n < 0 && n != -1))
    return FailMsg(flag + " '" + s + "' is not a size", "give bytes with an optional k, m or g suffix, e.g. 64m");
  return n < 0 ? -1 : static_cast<int64_t>(n) * mul;
}

// All of fd (stdin for --resources -).
Result<std::string> ReadAll(int fd) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(errno, "read stdin");
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

int Main(int argc, char** argv) {
  g_globals.root = DefaultRoot();
  int i = 1;
  for (; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) != 0 && s != "-v" && s != "-h") break;
    auto value = [&](const char* name, std::string* out) {
      std::string flag = std::string("--") + name;
      if (s == flag && i + 1 < argc) {
        *out = argv[++i];
        return true;
      }
      if (s.rfind(flag + "=", 0) == 0) {
        *out = s.substr(flag.size() + 1);
        return true;
      }
      return false;
    };
    std::string fmt, ignored;
    if (value("root", &g_globals.root) || value("log", &g_globals.log) ||
        value("evidence-dir", &g_globals.evidence_dir))
      continue;
    if (value("log-format", &fmt)) {
      if (fmt != "json" && fmt != "text") return Usage("--log-format must be text or json");
      g_globals.log_json = fmt == "json";
      continue;
    }
    if (value("criu", &ignored) || value("rootless", &ignored)) continue;
    if (s == "--systemd-cgroup") {
      g_globals.systemd_cgroup = true;
      continue;
    }
    if (s == "--debug") continue;
    if (s == "--version" || s == "-v") {
      std::printf("cordon-runc version %s\nspec: 1.0.2\n", CORDON_VERSION);
      return 0;
    }
    if (s == "--help" || s == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    return Usage("unknown global option '" + s + "'");
  }
  if (i >= argc) return Usage("no command given");
  const std::string cmd = argv[i];
  const int sub_argc = argc - i - 1;
  char** sub_argv = argv + i + 1;
  auto need_id = [](const Args& a, const std::string& c) -> Result<std::string> {
    if (a.pos.empty()) return FailMsg(c + " needs a container id", "cordon-runc --help");
    return a.pos[0];
  };
#define CORDON_PARSE(var, ...)                                \
  auto var##_r = Parse(sub_argc, sub_argv, __VA_ARGS__);      \
  if (!var##_r) return Failed(var##_r.error());               \
  Args var = std::move(*var##_r);                             \
  if (var.flag.contains("help") || var.flag.contains("h")) {  \
    std::fputs(kUsage, stdout);                               \
    return 0;                                                 \
  }
  if (cmd == "create" || cmd == "run") {
    CORDON_PARSE(a, {"bundle", "pid-file", "console-socket", "preserve-fds"}, {{"b", "bundle"}});
    auto id = need_id(a, cmd);
    if (!id) return Failed(id.error());
    CreateOptions o;
    o.id = *id;
    if (a.val.contains("bundle")) o.bundle = a.val["bundle"];
    o.pid_file = a.val["pid-file"];
    o.console_socket = a.val["console-socket"];
    if (a.val.contains("preserve-fds")) o.preserve_fds = std::atoi(a.val["preserve-fds"].c_str());
    if (cmd == "create") return Done(Create(g_globals, o));
    auto r = RunAndWait(g_globals, o);
    return r ? *r : Failed(r.error());
  }
  if (cmd == "start" || cmd == "state" || cmd == "delete" || cmd == "ps" || cmd == "events" || cmd == "pause" ||
      cmd == "resume") {
    CORDON_PARSE(a, {"format", "interval"}, {{"f", "force"}});
    auto id = need_id(a, cmd);
    if (!id) return Failed(id.error());
    if (cmd == "start") return Done(Start(g_globals, *id));
    if (cmd == "state") return Done(PrintState(g_globals, *id));
    if (cmd == "delete") return Done(Delete(g_globals, *id, a.flag["force"]));
    if (cmd == "ps") return Done(PrintPs(g_globals, *id, a.val["format"] == "json"));
    if (cmd == "events") {
      if (!a.flag["stats"])
        return Failed(Error{0, "events without --stats: Cordon reports no event stream",
                            "use events --stats, or read the evidence record at delete"});
      return Done(PrintStats(g_globals, *id));
    }
    if (cmd == "pause") return Done(Pause(g_globals, *id));
    return Done(Resume(g_globals, *id));
  }
  if (cmd == "kill") {
    CORDON_PARSE(a, {}, {{"a", "all"}});
    auto id = need_id(a, cmd);
    if (!id) return Failed(id.error());
    return Done(Kill(g_globals, *id, a.pos.size() > 1 ? a.pos[1] : "TERM", a.flag["all"]));
  }
  if (cmd == "exec") {
    CORDON_PARSE(a, {"process", "pid-file", "console-socket", "preserve-fds", "cwd", "user", "env", "process-label",
                     "apparmor", "cap", "cgroup"},
                 {{"p", "process"}, {"d", "detach"}, {"t", "tty"}, {"e", "env"}, {"u", "user"}});
    auto id = need_id(a, cmd);
    if (!id) return Failed(id.error());
    ExecOptions o;
    o.id = *id;
    o.process_file = a.val["process"];
    o.pid_file = a.val["pid-file"];
    o.console_socket = a.val["console-socket"];
    o.detach = a.flag["detach"];
    o.tty = a.flag["tty"];
    o.args.assign(a.pos.begin() + 1, a.pos.end());
    if (a.val.contains("preserve-fds") && std::atoi(a.val["preserve-fds"].c_str()) > 0)
      return Failed(Error{0, "--preserve-fds: Cordon hands a container no host fds", ""});
    auto r = Exec(g_globals, o);
    return r ? *r : Failed(r.error());
  }
  if (cmd == "update") {
    // runc's flags; those Cordon does not apply (CPU rates, swap, cpusets, block I/O) are recorded
    // as ignored, as config.json's are at create.
    static constexpr const char* kIgnoredFlags[] = {
        "memory-swap",    "memory-reservation", "kernel-memory", "kernel-memory-tcp", "cpu-period",
        "cpu-quota",      "cpu-share",          "cpu-rt-period", "cpu-rt-runtime",    "cpuset-cpus",
        "cpuset-mems",    "blkio-weight",       "l3-cache-schema", "mem-bw-schema"};
    CORDON_PARSE(a, {"resources", "r", "memory", "pids-limit", "memory-swap", "memory-reservation", "kernel-memory",
                     "kernel-memory-tcp", "cpu-period", "cpu-quota", "cpu-share", "cpu-rt-period", "cpu-rt-runtime",
                     "cpuset-cpus", "cpuset-mems", "blkio-weight", "l3-cache-schema", "mem-bw-schema"},
                 {{"r", "resources"}});
    auto id = need_id(a, cmd);
    if (!id) return Failed(id.error());
    ResourceUpdate u;
    if (a.val.contains("resources")) {
      const std::string& file = a.val["resources"];
      auto text = file == "-" ? ReadAll(0) : ReadWholeFile(file);
      if (!text) return Failed(Wrap(text.error(), "--resources " + file).error());
      auto parsed = ParseResources(*text);
      if (!parsed) return Failed(parsed.error());
      u = std::move(*parsed);
    }
    if (a.val.contains("memory")) {
      auto b = ParseBytes(a.val["memory"], "--memory");
      if (!b) return Failed(b.error());
      u.memory_limit = *b;
    }
    if (a.val.contains("pids-limit")) {
      char* end = nullptr;
      const std::string& v = a.val["pids-limit"];
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0') return Usage("--pids-limit '" + v + "' is not a number");
      u.pids_limit = n;
    }
    for (const char* f : kIgnoredFlags)
      if (a.val.contains(f)) u.ignored.push_back(std::string("--") + f);
    return Done(Update(g_globals, *id, u));
  }
  if (cmd == "features") {
    PrintFeatures();
    return 0;
  }
  if (cmd == "list" || cmd == "checkpoint" || cmd == "restore" || cmd == "spec")
    return Failed(Error{0, cmd + " is not a command of cordon-runc", "cordon-runc --help"});
  return Usage("unknown command '" + cmd + "'");
}

}  // namespace
}  // namespace cordon::oci

int main(int argc, char** argv) { return cordon::oci::Main(argc, argv); }
