// supervisor/oci/main.cc: `cordon-runc`, the runc-compatible front end that container engines
// (Podman through conmon, containerd's io.containerd.runc.v2 shim) drive. docs/kubernetes.md.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "supervisor/oci/container.h"
#include "supervisor/oci/exec.h"
#include "supervisor/oci/query.h"
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
    return Failed(Error{0, cmd + ": a Cordon sandbox cannot be frozen and thawed",
                        "stop the container instead (kill TERM, then delete)"});
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
  if (cmd == "update")
    return Failed(Error{0, "update: a running Cordon sandbox keeps the limits it was created with",
                        "recreate the container with the new limits"});
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
