// supervisor/daemon/paths.h: where cordond and its clients look by default (docs/daemon.md).
// As root: /run/cordon/cordond.sock, /var/lib/cordon, /etc/cordon. Otherwise (rootless):
// $XDG_RUNTIME_DIR/cordon/cordond.sock, $XDG_STATE_HOME/cordon (~/.local/state/cordon) and
// $XDG_CONFIG_HOME/cordon (~/.config/cordon). CORDON_SOCKET overrides the socket for clients.
#pragma once

#include <string>

namespace cordon::daemon {

struct DefaultPaths {
  std::string socket;
  std::string state_dir;
  std::string config_dir;
};

// For the calling process's euid and environment.
DefaultPaths GetDefaultPaths();

// The socket a client uses: CORDON_SOCKET if set, else GetDefaultPaths().socket.
std::string ClientSocketPath();

}  // namespace cordon::daemon
