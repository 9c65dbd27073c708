// supervisor/task/task_egress.h: a running task's outbound network (docs/network.md): the egress
// proxy serving the sandbox's 127.0.0.1 proxy port and its transparent doors, started when PID 1
// hands their sockets over with exec-ok, and the egress records kept once the sandbox is gone.
// One part of a running task (task.h); supervisor side, driven by the task's loop.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/egress/proxy.h"
#include "supervisor/egress/record.h"

namespace cordon {

class TaskEgress {
 public:
  // Starts the proxy on `proxy_socket` for `policy` (calls bounded by `max_calls`, record times
  // from `origin_ns`) and attaches `transparent` listeners, fds[*next...]. On failure the message
  // says which part failed; the task cannot run without it and is to be killed.
  Result<void> Start(UniqueFd proxy_socket, const egress::OutboundPolicy& policy, uint64_t max_calls,
                     uint16_t proxy_port, uint64_t origin_ns, std::vector<UniqueFd>* fds, size_t* next,
                     uint32_t transparent);
  // Secrets and identity tokens the proxy adds to the task's requests; kept until it starts.
  void SetCredentials(std::shared_ptr<const egress::Credentials> c);

  // The proxy's fd to watch (POLLIN), -1 when it does not run.
  int fd() const { return proxy_ ? proxy_->fd() : -1; }
  void OnReadable() { proxy_->OnReadable(); }
  uint64_t NextDeadlineNs() const { return proxy_ ? proxy_->NextDeadlineNs() : 0; }
  void OnDeadline(uint64_t now_ns);
  // The sandbox is gone: close what it left open, keeping the records of those connections.
  void Finish();

  const std::vector<egress::EgressRecord>& records() const { return records_; }
  uint64_t calls() const { return calls_; }
  uint64_t dropped() const { return dropped_; }

 private:
  std::unique_ptr<egress::Proxy> proxy_;
  std::shared_ptr<const egress::Credentials> credentials_;
  std::vector<egress::EgressRecord> records_;
  uint64_t calls_ = 0, dropped_ = 0;
};

}  // namespace cordon
