// supervisor/sha256.h: SHA-256 (FIPS 180-4, OpenSSL libcrypto) for content hashes: seccomp profiles and their BPF,
// policy files, evidence records. No syscalls.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cordon {

// Raw 32-byte digest of `data`.
std::array<uint8_t, 32> Sha256(std::string_view data);

// Lower-case hex digest (64 characters), the form stored in caches and evidence.
std::string Sha256Hex(std::string_view data);

}  // namespace cordon
