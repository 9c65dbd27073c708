// supervisor/token/base64url.h: base64url without padding (RFC 4648 section 5), as JWS and JWK use it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cordon::token {

std::string Base64UrlEncode(std::string_view bytes);
// nullopt for a character outside the alphabet, padding, or an impossible length (4k+1).
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace cordon::token
