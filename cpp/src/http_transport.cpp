#include "http_transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "wacloud/errors.hpp"
#include "wacloud/graph_errors.hpp"

#ifdef WACLOUD_FIND_CA_BUNDLE
#include <unistd.h>

#include <string>
#endif

namespace wacloud::http {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw Error("libcurl failed to initialise");
  });
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

constexpr long kPoolSize = 64;

long to_ms(double seconds) { return seconds > 0 ? static_cast<long>(seconds * 1000.0 + 0.5) : 0; }

#ifdef WACLOUD_FIND_CA_BUNDLE
// Wheels link libcurl with their own OpenSSL, whose built-in CA paths are those of the build
// machine (/usr/lib/ssl), so the CA store of the machine we run on is looked up here: the
// bundle named by CURL_CA_BUNDLE or SSL_CERT_FILE, else the first of the places Linux
// distributions keep theirs. SSL_CERT_DIR alone leaves it to OpenSSL, which reads that variable.
const char* ca_bundle() {
  static const std::string path = [] {
    for (const char* variable : {"CURL_CA_BUNDLE", "SSL_CERT_FILE"}) {
      const char* value = std::getenv(variable);
      if (value && *value) return std::string(value);
    }
    const char* cert_dir = std::getenv("SSL_CERT_DIR");
    if (cert_dir && *cert_dir) return std::string();
    for (const char* candidate : {
             "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu, Arch, Gentoo
             "/etc/pki/tls/certs/ca-bundle.crt",                   // Fedora, RHEL
             "/etc/ssl/ca-bundle.pem",                             // openSUSE
             "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // CentOS, RHEL 7
             "/etc/ssl/cert.pem",                                  // Alpine
         }) {
      if (::access(candidate, R_OK) == 0) return std::string(candidate);
    }
    return std::string();
  }();
  return path.empty() ? nullptr : path.c_str();
}
#endif

}  // namespace

// One in-flight transfer: the request (curl reads the body and headers from
// it, so it must outlive the transfer), its response, and curl's resources.
struct Transfer {
  Request request;
  Response response;
  curl_slist* headers = nullptr;
  curl_mime* mime = nullptr;
  CURL* easy = nullptr;
  std::size_t tag = 0;

  ~Transfer() {
    curl_slist_free_all(headers);
    curl_mime_free(mime);
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* self) {
    auto* transfer = static_cast<Transfer*>(self);
    std::size_t length = size * count;
    if (transfer->request.sink) {
      // Error statuses are buffered, not streamed: they carry a Graph error object.
      long status = 0;
      curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
      if (status < 300) {
        if (!transfer->request.sink(std::string_view(data, length))) {
          transfer->response.aborted_by_sink = true;
          return 0;
        }
        return length;
      }
    }
    transfer->response.body.append(data, length);
    return length;
  }

  static std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* self) {
    auto* transfer = static_cast<Transfer*>(self);
    std::size_t written = transfer->request.body_reader(buffer, size * count);
    return written == Request::kAbortRead ? CURL_READFUNC_ABORT : written;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* self) {
    auto* transfer = static_cast<Transfer*>(self);
    std::string_view line(data, size * count);
    if (iequals_prefix(line, "http/")) {
      transfer->response.retry_after.reset();  // a new response (after 100-continue or a redirect)
    } else if (iequals_prefix(line, "retry-after:")) {
      transfer->response.retry_after = parse_retry_after(line.substr(12), std::time(nullptr));
    }
    return size * count;
  }

  void configure(CURL* handle, CURLSH* share) {
    easy = handle;
    const Request& r = request;
    curl_easy_setopt(easy, CURLOPT_SHARE, share);
    curl_easy_setopt(easy, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "wacloud/0.1");
#ifdef WACLOUD_FIND_CA_BUNDLE
    if (const char* bundle = ca_bundle()) curl_easy_setopt(easy, CURLOPT_CAINFO, bundle);
#endif
    // How many idle connections the shared pool keeps (curl's default is 5,
    // too few for a client used from many threads).
    curl_easy_setopt(easy, CURLOPT_MAXCONNECTS, kPoolSize);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, this);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, to_ms(r.timeout_seconds));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, to_ms(r.connect_timeout_seconds));
    if (r.stall_seconds > 0) {
      curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, static_cast<long>(r.stall_seconds + 0.999));
    }
    if (r.follow_redirects) {
      // curl drops the Authorization header when a redirect leaves the host.
      curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
    }
    for (const std::string& header : r.headers)
      headers = curl_slist_append(headers, header.c_str());
    // No "Expect: 100-continue" round trip before bodies.
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    if (!r.form.empty()) {
      mime = curl_mime_init(easy);
      for (const FormPart& part : r.form) {
        curl_mimepart* field = curl_mime_addpart(mime);
        curl_mime_name(field, part.name.c_str());
        if (!part.file_path.empty()) {
          curl_mime_filedata(field, part.file_path.c_str());
        } else {
          curl_mime_data(field, part.data.data(), part.data.size());
        }
        if (!part.filename.empty()) curl_mime_filename(field, part.filename.c_str());
        if (!part.content_type.empty()) curl_mime_type(field, part.content_type.c_str());
      }
      curl_easy_setopt(easy, CURLOPT_MIMEPOST, mime);
    } else if (r.method == "POST" && r.body_reader) {
      curl_easy_setopt(easy, CURLOPT_POST, 1L);
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body_length));
      curl_easy_setopt(easy, CURLOPT_READFUNCTION, &Transfer::on_read);
      curl_easy_setopt(easy, CURLOPT_READDATA, this);
    } else if (r.method == "POST" || (r.method == "DELETE" && !r.body.empty())) {
      // A DELETE with a body (Meta's unblock_users) sends it like a POST, under its own verb.
      curl_easy_setopt(easy, CURLOPT_POST, 1L);
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r.body.data());
    }
    if (r.method == "DELETE") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "DELETE");
  }

  void finish(CURLcode code) {
    response.curl_code = static_cast<int>(code);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.status);
    long request_size = 0;
    curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_size);
    response.request_sent = request_size > 0;
    if (code != CURLE_OK) {
      response.timed_out = code == CURLE_OPERATION_TIMEDOUT;
      response.error = curl_easy_strerror(code);
      if (!response.request_sent) response.status = 0;
    }
  }
};

