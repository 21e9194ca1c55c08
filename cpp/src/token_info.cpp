// Meta's debug_token answer, as documented in the Graph API reference
// (/debug_token): {"data": {"app_id", "type", "application",
// "data_access_expires_at", "expires_at" (0 = never), "is_valid", "issued_at",
// "scopes", "granular_scopes": [{"scope", "target_ids"}], "user_id"}}; an
// invalid token's data carries an "error" object {"code", "message", "subcode"}.
#include "wacloud/token_info.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cstdlib>

#include "graph_call.hpp"
#include "wacloud/errors.hpp"
#include "wacloud/graph_errors.hpp"
#include "wacloud/payloads.hpp"

namespace wacloud {
namespace json = boost::json;

namespace {

[[noreturn]] void bad_shape(const std::string& why) {
  GraphErrorInfo info = transport_error(GraphErrorKind::kOther, "debug_token: " + why);
  throw GraphError(std::move(info));
}

std::string text(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) return {};
  if (value->is_string()) return std::string(value->as_string());
  return json::serialize(*value);
}

// Meta sends numbers; a proxy or an old version may send numeric strings.
std::int64_t integer(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return 0;
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64()) return static_cast<std::int64_t>(value->as_uint64());
  if (value->is_double()) return static_cast<std::int64_t>(value->as_double());
  if (value->is_string()) return std::strtoll(value->as_string().c_str(), nullptr, 10);
  return 0;
}

std::vector<std::string> strings(const json::value* value) {
  std::vector<std::string> out;
  if (value == nullptr || !value->is_array()) return out;
  for (const json::value& item : value->as_array()) {
    if (item.is_string()) {
      out.emplace_back(item.as_string());
    } else if (item.is_int64() || item.is_uint64()) {
      out.push_back(json::serialize(item));  // target ids are strings, but be lenient
    }
  }
  return out;
}

}  // namespace

const std::vector<std::string>& required_token_scopes() {
  static const std::vector<std::string> kRequired{"whatsapp_business_messaging",
                                                  "whatsapp_business_management"};
  return kRequired;
}

std::string debug_token_path(std::string_view input_token) {
  if (input_token.empty()) throw_invalid_parameter("input_token", "must not be empty");
  return "/debug_token?input_token=" + detail::percent_encode(input_token);
}

TokenInfo parse_token_info(const json::value& answer) {
  const json::object* top = answer.if_object();
  if (top == nullptr) bad_shape("the answer is not a JSON object");
  const json::value* data_value = top->if_contains("data");
  if (data_value == nullptr || !data_value->is_object()) bad_shape("the answer has no data object");
  const json::object& data = data_value->as_object();
  TokenInfo info;
  const json::value* valid = data.if_contains("is_valid");
  info.is_valid = valid != nullptr && valid->is_bool() && valid->as_bool();
  info.app_id = text(data, "app_id");
  info.type = text(data, "type");
  info.application = text(data, "application");
  info.user_id = text(data, "user_id");
  info.expires_at = integer(data, "expires_at");
  info.data_access_expires_at = integer(data, "data_access_expires_at");
  info.issued_at = integer(data, "issued_at");
  info.scopes = strings(data.if_contains("scopes"));
  if (const json::value* granular = data.if_contains("granular_scopes");
      granular != nullptr && granular->is_array()) {
    for (const json::value& item : granular->as_array()) {
      if (!item.is_object()) continue;
      GranularScope scope;
      scope.scope = text(item.as_object(), "scope");
      scope.target_ids = strings(item.as_object().if_contains("target_ids"));
      if (!scope.scope.empty()) info.granular_scopes.push_back(std::move(scope));
    }
  }
  if (const json::value* error = data.if_contains("error");
      error != nullptr && error->is_object()) {
    const json::object& object = error->as_object();
    info.error_code = static_cast<int>(integer(object, "code"));
    info.error_subcode = static_cast<int>(integer(object, "subcode"));
    info.error_message = text(object, "message");
    info.is_valid = false;  // an error inside data means the token is not usable
  }
  return info;
}

TokenInfo parse_token_info(std::string_view body) {
  json::error_code ec;
  json::value parsed = json::parse(body, ec);
  if (ec) bad_shape("the answer is not JSON");
  return parse_token_info(parsed);
}

std::vector<std::string> missing_scopes(const TokenInfo& info,
                                        const std::vector<std::string>& required) {
  std::vector<std::string> missing;
  for (const std::string& scope : required) {
    if (std::find(info.scopes.begin(), info.scopes.end(), scope) == info.scopes.end()) {
      missing.push_back(scope);
    }
  }
  return missing;
}

}  // namespace wacloud
