// Meta's Resumable Upload API (Graph API guide "Upload a file"):
// POST /<app-id>/uploads?file_name&file_length&file_type opens a session and
// answers {"id": "upload:<id>?sig=..."}; POST /<session> with
// `Authorization: OAuth <token>` and `file_offset: N` sends the bytes from N on
// and answers {"h": "<handle>"}; GET /<session> answers {"id", "file_offset"}:
// how much Meta holds, where an interrupted transfer resumes.
#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <thread>

#include "graph_call.hpp"
#include "http_transport.hpp"
#include "wacloud/graph_client.hpp"
#include "wacloud/graph_errors.hpp"
#include "wacloud/payloads.hpp"

namespace wacloud {
namespace json = boost::json;

namespace {

constexpr std::string_view kUploadTypes[] = {"application/pdf", "image/jpeg", "image/jpg",
                                             "image/png", "video/mp4"};

void check_upload(const ResumableUpload& upload) {
  if (upload.file_name.empty()) throw_invalid_parameter("file_name", "must not be empty");
  if (std::find(std::begin(kUploadTypes), std::end(kUploadTypes), upload.mime_type) ==
      std::end(kUploadTypes)) {
    throw_invalid_parameter("mime_type",
                            "must be application/pdf, image/jpeg, image/jpg, image/png or "
                            "video/mp4 for a resumable upload, not \"" +
                                upload.mime_type + "\"");
  }
}

// Session ids go into the URL as they are (Meta's carry their own "?sig=").
void check_session(std::string_view session) {
  if (session.rfind("upload:", 0) != 0 || session.size() == 7)
    throw_invalid_parameter("session_id", "must be an upload session id (\"upload:...\")");
  for (char c : session) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::strchr(":?=&-_.%+", c) == nullptr)
      throw_invalid_parameter("session_id", "is not an upload session id Meta gave");
  }
}

std::int64_t length_of(const ResumableUpload& upload) {
  if (upload.path.empty()) return static_cast<std::int64_t>(upload.data.size());
  std::error_code error;
  std::uintmax_t size = std::filesystem::file_size(upload.path, error);
  if (error) throw_invalid_parameter("path", "cannot be read: " + error.message());
  return static_cast<std::int64_t>(size);
}

// The file's bytes from `offset` on, read as curl sends them (a file is never held in memory).
std::function<std::size_t(char*, std::size_t)> reader_from(const ResumableUpload& upload,
                                                           std::int64_t offset) {
  if (upload.path.empty()) {
    auto position = std::make_shared<std::size_t>(static_cast<std::size_t>(offset));
    const std::string* data = &upload.data;
    return [data, position](char* buffer, std::size_t size) {
      std::size_t count = std::min(size, data->size() - *position);
      std::memcpy(buffer, data->data() + *position, count);
      *position += count;
      return count;
    };
  }
  auto file = std::make_shared<std::ifstream>(upload.path, std::ios::binary);
  if (!*file) throw_invalid_parameter("path", "cannot be opened");
  file->seekg(offset);
  return [file](char* buffer, std::size_t size) -> std::size_t {
    file->read(buffer, static_cast<std::streamsize>(size));
    if (file->bad()) return http::Request::kAbortRead;
    return static_cast<std::size_t>(file->gcount());
  };
}

const json::object* object_of(const json::value& value) { return value.if_object(); }

std::string text_field(const json::value& value, std::string_view key) {
  const json::object* object = object_of(value);
  const json::value* field = object ? object->if_contains(key) : nullptr;
  if (field == nullptr || field->is_null()) return {};
  return field->is_string() ? std::string(field->as_string()) : json::serialize(*field);
}

GraphErrorInfo unexpected(std::string what) {
  return transport_error(GraphErrorKind::kOther, std::move(what));
}

}  // namespace

