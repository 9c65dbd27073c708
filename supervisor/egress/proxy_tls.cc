// supervisor/egress/proxy_tls.cc: TLS interception in the proxy (docs/network.md "TLS
// interception"). A tunnel (CONNECT, or a transparent connection) to a destination that a secret
// or an attached token is bound to, whose first bytes are a TLS handshake, is terminated here with
// the interception CA's leaf; its one request is then read in clear, checked and rewritten like a
// forwarded http:// request (secret.h), and sent over a second TLS session to the real server,
// whose certificate is verified first. Every other tunnel stays end to end.
#include <sys/socket.h>

#include "common/syscalls.h"
#include "supervisor/egress/http.h"
#include "supervisor/egress/proxy_impl.h"

namespace cordon::egress {
using namespace proxy_internal;  // NOLINT: this file implements the proxy

namespace {
constexpr unsigned char kTlsHandshakeRecord = 0x16;
// Set before main by tls_ca.cc where it is linked (tls_bridge.h); constant-initialised, so no order
// of initialisation can see it unset once set.
TlsBridgeOpener open_bridge = nullptr;
}  // namespace

void SetTlsBridgeOpener(TlsBridgeOpener open) { open_bridge = open; }

void Proxy::Impl::MaybeIntercept(Conn& c) {
  c.tls_decided = true;
  if (!credentials || !credentials->tls || !AnyBoundTo(*credentials, c.dest)) return;
  if (static_cast<unsigned char>(c.up.view().front()) != kTlsHandshakeRecord) return;  // not TLS: a plain tunnel
  if (open_bridge == nullptr) return Finish(c, "TLS interception: this program was linked without TLS");
  auto b = open_bridge(*credentials->tls, c.dest);
  if (!b) return Finish(c, "TLS interception: " + b.error().Message());
  c.tls = std::move(*b);
  c.rec.tls = "intercepted";
  if (c.rec.payload_class.empty()) ClassifyPayload(c);
  std::string hello(c.up.view());
  c.up.Clear();
  TlsPump(c, hello);
}

void Proxy::Impl::TlsSendOut(Conn& c) {
  if (std::string s = c.tls->TakeForClient(); !s.empty()) c.down.Append(s);
  if (std::string s = c.tls->TakeForUpstream(); !s.empty()) c.up.Append(s);
}

// Ciphertext the task sent: its handshake, then its request.
void Proxy::Impl::TlsPump(Conn& c, std::string_view cipher) {
  c.tls->FromClient(cipher);
  std::string plain;
  auto r = c.tls->ReadClient(&plain);
  TlsSendOut(c);
  if (!r) return Finish(c, r.error().Message());
  if (!c.tls_head_done) {
    c.tls_plain += plain;
    if (auto end = FindHeadEnd(c.tls_plain); end && *end <= limits.max_header_bytes) return HandleTlsHead(c, *end);
    if (c.tls_plain.size() > limits.max_header_bytes)
      return ReplyTls(c, 431, "request head larger than " + std::to_string(limits.max_header_bytes) + " bytes",
                      "error");
    if (c.tls->client_closed()) return Finish(c, "the task closed its TLS session before the request head was complete");
    return;
  }
  // The body that follows the head: Content-Length bytes, or a chunked body as it comes. Anything
  // after it (a second request on the same connection) is not forwarded: one request per connection.
  std::string_view body(plain);
  if (!c.body_unbounded) {
    body = body.substr(0, static_cast<size_t>(std::min<uint64_t>(body.size(), c.body_left)));
    c.body_left -= body.size();
  }
  if (!body.empty()) {
    if (auto w = c.tls->WriteUpstream(body); !w) return Finish(c, w.error().Message());
    TlsSendOut(c);
  }
}

// The request inside the tunnel: origin-form, to the destination the tunnel was opened for.
void Proxy::Impl::HandleTlsHead(Conn& c, size_t head_len) {
  c.tls_head_done = true;
  auto head = ParseRequestHead(std::string_view(c.tls_plain).substr(0, head_len));
  if (!head) return ReplyTls(c, 400, "bad request: " + head.error().context, "error");
  c.rec.method = head->method;
  if (!head->target.starts_with('/'))
    return ReplyTls(c, 400, "bad request: inside TLS to " + c.dest_key + ", send origin-form requests (GET /path)",
                    "error");
  auto framing = RequestFraming(*head);
  if (!framing) return ReplyTls(c, 400, "bad request: " + framing.error().context, "error");
  ProxyTarget target{c.dest.host, c.dest.port, head->target};
  std::string_view rest = std::string_view(c.tls_plain).substr(head_len);
  c.body_unbounded = framing->chunked;
  if (!framing->chunked && rest.size() > framing->length) rest = rest.substr(0, framing->length);
  c.body_left = framing->chunked ? 0 : framing->length - rest.size();
  std::string body(rest);
  // secret.h: substitute secrets, attach tokens, or refuse; exactly as for http://.
  auto o = ApplyToRequest(*credentials, c.dest, &*head, &target, &body, !framing->chunked && c.body_left == 0);
  if (!o.allow) return ReplyTls(c, 403, o.reason, "deny");
  c.rec.credentials = std::move(o.applied);
  std::string request = BuildOriginRequest(*head, target, 443) + body;
  c.tls_plain.clear();
  c.tls_plain.shrink_to_fit();
  c.status_done = false;
  if (auto w = c.tls->WriteUpstream(request); !w) return Finish(c, w.error().Message());
  TlsSendOut(c);
}

// Ciphertext from the destination: its handshake (the certificate is verified here), then its
// response, passed to the task over the task's session.
void Proxy::Impl::TlsFromUpstream(Conn& c, std::string_view cipher) {
  c.tls->FromUpstream(cipher);
  std::string plain;
  auto r = c.tls->ReadUpstream(&plain);
  if (c.tls->upstream_verified() && c.rec.tls_server_sha256.empty()) {
    c.rec.tls_server_sha256 = c.tls->upstream_cert_sha256();
    c.rec.tls_server_subject = c.tls->upstream_cert_subject();
  }
  if (!r) {
    // The request has not left (or the session broke): the task gets the reason in its own TLS.
    if (!c.tls->upstream_verified()) c.rec.credentials.clear();  // nothing was put anywhere
    TlsSendOut(c);
    return ReplyTls(c, 502, r.error().Message(), "allow");
  }
  if (!plain.empty()) {
    if (!c.status_done) PeekStatus(c, plain);
    if (auto w = c.tls->WriteClient(plain); !w) return Finish(c, w.error().Message());
  }
  if (c.tls->upstream_closed()) c.tls->CloseClient();
  TlsSendOut(c);
}

void Proxy::Impl::TlsUpstreamEof(Conn& c) {
  c.tls->CloseClient();
  TlsSendOut(c);
}

// The proxy's own response inside the task's TLS session, then close_notify.
void Proxy::Impl::ReplyTls(Conn& c, int status, const std::string& reason, const char* decision) {
  if (c.state == State::kDone) return;
  CloseUpstream(c);
  ReleaseSlots(c);
  NoteOutcome(c, reason, decision);
  c.rec.status = status;
  c.up.Clear();
  auto w = c.tls->WriteClient(ProxyResponse(status, reason));
  c.tls->CloseClient();
  if (std::string s = c.tls->TakeForClient(); !s.empty()) c.down.Append(s);
  if (!w) return Finish(c, w.error().Message());
  c.state = State::kReplying;
  c.phase_deadline_ns = sys::MonotonicNs() + static_cast<uint64_t>(limits.linger_ms) * kNsPerMs;
  FlushDown(c);
  UpdateInterest(c);
}

}  // namespace cordon::egress
