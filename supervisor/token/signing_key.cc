// supervisor/token/signing_key.cc: the Ed25519 signing key through OpenSSL's libcrypto (EVP), its
// files, and the published key set.
#include "supervisor/token/signing_key.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/unique_fd.h"
#include "supervisor/json_strict.h"
#include "supervisor/sha256.h"
#include "supervisor/token/base64url.h"
#include "supervisor/token/rotation.h"

namespace cordon::token {
namespace {

using json = nlohmann::json;
constexpr size_t kRawKeyBytes = 32;
constexpr size_t kSignatureBytes = 64;

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Fail(errno, "open " + path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Writes `text` to `path` through a temporary file and rename(2), so a reader never sees half.
Result<void> WriteFileAtomically(const std::string& path, std::string_view text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.Get() < 0) return Fail(errno, "create " + tmp);
  if (::fchmod(fd.Get(), mode) < 0) return Fail(errno, "chmod " + tmp);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd.Get(), text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(errno, "write " + tmp);
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.Get()) < 0) return Fail(errno, "fsync " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) < 0) return Fail(errno, "rename " + tmp + " to " + path);
  return {};
}

}  // namespace

struct SigningKey::Holder {
  Pkey key;
};

Result<SigningKey> SigningKey::FromHolder(std::shared_ptr<Holder> h) {
  if (EVP_PKEY_get_id(h->key.get()) != EVP_PKEY_ED25519) return FailMsg("the signing key is not an Ed25519 key");
  std::string raw(kRawKeyBytes, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(h->key.get(), reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 ||
      len != kRawKeyBytes)
    return FailMsg("cannot read the Ed25519 public key (OpenSSL)");
  PublicKey pub{Thumbprint(raw), raw};
  return SigningKey(std::move(h), std::move(pub));
}

Result<SigningKey> SigningKey::Generate() {
  auto h = std::make_shared<Holder>();
  h->key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!h->key) return FailMsg("cannot generate an Ed25519 key (OpenSSL)");
  return FromHolder(std::move(h));
}

Result<SigningKey> SigningKey::LoadOrCreate(const std::string& dir, std::vector<std::string>* notices) {
  if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) return Fail(errno, "mkdir " + dir);
  const std::string pem_path = dir + "/signing-key.pem";
  std::shared_ptr<Holder> h;
  struct stat st{};
  if (::lstat(pem_path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) return FailMsg(pem_path + " is not a regular file", "remove it; cordond creates a new key");
    if ((st.st_mode & 077) != 0)
      return FailMsg(pem_path + " is readable or writable by group or others", "chmod 600 it, and rotate the key if others read it");
    CORDON_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(pem_path));
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    h = std::make_shared<Holder>();
    h->key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!h->key) return FailMsg(pem_path + " holds no PEM private key", "restore it from a backup, or remove it to get a new key");
  } else if (errno == ENOENT) {
    CORDON_ASSIGN_OR_RETURN(SigningKey fresh, Generate());
    std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), fresh.key_->key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
      return FailMsg("cannot encode the new signing key (OpenSSL)");
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    CORDON_TRY(WriteFileAtomically(pem_path, std::string_view(data, static_cast<size_t>(n)), 0600));
    if (notices) notices->push_back("token signing key created: " + pem_path);
    h = fresh.key_;
  } else {
    return Fail(errno, "stat " + pem_path);
  }
  CORDON_ASSIGN_OR_RETURN(SigningKey k, FromHolder(std::move(h)));
  // Rewritten only when it differs: a restart on a full state disk (docs/daemon.md "State disk
  // full") must not fail on a key set that is already right.
  // The current key and the retired ones still within their tokens' lives (rotation.h).
  CORDON_ASSIGN_OR_RETURN(std::vector<PublicKey> published,
                          PublishedKeys(dir, k.public_key(), static_cast<int64_t>(std::time(nullptr))));
  const std::string jwks = JwksJson(published) + "\n";
  std::ifstream current(dir + "/jwks.json", std::ios::binary);
  std::ostringstream have;
  if (current) have << current.rdbuf();
  if (!current || have.str() != jwks) CORDON_TRY(WriteFileAtomically(dir + "/jwks.json", jwks, 0644));
  if (notices) notices->push_back("token key id " + k.public_key().kid + ", key set " + dir + "/jwks.json");
  return k;
}

Result<std::string> SigningKey::Sign(std::string_view data) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::string sig(kSignatureBytes, '\0');
  size_t len = sig.size();
  // Ed25519 is one-shot (no separate digest): EVP_DigestSign with a NULL md (EVP_PKEY-ED25519(7)).
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      len != kSignatureBytes)
    return FailMsg("Ed25519 signing failed (OpenSSL)");
  return sig;
}

std::string Thumbprint(std::string_view raw) {
  // RFC 7638 section 3.2: the required members in lexicographic order, no whitespace.
  std::string canonical = R"({"crv":"Ed25519","kty":"OKP","x":")" + Base64UrlEncode(raw) + "\"}";
  auto digest = Sha256(canonical);
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string JwksJson(const std::vector<PublicKey>& keys) {
  json arr = json::array();
  for (const PublicKey& k : keys)
    arr.push_back({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", Base64UrlEncode(k.raw)}, {"kid", k.kid},
                   {"alg", "EdDSA"}, {"use", "sig"}});
  return json{{"keys", arr}}.dump();
}

Result<std::vector<PublicKey>> ParseJwks(std::string_view text) {
  CORDON_ASSIGN_OR_RETURN(json j, ParseStrictJson(text, "key set", "give the jwks.json cordond publishes"));
  if (!j.is_object() || !j.contains("keys") || !j["keys"].is_array())
    return FailMsg("key set: expected {\"keys\": [...]}", "give the jwks.json cordond publishes");
  std::vector<PublicKey> out;
  for (const json& k : j["keys"]) {
    if (!k.is_object()) continue;
    auto str = [&](const char* name) -> std::string {
      auto it = k.find(name);
      return it != k.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (str("kty") != "OKP" || str("crv") != "Ed25519") continue;
    auto raw = Base64UrlDecode(str("x"));
    if (!raw || raw->size() != kRawKeyBytes) return FailMsg("key set: an Ed25519 key's \"x\" is not 32 bytes of base64url");
    std::string kid = str("kid");
    out.push_back({kid.empty() ? Thumbprint(*raw) : kid, *raw});
  }
  if (out.empty()) return FailMsg("key set: no Ed25519 (OKP) key in it", "give the jwks.json cordond publishes");
  return out;
}

bool VerifySignature(const PublicKey& key, std::string_view data, std::string_view sig) {
  if (sig.size() != kSignatureBytes || key.raw.size() != kRawKeyBytes) return false;
  Pkey pk(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                      reinterpret_cast<const unsigned char*>(key.raw.data()), key.raw.size()));
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!pk || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pk.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

}  // namespace cordon::token
