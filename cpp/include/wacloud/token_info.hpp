// What Meta's GET /debug_token?input_token=... says about an access token:
// validity, expiry, the permissions (scopes) and the objects each permission
// reaches (granular scopes). Parsing and the request path are free functions
// so they can be tested without a network.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wacloud {

// A permission limited to some objects (WABAs, pages); no target ids: all of them.
struct GranularScope {
  std::string scope;
  std::vector<std::string> target_ids;
};

struct TokenInfo {
  bool is_valid = false;
  std::string app_id;
  std::string type;  // "SYSTEM_USER", "USER", "APP", "PAGE"
  std::string application;
  std::string user_id;
  std::int64_t expires_at = 0;  // Unix seconds; 0: never expires
  std::int64_t data_access_expires_at = 0;
  std::int64_t issued_at = 0;
  std::vector<std::string> scopes;
  std::vector<GranularScope> granular_scopes;
  // Why the token is not valid, from the "error" object inside "data" (0: none).
  int error_code = 0;
  int error_subcode = 0;
  std::string error_message;
};

// The permissions wacloud needs: sending and reading messages, managing templates.
const std::vector<std::string>& required_token_scopes();

// The path (after the version) that asks about `input_token`, percent-encoded.
std::string debug_token_path(std::string_view input_token);

// Meta's answer {"data": {...}} as TokenInfo; throws GraphError (kOther) when it
// is not that shape.
TokenInfo parse_token_info(const boost::json::value& answer);
TokenInfo parse_token_info(std::string_view body);

// The scopes of `required` the token lacks, in `required`'s order.
std::vector<std::string> missing_scopes(const TokenInfo& info,
                                        const std::vector<std::string>& required);

}  // namespace wacloud
