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

}  // namespace wacloud
