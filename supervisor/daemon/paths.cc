#include "supervisor/daemon/paths.h"

#include <unistd.h>

#include <cstdlib>

namespace cordon::daemon {
namespace {

std::string Env(const char* name) {
  const char* v = ::getenv(name);
  return v && *v == '/' ? std::string(v) : std::string();
}

std::string Home() {
  const char* h = ::getenv("HOME");
  return h && *h ? std::string(h) : "/tmp";
}

}  // namespace

DefaultPaths GetDefaultPaths() {
  DefaultPaths p;
  if (::geteuid() == 0) {
    p.socket = "/run/cordon/cordond.sock";
    p.state_dir = "/var/lib/cordon";
    p.config_dir = "/etc/cordon";
    return p;
  }
  std::string runtime = Env("XDG_RUNTIME_DIR");
  if (runtime.empty()) runtime = "/tmp/cordon-" + std::to_string(::geteuid());
  p.socket = runtime + "/cordon/cordond.sock";
  std::string state = Env("XDG_STATE_HOME");
  p.state_dir = (state.empty() ? Home() + "/.local/state" : state) + "/cordon";
  std::string config = Env("XDG_CONFIG_HOME");
  p.config_dir = (config.empty() ? Home() + "/.config" : config) + "/cordon";
  return p;
}

std::string ClientSocketPath() {
  const char* s = ::getenv("CORDON_SOCKET");
  if (s && *s) return s;
  return GetDefaultPaths().socket;
}

}  // namespace cordon::daemon
