// supervisor/egress/tls_bridge.cc: the two TLS sessions of an intercepted connection (OpenSSL 3,
// memory BIOs).
#include "supervisor/egress/tls_bridge.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "supervisor/egress/address.h"

namespace cordon::egress {
namespace {

Result<ssl_st*> NewSsl(SSL_CTX* ctx) {
  SSL* s = SSL_new(ctx);
  BIO* r = BIO_new(BIO_s_mem());
  BIO* w = BIO_new(BIO_s_mem());
  if (s == nullptr || r == nullptr || w == nullptr) {
    SSL_free(s);
    BIO_free(r);
    BIO_free(w);
    return FailMsg("TLS session: " + TakeSslError());
  }
  SSL_set_bio(s, r, w);  // s owns both
  SSL_set_mode(s, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
  return s;
}

std::string Drain(SSL* s) {
  BIO* w = SSL_get_wbio(s);
  std::string out(BIO_ctrl_pending(w), '\0');
  if (!out.empty()) {
    int n = BIO_read(w, out.data(), static_cast<int>(out.size()));
    out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  return out;
}

void Feed(SSL* s, std::string_view cipher) {
  if (!cipher.empty()) BIO_write(SSL_get_rbio(s), cipher.data(), static_cast<int>(cipher.size()));
}

}  // namespace

// OpenSSL's bridge: two sessions on memory BIOs.
class OpenSslTlsBridge final : public TlsBridge {
 public:
  static Result<std::unique_ptr<TlsBridge>> Create(const TlsInterception& tls, const Destination& dest);
  ~OpenSslTlsBridge() override;
  void FromClient(std::string_view cipher) override;
  void FromUpstream(std::string_view cipher) override;
  Result<void> ReadClient(std::string* out) override;
  Result<void> ReadUpstream(std::string* out) override;
  Result<void> WriteClient(std::string_view plain) override;
  Result<void> WriteUpstream(std::string_view plain) override;
  void CloseClient() override;
  std::string TakeForClient() override;
  std::string TakeForUpstream() override;
  bool client_closed() const override { return client_closed_; }
  bool upstream_closed() const override { return upstream_closed_; }
  bool upstream_verified() const override { return upstream_verified_; }
  const std::string& upstream_cert_sha256() const override { return cert_sha256_; }
  const std::string& upstream_cert_subject() const override { return cert_subject_; }

 private:
  OpenSslTlsBridge() = default;
  Result<void> Pump(SSL* s, std::string* pending, const char* side);
  Result<void> Read(SSL* s, std::string* out, bool* closed, const char* side);
  void NoteUpstreamVerified();
  SSL* client_ = nullptr;
  SSL* upstream_ = nullptr;
  std::string host_;
  std::string to_client_plain_, to_upstream_plain_;  // queued until the handshake completes
  bool closing_client_ = false, client_closed_ = false, upstream_closed_ = false, upstream_verified_ = false;
  std::string cert_sha256_, cert_subject_;
};

Result<std::unique_ptr<TlsBridge>> OpenSslTlsBridge::Create(const TlsInterception& tls, const Destination& dest) {
  if (!tls.ca || !tls.upstream) return FailMsg("TLS interception is not configured");
  CORDON_ASSIGN_OR_RETURN(std::shared_ptr<SSL_CTX> server, tls.ca->ServerContext(dest.host));
  std::unique_ptr<OpenSslTlsBridge> b(new OpenSslTlsBridge());
  b->host_ = dest.host;
  CORDON_ASSIGN_OR_RETURN(b->client_, NewSsl(server.get()));
  SSL_set_accept_state(b->client_);
  CORDON_ASSIGN_OR_RETURN(b->upstream_, NewSsl(tls.upstream.get()));
  SSL_set_connect_state(b->upstream_);
  // The server must prove the name (or the address) the task asked for.
  if (ParseIpLiteral(dest.host)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(b->upstream_), dest.host.c_str()) != 1)
      return FailMsg("TLS: verify address " + dest.host + ": " + TakeSslError());
  } else if (SSL_set_tlsext_host_name(b->upstream_, dest.host.c_str()) != 1 ||
             SSL_set1_host(b->upstream_, dest.host.c_str()) != 1) {
    return FailMsg("TLS: verify name " + dest.host + ": " + TakeSslError());
  }
  // The upstream handshake starts with the first WriteUpstream: the server hears nothing before
  // the task's request is complete and checked, and its verdict reaches a task whose own
  // handshake is done, so that a refusal can be told to it.
  return b;
}

OpenSslTlsBridge::~OpenSslTlsBridge() {
  SSL_free(client_);
  SSL_free(upstream_);
}

void OpenSslTlsBridge::FromClient(std::string_view cipher) { Feed(client_, cipher); }
void OpenSslTlsBridge::FromUpstream(std::string_view cipher) { Feed(upstream_, cipher); }
std::string OpenSslTlsBridge::TakeForClient() { return Drain(client_); }
std::string OpenSslTlsBridge::TakeForUpstream() { return Drain(upstream_); }

void OpenSslTlsBridge::NoteUpstreamVerified() {
  if (upstream_verified_ || !SSL_is_init_finished(upstream_)) return;
  upstream_verified_ = true;
  X509* cert = SSL_get0_peer_certificate(upstream_);
  if (cert == nullptr) return;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) == 1) {
    static const char* kHex = "0123456789abcdef";
    for (unsigned i = 0; i < len; ++i) {
      cert_sha256_ += kHex[md[i] >> 4];
      cert_sha256_ += kHex[md[i] & 15];
    }
  }
  char subject[512];
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
  cert_subject_ = subject;
}

