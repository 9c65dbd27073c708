// supervisor/egress/proxy_impl.h: the egress proxy's state and its steps, shared by the files that
// implement them: proxy.cc (the loop: accept, dispatch, deadlines, records), proxy_request.cc (a
// client's request head, the policy's decision, resolving and connecting upstream) and
// proxy_relay.cc (moving bytes both ways once connected). Not a public interface.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/egress/proxy.h"
#include "supervisor/egress/proxy_conn.h"

namespace cordon::egress {
namespace proxy_internal {

inline constexpr uint64_t kNsPerMs = 1'000'000;
inline constexpr int kMaxEventsPerWait = 64;
inline constexpr int kMaxAcceptsPerWake = 64;
inline constexpr uint64_t kAcceptPauseNs = 100 * kNsPerMs;
inline constexpr size_t kStatusPeekMax = 4096;
inline constexpr const char* kEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";

// epoll data: connection id << 2 | side. Ids are never reused, so an event still queued for a
// connection that was closed (and whose fd number was reused) finds nothing and is dropped.
enum Side : uint64_t { kListenSide = 0, kClientSide = 1, kUpstreamSide = 2, kResolverSide = 3 };
inline uint64_t Tag(uint64_t id, Side s) { return id << 2 | s; }

inline std::string HostPortKey(const Destination& d) {
  if (d.host.find(':') != std::string::npos) return "[" + d.host + "]:" + std::to_string(d.port);
  return d.host + ":" + std::to_string(d.port);
}

inline std::string ErrnoText(const char* what, int err) { return std::string(what) + ": " + std::strerror(err); }

// Checks that `fd` is a listening socket and makes it non-blocking, for the proxy's own listener
// and each transparent one; `who` starts the error ("egress proxy", "transparent egress").
Result<void> AdoptListener(int fd, const std::string& who);

}  // namespace proxy_internal

struct Proxy::Impl {
  using Buffer = proxy_internal::Buffer;
  using Conn = proxy_internal::Conn;
  using State = proxy_internal::State;

  UniqueFd epoll, listen;
  OutboundPolicy policy;
  std::shared_ptr<const Credentials> credentials;  // secrets and tokens (secret.h); may be null
  Limits limits;
  std::unique_ptr<ResolverPool> resolver;
  uint64_t origin_ns = 0;
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
  std::vector<uint64_t> done_ids;
  std::map<std::string, size_t> dest_conns;
  std::map<std::string, uint64_t> dest_bytes;
  uint64_t calls = 0, reserved_calls = 0;
  std::vector<EgressRecord> records;
  uint64_t dropped_records = 0;
  bool listen_registered = false;
  uint32_t listen_mask_ = 0;
  uint64_t accept_paused_until = 0;
  // Transparent listeners (proxy_transparent.cc): epoll tag Tag(index + 1, kListenSide).
  struct TransparentListener {
    UniqueFd fd;
    Destination dest;
    bool registered = false;
    uint32_t mask = 0;
  };
  std::vector<TransparentListener> transparent;
  // The sandbox's DNS server (proxy_dns.cc): epoll tag Tag(1, kResolverSide).
  UniqueFd dns_fd;
  std::map<std::string, uint32_t> dns_names;
  std::set<std::string> dns_refused;  // names already recorded as refused: one record each

  // ---- registration -------------------------------------------------------------------------
  void SetMask(int fd, uint64_t tag, bool* registered, uint32_t* mask, uint32_t want);
  size_t UpRoom(const Conn& c) const;
  void UpdateInterest(Conn& c);
  void CloseUpstream(Conn& c);
  // ---- records and accounting ----------------------------------------------------------------
  void Emit(EgressRecord r);
  void ReleaseSlots(Conn& c);
  // A connection's record, once: when it closes, or as soon as the proxy's own response is out
  // (the drain that follows is not the destination's business).
  void EmitRecord(Conn& c);
  void Finish(Conn& c, const std::string& error = {});
  // The proxy's own response; the connection then only drains the client until it closes.
  void Reply(Conn& c, int status, const std::string& reason, const char* decision);
  void NoteOutcome(Conn& c, const std::string& reason, const char* decision);  // the record of a Reply
  // ---- accept --------------------------------------------------------------------------------
  void AcceptAll();
  // ---- request head --------------------------------------------------------------------------
  void ReadHead(Conn& c);
  void HandleHead(Conn& c, size_t head_len);
  void AddressesReady(Conn& c, std::vector<IpAddress> addrs);
  void StartConnect(Conn& c);
  void CheckConnect(Conn& c);
  void Connected(Conn& c);
  // ---- data ----------------------------------------------------------------------------------
  bool OverByteCap(Conn& c);
  void ReadClient(Conn& c);
  void FlushUp(Conn& c);
  void ReadUpstream(Conn& c);
  // Records the origin's final status: interim 1xx heads (100 Continue) are skipped.
  void PeekStatus(Conn& c, std::string_view data);
  void FlushDown(Conn& c);
  void MaybeDone(Conn& c);
  void DrainClient(Conn& c);
  // ---- transparent egress (proxy_transparent.cc) ---------------------------------------------
  void AcceptTransparent(size_t index);
  void PauseTransparent(bool paused);
  // A refusal or failure on a transparent connection: recorded, then the client is reset.
  void RefuseTransparent(Conn& c, const std::string& reason, const char* decision);
  // payload_class (and, for HTTP, the method) from the first bytes the client sent.
  void ClassifyPayload(Conn& c);
  // ---- DNS (proxy_dns.cc) --------------------------------------------------------------------
  void AnswerDnsQueries();
  // ---- TLS interception (proxy_tls.cc) -------------------------------------------------------
  // On a tunnel's first bytes: intercept when credentials are bound to its destination and the
  // bytes are a TLS handshake; otherwise the tunnel stays end to end.
  void MaybeIntercept(Conn& c);
  void TlsPump(Conn& c, std::string_view cipher);  // from the task
  void TlsFromUpstream(Conn& c, std::string_view cipher);
  void TlsUpstreamEof(Conn& c);
  void TlsSendOut(Conn& c);  // both sessions' ciphertext into `down` and `up`
  void HandleTlsHead(Conn& c, size_t head_len);
  void ReplyTls(Conn& c, int status, const std::string& reason, const char* decision);
  // ---- events --------------------------------------------------------------------------------
  void OnClientEvent(Conn& c, uint32_t ev);
  void OnUpstreamEvent(Conn& c, uint32_t ev);
  void OnResolverEvent();
  void Dispatch(uint64_t tag, uint32_t ev);
  void Reap();
  // ---- deadlines -----------------------------------------------------------------------------
  uint64_t Deadline(const Conn& c) const;
  void Expire(Conn& c, uint64_t now);
  void ExpireDeadlines();
  void Process();
};

}  // namespace cordon::egress