struct Transport::Impl {
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
  std::mutex pool_mutex;
  std::vector<CURL*> idle;  // reused easy handles keep their buffers warm

  Impl() {
    global_init();
    share = curl_share_init();
    if (share == nullptr) throw Error("libcurl could not create a connection pool");
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &Impl::lock);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &Impl::unlock);
    curl_share_setopt(share, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }

  ~Impl() {
    for (CURL* easy : idle) curl_easy_cleanup(easy);
    curl_share_cleanup(share);
  }

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* self) {
    static_cast<Impl*>(self)->locks[static_cast<std::size_t>(data)].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* self) {
    static_cast<Impl*>(self)->locks[static_cast<std::size_t>(data)].unlock();
  }

  CURL* take() {
    {
      std::lock_guard<std::mutex> guard(pool_mutex);
      if (!idle.empty()) {
        CURL* easy = idle.back();
        idle.pop_back();
        curl_easy_reset(easy);
        return easy;
      }
    }
    CURL* easy = curl_easy_init();
    if (easy == nullptr) throw Error("libcurl could not create a request handle");
    return easy;
  }

  void give_back(CURL* easy) {
    std::lock_guard<std::mutex> guard(pool_mutex);
    idle.push_back(easy);
  }
};

Transport::Transport() : impl_(std::make_unique<Impl>()) {}
Transport::~Transport() = default;

Response Transport::perform(const Request& request) {
  Transfer transfer;
  transfer.request = request;
  CURL* easy = impl_->take();
  transfer.configure(easy, impl_->share);
  transfer.finish(curl_easy_perform(easy));
  impl_->give_back(easy);
  return std::move(transfer.response);
}

struct Batch::State {
  Transport::Impl& pool;
  CURLM* multi = nullptr;
  std::unordered_map<std::size_t, std::unique_ptr<Transfer>> running;

  State(Transport::Impl& impl, std::size_t max_connections) : pool(impl), multi(curl_multi_init()) {
    if (multi == nullptr) throw Error("libcurl could not create a request batch");
    auto connections = static_cast<long>(max_connections);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, connections);
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, connections);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, std::max(connections, kPoolSize));
  }

  ~State() {
    for (auto& [tag, transfer] : running) {
      curl_multi_remove_handle(multi, transfer->easy);
      curl_easy_cleanup(transfer->easy);
    }
    curl_multi_cleanup(multi);
  }
};

Batch::Batch(Transport& transport, std::size_t max_connections)
    : state_(
          std::make_unique<State>(*transport.impl_, max_connections == 0 ? 1 : max_connections)) {}
Batch::~Batch() = default;

void Batch::add(std::size_t tag, Request request) {
  auto transfer = std::make_unique<Transfer>();
  transfer->request = std::move(request);
  transfer->tag = tag;
  transfer->configure(state_->pool.take(), state_->pool.share);
  if (curl_multi_add_handle(state_->multi, transfer->easy) != CURLM_OK) {
    state_->pool.give_back(transfer->easy);
    throw Error("libcurl refused a request in the batch");
  }
  state_->running.emplace(tag, std::move(transfer));
}

std::size_t Batch::in_flight() const noexcept { return state_->running.size(); }

std::vector<std::pair<std::size_t, Response>> Batch::poll(int timeout_ms) {
  std::vector<std::pair<std::size_t, Response>> done;
  int still_running = 0;
  curl_multi_perform(state_->multi, &still_running);
  if (still_running > 0 && timeout_ms > 0) {
    curl_multi_poll(state_->multi, nullptr, 0, timeout_ms, nullptr);
    curl_multi_perform(state_->multi, &still_running);
  }
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(state_->multi, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    Transfer* transfer = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&transfer));
    transfer->finish(message->data.result);
    curl_multi_remove_handle(state_->multi, transfer->easy);
    state_->pool.give_back(transfer->easy);
    auto node = state_->running.extract(transfer->tag);
    done.emplace_back(transfer->tag, std::move(transfer->response));
  }
  return done;
}

}  // namespace wacloud::http
