// The Graph API client: one libcurl connection pool per client (keep-alive,
// reused handles), connect and total timeouts, Bearer authentication, Graph
// error objects turned into GraphError, retries with exponential backoff and
// jitter for transient and throttling failures (honouring Retry-After), and
// batch sending with many requests in flight. Thread-safe.
//
// A request that may have reached Meta (a timeout or dropped connection after
// it was sent) is never resent automatically, because Meta has no idempotency
// key: it fails with GraphErrorKind::kDeliveryUnknown. Connection failures,
// where nothing was sent, are retried.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "wacloud/errors.hpp"
#include "wacloud/payloads.hpp"
#include "wacloud/rate_limiter.hpp"
#include "wacloud/token_info.hpp"

namespace wacloud {

namespace http {
class Transport;
}

struct ClientConfig {
  std::string access_token;
  std::string phone_number_id;
  std::string waba_id;  // needed only by the template calls
  // A current Graph version (v21.0 is retired on 2027-01-21); each lives about two years.
  std::string api_version = "v25.0";
  std::string base_url = "https://graph.facebook.com";
  double timeout_seconds = 30;          // per request, whole transfer
  double connect_timeout_seconds = 10;  // capped at timeout_seconds
  int max_retries = 3;                  // resends after the first attempt
  double backoff_base_seconds = 0.5;    // first retry waits about this long
  double backoff_max_seconds = 30;      // no single wait is longer
  // Called before every message send as acquire(phone_number_id, wa_id, ...).
  std::shared_ptr<RateLimiter> rate_limiter;
  // How long a send waits for the rate limiter; nullopt: timeout_seconds.
  std::optional<double> rate_limit_timeout_seconds;
  // Region for numbers written without a country code (phone normalizer).
  std::string default_region;
};

struct SendResult {
  std::string message_id;
  std::string wa_id;
  std::string input;
  std::string message_status;  // "accepted", "held_for_quality_assessment", ...
  std::string user_id;         // the business-scoped user id, when Meta answers one
};

struct RemoteMedia {
  std::string id;
  std::string url;
  std::string mime_type;
  std::string sha256;  // lowercase hex
  std::int64_t file_size = 0;
};

// An upload from memory or from a file streamed off disk.
struct MediaUpload {
  std::string data;  // used when path is empty
  std::string path;
  std::string mime_type;  // required: Meta files media under its MIME type
  std::string filename;   // shown to recipients of documents
};

// A file for Meta's Resumable Upload API (POST /<app-id>/uploads, then
// /upload:<session>): from memory or streamed off disk. Meta takes PDF, JPEG,
// PNG and MP4 there; the handle it returns goes into template examples
// (header_handle) and the business profile (profile_picture_handle).
struct ResumableUpload {
  std::string data;  // used when path is empty
  std::string path;
  std::string file_name;
  std::string mime_type;  // application/pdf, image/jpeg, image/jpg, image/png, video/mp4
};

// One part of a multipart/form-data Graph call: text, or a file when
// `filename` is set (Flow JSON uploads, Meta's form-only operations).
struct FormField {
  std::string name;
  std::string value;
  std::string filename;
  std::string content_type;
};

// A message ready for send_many: the request body and the recipient wa_id the
// rate limiter keys on.
struct PreparedSend {
  std::string payload;  // JSON body of POST /<phone-number-id>/messages
  std::string recipient;
};

// One send_many outcome: a result or the error that ended that send.
using SendOutcome = std::variant<SendResult, GraphErrorInfo>;

class GraphClient {
 public:
  explicit GraphClient(ClientConfig config);
  ~GraphClient();
  GraphClient(const GraphClient&) = delete;
  GraphClient& operator=(const GraphClient&) = delete;

  const ClientConfig& config() const noexcept { return config_; }

  // The wa_id for `to` (via the phone normalizer, default_region applied).
  std::string normalize_recipient(std::string_view to) const;

