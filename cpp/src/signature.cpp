#include "wacloud/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

namespace wacloud {
namespace {

constexpr std::string_view kPrefix = "sha256=";
constexpr std::size_t kDigestSize = 32;
using Digest = std::array<unsigned char, kDigestSize>;

// HMAC-SHA256 (RFC 2104) on OpenSSL's digest API. OpenSSL 3's one-shot HMAC() fetches the
// algorithm and builds a MAC context on every call, which costs more than hashing a webhook
// body; here each thread keeps the inner and outer states of the last key it used (an app has
// one secret), so a check is two state copies and the body's hash.
class KeyedSha256 {
 public:
  KeyedSha256() = default;
  KeyedSha256(const KeyedSha256&) = delete;
  KeyedSha256& operator=(const KeyedSha256&) = delete;
  ~KeyedSha256() {
    EVP_MD_CTX_free(inner_);
    EVP_MD_CTX_free(outer_);
    EVP_MD_CTX_free(work_);
    if (!key_.empty()) OPENSSL_cleanse(key_.data(), key_.size());
  }

  bool digest(std::string_view key, std::string_view body, Digest& out) noexcept {
    if (!ready_ || key != key_) {
      if (!prepare(key)) return false;
    }
    unsigned int length = 0;
    Digest inner{};
    if (EVP_MD_CTX_copy_ex(work_, inner_) != 1 ||
        EVP_DigestUpdate(work_, body.data(), body.size()) != 1 ||
        EVP_DigestFinal_ex(work_, inner.data(), &length) != 1 || length != kDigestSize) {
      return false;
    }
    return EVP_MD_CTX_copy_ex(work_, outer_) == 1 &&
           EVP_DigestUpdate(work_, inner.data(), inner.size()) == 1 &&
           EVP_DigestFinal_ex(work_, out.data(), &length) == 1 && length == kDigestSize;
  }

 private:
  bool prepare(std::string_view key) noexcept {
    ready_ = false;
    const EVP_MD* md = EVP_sha256();  // fetched once per key here, then copied with the states
    if (inner_ == nullptr) inner_ = EVP_MD_CTX_new();
    if (outer_ == nullptr) outer_ = EVP_MD_CTX_new();
    if (work_ == nullptr) work_ = EVP_MD_CTX_new();
    if (inner_ == nullptr || outer_ == nullptr || work_ == nullptr) return false;
    constexpr std::size_t kBlock = 64;  // SHA-256's block size
    std::array<unsigned char, kBlock> block{};
    if (key.size() > kBlock) {  // longer keys are hashed first
      unsigned int length = 0;
      if (EVP_Digest(key.data(), key.size(), block.data(), &length, md, nullptr) != 1) return false;
    } else {
      std::copy(key.begin(), key.end(), block.begin());
    }
    std::array<unsigned char, kBlock> pad{};
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x36;
    bool ok = EVP_DigestInit_ex(inner_, md, nullptr) == 1 &&
              EVP_DigestUpdate(inner_, pad.data(), kBlock) == 1;
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x5c;
    ok = ok && EVP_DigestInit_ex(outer_, md, nullptr) == 1 &&
         EVP_DigestUpdate(outer_, pad.data(), kBlock) == 1;
    OPENSSL_cleanse(block.data(), block.size());
    OPENSSL_cleanse(pad.data(), pad.size());
    if (!key_.empty()) OPENSSL_cleanse(key_.data(), key_.size());
    if (!ok) return false;
    try {
      key_.assign(key);
    } catch (...) {  // out of memory: no state kept, the check fails closed
      return false;
    }
    ready_ = true;
    return true;
  }

  std::string key_;
  EVP_MD_CTX* inner_ = nullptr;
  EVP_MD_CTX* outer_ = nullptr;
  EVP_MD_CTX* work_ = nullptr;
  bool ready_ = false;
};

bool hmac_sha256(std::string_view key, std::string_view body, Digest& out) noexcept {
  thread_local KeyedSha256 keyed;
  return keyed.digest(key, body, out);
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