// Runs the handshake, then writes what is queued; with memory BIOs a write never waits once the
// handshake is done.
Result<void> OpenSslTlsBridge::Pump(SSL* s, std::string* pending, const char* side) {
  if (!SSL_is_init_finished(s)) {
    int r = SSL_do_handshake(s);
    if (r != 1) {
      int e = SSL_get_error(s, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return {};
      if (s == upstream_ && SSL_get_verify_result(s) != X509_V_OK) {
        ERR_clear_error();
        return FailMsg("the certificate of " + host_ + " is not trusted: " +
                       X509_verify_cert_error_string(SSL_get_verify_result(s)));
      }
      std::string why = TakeSslError();
      return FailMsg(std::string("TLS handshake with the ") + side + " failed" + (why.empty() ? "" : ": " + why));
    }
  }
  if (s == upstream_) NoteUpstreamVerified();
  while (!pending->empty()) {
    int n = SSL_write(s, pending->data(), static_cast<int>(std::min<size_t>(pending->size(), 1 << 30)));
    if (n <= 0) {
      std::string why = TakeSslError();
      return FailMsg(std::string("TLS write to the ") + side + " failed" + (why.empty() ? "" : ": " + why));
    }
    pending->erase(0, static_cast<size_t>(n));
  }
  if (s == client_ && closing_client_) SSL_shutdown(s);
  return {};
}

Result<void> OpenSslTlsBridge::Read(SSL* s, std::string* out, bool* closed, const char* side) {
  std::string* pending = s == client_ ? &to_client_plain_ : &to_upstream_plain_;
  CORDON_TRY(Pump(s, pending, side));
  char buf[16384];
  while (!*closed && SSL_is_init_finished(s)) {
    int n = SSL_read(s, buf, sizeof buf);
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    int e = SSL_get_error(s, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      *closed = true;
      break;
    }
    std::string why = TakeSslError();
    return FailMsg(std::string("TLS read from the ") + side + " failed" + (why.empty() ? "" : ": " + why));
  }
  return Pump(s, pending, side);  // a read can finish the handshake: send what waited for it
}

Result<void> OpenSslTlsBridge::ReadClient(std::string* out) { return Read(client_, out, &client_closed_, "task"); }
Result<void> OpenSslTlsBridge::ReadUpstream(std::string* out) {
  return Read(upstream_, out, &upstream_closed_, "destination");
}

Result<void> OpenSslTlsBridge::WriteClient(std::string_view plain) {
  to_client_plain_.append(plain);
  return Pump(client_, &to_client_plain_, "task");
}

Result<void> OpenSslTlsBridge::WriteUpstream(std::string_view plain) {
  to_upstream_plain_.append(plain);
  return Pump(upstream_, &to_upstream_plain_, "destination");
}

void OpenSslTlsBridge::CloseClient() {
  closing_client_ = true;
  if (SSL_is_init_finished(client_) && to_client_plain_.empty()) SSL_shutdown(client_);
}

Result<std::unique_ptr<TlsBridge>> TlsBridge::Create(const TlsInterception& tls, const Destination& dest) {
  return OpenSslTlsBridge::Create(tls, dest);
}

}  // namespace cordon::egress