  // Builds, checks and sends; `to` is normalized first.
  SendResult send(std::string_view to, const Message& message, std::string_view reply_to = {});
  // A body built by build_message_payload; `recipient` keys the rate limiter.
  SendResult send_payload(const std::string& payload, const std::string& recipient);
  PreparedSend prepare(std::string_view to, const Message& message,
                       std::string_view reply_to = {}) const;
  // As prepare, to a business-scoped user id (checked, never normalized as a
  // number): the body names it as "recipient", and it keys the rate limiter.
  PreparedSend prepare_for_user(std::string_view user_id, const Message& message,
                                std::string_view reply_to = {}) const;

  // Many sends with at most `concurrency` in flight on this client's pool, in
  // one call; outcomes in input order. Retries and the rate limiter apply per
  // request. Never throws for a failed send: its GraphErrorInfo is returned.
  std::vector<SendOutcome> send_many(const std::vector<PreparedSend>& sends,
                                     std::size_t concurrency);

  void mark_read(std::string_view message_id, bool typing_indicator = false);

  std::string upload_media(const MediaUpload& upload);
  RemoteMedia get_media(std::string_view media_id);
  // Streams the media to `dest_path` through a temporary file beside it,
  // checking size and SHA-256 against Meta's; on any failure nothing is left.
  RemoteMedia download_media(std::string_view media_id, const std::string& dest_path);
  void delete_media(std::string_view media_id);

  // Every template, following paging.next; `page_size` is Meta's `limit`.
  // `status` and `name` filter when not empty.
  boost::json::array list_templates(std::string_view status, std::string_view name,
                                    std::size_t page_size);
  boost::json::object create_template(std::string_view name, std::string_view language,
                                      std::string_view category,
                                      const boost::json::array& components,
                                      std::string_view parameter_format = {});
  void delete_template(std::string_view name);

  boost::json::object get_business_profile();
  void update_business_profile(const boost::json::object& fields);
  boost::json::object get_phone_number();
  // Meta's debug_token for `input_token` (empty: this client's own token). The
  // input token travels in the query, as Meta requires; errors never show it.
  TokenInfo debug_token(std::string_view input_token = {});

  // Resumable Upload API. A session for `file_length` bytes of `upload` (its
  // name and type are checked), owned by the app `app_id`: "upload:<id>...".
  std::string start_upload_session(std::string_view app_id, const ResumableUpload& upload,
                                   std::int64_t file_length);
  // How many bytes of the session Meta holds (GET /upload:<id>, `file_offset`).
  std::int64_t upload_session_offset(std::string_view session_id);
  // Sends the file from Meta's offset on, asking the offset again and sending
  // the rest after an interrupted transfer (up to max_retries times); returns
  // the file handle (`h`). Never starts over: the bytes Meta holds stay.
  std::string upload_to_session(std::string_view session_id, const ResumableUpload& upload);

  // Any Graph call: `path` after the version ("/<id>/...", query included).
  // Idempotent calls (GET, DELETE) are also retried after timeouts.
  boost::json::value call(std::string_view method, std::string_view path,
                          const std::string& body = {});
  // A POST of multipart/form-data to `path`; resent after a timeout only when
  // `idempotent`, as a lost answer may hide a call Meta carried out.
  boost::json::value call_form(std::string_view path, const std::vector<FormField>& fields,
                               bool idempotent = false);

  // Wait before retry `attempt` (0-based): exponential, with jitter, and at
  // least `retry_after` when the server sent one. Exposed for tests.
  double backoff_seconds(int attempt, std::optional<double> retry_after) const;

 private:
  struct Call;
  boost::json::value execute(const Call& call);
  void acquire_send_slot(const std::string& recipient);
  std::string url(std::string_view path) const;
  std::vector<std::string> auth_headers(bool json_body) const;
  [[noreturn]] void fail(GraphErrorInfo info) const;
  GraphErrorInfo scrub(GraphErrorInfo info) const;
  friend class BatchSender;

  ClientConfig config_;
  std::unique_ptr<http::Transport> transport_;
};

// SendResult from the success body of a send; throws GraphError when the body
// is not Meta's success shape.
SendResult parse_send_result(std::string_view body);

}  // namespace wacloud
