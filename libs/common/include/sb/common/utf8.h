// UTF-8 validation shared by every library that accepts text from the network.
#pragma once

#include <string_view>

namespace sb {

// True when `text` is well-formed UTF-8 (RFC 3629): every sequence complete, no overlong
// encodings (C0/C1 leads, E0 80..9F, F0 80..8F), no UTF-16 surrogates (U+D800..U+DFFF) and nothing
// above U+10FFFF. The empty string is valid. Linear time; ASCII runs are checked 8 bytes at a time.
bool IsValidUtf8(std::string_view text);

}  // namespace sb
