// common/scm_rights.h: one message plus fds over an AF_UNIX socket (SCM_RIGHTS).
#pragma once

#include <sys/types.h>

#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace cordon {

inline constexpr size_t kMaxFdsPerMessage = 253;  // SCM_MAX_FD in the kernel

// Sends `len` bytes and `fds` (borrowed, not closed) in one sendmsg. Retries EINTR.
Result<void> SendMsg(int sock, const void* data, size_t len, const int* fds, size_t nfds);

struct ReceivedMsg {
  size_t len = 0;              // bytes of payload; 0 with eof=true means the peer closed
  bool eof = false;
  std::vector<UniqueFd> fds;   // received with MSG_CMSG_CLOEXEC
};

// Receives one message into `buf`. Fails (and closes every received fd) on MSG_CTRUNC,
// MSG_TRUNC, a control message that is not SCM_RIGHTS, or more than `max_fds` fds.
Result<ReceivedMsg> RecvMsg(int sock, void* buf, size_t cap, size_t max_fds, int flags = 0);

}  // namespace cordon
