// supervisor/egress/tls_ca.cc: the interception CA, its leaf certificates and the TLS contexts,
// through OpenSSL 3 (libssl, libcrypto).
#include "supervisor/egress/tls_ca.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/unique_fd.h"
#include "supervisor/egress/address.h"
#include "supervisor/egress/tls_bridge.h"

namespace cordon::egress {
namespace {

// The proxy opens its bridges through TlsBridge::Create, installed here (tls_bridge.h): this file is
// linked into every program that can make an interception CA, and into no other.
[[maybe_unused]] const bool kBridgeOpenerSet = (SetTlsBridgeOpener(&TlsBridge::Create), true);

constexpr long kCaLifeS = 10L * 365 * 24 * 3600;
constexpr long kLeafLifeS = 24L * 3600;
constexpr int64_t kLeafReuseS = 12 * 3600;
constexpr size_t kMaxFileBytes = 4u << 20;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;

int64_t NowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Result<std::string> ReadFile(const std::string& path, bool* missing) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.Get() < 0) {
    if (missing != nullptr && errno == ENOENT) {
      *missing = true;
      return std::string();
    }
    return Fail(errno, "open " + path);
  }
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.Get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(errno, "read " + path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxFileBytes) return FailMsg(path + " is larger than 4 MiB");
  }
  return out;
}

// Writes through a temporary file and rename(2), so that a reader never sees half a file.
Result<void> WriteAtomically(const std::string& path, std::string_view text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.Get() < 0) return Fail(errno, "create " + tmp);
  if (::fchmod(fd.Get(), mode) < 0) return Fail(errno, "chmod " + tmp);
  while (!text.empty()) {
    ssize_t n = ::write(fd.Get(), text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(n < 0 ? errno : EIO, "write " + tmp);
    text.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd.Get()) < 0) return Fail(errno, "fsync " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) < 0) return Fail(errno, "rename " + tmp);
  return {};
}

Result<void> WriteIfDifferent(const std::string& path, std::string_view text, mode_t mode) {
  bool missing = false;
  auto old = ReadFile(path, &missing);
  if (old && !missing && *old == text) return {};
  return WriteAtomically(path, text, mode);
}

Result<void> AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return FailMsg(std::string("certificate extension ") + OBJ_nid2sn(nid) + ": " + TakeSslError());
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return FailMsg("add certificate extension: " + TakeSslError());
  return {};
}

// A certificate for `subject_cn` with `key`'s public half, valid from an hour ago for `life_s`,
// with a random 127-bit serial. The caller adds extensions and signs.
Result<Cert> NewCert(const std::string& subject_cn, EVP_PKEY* key, long life_s) {
  Cert c(X509_new());
  if (!c) return FailMsg("X509_new: " + TakeSslError());
  X509_set_version(c.get(), 2);
  BIGNUM* serial = BN_new();
  if (serial == nullptr || BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(c.get())) == nullptr) {
    BN_free(serial);
    return FailMsg("certificate serial: " + TakeSslError());
  }
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), life_s);
  X509_NAME* name = X509_get_subject_name(c.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(subject_cn.c_str()),
                                 -1, -1, 0) != 1 ||
      X509_set_pubkey(c.get(), key) != 1)
    return FailMsg("certificate subject: " + TakeSslError());
  return c;
}

Result<std::string> CertPem(X509* cert) {
  Bio b(BIO_new(BIO_s_mem()));
  if (!b || PEM_write_bio_X509(b.get(), cert) != 1) return FailMsg("PEM of certificate: " + TakeSslError());
  char* p = nullptr;
  long n = BIO_get_mem_data(b.get(), &p);
  return std::string(p, static_cast<size_t>(n));
}

