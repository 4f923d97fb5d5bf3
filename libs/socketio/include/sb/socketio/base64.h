// Standard base64 (RFC 4648 section 4, "+/" alphabet) as Engine.IO long-polling uses it for binary
// messages ("b" + base64).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sb::socketio {

// Padded base64 of `bytes`.
std::string Base64Encode(std::string_view bytes);

// Decodes padded or unpadded base64. Returns nullopt on any character outside the alphabet
// (including whitespace), misplaced or excess '=' padding, a length that cannot be base64
// (length % 4 == 1) or non-zero unused trailing bits (non-canonical encodings).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace sb::socketio
