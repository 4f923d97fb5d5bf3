#include "sb/socketio/server/session_registry.h"

#include <openssl/rand.h>

#include <array>
#include <random>

namespace sb::socketio::server {

std::string GenerateId() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::array<unsigned char, 15> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // OpenSSL's CSPRNG never fails on Linux in practice; fall back rather than crash.
    thread_local std::random_device rd;
    for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  }
  std::string id;
  id.reserve(20);
  // 15 bytes = 120 bits = 20 six-bit symbols.
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    id.push_back(kAlphabet[(v >> 18) & 63]);
    id.push_back(kAlphabet[(v >> 12) & 63]);
    id.push_back(kAlphabet[(v >> 6) & 63]);
    id.push_back(kAlphabet[v & 63]);
  }
  return id;
}

}  // namespace sb::socketio::server
