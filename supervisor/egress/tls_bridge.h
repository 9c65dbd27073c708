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

namespace cordon::egress {

// The proxy drives a bridge through this interface only, and opens one through the opener below:
// OpenSSL's implementation (tls_bridge.cc) is linked only into programs that can intercept.
class TlsBridge {
 public:
  // The client side waits for the task's ClientHello; the upstream side (SNI: `dest.host` unless
  // it is an IP literal) starts its handshake with the first WriteUpstream().
  static Result<std::unique_ptr<TlsBridge>> Create(const TlsInterception& tls, const Destination& dest);
  virtual ~TlsBridge() = default;

  // Ciphertext from the task's socket / the destination's socket.
  virtual void FromClient(std::string_view cipher) = 0;
  virtual void FromUpstream(std::string_view cipher) = 0;
  // Plaintext decrypted so far, appended to `*out`. An error ends the connection: a failed
  // handshake, or (upstream) a certificate that does not verify, with the reason
  // ("the certificate of api.example.com is not trusted: unable to get local issuer certificate").
  virtual Result<void> ReadClient(std::string* out) = 0;
  virtual Result<void> ReadUpstream(std::string* out) = 0;
  // Plaintext to encrypt; queued until the handshake on that side is done.
  virtual Result<void> WriteClient(std::string_view plain) = 0;
  virtual Result<void> WriteUpstream(std::string_view plain) = 0;
  // Sends close_notify to the task once everything queued is out.
  virtual void CloseClient() = 0;
  // Ciphertext to send, taken (the bridge keeps none of it).
  virtual std::string TakeForClient() = 0;
  virtual std::string TakeForUpstream() = 0;

  virtual bool client_closed() const = 0;      // the task sent close_notify
  virtual bool upstream_closed() const = 0;    // the destination did
  virtual bool upstream_verified() const = 0;
  // The destination's certificate, once verified: SHA-256 of its DER (hex) and its subject.
  virtual const std::string& upstream_cert_sha256() const = 0;
  virtual const std::string& upstream_cert_subject() const = 0;
};

// How the proxy opens a bridge (proxy_tls.cc). tls_ca.cc installs TlsBridge::Create when the
// program starts: every program that can make a TlsInterception links it (the CA is an InterceptCa).
// A program that never intercepts (the lean `cordon run`, docs/performance.md; secrets and tokens are
// cordond's) then links the proxy without OpenSSL's TLS.
using TlsBridgeOpener = Result<std::unique_ptr<TlsBridge>> (*)(const TlsInterception& tls, const Destination& dest);
void SetTlsBridgeOpener(TlsBridgeOpener open);

}  // namespace cordon::egress
