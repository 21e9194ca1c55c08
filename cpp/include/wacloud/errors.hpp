// The exception types thrown by the core. The Python binding maps each one to
// the matching class of `wacloud.errors`; nothing else crosses the boundary.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace wacloud {

// Root of every error the core throws on bad input or a failed call.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class PhoneErrorReason {
  kNotANumber,
  kInvalidCountryCode,
  kTooShort,
  kTooLong,
  kInvalidNumber,  // parsed, but not a possible number for its region
};

class InvalidPhoneNumber : public Error {
 public:
  InvalidPhoneNumber(PhoneErrorReason reason, std::string input, const std::string& message)
      : Error(message), reason_(reason), input_(std::move(input)) {}
  PhoneErrorReason reason() const noexcept { return reason_; }
  const std::string& input() const noexcept { return input_; }

 private:
  PhoneErrorReason reason_;
  std::string input_;
};

// A webhook body that is not valid JSON or not shaped as Meta documents it.
// `path()` names the offending field, e.g. "entry[0].changes[1].value.messages[0].id".
class WebhookPayloadError : public Error {
 public:
  WebhookPayloadError(std::string path, const std::string& message)
      : Error(path.empty() ? message : path + ": " + message), path_(std::move(path)) {}
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

// A file that cannot be opened or read; mapped to Python's OSError.
class FileError : public Error {
 public:
  FileError(int error_number, std::string path, const std::string& message)
      : Error(message), error_number_(error_number), path_(std::move(path)) {}
  int error_number() const noexcept { return error_number_; }
  const std::string& path() const noexcept { return path_; }

 private:
  int error_number_;
  std::string path_;
};

// Media that Meta would refuse: wrong MIME type, too large, unreadable.
class MediaRejected : public Error {
 public:
  using Error::Error;
};

// How a Graph API failure should be handled; each kind is one Python subclass
// of `GraphAPIError`. Classification lives in graph_errors.cpp, in one place.
enum class GraphErrorKind {
  kOther,
  kAuthentication,    // 190, 0
  kPermissionDenied,  // 10, 200-299
  kRateLimited,       // 4, 80007, 130429, 131048, 131056
  kReEngagement,      // 131047
  kRecipient,         // 131026, 131051, ...
  kTemplate,          // 132xxx
  kMedia,             // 131052, 131053
  kInvalidParameter,  // 100, 131008, 131009, ...
  kTransient,         // 1, 2, 131000, 131016, 5xx, timeouts
  kDeliveryUnknown,   // the request may have reached Meta; resending could duplicate it
  kFlow,              // 139000-139004: a Flow blocked, or not updatable, publishable, ...
};

struct GraphErrorInfo {
  GraphErrorKind kind = GraphErrorKind::kOther;
  std::string message;
  std::string type;      // Graph's "type", e.g. "OAuthException"
  long code = 0;         // Graph's "code"; 0 when the failure had no error object
  long subcode = 0;      // "error_subcode"
  long http_status = 0;  // 0 for transport failures
  std::string details;   // "error_data.details"
  std::string fbtrace_id;
  // "error_user_title" / "error_user_msg": template management errors put their only
  // useful explanation there (the message is just "Invalid parameter").
  std::string user_title;
  std::string user_message;
  bool retriable = false;
  std::optional<double> retry_after;  // seconds, from Retry-After when present
  // The answer's members beside "error", as JSON ("" when none): a partly done
  // bulk call (block_users, 139100) reports what it did there.
  std::string partial_result;
};

class GraphError : public Error {
 public:
  explicit GraphError(GraphErrorInfo info) : Error(info.message), info_(std::move(info)) {}
  const GraphErrorInfo& info() const noexcept { return info_; }

 private:
  GraphErrorInfo info_;
};

}  // namespace wacloud
