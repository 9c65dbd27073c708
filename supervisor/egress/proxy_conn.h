// supervisor/egress/proxy_conn.h: one proxied connection's state, and the byte queue it moves data
// through. Only proxy.cc uses these; they live apart from the event loop that drives them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.h"
#include "supervisor/egress/address.h"
#include "supervisor/egress/policy.h"
#include "supervisor/egress/record.h"
#include "supervisor/egress/tls_bridge.h"

namespace cordon::egress::proxy_internal {

// A byte queue: append at the back, consume from the front, no per-write memmove.
class Buffer {
 public:
  size_t size() const { return data_.size() - start_; }
  bool empty() const { return size() == 0; }
  std::string_view view() const { return std::string_view(data_).substr(start_); }
  void Append(std::string_view s) { data_.append(s); }
  void Consume(size_t n) {
    start_ += n;
    if (start_ == data_.size()) {
      data_.clear();
      start_ = 0;
    } else if (start_ >= 16384 && start_ * 2 >= data_.size()) {
      data_.erase(0, start_);
      start_ = 0;
    }
  }
  void Assign(std::string s) {
    data_ = std::move(s);
    start_ = 0;
  }
  void Clear() { Assign({}); }

 private:
  std::string data_;
  size_t start_ = 0;
};

enum class State {
  kHead,        // reading the request head
  kResolving,   // waiting for the resolver pool
  kConnecting,  // non-blocking connect() in progress
  kTunnel,      // moving bytes both ways (forwarded request or CONNECT)
  kReplying,    // sending the proxy's own response, then draining until the client closes
  kDone,        // finished; reaped after the current event
};

struct Conn {
  uint64_t id = 0;
  UniqueFd client, upstream;
  uint32_t client_mask = 0, upstream_mask = 0;
  bool client_registered = false, upstream_registered = false;
  State state = State::kHead;
  Buffer up, down;  // up: towards the destination; down: towards the client
  bool client_eof = false, upstream_eof = false, upstream_shut = false, client_shut = false;
  bool connect_mode = false;
  bool body_unbounded = false;  // chunked request body: streamed until the client stops
  uint64_t body_left = 0;       // Content-Length bytes still to forward
  uint64_t start_ns = 0, activity_ns = 0, phase_deadline_ns = 0;
  Destination dest;
  std::string dest_key;  // "host:port", for per-destination caps
  std::vector<IpAddress> addrs;
  size_t next_addr = 0;
  std::string connect_error;
  bool holds_call = false;       // a reserved max_calls slot, not yet counted
  bool holds_dest_slot = false;  // counted in dest_conns
  bool has_record = false;     // something to report (a request head, or bytes of one)
  bool record_emitted = false;
  EgressRecord rec;
  bool transparent = false;  // accepted on a transparent listener (proxy_transparent.cc)
  std::string status_peek;  // start of the origin's response, until its final status line is read
  bool status_done = false;
  // TLS interception (proxy_tls.cc): decided on the tunnel's first bytes; once set, the socket
  // buffers `up` and `down` carry ciphertext and the request is read from `tls_plain`.
  bool tls_decided = false;
  std::unique_ptr<TlsBridge> tls;
  bool tls_head_done = false;
  std::string tls_plain;  // the task's plaintext: the request head until it is complete
};

}  // namespace cordon::egress::proxy_internal
