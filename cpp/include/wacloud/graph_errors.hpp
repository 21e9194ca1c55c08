// Graph API error objects -> GraphErrorInfo. The mapping from Meta's error
// codes to GraphErrorKind lives in one function, classify_graph_error.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "wacloud/errors.hpp"

namespace wacloud {

// The kind for Meta's `code`/`error_subcode`; `has_error_object` is false when
// the response carried no Graph error object, so only `http_status` counts.
// Unknown codes fall back by HTTP status (401, 403, 429, 4xx, 5xx).
GraphErrorKind classify_graph_error(long code, long subcode, long http_status,
                                    bool has_error_object = true);

// Whether a request failing with `kind` may succeed if sent again.
bool is_retriable(GraphErrorKind kind) noexcept;
// The same for Meta's `code`: a few throttling codes (131048, the spam rate limit) are
// rate limits that waiting does not lift.
bool is_retriable(GraphErrorKind kind, long code) noexcept;

// A failed response (status >= 400, or a 2xx without the expected fields) as
// GraphErrorInfo. Never throws: a body that is not JSON, truncated, or not a
// Graph error object still yields a clear message, classified by HTTP status.
GraphErrorInfo parse_graph_error(long http_status, std::string_view body,
                                 std::optional<double> retry_after = std::nullopt) noexcept;

// Retry-After as seconds: delta-seconds ("120", "1.5") or an HTTP date
// relative to `now`. nullopt when absent or unparseable; never negative.
std::optional<double> parse_retry_after(std::string_view value, std::time_t now);

// A failure with no HTTP answer to classify (timeouts, refused connections).
GraphErrorInfo transport_error(GraphErrorKind kind, std::string message);

// `text` with every whole occurrence of `secret` replaced by a marker, in one
// left-to-right pass over `text` that never rescans what it inserted. An
// occurrence is whole unless a secret character (ASCII letter, digit, '-', '_'
// or '|') continues it on either side, so "Invalid OAuth access token" keeps
// its words for the secret "tok", while "access_token=<secret>&" and
// "<secret>." are still redacted. The marker is "[redacted]", or a run of '*'
// ('#', '~') when the secret could overlap "[redacted]": then no occurrence of
// the secret can form across an inserted marker either. An empty secret
// changes nothing.
std::string redact_secret(std::string_view text, std::string_view secret);

// `info` with redact_secret applied to every text that came from the wire.
GraphErrorInfo redact_secret(GraphErrorInfo info, std::string_view secret);

}  // namespace wacloud
