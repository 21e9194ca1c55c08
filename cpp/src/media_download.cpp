// GraphClient::download_media: GET /<media-id> for the URL, then the media
// itself (with the same Bearer token, as Meta requires), streamed into a
// temporary file beside the destination while hashing, and renamed into place
// only when its size and SHA-256 match what Meta reported. A URL answered 404
// (Meta's media URLs expire after 5 minutes) is replaced by a fresh one, once.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "graph_call.hpp"
#include "http_transport.hpp"
#include "wacloud/graph_client.hpp"
#include "wacloud/graph_errors.hpp"
#include "wacloud/media.hpp"

namespace wacloud {
namespace {

// The temporary file; removed on destruction unless committed.
class PartFile {
 public:
  explicit PartFile(const std::string& dest) : path_(dest + ".part-XXXXXX") {
    int fd = mkstemp(path_.data());
    if (fd < 0)
      throw FileError(errno, dest,
                      "cannot create a file beside " + dest + ": " + std::strerror(errno));
    file_ = fdopen(fd, "wb");
    if (file_ == nullptr) {
      ::close(fd);
      std::remove(path_.c_str());
      throw FileError(errno, dest, "cannot write beside " + dest);
    }
  }
  ~PartFile() {
    if (file_ != nullptr) std::fclose(file_);
    if (!committed_) std::remove(path_.c_str());
  }

  bool write(std::string_view data) {
    return std::fwrite(data.data(), 1, data.size(), file_) == data.size();
  }

  void restart() {
    std::fflush(file_);
    if (ftruncate(fileno(file_), 0) != 0 || std::fseek(file_, 0, SEEK_SET) != 0) {
      throw FileError(errno, path_, "cannot rewind " + path_);
    }
  }

  void commit(const std::string& dest) {
    bool ok = std::fflush(file_) == 0 && fsync(fileno(file_)) == 0;
    ok = std::fclose(file_) == 0 && ok;
    file_ = nullptr;
    if (!ok) throw FileError(errno, dest, "cannot finish writing " + dest);
    if (std::rename(path_.c_str(), dest.c_str()) != 0) {
      throw FileError(errno, dest,
                      "cannot move the download to " + dest + ": " + std::strerror(errno));
    }
    committed_ = true;
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

bool same_digest(const std::string& reported, const Sha256Digest& actual) {
  if (reported.empty()) return true;  // nothing reported: nothing to compare
  std::string hex = to_hex(actual);
  if (reported.size() == hex.size()) {
    for (std::size_t i = 0; i < hex.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(reported[i])) != hex[i]) return false;
    }
    return true;
  }
  return reported == to_base64(actual);
}

}  // namespace

RemoteMedia GraphClient::download_media(std::string_view media_id, const std::string& dest_path) {
  if (dest_path.empty()) throw_invalid_parameter("dest", "must not be empty");
  RemoteMedia media = get_media(media_id);
  PartFile part(dest_path);
  Sha256 hasher;
  std::int64_t received = 0;
  bool write_failed = false;

  http::Request request;
  request.url = media.url;
  request.headers = auth_headers(false);
  request.follow_redirects = true;
  // Large media may take long: fail on a stall, not on total time.
  request.timeout_seconds = 0;
  request.stall_seconds = config_.timeout_seconds;
  request.connect_timeout_seconds = config_.connect_timeout_seconds;
  request.sink = [&](std::string_view chunk) {
    if (!part.write(chunk)) {
      write_failed = true;
      return false;
    }
    hasher.update(chunk);
    received += static_cast<std::int64_t>(chunk.size());
    return true;
  };

  bool refreshed = false;
  for (int attempt = 0;; ++attempt) {
    http::Response response = transport_->perform(request);
    if (write_failed) throw FileError(EIO, dest_path, "cannot write " + dest_path);
    if (response.completed() && response.status == 404 && !refreshed) {
      // Media URLs expire after 5 minutes: ask for a fresh one, once, and start over.
      refreshed = true;
      media = get_media(media_id);
      request.url = media.url;
      part.restart();
      hasher.finish();  // discard the partial hash
      received = 0;
      continue;
    }
    detail::CallOutcome outcome = detail::outcome_of(response, /*idempotent=*/true);
    // The body went to the file, so a 2xx "outcome" has no JSON to parse.
    bool success = response.completed() && response.status >= 200 && response.status < 300;
    if (success) break;
    GraphErrorInfo error = std::get_if<GraphErrorInfo>(&outcome) != nullptr
                               ? std::get<GraphErrorInfo>(outcome)
                               : parse_graph_error(response.status, response.body);
    if (error.kind == GraphErrorKind::kOther || error.kind == GraphErrorKind::kInvalidParameter) {
      error.kind = GraphErrorKind::kMedia;  // e.g. 404 from the media host: the URL expired
    }
    if (!error.retriable || attempt >= config_.max_retries) fail(std::move(error));
    std::this_thread::sleep_for(
        std::chrono::duration<double>(backoff_seconds(attempt, error.retry_after)));
    part.restart();
    hasher.finish();  // discard the partial hash
    received = 0;
  }

  Sha256Digest digest = hasher.finish();
  if (media.file_size > 0 && received != media.file_size) {
    fail(transport_error(GraphErrorKind::kMedia, "downloaded " + std::to_string(received) +
                                                     " bytes but Meta reported " +
                                                     std::to_string(media.file_size)));
  }
  if (!same_digest(media.sha256, digest)) {
    fail(transport_error(
        GraphErrorKind::kMedia,
        "the SHA-256 of the downloaded media does not match the hash Meta reported"));
  }
  part.commit(dest_path);
  if (media.sha256.empty()) media.sha256 = to_hex(digest);
  return media;
}

}  // namespace wacloud
