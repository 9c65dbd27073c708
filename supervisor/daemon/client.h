// supervisor/daemon/client.h: the client side of the cordond API (docs/api.md): one blocking
// connection that sends Request frames (with fds) and reads Response frames. Used by the `cordon`
// client subcommands (supervisor/cli/client.cc) and by the tests.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "proto/cordon.pb.h"
#include "supervisor/daemon/frame.h"

namespace cordon::daemon {

class ClientConnection {
 public:
  // Connects to the daemon's socket. The error names the path and what to check.
  static Result<ClientConnection> Open(const std::string& socket_path);

  // Sends one frame in one sendmsg; `fds` (borrowed) ride on its first byte as SCM_RIGHTS.
  Result<void> Send(const api::v1::Request& req, const int* fds = nullptr, size_t nfds = 0);
  // Sends raw bytes (tests use it to send broken frames).
  Result<void> SendRaw(const std::string& bytes);
  // The next Response frame. timeout_ms < 0 waits without a limit; on timeout the error is ETIMEDOUT.
  Result<api::v1::Response> Receive(int timeout_ms = -1);
  // Send with a fresh call_id, then Receive until the Response with that call_id arrives.
  Result<api::v1::Response> Call(api::v1::Request req, const int* fds = nullptr, size_t nfds = 0,
                                 int timeout_ms = -1);

  int fd() const { return fd_.Get(); }
  uint64_t NextCallId() { return next_call_++; }

 private:
  UniqueFd fd_;
  FrameDecoder decoder_;
  uint64_t next_call_ = 1;
};

}  // namespace cordon::daemon
