// Endpoints and shapes from Meta's Cloud API reference: POST /<phone-number-id>
// /messages, /<phone-number-id>/media (multipart), GET/DELETE /<media-id>,
// /<waba-id>/message_templates (paged with paging.next),
// /<phone-number-id>/whatsapp_business_profile, GET /<phone-number-id> and
// GET /debug_token (Graph API reference).
#include "wacloud/graph_client.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <thread>

#include "graph_call.hpp"
#include "http_transport.hpp"
#include "wacloud/graph_errors.hpp"
#include "wacloud/phone.hpp"

namespace wacloud {
namespace json = boost::json;

namespace detail {

CallOutcome outcome_of(const http::Response& response, bool idempotent) {
  if (!response.completed()) {
    if (!response.request_sent) {
      return transport_error(
          GraphErrorKind::kTransient,
          "could not reach the Graph API (" + response.error + "); nothing was sent");
    }
    if (idempotent) {
      return transport_error(GraphErrorKind::kTransient,
                             "the Graph API did not answer (" + response.error + ")");
    }
    return transport_error(GraphErrorKind::kDeliveryUnknown,
                           "no answer from the Graph API after the request was sent (" +
                               response.error +
                               "); Meta may have processed it, so it was not resent");
  }
  if (response.status < 200 || response.status >= 300) {
    return parse_graph_error(response.status, response.body, response.retry_after);
  }
  json::error_code ec;
  json::value body = json::parse(response.body, ec);
  if (ec || (body.is_object() && body.as_object().contains("error"))) {
    GraphErrorInfo info = parse_graph_error(response.status, response.body, response.retry_after);
    if (ec) {
      // A success status whose body is cut off: the call happened, its answer is lost.
      info.kind = idempotent ? GraphErrorKind::kTransient : GraphErrorKind::kDeliveryUnknown;
      info.retriable = idempotent;
    }
    return info;
  }
  return body;
}

}  // namespace detail

namespace {

// Ids go into URL paths: refuse anything that could change the path or query.
void check_id(std::string_view id, std::string_view field) {
  if (id.empty()) throw_invalid_parameter(field, "must not be empty");
  for (char c : id) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) throw_invalid_parameter(field, "may hold only letters, digits, '_', '-' and '.'");
  }
}

const json::object& expect_object(const json::value& value, std::string_view what) {
  if (!value.is_object()) {
    GraphErrorInfo info =
        transport_error(GraphErrorKind::kOther, std::string(what) + ": unexpected answer shape");
    throw GraphError(std::move(info));
  }
  return value.as_object();
}

std::string string_field(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) return {};
  if (value->is_string()) return std::string(value->as_string());
  return json::serialize(*value);
}

// The query of a paging.next URL without access_token: the token travels only
// in the Authorization header, never in a URL that could end up in a log.
std::string next_page_query(std::string_view next) {
  std::size_t question = next.find('?');
  if (question == std::string_view::npos) return {};
  std::string_view query = next.substr(question + 1);
  std::string kept;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    if (param.substr(0, 13) != "access_token=" && !param.empty()) {
      if (!kept.empty()) kept.push_back('&');
      kept.append(param);
    }
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  return kept;
}

}  // namespace

namespace detail {

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

SendResult send_result_from(const json::value& answer) {
  SendResult result;
  const json::object* object = answer.if_object();
  const json::value* messages = object != nullptr ? object->if_contains("messages") : nullptr;
  if (messages != nullptr && messages->is_array() && !messages->as_array().empty() &&
      messages->as_array()[0].is_object()) {
    const json::object& message = messages->as_array()[0].as_object();
    result.message_id = string_field(message, "id");
    result.message_status = string_field(message, "message_status");
  }
  if (result.message_id.empty()) {
    // Meta took the request (2xx) but the answer lacks the message id.
    throw GraphError(
        transport_error(GraphErrorKind::kDeliveryUnknown,
                        "the Graph API accepted the send but its answer has no message id"));
  }
  const json::value* contacts = object->if_contains("contacts");
  if (contacts != nullptr && contacts->is_array() && !contacts->as_array().empty() &&
      contacts->as_array()[0].is_object()) {
    result.input = string_field(contacts->as_array()[0].as_object(), "input");
    result.wa_id = string_field(contacts->as_array()[0].as_object(), "wa_id");
    result.user_id = string_field(contacts->as_array()[0].as_object(), "user_id");
  }
  return result;
}

}  // namespace detail

