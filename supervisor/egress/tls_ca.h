// supervisor/egress/tls_ca.h: TLS interception's keys and contexts (docs/network.md "TLS
// interception"). The egress proxy terminates a task's TLS only for destinations a secret or an
// attached token is bound to; for those it shows the task a leaf certificate for the destination's
// name, signed by a per-deployment CA that only sandboxes trust, and itself makes a verified TLS
// connection to the real server.
//
// On disk, under DIR (cordond: STATE/tls, mode 0700):
//   ca-key.pem    the CA's private key (EC P-256, PKCS#8 PEM), mode 0600, created at first start
//   ca.pem        its self-signed certificate, 0644
// and under DIR/trust (0755), the two public files copied into a sandbox's /etc/cordon/tls:
//   egress-ca.pem  the CA certificate alone (NODE_EXTRA_CA_CERTS)
//   ca-bundle.pem  the host's CA bundle followed by the CA (SSL_CERT_FILE, CURL_CA_BUNDLE, ...)
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"

struct ssl_ctx_st;
struct x509_st;
struct evp_pkey_st;

namespace cordon::egress {

// Where the files land inside the sandbox, and the variables pointing at them.
inline constexpr const char* kSandboxTrustDir = "/etc/cordon/tls";
inline constexpr const char* kSandboxCaFile = "/etc/cordon/tls/egress-ca.pem";
inline constexpr const char* kSandboxBundleFile = "/etc/cordon/tls/ca-bundle.pem";
// K=V lines for the task's environment: SSL_CERT_FILE, CURL_CA_BUNDLE, REQUESTS_CA_BUNDLE,
// GIT_SSL_CAINFO (the bundle) and NODE_EXTRA_CA_CERTS (the CA alone).
std::vector<std::string> TrustEnvironment();

class InterceptCa {
 public:
  // Loads DIR/ca-key.pem and DIR/ca.pem or, when there are none, creates them; (re)writes the
  // trust files under DIR/trust when they differ. `host_bundle`: the host's CA bundle file to put
  // before the CA ("" or a missing file: the CA alone). A key readable by others is refused.
  static Result<std::shared_ptr<InterceptCa>> LoadOrCreate(const std::string& dir, const std::string& host_bundle,
                                                           std::vector<std::string>* notices);
  // A CA held only in memory (tests, benchmarks).
  static Result<std::shared_ptr<InterceptCa>> Generate();
  ~InterceptCa();

  // A server context presenting a leaf certificate for `host` (a name or an IP literal), signed
  // by this CA and valid for a day; cached per host, re-minted after 12 hours. Thread-safe.
  Result<std::shared_ptr<ssl_ctx_st>> ServerContext(const std::string& host);
  const std::string& cert_pem() const { return cert_pem_; }
  const std::string& trust_dir() const { return trust_dir_; }  // "" for Generate()

 private:
  InterceptCa() = default;
  Result<void> Init();  // the leaf key
  evp_pkey_st* ca_key_ = nullptr;
  x509_st* ca_cert_ = nullptr;
  evp_pkey_st* leaf_key_ = nullptr;  // one key for every leaf: only the certificates differ
  std::string cert_pem_, trust_dir_;
  struct Leaf;
  std::mutex mu_;
  std::vector<std::unique_ptr<Leaf>> leaves_;
};

// A client context verifying servers against `ca_file` ("" = the host's default store, OpenSSL's
// default paths), TLS 1.2 or later, offering only http/1.1 by ALPN.
Result<std::shared_ptr<ssl_ctx_st>> UpstreamContext(const std::string& ca_file);

// Everything the proxy needs to intercept: the CA and the verifying client context.
struct TlsInterception {
  std::shared_ptr<InterceptCa> ca;
  std::shared_ptr<ssl_ctx_st> upstream;
};

// The error queue's newest entry as text ("" when empty), clearing the queue.
std::string TakeSslError();

}  // namespace cordon::egress
