// supervisor/evidence/keys.cc: Ed25519 keys through OpenSSL 3's EVP interface. Ed25519 signs the
// message itself (no pre-hash, RFC 8032 "PureEdDSA"), so the signature input is exactly the bytes
// given, which is what lets `openssl pkeyutl -verify -rawin` check a checkpoint.
#include "supervisor/evidence/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/unique_fd.h"
#include "supervisor/sha256.h"
#include "supervisor/evidence/encoding.h"

namespace cordon::evlog {
namespace {

std::string OpensslError() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

std::shared_ptr<EVP_PKEY> Own(EVP_PKEY* k) { return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free); }

Result<std::string> RawPublic(EVP_PKEY* k) {
  std::string raw(32, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(k, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 || len != 32)
    return FailMsg("read the Ed25519 public key: " + OpensslError());
  return raw;
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

}  // namespace

Result<PublicKey> PublicKey::FromRaw(std::string_view raw32) {
  if (raw32.size() != 32) return FailMsg("an Ed25519 public key is 32 bytes, got " + std::to_string(raw32.size()));
  PublicKey k;
  k.raw_ = std::string(raw32);
  return k;
}

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return FailMsg("BIO_new_mem_buf: " + OpensslError());
  auto k = Own(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!k) return FailMsg("not a PEM public key (-----BEGIN PUBLIC KEY-----): " + OpensslError());
  if (EVP_PKEY_get_id(k.get()) != EVP_PKEY_ED25519) return FailMsg("the public key is not an Ed25519 key");
  CORDON_ASSIGN_OR_RETURN(std::string raw, RawPublic(k.get()));
  return FromRaw(raw);
}

Result<PublicKey> PublicKey::LoadFile(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text) return Wrap(text.error(), "public key " + path);
  auto k = FromPem(*text);
  if (!k) return Wrap(k.error(), "public key " + path);
  return k;
}

bool PublicKey::Verify(std::string_view msg, std::string_view sig) const {
  if (sig.size() != 64 || raw_.size() != 32) return false;
  auto k = Own(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                           reinterpret_cast<const unsigned char*>(raw_.data()), raw_.size()));
  if (!k) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, k.get()) != 1) return false;
  const int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                                  reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
  ERR_clear_error();
  return ok == 1;
}

std::string PublicKey::KeyId() const { return Sha256Hex(raw_); }

std::string PublicKey::Pem() const {
  auto k = Own(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                           reinterpret_cast<const unsigned char*>(raw_.data()), raw_.size()));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!k || !bio || PEM_write_bio_PUBKEY(bio.get(), k.get()) != 1) return {};
  return BioText(bio.get());
}

Result<SigningKey> SigningKey::Generate() {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr),
                                                                   EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1)
    return FailMsg("generate an Ed25519 key: " + OpensslError());
  SigningKey k;
  k.pkey_ = Own(raw);
  CORDON_ASSIGN_OR_RETURN(std::string pub, RawPublic(raw));
  CORDON_ASSIGN_OR_RETURN(k.public_, PublicKey::FromRaw(pub));
  return k;
}

Result<SigningKey> SigningKey::Load(const std::string& private_path) {
  CORDON_ASSIGN_OR_RETURN(std::string pem, ReadWholeFile(private_path));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  auto k = Own(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!k)
    return FailMsg("signing key " + private_path + " is not a PEM private key: " + OpensslError(),
                   "restore the key file, or move it away to start a new log with a new key");
  if (EVP_PKEY_get_id(k.get()) != EVP_PKEY_ED25519)
    return FailMsg("signing key " + private_path + " is not an Ed25519 key",
                   "give the Ed25519 key the log was created with (`openssl genpkey -algorithm ed25519` makes one)");
  SigningKey s;
  s.pkey_ = k;
  CORDON_ASSIGN_OR_RETURN(std::string pub, RawPublic(k.get()));
  CORDON_ASSIGN_OR_RETURN(s.public_, PublicKey::FromRaw(pub));
  return s;
}

