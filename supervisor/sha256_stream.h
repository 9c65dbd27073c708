// supervisor/sha256_stream.h: SHA-256 of data that arrives in pieces (a file read block by block),
// through OpenSSL's SHA256_* functions as Sha256 (sha256.h), without EVP's set-up: EVP's first use
// reads openssl.cnf and loads a provider, and linking it costs the lean `cordon run` most of
// libcrypto (docs/performance.md "The lean run"). No syscalls.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cordon {

class Sha256Stream {
 public:
  Sha256Stream();
  void Update(std::string_view data);
  std::array<uint8_t, 32> Final();  // once, after the last Update
  std::string FinalHex();           // the same, as 64 lower-case hex characters

 private:
  alignas(8) unsigned char ctx_[112];  // OpenSSL's SHA256_CTX (its size is checked in sha256.cc)
};

}  // namespace cordon
