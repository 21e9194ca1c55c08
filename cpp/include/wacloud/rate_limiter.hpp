// Rate limiting for sends: token buckets keyed by phone number id, plus an
// optional per-recipient (pair) limit, as Meta throttles both.
#pragma once

#include <optional>
#include <string>

namespace wacloud {

// What the Graph client calls before each send. Implementations are thread-safe.
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;

  // Blocks until a send from `key` (a phone number id) to `recipient` (may be
  // empty: no pair limit applies) is allowed, or until `timeout_seconds` passes
  // (nullopt: wait as long as needed). Returns false on timeout, taking nothing.
  virtual bool acquire(const std::string& key, const std::string& recipient,
                       std::optional<double> timeout_seconds) = 0;

  // Takes a token only if one is available now.
  virtual bool try_acquire(const std::string& key, const std::string& recipient) = 0;
};

}  // namespace wacloud