Result<void> CheckPrivateKeyFile(const std::string& path, const std::string& hint_what) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0)
    return Fail(errno, "signing key " + path, "point " + hint_what + " at a key file, or at a path cordond may create one");
  if (!S_ISREG(st.st_mode))
    return FailMsg("signing key " + path + " is " + (S_ISDIR(st.st_mode) ? "a directory" : "not a regular file") +
                       ", not a key file",
                   "point " + hint_what + " at a file (cordond creates it, 0600, when it does not exist)");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return FailMsg("signing key " + path + " has mode " + mode + ": others than its owner may read or change it",
                   "chmod 600 " + path + " (and check who may have copied it: if anyone did, rotate the key)");
  }
  if (st.st_uid != ::geteuid())
    return FailMsg("signing key " + path + " belongs to uid " + std::to_string(st.st_uid) + ", not to uid " +
                       std::to_string(::geteuid()) + " that signs with it",
                   "chown " + std::to_string(::geteuid()) + " " + path);
  if (::access(path.c_str(), R_OK) != 0)
    return Fail(errno, "read the signing key " + path, "make it readable by its owner: chmod 600 " + path);
  return {};
}

Result<SigningKey> SigningKey::LoadOrCreate(const std::string& private_path, const std::string& public_path,
                                            bool* created, const std::string& hint_what) {
  *created = false;
  struct stat st{};
  if (::lstat(private_path.c_str(), &st) == 0 || errno != ENOENT) {
    CORDON_TRY(CheckPrivateKeyFile(private_path, hint_what));
    CORDON_ASSIGN_OR_RETURN(SigningKey k, Load(private_path));
    // The public key beside the log is a copy for verifiers; put it back if it went missing.
    if (::access(public_path.c_str(), F_OK) != 0)
      CORDON_TRY(WriteFileAtomic(public_path, k.Public().Pem(), 0644, false));
    return k;
  }
  const std::string parent = private_path.substr(0, private_path.rfind('/') == std::string::npos ? 0 : private_path.rfind('/'));
  if (!parent.empty() && ::stat(parent.c_str(), &st) != 0)
    return Fail(errno, "create the signing key " + private_path + ": its directory " + parent,
                "create " + parent + " (mode 0700), or point " + hint_what + " elsewhere");
  CORDON_ASSIGN_OR_RETURN(SigningKey k, Generate());
  CORDON_ASSIGN_OR_RETURN(std::string pem, k.PrivatePem());
  CORDON_TRY(WriteFileAtomic(private_path, pem, 0600, true));
  CORDON_TRY(WriteFileAtomic(public_path, k.Public().Pem(), 0644, false));
  *created = true;
  return k;
}

Result<std::string> SigningKey::Sign(std::string_view msg) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::string sig(64, '\0');
  size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) != 1 ||
      len != 64)
    return FailMsg("Ed25519 sign: " + OpensslError());
  return sig;
}

Result<std::string> SigningKey::PrivatePem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return FailMsg("encode the signing key: " + OpensslError());
  return BioText(bio.get());
}

Result<void> WriteFileAtomic(const std::string& path, std::string_view bytes, unsigned mode, bool exclusive) {
  if (exclusive && ::access(path.c_str(), F_OK) == 0) return Fail(EEXIST, "create " + path);
  const std::string tmp = path + ".tmp";
  (void)::unlink(tmp.c_str());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) return Fail(errno, "create " + tmp);
  if (::fchmod(fd.Get(), mode) != 0) return Fail(errno, "chmod " + tmp);
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd.Get(), bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      (void)::unlink(tmp.c_str());
      return Fail(err, "write " + tmp);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.Get()) != 0) return Fail(errno, "fsync " + tmp);
  if (exclusive ? ::link(tmp.c_str(), path.c_str()) != 0 : ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    (void)::unlink(tmp.c_str());
    return Fail(err, (exclusive ? "link " : "rename ") + tmp + " to " + path);
  }
  if (exclusive) (void)::unlink(tmp.c_str());
  return {};
}

Result<std::string> ReadWholeFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Fail(errno, "open " + path);
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.Get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(errno, "read " + path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace cordon::evlog
