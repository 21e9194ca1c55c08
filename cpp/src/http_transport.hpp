// A small libcurl layer private to the Graph client: one connection pool per
// Transport (shared connection, DNS and TLS-session caches; reused easy
// handles; HTTP/1.1 keep-alive), blocking requests, and a curl-multi Batch
// that keeps many requests in flight on that same pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wacloud::http {

struct FormPart {
  std::string name;
  std::string data;       // the part's content, unless file_path is set
  std::string file_path;  // streamed from disk when not empty
  std::string filename;
  std::string content_type;
};

struct Request {
  std::string method = "GET";  // GET, POST or DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent as-is for POST
  std::vector<FormPart> form;        // multipart/form-data instead of body
  // Streams a POST body of `body_length` bytes instead of `body`: fills up to
  // `size` bytes and returns how many (kAbortRead stops the transfer).
  std::function<std::size_t(char* buffer, std::size_t size)> body_reader;
  std::int64_t body_length = 0;
  static constexpr std::size_t kAbortRead = static_cast<std::size_t>(-1);
  // Receives the response body in chunks instead of buffering it; returning
  // false aborts the transfer.
  std::function<bool(std::string_view)> sink;
  double timeout_seconds = 30;          // whole transfer; 0: no limit
  double connect_timeout_seconds = 10;  // TCP + TLS set-up
  double stall_seconds = 0;             // abort when nothing arrives this long
  bool follow_redirects = false;
};

struct Response {
  long status = 0;  // 0 when no HTTP answer arrived
  std::string body;
  std::optional<double> retry_after;
  int curl_code = 0;  // CURLE_OK (0) when the transfer completed
  std::string error;  // description of a transport failure
  // Bytes of the request left this process: a failure after this point may
  // have reached the server, so a non-idempotent request must not be resent.
  bool request_sent = false;
  bool timed_out = false;
  bool aborted_by_sink = false;
  bool completed() const noexcept { return curl_code == 0; }
};

class Transport {
 public:
  Transport();
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Thread-safe; blocks the calling thread only.
  Response perform(const Request& request);

  struct Impl;

 private:
  friend class Batch;
  std::unique_ptr<Impl> impl_;
};

// Many requests in flight on the Transport's pool, driven by one thread.
class Batch {
 public:
  Batch(Transport& transport, std::size_t max_connections);
  ~Batch();
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  void add(std::size_t tag, Request request);
  std::size_t in_flight() const noexcept;
  // Waits up to `timeout_ms` for progress; returns the transfers that ended.
  std::vector<std::pair<std::size_t, Response>> poll(int timeout_ms);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace wacloud::http
