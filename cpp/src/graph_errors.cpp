// Codes from Meta's Cloud API error-code reference and the Graph API error
// handling guide: OAuth (190, 0), permissions and account state (10, 200-299,
// 33 deleted business number, 131037, 131042, 133010), throttling (4, 80007,
// 130429, 131048, 131056), the 24-hour window (131047), recipients, templates
// (132xxx), media (131052, 131053), Flows (139000-139004), parameters, and
// service errors.
#include "wacloud/graph_errors.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cmath>
#include <cstdlib>

namespace wacloud {
namespace json = boost::json;

GraphErrorKind classify_graph_error(long code, long subcode, long http_status,
                                    bool has_error_object) {
  using K = GraphErrorKind;
  (void)subcode;  // the code decides; subcodes only refine Meta's message
  if (has_error_object) {
    switch (code) {
      case 0:
      case 190:
        return K::kAuthentication;
      case 3:
      case 10:
      case 33:      // the business phone number has been deleted
      case 368:     // temporarily blocked for policy violations
      case 130403:  // refused for this business (Meta answers it with HTTP 403)
      case 131005:  // access denied
      case 131031:  // business account locked
      case 131037:  // the number needs an approved display name before it can send
      case 131042:  // business eligibility payment issue (billing)
      case 133010:  // the business phone number is not registered
      case 133006:  // the number must be verified again before it registers
        return K::kPermissionDenied;
      case 4:
      case 17:
      case 32:
      case 613:
      case 80007:
      case 130429:
      case 131048:
      case 131056:
        return K::kRateLimited;
      case 131047:
        return K::kReEngagement;
      case 130472:  // recipient is in a Meta experiment
      case 131021:  // recipient is the sender
      case 131026:  // undeliverable
      case 131049:  // not delivered to keep engagement healthy
      case 131050:  // recipient stopped marketing messages
        return K::kRecipient;
      case 131052:
      case 131053:
        return K::kMedia;
      case 100:
      case 131008:
      case 131009:
      case 131051:  // unsupported message type
      case 135000:
        return K::kInvalidParameter;
      case 1:
      case 2:
      case 131000:
      case 131016:
      case 131057:  // account in maintenance mode
      case 133004:  // server temporarily unavailable
      case 139103:  // block list: internal error, try again
        return K::kTransient;
      default:
        break;
    }
    if (code >= 200 && code <= 299) return K::kPermissionDenied;
    if (code >= 132000 && code <= 132999) return K::kTemplate;
    // Flows management: blocked by integrity, update, publish, deprecate, delete refused.
    if (code >= 139000 && code <= 139004) return K::kFlow;
  }
  if (http_status == 401) return K::kAuthentication;
  if (http_status == 403) return K::kPermissionDenied;
  if (http_status == 429) return K::kRateLimited;
  if (http_status >= 500) return K::kTransient;
  if (http_status >= 400) return K::kInvalidParameter;
  return K::kOther;
}

bool is_retriable(GraphErrorKind kind) noexcept {
  return kind == GraphErrorKind::kTransient || kind == GraphErrorKind::kRateLimited;
}

bool is_retriable(GraphErrorKind kind, long code) noexcept {
  // 131048 (spam rate limit) throttles a number for its quality: sending again does not help.
  if (code == 131048) return false;
  return is_retriable(kind);
}

namespace {

long as_long(const json::value* value) {
  if (value == nullptr) return 0;
  if (value->is_int64()) return static_cast<long>(value->as_int64());
  if (value->is_uint64()) return static_cast<long>(value->as_uint64());
  if (value->is_string()) return std::strtol(value->as_string().c_str(), nullptr, 10);
  return 0;
}

std::string as_text(const json::value* value) {
  if (value == nullptr || value->is_null()) return {};
  if (value->is_string()) return std::string(value->as_string());
  return json::serialize(*value);
}

// A short, printable excerpt of an unexpected body for the error message.
std::string excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 120))
    out.push_back(std::isprint(static_cast<unsigned char>(c)) ? c : ' ');
  if (body.size() > 120) out += "...";
  return out;
}

}  // namespace

