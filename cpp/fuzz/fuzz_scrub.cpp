// libFuzzer target: redact_secret, which keeps the access token out of error
// texts. The first byte gives the secret's length (mod 32; short secrets
// collide with the text and the marker more often), the secret follows, the
// rest is the text. Aborts unless the call returns, leaves no whole occurrence
// of the secret, changes nothing when the secret is absent, and keeps
// everything around the occurrences it replaced.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "wacloud/graph_errors.hpp"

namespace {

// The same definition as the core's, written out independently.
bool is_secret_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '_' || c == '|';
}

bool has_whole_occurrence(std::string_view text, std::string_view secret) {
  for (std::size_t at = text.find(secret); at != std::string_view::npos;
       at = text.find(secret, at + 1)) {
    std::size_t end = at + secret.size();
    bool joined_before = at > 0 && is_secret_char(text[at - 1]) && is_secret_char(secret.front());
    bool joined_after =
        end < text.size() && is_secret_char(text[end]) && is_secret_char(secret.back());
    if (!joined_before && !joined_after) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t secret_size = std::min<std::size_t>(data[0] % 32, input.size());
  const std::string_view secret = input.substr(0, secret_size);
  const std::string_view text = input.substr(secret_size);

  const std::string out = wacloud::redact_secret(text, secret);  // a hang is a libFuzzer timeout
  if (secret.empty() || !has_whole_occurrence(text, secret)) {
    if (out != text) std::abort();
    return 0;
  }
  if (has_whole_occurrence(out, secret)) std::abort();
  // Text before the first and after the last occurrence comes through untouched.
  const std::size_t first = text.find(secret);
  if (out.compare(0, first, text.substr(0, first)) != 0) std::abort();
  const std::size_t tail = text.size() - text.rfind(secret) - secret.size();
  if (out.size() < tail ||
      out.compare(out.size() - tail, tail, text.substr(text.size() - tail)) != 0)
    std::abort();
  return 0;
}