SendResult parse_send_result(std::string_view body) {
  json::error_code ec;
  json::value parsed = json::parse(body, ec);
  if (ec) parsed = nullptr;
  return detail::send_result_from(parsed);
}

struct GraphClient::Call {
  http::Request request;
  bool idempotent = true;
  bool is_send = false;  // a message: rate limited, answer must carry an id
  std::string recipient;
};

GraphClient::GraphClient(ClientConfig config) : config_(std::move(config)) {
  if (config_.access_token.empty()) throw_invalid_parameter("access_token", "must not be empty");
  check_id(config_.phone_number_id, "phone_number_id");
  if (!config_.waba_id.empty()) check_id(config_.waba_id, "waba_id");
  check_id(config_.api_version, "api_version");
  while (!config_.base_url.empty() && config_.base_url.back() == '/') config_.base_url.pop_back();
  if (config_.base_url.rfind("https://", 0) != 0 && config_.base_url.rfind("http://", 0) != 0) {
    throw_invalid_parameter("base_url", "must be an http(s) URL");
  }
  if (!(config_.timeout_seconds > 0))
    throw_invalid_parameter("timeout", "must be a positive number of seconds");
  if (config_.max_retries < 0) throw_invalid_parameter("max_retries", "must not be negative");
  if (config_.backoff_base_seconds < 0 || config_.backoff_max_seconds < 0) {
    throw_invalid_parameter("backoff", "delays must not be negative");
  }
  config_.connect_timeout_seconds =
      std::min(config_.connect_timeout_seconds, config_.timeout_seconds);
  transport_ = std::make_unique<http::Transport>();
}

GraphClient::~GraphClient() = default;

std::string GraphClient::url(std::string_view path) const {
  return config_.base_url + "/" + config_.api_version + std::string(path);
}

std::vector<std::string> GraphClient::auth_headers(bool json_body) const {
  std::vector<std::string> headers{"Authorization: Bearer " + config_.access_token};
  if (json_body) headers.emplace_back("Content-Type: application/json");
  return headers;
}

GraphErrorInfo GraphClient::scrub(GraphErrorInfo info) const {
  // Meta's messages never should, but a proxy might echo the token back.
  return redact_secret(std::move(info), config_.access_token);
}

void GraphClient::fail(GraphErrorInfo info) const { throw GraphError(scrub(std::move(info))); }

double GraphClient::backoff_seconds(int attempt, std::optional<double> retry_after) const {
  thread_local std::mt19937_64 random{std::random_device{}()};
  double exponential = config_.backoff_base_seconds * std::pow(2.0, std::min(attempt, 30));
  double capped = std::min(exponential, config_.backoff_max_seconds);
  // "Equal jitter": spread concurrent retries without ever waiting near zero.
  double wait = capped * std::uniform_real_distribution<double>(0.5, 1.0)(random);
  if (retry_after) wait = std::max(wait, *retry_after);
  return wait;
}

void GraphClient::acquire_send_slot(const std::string& recipient) {
  if (!config_.rate_limiter) return;
  double timeout = config_.rate_limit_timeout_seconds.value_or(config_.timeout_seconds);
  if (!config_.rate_limiter->acquire(config_.phone_number_id, recipient, timeout)) {
    GraphErrorInfo info =
        transport_error(GraphErrorKind::kRateLimited, "the rate limiter gave no send slot within " +
                                                          std::to_string(timeout) + " s");
    info.retriable = true;
    fail(std::move(info));
  }
}

json::value GraphClient::execute(const Call& call) {
  for (int attempt = 0;; ++attempt) {
    if (call.is_send) acquire_send_slot(call.recipient);
    http::Response response = transport_->perform(call.request);
    detail::CallOutcome outcome = detail::outcome_of(response, call.idempotent);
    if (auto* body = std::get_if<json::value>(&outcome)) {
      if (call.is_send) detail::send_result_from(*body);  // throws unless Meta's success shape
      return std::move(*body);
    }
    GraphErrorInfo& error = std::get<GraphErrorInfo>(outcome);
    // A Retry-After longer than any backoff we would wait is left to the caller.
    bool too_long = error.retry_after && *error.retry_after > config_.backoff_max_seconds;
    if (!error.retriable || attempt >= config_.max_retries || too_long) fail(std::move(error));
    std::this_thread::sleep_for(
        std::chrono::duration<double>(backoff_seconds(attempt, error.retry_after)));
  }
}