GraphErrorInfo parse_graph_error(long http_status, std::string_view body,
                                 std::optional<double> retry_after) noexcept {
  GraphErrorInfo info;
  info.http_status = http_status;
  info.retry_after = retry_after;
  try {
    json::error_code ec;
    json::value parsed = json::parse(body, ec);
    const json::object* error = nullptr;
    if (!ec && parsed.is_object()) {
      if (const json::value* e = parsed.as_object().if_contains("error");
          e != nullptr && e->is_object()) {
        error = &e->as_object();
      }
    }
    if (error == nullptr) {
      info.kind = classify_graph_error(0, 0, http_status, /*has_error_object=*/false);
      std::string what = ec ? (body.empty() ? "an empty body" : "a body that is not valid JSON")
                            : "no Graph error object";
      info.message = "Graph API answered HTTP " + std::to_string(http_status) + " with " + what;
      if (ec && !body.empty()) info.message += ": " + excerpt(body);
    } else {
      info.code = as_long(error->if_contains("code"));
      info.subcode = as_long(error->if_contains("error_subcode"));
      info.message = as_text(error->if_contains("message"));
      info.type = as_text(error->if_contains("type"));
      info.fbtrace_id = as_text(error->if_contains("fbtrace_id"));
      if (const json::value* data = error->if_contains("error_data");
          data != nullptr && data->is_object()) {
        info.details = as_text(data->as_object().if_contains("details"));
      }
      info.user_title = as_text(error->if_contains("error_user_title"));
      info.user_message = as_text(error->if_contains("error_user_msg"));
      if (info.message.empty()) info.message = "Graph API error " + std::to_string(info.code);
      if (parsed.as_object().size() > 1) {
        json::object rest = parsed.as_object();
        rest.erase("error");
        info.partial_result = json::serialize(rest);
      }
      info.kind = classify_graph_error(info.code, info.subcode, http_status);
    }
  } catch (...) {
    // Allocation failure while reading the body: still report the failure.
    info.kind = classify_graph_error(0, 0, http_status, false);
    info.message = "Graph API answered HTTP " + std::to_string(http_status);
  }
  info.retriable = is_retriable(info.kind, info.code);
  return info;
}

std::optional<double> parse_retry_after(std::string_view value, std::time_t now) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front())))
    value.remove_prefix(1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())))
    value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  std::string text(value);
  if (std::isdigit(static_cast<unsigned char>(text[0]))) {
    char* end = nullptr;
    double seconds = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(seconds)) return std::nullopt;
    return seconds;
  }
  std::time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  return when > now ? static_cast<double>(when - now) : 0.0;
}

GraphErrorInfo transport_error(GraphErrorKind kind, std::string message) {
  GraphErrorInfo info;
  info.kind = kind;
  info.message = std::move(message);
  info.retriable = kind == GraphErrorKind::kTransient;
  return info;
}

namespace {

// Characters that continue a token: Meta's tokens are letters and digits, app
// tokens "<id>|<secret>", URL-safe base64 adds '-' and '_'. '.', '=', '&', '/',
// quotes and spaces end one, so a token in a sentence or a query is still whole.
bool is_secret_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '|';
}

bool is_whole_occurrence(std::string_view text, std::size_t at, std::string_view secret) {
  std::size_t end = at + secret.size();
  bool joined_before = at > 0 && is_secret_char(text[at - 1]) && is_secret_char(secret.front());
  bool joined_after =
      end < text.size() && is_secret_char(text[end]) && is_secret_char(secret.back());
  return !joined_before && !joined_after;
}

// Whether an occurrence of `secret` could share a character with `marker`:
// one inside the other, or a suffix of one being a prefix of the other.
bool may_overlap(std::string_view marker, std::string_view secret) {
  if (marker.find(secret) != std::string_view::npos) return true;
  if (secret.find(marker) != std::string_view::npos) return true;
  for (std::size_t k = 1; k < std::min(marker.size(), secret.size()); ++k) {
    if (secret.substr(secret.size() - k) == marker.substr(0, k)) return true;
    if (secret.substr(0, k) == marker.substr(marker.size() - k)) return true;
  }
  return false;
}

// "[redacted]", or a run of one character the secret neither starts nor ends
// with, longer than any run of it inside the secret: no occurrence of the
// secret can then overlap the marker.
std::string marker_for(std::string_view secret) {
  constexpr std::string_view kMarker = "[redacted]";
  if (!may_overlap(kMarker, secret)) return std::string(kMarker);
  char fill = '*';
  for (char c : {'*', '#', '~'}) {
    if (c != secret.front() && c != secret.back()) {
      fill = c;
      break;
    }
  }
  std::size_t longest = 0;
  std::size_t run = 0;
  for (char c : secret) {
    run = c == fill ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<std::size_t>(3, longest + 1), fill);
}

}  // namespace

std::string redact_secret(std::string_view text, std::string_view secret) {
  if (secret.empty() || text.size() < secret.size()) return std::string(text);
  std::string out;
  std::string marker;
  std::size_t copied = 0;  // text[0, copied) is in `out` already
  for (std::size_t at = text.find(secret); at != std::string_view::npos;
       at = text.find(secret, at)) {
    if (!is_whole_occurrence(text, at, secret)) {
      ++at;
      continue;
    }
    if (marker.empty()) marker = marker_for(secret);
    out.append(text.substr(copied, at - copied)).append(marker);
    copied = at = at + secret.size();
  }
  if (copied == 0) return std::string(text);
  return out.append(text.substr(copied));
}

GraphErrorInfo redact_secret(GraphErrorInfo info, std::string_view secret) {
  for (std::string* text : {&info.message, &info.type, &info.details, &info.fbtrace_id,
                            &info.user_title, &info.user_message, &info.partial_result}) {
    *text = redact_secret(*text, secret);
  }
  return info;
}

}  // namespace wacloud
