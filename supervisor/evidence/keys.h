// supervisor/evidence/keys.h: the evidence log's Ed25519 keys (OpenSSL 3). A log's signing key is
// created at first use, mode 0600 (PKCS#8 PEM), with its public key beside it (SubjectPublicKeyInfo
// PEM, the form `openssl pkeyutl -verify -pubin -inkey` reads). The key id is the lower-case hex
// SHA-256 of the 32 raw public key bytes (RFC 8032), and is what cordon prints as the fingerprint.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace cordon::evlog {

class PublicKey {
 public:
  static Result<PublicKey> FromRaw(std::string_view raw32);
  static Result<PublicKey> FromPem(std::string_view pem);
  // Reads a PEM public key file; `what` names it in errors.
  static Result<PublicKey> LoadFile(const std::string& path);

  // True when `sig` (64 bytes) is this key's Ed25519 signature of exactly `msg`.
  bool Verify(std::string_view msg, std::string_view sig) const;
  const std::string& raw() const { return raw_; }
  std::string KeyId() const;  // hex SHA-256 of raw()
  std::string Pem() const;

 private:
  std::string raw_;
};

class SigningKey {
 public:
  // Loads the private key at `private_path`, or creates it (0600, O_EXCL) and writes the public
  // key to `public_path` (0644) when it does not exist yet. `*created` tells which.
  // An existing key must pass CheckPrivateKeyFile; `hint_what` names where the path came from in
  // its errors' hints ("evidence_log.signing_key in daemon.json").
  static Result<SigningKey> LoadOrCreate(const std::string& private_path, const std::string& public_path,
                                         bool* created, const std::string& hint_what = "the log's signing.key");
  static Result<SigningKey> Load(const std::string& private_path);
  // A fresh key held in memory only (tests, and rotation before it is written).
  static Result<SigningKey> Generate();

  Result<std::string> Sign(std::string_view msg) const;  // 64 bytes
  const PublicKey& Public() const { return public_; }
  // PKCS#8 PEM of the private key.
  Result<std::string> PrivatePem() const;

 private:
  std::shared_ptr<EVP_PKEY> pkey_;
  PublicKey public_;
};

// A private key file cordond may sign with: a regular file (following a symlink), owned by this
// euid, readable by it, and neither readable nor writable by anyone else (mode 0600 or 0400).
// Each refusal is one line naming the file and the fix.
Result<void> CheckPrivateKeyFile(const std::string& path, const std::string& hint_what);

// Writes `bytes` to `path` through a temporary file, fsync and rename, with `mode`; fails if
// `path` exists and `exclusive` is set.
Result<void> WriteFileAtomic(const std::string& path, std::string_view bytes, unsigned mode, bool exclusive);
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace cordon::evlog