std::string GraphClient::start_upload_session(std::string_view app_id,
                                              const ResumableUpload& upload,
                                              std::int64_t file_length) {
  if (app_id.empty() || !std::all_of(app_id.begin(), app_id.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    throw_invalid_parameter("app_id", "must be the digits of a Meta app id");
  }
  check_upload(upload);
  if (file_length <= 0) throw_invalid_parameter("file_length", "must be a positive byte count");
  json::value answer = call("POST", "/" + std::string(app_id) + "/uploads?file_name=" +
                                        detail::percent_encode(upload.file_name) +
                                        "&file_length=" + std::to_string(file_length) +
                                        "&file_type=" + detail::percent_encode(upload.mime_type));
  std::string session = text_field(answer, "id");
  if (session.rfind("upload:", 0) != 0)
    fail(unexpected("the upload session answer has no \"upload:\" id"));
  return session;
}

std::int64_t GraphClient::upload_session_offset(std::string_view session_id) {
  check_session(session_id);
  http::Request request;
  request.url = url("/" + std::string(session_id));
  request.headers = {"Authorization: OAuth " + config_.access_token};
  request.timeout_seconds = config_.timeout_seconds;
  request.connect_timeout_seconds = config_.connect_timeout_seconds;
  for (int attempt = 0;; ++attempt) {
    detail::CallOutcome outcome = detail::outcome_of(transport_->perform(request), true);
    if (auto* body = std::get_if<json::value>(&outcome)) {
      const json::object* object = object_of(*body);
      const json::value* offset = object ? object->if_contains("file_offset") : nullptr;
      if (offset != nullptr && offset->is_int64() && offset->as_int64() >= 0)
        return offset->as_int64();
      if (offset != nullptr && offset->is_uint64())
        return static_cast<std::int64_t>(offset->as_uint64());
      fail(unexpected("the upload session answer has no file_offset"));
    }
    GraphErrorInfo& error = std::get<GraphErrorInfo>(outcome);
    if (!error.retriable || attempt >= config_.max_retries) fail(std::move(error));
    std::this_thread::sleep_for(
        std::chrono::duration<double>(backoff_seconds(attempt, error.retry_after)));
  }
}

std::string GraphClient::upload_to_session(std::string_view session_id,
                                           const ResumableUpload& upload) {
  check_session(session_id);
  check_upload(upload);
  const std::int64_t length = length_of(upload);
  for (int attempt = 0;; ++attempt) {
    // Asked before every transfer, so a resend never repeats bytes Meta already holds.
    std::int64_t offset = upload_session_offset(session_id);
    if (offset > length) {
      fail(unexpected("Meta holds " + std::to_string(offset) +
                      " bytes of this session, more than " + "the file's " +
                      std::to_string(length) + ": not the session of this file"));
    }
    http::Request request;
    request.method = "POST";
    request.url = url("/" + std::string(session_id));
    // No Content-Type: the body is the file's raw bytes, as Meta's examples send them.
    request.headers = {"Authorization: OAuth " + config_.access_token,
                       "file_offset: " + std::to_string(offset), "Content-Type:"};
    request.body_reader = reader_from(upload, offset);
    request.body_length = length - offset;
    // A large file may take long: cut the transfer when it stalls rather than after a fixed time.
    request.timeout_seconds = 0;
    request.stall_seconds = config_.timeout_seconds;
    request.connect_timeout_seconds = config_.connect_timeout_seconds;
    // Safe to repeat: the next attempt resumes from the offset Meta reports.
    detail::CallOutcome outcome = detail::outcome_of(transport_->perform(request), true);
    GraphErrorInfo error;
    if (auto* body = std::get_if<json::value>(&outcome)) {
      std::string handle = text_field(*body, "h");
      if (!handle.empty()) return handle;
      error = transport_error(GraphErrorKind::kTransient, "the upload answer has no handle (h)");
      error.retriable = true;
    } else {
      error = std::move(std::get<GraphErrorInfo>(outcome));
    }
    if (!error.retriable || attempt >= config_.max_retries) fail(std::move(error));
    std::this_thread::sleep_for(
        std::chrono::duration<double>(backoff_seconds(attempt, error.retry_after)));
  }
}

}  // namespace wacloud
