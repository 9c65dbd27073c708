// supervisor/sha256.cc: SHA-256 through OpenSSL 3's EVP interface. The evidence log (issue 15)
// links libcrypto for Ed25519 anyway, and a well-kept, FIPS-validated implementation replaces the
// hand-written one this file used to hold; the header's API is unchanged.
#include "supervisor/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace cordon {

std::array<uint8_t, 32> Sha256(std::string_view data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  // EVP_Digest with the built-in provider fails only when memory runs out; a wrong hash would be
  // worse than stopping, so that is treated like an allocation failure.
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 || len != out.size())
    std::abort();
  return out;
}

std::string Sha256Hex(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto d = Sha256(data);
  std::string s(64, '0');
  for (size_t i = 0; i < d.size(); ++i) {
    s[2 * i] = kHex[d[i] >> 4];
    s[2 * i + 1] = kHex[d[i] & 0xf];
  }
  return s;
}

}  // namespace cordon
