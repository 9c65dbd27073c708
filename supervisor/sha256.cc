// supervisor/sha256.cc: SHA-256 from OpenSSL 3's libcrypto (linked for the evidence log's Ed25519
// anyway: a well-kept implementation with the CPU's SHA extensions, in place of the hand-written one
// this file used to hold).
//
// Through the low-level SHA256_* functions, not EVP_Digest: EVP's first use initialises the library
// (reads openssl.cnf, loads the default provider, fills its name map), which cost a one-shot
// `cordon run` ~1.3 ms of CPU at every start for a few hashes of a few KiB (docs/performance.md
// "Lean start"). The low-level functions are the same code the default provider runs, without that
// set-up. OpenSSL 3 marks them deprecated (in favour of EVP) but keeps them through 3.x.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "supervisor/sha256.h"
#include "supervisor/sha256_stream.h"

#include <openssl/sha.h>

#include <cstdlib>
#include <new>

namespace cordon {

std::array<uint8_t, 32> Sha256(std::string_view data) {
  std::array<uint8_t, 32> out{};
  SHA256_CTX c;
  // These fail only on a null argument; a wrong hash would be worse than stopping.
  if (SHA256_Init(&c) != 1 || SHA256_Update(&c, data.data(), data.size()) != 1 || SHA256_Final(out.data(), &c) != 1)
    std::abort();
  return out;
}

std::array<uint8_t, 32> Sha256(std::string_view prefix, std::string_view data) {
  Sha256Stream s;
  s.Update(prefix);
  s.Update(data);
  return s.Final();
}

namespace {

std::string Hex(const std::array<uint8_t, 32>& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(64, '0');
  for (size_t i = 0; i < d.size(); ++i) {
    s[2 * i] = kHex[d[i] >> 4];
    s[2 * i + 1] = kHex[d[i] & 0xf];
  }
  return s;
}

}  // namespace

std::string Sha256Hex(std::string_view data) { return Hex(Sha256(data)); }

static_assert(sizeof(SHA256_CTX) <= 112 && alignof(SHA256_CTX) <= 8, "Sha256Stream::ctx_ holds a SHA256_CTX");

namespace {
SHA256_CTX* Ctx(unsigned char* storage) { return std::launder(reinterpret_cast<SHA256_CTX*>(storage)); }
}  // namespace

Sha256Stream::Sha256Stream() {
  if (SHA256_Init(new (ctx_) SHA256_CTX) != 1) std::abort();
}

void Sha256Stream::Update(std::string_view data) {
  if (SHA256_Update(Ctx(ctx_), data.data(), data.size()) != 1) std::abort();
}

std::array<uint8_t, 32> Sha256Stream::Final() {
  std::array<uint8_t, 32> out{};
  if (SHA256_Final(out.data(), Ctx(ctx_)) != 1) std::abort();
  return out;
}

std::string Sha256Stream::FinalHex() { return Hex(Final()); }

}  // namespace cordon
