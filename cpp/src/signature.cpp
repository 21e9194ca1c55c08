#include "wacloud/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <stdexcept>

namespace wacloud {
namespace {

constexpr std::string_view kPrefix = "sha256=";
constexpr std::size_t kDigestSize = 32;
using Digest = std::array<unsigned char, kDigestSize>;

bool hmac_sha256(std::string_view key, std::string_view body, Digest& out) noexcept {
  unsigned int length = 0;
  const unsigned char* result =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(body.data()), body.size(), out.data(), &length);
  return result != nullptr && length == kDigestSize;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string sign(std::string_view app_secret, std::string_view body) {
  Digest digest{};
  if (!hmac_sha256(app_secret, body, digest)) throw std::runtime_error("HMAC-SHA256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string header(kPrefix);
  header.reserve(kPrefix.size() + 2 * kDigestSize);
  for (unsigned char byte : digest) {
    header.push_back(kHex[byte >> 4]);
    header.push_back(kHex[byte & 0x0f]);
  }
  return header;
}

bool verify_signature(std::string_view app_secret, std::string_view body,
                      std::string_view header) noexcept {
  if (app_secret.empty()) return false;
  if (header.size() != kPrefix.size() + 2 * kDigestSize) return false;
  if (header.substr(0, kPrefix.size()) != kPrefix) return false;
  Digest claimed{};
  std::string_view hex = header.substr(kPrefix.size());
  for (std::size_t i = 0; i < kDigestSize; ++i) {
    int high = hex_value(hex[2 * i]);
    int low = hex_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    claimed[i] = static_cast<unsigned char>((high << 4) | low);
  }
  Digest expected{};
  if (!hmac_sha256(app_secret, body, expected)) return false;
  return CRYPTO_memcmp(claimed.data(), expected.data(), kDigestSize) == 0;
}

}  // namespace wacloud