int SelectHttp11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                 void*) {
  static const unsigned char kHttp11[] = "\x08http/1.1";
  unsigned char* sel = nullptr;
  if (SSL_select_next_proto(&sel, outlen, kHttp11, sizeof kHttp11 - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;  // the client offers no http/1.1: speak without ALPN
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

std::string TakeSslError() {
  unsigned long e = 0, last = 0;
  while ((e = ERR_get_error()) != 0) last = e;
  if (last == 0) return {};
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  return buf;
}

std::vector<std::string> TrustEnvironment() {
  const std::string bundle = kSandboxBundleFile;
  return {"SSL_CERT_FILE=" + bundle, "CURL_CA_BUNDLE=" + bundle, "REQUESTS_CA_BUNDLE=" + bundle,
          "GIT_SSL_CAINFO=" + bundle, std::string("NODE_EXTRA_CA_CERTS=") + kSandboxCaFile};
}

struct InterceptCa::Leaf {
  std::string host;
  int64_t minted_s = 0;
  std::shared_ptr<SSL_CTX> ctx;
};

InterceptCa::~InterceptCa() {
  EVP_PKEY_free(ca_key_);
  X509_free(ca_cert_);
  EVP_PKEY_free(leaf_key_);
}

Result<void> InterceptCa::Init() {
  leaf_key_ = EVP_EC_gen("P-256");
  if (leaf_key_ == nullptr) return FailMsg("TLS interception leaf key: " + TakeSslError());
  auto pem = CertPem(ca_cert_);
  if (!pem) return std::unexpected(pem.error());
  cert_pem_ = std::move(*pem);
  return {};
}

Result<std::shared_ptr<InterceptCa>> InterceptCa::Generate() {
  std::shared_ptr<InterceptCa> ca(new InterceptCa());
  ca->ca_key_ = EVP_EC_gen("P-256");
  if (ca->ca_key_ == nullptr) return FailMsg("TLS interception CA key: " + TakeSslError());
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  CORDON_ASSIGN_OR_RETURN(Cert c, NewCert(std::string("Cordon egress interception CA (") + host + ")", ca->ca_key_,
                                          kCaLifeS));
  X509_set_issuer_name(c.get(), X509_get_subject_name(c.get()));
  CORDON_TRY(AddExt(c.get(), c.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  CORDON_TRY(AddExt(c.get(), c.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  CORDON_TRY(AddExt(c.get(), c.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(c.get(), ca->ca_key_, EVP_sha256()) <= 0) return FailMsg("sign the CA: " + TakeSslError());
  ca->ca_cert_ = c.release();
  CORDON_TRY(ca->Init());
  return ca;
}

Result<std::shared_ptr<InterceptCa>> InterceptCa::LoadOrCreate(const std::string& dir, const std::string& host_bundle,
                                                               std::vector<std::string>* notices) {
  if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) return Fail(errno, "mkdir " + dir);
  const std::string key_path = dir + "/ca-key.pem", cert_path = dir + "/ca.pem";
  std::shared_ptr<InterceptCa> ca;
  struct stat st{};
  if (::stat(key_path.c_str(), &st) == 0) {
    if ((st.st_mode & 077) != 0)
      return FailMsg(key_path + " is readable by others (mode " + std::to_string(st.st_mode & 0777) + ")",
                     "chmod 600 it, or remove it and the CA with it to create a new one");
    CORDON_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(key_path, nullptr));
    CORDON_ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(cert_path, nullptr));
    ca.reset(new InterceptCa());
    Bio kb(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    ca->ca_key_ = kb ? PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr) : nullptr;
    if (ca->ca_key_ == nullptr) return FailMsg(key_path + " is not a PEM private key: " + TakeSslError());
    Bio cb(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
    ca->ca_cert_ = cb ? PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr) : nullptr;
    if (ca->ca_cert_ == nullptr) return FailMsg(cert_path + " is not a PEM certificate: " + TakeSslError());
    if (X509_check_private_key(ca->ca_cert_, ca->ca_key_) != 1)
      return FailMsg(cert_path + " does not belong to " + key_path, "remove both to create a new CA");
    CORDON_TRY(ca->Init());
  } else {
    if (errno != ENOENT) return Fail(errno, "stat " + key_path);
    CORDON_ASSIGN_OR_RETURN(ca, Generate());
    Bio b(BIO_new(BIO_s_mem()));
    if (!b || PEM_write_bio_PrivateKey(b.get(), ca->ca_key_, nullptr, nullptr, 0, nullptr, nullptr) != 1)
      return FailMsg("PEM of the CA key: " + TakeSslError());
    char* p = nullptr;
    long n = BIO_get_mem_data(b.get(), &p);
    CORDON_TRY(WriteAtomically(key_path, std::string_view(p, static_cast<size_t>(n)), 0600));
    CORDON_TRY(WriteAtomically(cert_path, ca->cert_pem_, 0644));
    if (notices) notices->push_back("created the egress TLS interception CA " + cert_path);
  }
  ca->trust_dir_ = dir + "/trust";
  if (::mkdir(ca->trust_dir_.c_str(), 0755) < 0 && errno != EEXIST) return Fail(errno, "mkdir " + ca->trust_dir_);
  ::chmod(ca->trust_dir_.c_str(), 0755);
  bool missing = false;
  std::string bundle;
  if (!host_bundle.empty()) {
    CORDON_ASSIGN_OR_RETURN(bundle, ReadFile(host_bundle, &missing));
  }
  if (!bundle.empty() && !bundle.ends_with('\n')) bundle += '\n';
  bundle += "# Cordon egress interception CA: trusted inside Cordon's sandboxes only\n" + ca->cert_pem_;
  CORDON_TRY(WriteIfDifferent(ca->trust_dir_ + "/egress-ca.pem", ca->cert_pem_, 0644));
  CORDON_TRY(WriteIfDifferent(ca->trust_dir_ + "/ca-bundle.pem", bundle, 0644));
  return ca;
}

Result<std::shared_ptr<SSL_CTX>> InterceptCa::ServerContext(const std::string& host) {
  std::lock_guard lock(mu_);
  const int64_t now = NowS();
  for (auto& l : leaves_)
    if (l->host == host && now - l->minted_s < kLeafReuseS) return l->ctx;
  CORDON_ASSIGN_OR_RETURN(Cert c, NewCert(host, leaf_key_, kLeafLifeS));
  if (X509_set_issuer_name(c.get(), X509_get_subject_name(ca_cert_)) != 1)
    return FailMsg("leaf issuer: " + TakeSslError());
  const std::string san = (ParseIpLiteral(host) ? "IP:" : "DNS:") + host;
  CORDON_TRY(AddExt(c.get(), ca_cert_, NID_basic_constraints, "critical,CA:FALSE"));
  CORDON_TRY(AddExt(c.get(), ca_cert_, NID_key_usage, "critical,digitalSignature"));
  CORDON_TRY(AddExt(c.get(), ca_cert_, NID_ext_key_usage, "serverAuth"));
  CORDON_TRY(AddExt(c.get(), ca_cert_, NID_subject_alt_name, san.c_str()));
  CORDON_TRY(AddExt(c.get(), ca_cert_, NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(c.get(), ca_key_, EVP_sha256()) <= 0) return FailMsg("sign the leaf for " + host + ": " + TakeSslError());
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), CtxFree{});
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1 ||
      SSL_CTX_use_certificate(ctx.get(), c.get()) != 1 || SSL_CTX_use_PrivateKey(ctx.get(), leaf_key_) != 1)
    return FailMsg("TLS server context for " + host + ": " + TakeSslError());
  SSL_CTX_set_alpn_select_cb(ctx.get(), SelectHttp11, nullptr);
  std::erase_if(leaves_, [&](const auto& l) { return l->host == host || now - l->minted_s >= kLeafReuseS; });
  auto leaf = std::make_unique<Leaf>();
  leaf->host = host;
  leaf->minted_s = now;
  leaf->ctx = ctx;
  leaves_.push_back(std::move(leaf));
  return ctx;
}

Result<std::shared_ptr<SSL_CTX>> UpstreamContext(const std::string& ca_file) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), CtxFree{});
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1)
    return FailMsg("TLS client context: " + TakeSslError());
  int ok = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx.get())
                           : SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr);
  if (ok != 1)
    return FailMsg("load the CA certificates to verify servers with" + (ca_file.empty() ? "" : " from " + ca_file) +
                   ": " + TakeSslError());
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  static const unsigned char kHttp11[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(ctx.get(), kHttp11, sizeof kHttp11 - 1);
  return ctx;
}

}  // namespace cordon::egress
