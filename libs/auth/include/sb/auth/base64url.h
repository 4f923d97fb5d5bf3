// Strict base64url (RFC 4648 §5) as JWS compact serialisation uses it: no padding, no whitespace.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sb::auth {

// Encodes without '=' padding.
std::string Base64UrlEncode(std::string_view bytes);

// Decodes unpadded base64url. Returns nullopt for any character outside [A-Za-z0-9_-] (including
// '=' and whitespace), for an impossible length (len % 4 == 1) and for non-zero trailing bits, so
// every byte string has exactly one accepted encoding.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace sb::auth
