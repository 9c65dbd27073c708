// supervisor/evidence/encoding.h: base64 (RFC 4648, with padding) and lower-case hex, the two
// text forms the evidence log writes hashes and signatures in (docs/evidence.md). Pure code.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cordon::evlog {

std::string Base64Encode(std::string_view bytes);
// nullopt unless `text` is canonical padded base64 (no whitespace, no stray characters).
std::optional<std::string> Base64Decode(std::string_view text);
std::string HexEncode(std::string_view bytes);
std::optional<std::string> HexDecode(std::string_view text);

}  // namespace cordon::evlog
