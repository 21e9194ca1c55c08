// Meta's webhook signatures: X-Hub-Signature-256 is "sha256=" followed by the
// lowercase hex HMAC-SHA256 of the raw request body keyed with the app secret.
#pragma once

#include <string>
#include <string_view>

namespace wacloud {

// The header value Meta would send for `body`: "sha256=<64 hex digits>".
std::string sign(std::string_view app_secret, std::string_view body);

// True only when `header` is a well-formed sha256 signature of `body` under
// `app_secret`. Compares in constant time. Never throws: a missing, malformed,
// wrong-algorithm or wrong-length header, or an empty secret, is simply false.
bool verify_signature(std::string_view app_secret, std::string_view body,
                      std::string_view header) noexcept;

}  // namespace wacloud