json::value GraphClient::call(std::string_view method, std::string_view path,
                              const std::string& body) {
  Call call;
  call.request.method = std::string(method);
  call.request.url = url(path);
  call.request.headers = auth_headers(!body.empty());
  call.request.body = body;
  call.request.timeout_seconds = config_.timeout_seconds;
  call.request.connect_timeout_seconds = config_.connect_timeout_seconds;
  call.idempotent = method != "POST";
  return execute(call);
}

json::value GraphClient::call_form(std::string_view path, const std::vector<FormField>& fields,
                                   bool idempotent) {
  Call call;
  call.request.method = "POST";
  call.request.url = url(path);
  call.request.headers = auth_headers(false);
  for (const FormField& field : fields) {
    if (field.name.empty()) throw_invalid_parameter("form", "every field needs a name");
    call.request.form.push_back({field.name, field.value, "", field.filename, field.content_type});
  }
  call.request.timeout_seconds = config_.timeout_seconds;
  call.request.connect_timeout_seconds = config_.connect_timeout_seconds;
  call.idempotent = idempotent;
  return execute(call);
}

std::string GraphClient::normalize_recipient(std::string_view to) const {
  return normalize(to, config_.default_region);
}

PreparedSend GraphClient::prepare(std::string_view to, const Message& message,
                                  std::string_view reply_to) const {
  std::string wa_id = normalize_recipient(to);
  return PreparedSend{json::serialize(build_message_payload(wa_id, message, reply_to)), wa_id};
}

PreparedSend GraphClient::prepare_for_user(std::string_view user_id, const Message& message,
                                           std::string_view reply_to) const {
  return PreparedSend{json::serialize(build_user_message_payload(user_id, message, reply_to)),
                      std::string(user_id)};
}

SendResult GraphClient::send(std::string_view to, const Message& message,
                             std::string_view reply_to) {
  PreparedSend prepared = prepare(to, message, reply_to);
  return send_payload(prepared.payload, prepared.recipient);
}

SendResult GraphClient::send_payload(const std::string& payload, const std::string& recipient) {
  Call call;
  call.request.method = "POST";
  call.request.url = url("/" + config_.phone_number_id + "/messages");
  call.request.headers = auth_headers(true);
  call.request.body = payload;
  call.request.timeout_seconds = config_.timeout_seconds;
  call.request.connect_timeout_seconds = config_.connect_timeout_seconds;
  call.idempotent = false;
  call.is_send = true;
  call.recipient = recipient;
  return detail::send_result_from(execute(call));
}

void GraphClient::mark_read(std::string_view message_id, bool typing_indicator) {
  // Marking read twice is harmless, so this POST may be retried after a timeout.
  Call call;
  call.request.method = "POST";
  call.request.url = url("/" + config_.phone_number_id + "/messages");
  call.request.headers = auth_headers(true);
  call.request.body = json::serialize(build_mark_read_payload(message_id, typing_indicator));
  call.request.timeout_seconds = config_.timeout_seconds;
  call.request.connect_timeout_seconds = config_.connect_timeout_seconds;
  execute(call);
}

std::string GraphClient::upload_media(const MediaUpload& upload) {
  if (upload.mime_type.empty()) throw_invalid_parameter("mime_type", "is required");
  Call call;
  call.request.method = "POST";
  call.request.url = url("/" + config_.phone_number_id + "/media");
  call.request.headers = auth_headers(false);
  std::string filename = upload.filename.empty() ? "upload" : upload.filename;
  call.request.form = {{"messaging_product", "whatsapp", "", "", ""},
                       {"type", upload.mime_type, "", "", ""},
                       {"file", upload.data, upload.path, filename, upload.mime_type}};
  call.request.timeout_seconds = config_.timeout_seconds;
  call.request.connect_timeout_seconds = config_.connect_timeout_seconds;
  // A resent upload can at worst leave an unused duplicate, which Meta expires.
  call.idempotent = true;
  std::string id = string_field(expect_object(execute(call), "media upload"), "id");
  if (id.empty())
    fail(transport_error(GraphErrorKind::kMedia, "the media upload answer has no id"));
  return id;
}

RemoteMedia GraphClient::get_media(std::string_view media_id) {
  check_id(media_id, "media_id");
  const json::value answer = call("GET", "/" + std::string(media_id));
  const json::object& object = expect_object(answer, "media lookup");
  RemoteMedia info;
  info.id = string_field(object, "id");
  info.url = string_field(object, "url");
  info.mime_type = string_field(object, "mime_type");
  info.sha256 = string_field(object, "sha256");
  std::string size = string_field(object, "file_size");  // a number or a numeric string
  info.file_size = size.empty() ? 0 : std::strtoll(size.c_str(), nullptr, 10);
  if (info.url.empty())
    fail(transport_error(GraphErrorKind::kMedia, "the media lookup answer has no url"));
  return info;
}

