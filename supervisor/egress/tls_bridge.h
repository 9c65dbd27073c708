// supervisor/egress/tls_bridge.h: one intercepted connection's two TLS sessions, on memory BIOs so
// that the proxy's non-blocking loop keeps doing all socket I/O (docs/network.md "TLS
// interception"). Towards the task the bridge is the server, with a leaf for the destination from
// the interception CA; towards the destination it is a client that verifies the real server's
// certificate (chain and name) before a byte of the request leaves. No I/O, no threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "supervisor/egress/policy.h"
#include "supervisor/egress/tls_ca.h"

struct ssl_st;

namespace cordon::egress {

class TlsBridge {
 public:
  // The client side waits for the task's ClientHello; the upstream side (SNI: `dest.host` unless
  // it is an IP literal) starts its handshake with the first WriteUpstream().
  static Result<std::unique_ptr<TlsBridge>> Create(const TlsInterception& tls, const Destination& dest);
  ~TlsBridge();

  // Ciphertext from the task's socket / the destination's socket.
  void FromClient(std::string_view cipher);
  void FromUpstream(std::string_view cipher);
  // Plaintext decrypted so far, appended to `*out`. An error ends the connection: a failed
  // handshake, or (upstream) a certificate that does not verify, with the reason
  // ("the certificate of api.example.com is not trusted: unable to get local issuer certificate").
  Result<void> ReadClient(std::string* out);
  Result<void> ReadUpstream(std::string* out);
  // Plaintext to encrypt; queued until the handshake on that side is done.
  Result<void> WriteClient(std::string_view plain);
  Result<void> WriteUpstream(std::string_view plain);
  // Sends close_notify to the task once everything queued is out.
  void CloseClient();
  // Ciphertext to send, taken (the bridge keeps none of it).
  std::string TakeForClient();
  std::string TakeForUpstream();

  bool client_closed() const { return client_closed_; }      // the task sent close_notify
  bool upstream_closed() const { return upstream_closed_; }  // the destination did
  bool upstream_verified() const { return upstream_verified_; }
  // The destination's certificate, once verified: SHA-256 of its DER (hex) and its subject.
  const std::string& upstream_cert_sha256() const { return cert_sha256_; }
  const std::string& upstream_cert_subject() const { return cert_subject_; }

 private:
  TlsBridge() = default;
  Result<void> Pump(ssl_st* s, std::string* pending, const char* side);
  Result<void> Read(ssl_st* s, std::string* out, bool* closed, const char* side);
  void NoteUpstreamVerified();
  ssl_st* client_ = nullptr;
  ssl_st* upstream_ = nullptr;
  std::string host_;
  std::string to_client_plain_, to_upstream_plain_;  // queued until the handshake completes
  bool closing_client_ = false, client_closed_ = false, upstream_closed_ = false, upstream_verified_ = false;
  std::string cert_sha256_, cert_subject_;
};

}  // namespace cordon::egress
