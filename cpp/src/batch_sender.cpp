// GraphClient::send_many: one thread drives up to `concurrency` sends through
// a curl-multi Batch on the client's connection pool. Each send takes a rate
// limiter slot (try_acquire, so a throttled send never stalls the others) and
// is retried on its own schedule; outcomes land in input order.
#include <algorithm>
#include <chrono>
#include <deque>
#include <queue>
#include <thread>

#include "graph_call.hpp"
#include "http_transport.hpp"
#include "wacloud/graph_client.hpp"
#include "wacloud/graph_errors.hpp"

namespace wacloud {

using SteadyClock = std::chrono::steady_clock;

class BatchSender {
 public:
  BatchSender(GraphClient& client, const std::vector<PreparedSend>& sends)
      : client_(client),
        config_(client.config_),
        sends_(sends),
        outcomes_(sends.size()),
        attempts_(sends.size(), 0),
        first_wait_(sends.size()) {
    for (std::size_t i = 0; i < sends.size(); ++i) ready_.push_back(i);
  }

  std::vector<SendOutcome> run(std::size_t concurrency) {
    http::Batch batch(*client_.transport_, concurrency);
    std::size_t finished = 0;
    while (finished < sends_.size()) {
      release_due_retries();
      bool blocked = dispatch(batch, concurrency, finished);
      if (batch.in_flight() == 0) {
        if (finished == sends_.size()) break;
        // Nothing in flight: wait for the limiter or the next retry.
        std::this_thread::sleep_for(blocked ? std::chrono::milliseconds(2) : until_next_retry());
        continue;
      }
      int wait_ms = ready_.empty() || batch.in_flight() >= concurrency ? 100 : 2;
      if (!retries_.empty()) {
        auto until = std::chrono::duration_cast<std::chrono::milliseconds>(retries_.top().first -
                                                                           SteadyClock::now());
        wait_ms = static_cast<int>(std::clamp<long long>(until.count(), 0, wait_ms));
      }
      for (auto& [index, response] : batch.poll(wait_ms)) finished += settle(index, response);
    }
    std::vector<SendOutcome> results;
    results.reserve(outcomes_.size());
    for (auto& outcome : outcomes_) results.push_back(std::move(*outcome));
    return results;
  }

 private:
  using Due = std::pair<SteadyClock::time_point, std::size_t>;

  void release_due_retries() {
    auto now = SteadyClock::now();
    while (!retries_.empty() && retries_.top().first <= now) {
      ready_.push_back(retries_.top().second);
      retries_.pop();
    }
  }

  std::chrono::microseconds until_next_retry() const {
    if (retries_.empty()) return std::chrono::microseconds(500);
    auto until = retries_.top().first - SteadyClock::now();
    return std::max(std::chrono::duration_cast<std::chrono::microseconds>(until),
                    std::chrono::microseconds(0));
  }

  // Starts ready sends while there is room; returns true when the rate
  // limiter held some back.
  bool dispatch(http::Batch& batch, std::size_t concurrency, std::size_t& finished) {
    bool blocked = false;
    // Look past a throttled recipient at a few others, not the whole queue.
    std::size_t scan = std::min<std::size_t>(ready_.size(), 64);
    for (std::size_t position = 0; position < scan && batch.in_flight() < concurrency;) {
      std::size_t index = ready_[position];
      std::optional<GraphErrorInfo> refusal;
      if (!take_slot(index, refusal)) {
        if (!refusal) {
          blocked = true;
          ++position;
          continue;
        }
        outcomes_[index] = client_.scrub(std::move(*refusal));
        ++finished;
      } else {
        batch.add(index, request_for(index));
      }
      ready_.erase(ready_.begin() + static_cast<std::ptrdiff_t>(position));
      --scan;
    }
    return blocked;
  }

  // True when the send may go now; false with `refusal` set when it must fail
  // (waited past the limiter timeout, or the limiter threw).
  bool take_slot(std::size_t index, std::optional<GraphErrorInfo>& refusal) {
    const auto& limiter = config_.rate_limiter;
    if (!limiter) return true;
    try {
      if (limiter->try_acquire(config_.phone_number_id, sends_[index].recipient)) {
        first_wait_[index].reset();
        return true;
      }
    } catch (const std::exception& e) {
      refusal = transport_error(GraphErrorKind::kOther,
                                std::string("the rate limiter failed: ") + e.what());
      return false;
    }
    auto now = SteadyClock::now();
    if (!first_wait_[index]) first_wait_[index] = now;
    double limit = config_.rate_limit_timeout_seconds.value_or(config_.timeout_seconds);
    if (std::chrono::duration<double>(now - *first_wait_[index]).count() >= limit) {
      refusal = transport_error(GraphErrorKind::kRateLimited,
                                "the rate limiter gave no send slot in time");
      refusal->retriable = true;
    }
    return false;
  }

  http::Request request_for(std::size_t index) const {
    http::Request request;
    request.method = "POST";
    request.url = client_.url("/" + config_.phone_number_id + "/messages");
    request.headers = client_.auth_headers(true);
    request.body = sends_[index].payload;
    request.timeout_seconds = config_.timeout_seconds;
    request.connect_timeout_seconds = config_.connect_timeout_seconds;
    return request;
  }

  // Records the outcome of one exchange or schedules its retry; returns 1 when
  // the send is finished.
  std::size_t settle(std::size_t index, const http::Response& response) {
    detail::CallOutcome outcome = detail::outcome_of(response, /*idempotent=*/false);
    if (auto* body = std::get_if<boost::json::value>(&outcome)) {
      try {
        outcomes_[index] = detail::send_result_from(*body);
      } catch (const GraphError& e) {
        outcomes_[index] = client_.scrub(e.info());
      }
      return 1;
    }
    GraphErrorInfo& error = std::get<GraphErrorInfo>(outcome);
    bool too_long = error.retry_after && *error.retry_after > config_.backoff_max_seconds;
    if (error.retriable && attempts_[index] < config_.max_retries && !too_long) {
      double wait = client_.backoff_seconds(attempts_[index]++, error.retry_after);
      auto due = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                          std::chrono::duration<double>(wait));
      retries_.emplace(due, index);
      return 0;
    }
    outcomes_[index] = client_.scrub(std::move(error));
    return 1;
  }

  GraphClient& client_;
  const ClientConfig& config_;
  const std::vector<PreparedSend>& sends_;
  std::vector<std::optional<SendOutcome>> outcomes_;
  std::vector<int> attempts_;
  std::vector<std::optional<SteadyClock::time_point>> first_wait_;
  std::deque<std::size_t> ready_;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> retries_;
};

std::vector<SendOutcome> GraphClient::send_many(const std::vector<PreparedSend>& sends,
                                                std::size_t concurrency) {
  if (concurrency == 0) throw_invalid_parameter("concurrency", "must be at least 1");
  if (sends.empty()) return {};
  return BatchSender(*this, sends).run(std::min(concurrency, sends.size()));
}

}  // namespace wacloud