void GraphClient::delete_media(std::string_view media_id) {
  check_id(media_id, "media_id");
  call("DELETE", "/" + std::string(media_id));
}

json::array GraphClient::list_templates(std::string_view status, std::string_view name,
                                        std::size_t page_size) {
  if (config_.waba_id.empty()) throw_invalid_parameter("waba_id", "is required for template calls");
  if (page_size == 0) throw_invalid_parameter("limit", "must be positive");
  std::string base = "/" + config_.waba_id + "/message_templates?";
  std::string query = "limit=" + std::to_string(page_size);
  if (!status.empty()) query += "&status=" + detail::percent_encode(status);
  if (!name.empty()) query += "&name=" + detail::percent_encode(name);
  json::array templates;
  for (int page = 0; page < 10000 && !query.empty(); ++page) {
    json::value answer = call("GET", base + query);
    const json::object& object = expect_object(answer, "template list");
    if (const json::value* data = object.if_contains("data"); data != nullptr && data->is_array()) {
      for (const json::value& item : data->as_array()) templates.push_back(item);
    }
    std::string next;
    if (const json::value* paging = object.if_contains("paging");
        paging != nullptr && paging->is_object()) {
      next = string_field(paging->as_object(), "next");
    }
    std::string next_query = next.empty() ? std::string() : next_page_query(next);
    query =
        next_query == query ? std::string() : next_query;  // a repeated cursor would loop forever
  }
  return templates;
}

json::object GraphClient::create_template(std::string_view name, std::string_view language,
                                          std::string_view category, const json::array& components,
                                          std::string_view parameter_format) {
  if (config_.waba_id.empty()) throw_invalid_parameter("waba_id", "is required for template calls");
  std::string body = json::serialize(
      build_template_definition(name, language, category, components, parameter_format));
  Call call;
  call.request.method = "POST";
  call.request.url = url("/" + config_.waba_id + "/message_templates");
  call.request.headers = auth_headers(true);
  call.request.body = std::move(body);
  call.request.timeout_seconds = config_.timeout_seconds;
  call.request.connect_timeout_seconds = config_.connect_timeout_seconds;
  // Meta refuses a second template with the same name and language, so a resend cannot duplicate.
  call.idempotent = true;
  return expect_object(execute(call), "template creation");
}

void GraphClient::delete_template(std::string_view name) {
  if (config_.waba_id.empty()) throw_invalid_parameter("waba_id", "is required for template calls");
  check_template_name(name);
  call("DELETE", "/" + config_.waba_id + "/message_templates?name=" + detail::percent_encode(name));
}

json::object GraphClient::get_business_profile() {
  json::value answer =
      call("GET", "/" + config_.phone_number_id +
                      "/whatsapp_business_profile?fields=about,address,description,email,"
                      "profile_picture_url,websites,vertical");
  const json::object& object = expect_object(answer, "business profile");
  const json::value* data = object.if_contains("data");
  if (data != nullptr && data->is_array() && !data->as_array().empty() &&
      data->as_array()[0].is_object()) {
    return data->as_array()[0].as_object();
  }
  return object;
}

void GraphClient::update_business_profile(const json::object& fields) {
  Call call;
  call.request.method = "POST";
  call.request.url = url("/" + config_.phone_number_id + "/whatsapp_business_profile");
  call.request.headers = auth_headers(true);
  call.request.body = json::serialize(build_business_profile_update(fields));
  call.request.timeout_seconds = config_.timeout_seconds;
  call.request.connect_timeout_seconds = config_.connect_timeout_seconds;
  execute(call);  // setting the same fields twice is harmless: idempotent
}

json::object GraphClient::get_phone_number() {
  return expect_object(
      call("GET", "/" + config_.phone_number_id +
                      "?fields=id,verified_name,display_phone_number,quality_rating,"
                      "throughput,messaging_limit_tier,code_verification_status,"
                      "name_status,platform_type"),
      "phone number");
}

TokenInfo GraphClient::debug_token(std::string_view input_token) {
  std::string token = input_token.empty() ? config_.access_token : std::string(input_token);
  try {
    return parse_token_info(call("GET", debug_token_path(token)));
  } catch (const GraphError& error) {
    // The token sits in the query: keep it out of any message that reaches a log.
    throw GraphError(redact_secret(error.info(), token));
  }
}

}  // namespace wacloud
