// Rate limiting for sends: token buckets keyed by phone number id, plus an
// optional per-recipient (pair) limit, as Meta throttles both.
//
// Meta's figures (developers.facebook.com, WhatsApp Cloud API "Throughput"):
// each registered business phone number gets 80 messages per second by
// default, upgraded automatically to up to 1,000 (20 for numbers shared with
// the WhatsApp Business app); above it the API answers error 130429. Sending
// too often to one WhatsApp user hits the pair rate limit (error 131056),
// reported as about one message every 6 seconds per business-user pair.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace wacloud {

// What the Graph client calls before each send. Implementations are thread-safe.
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;

  // Blocks until a send from `key` (a phone number id) to `recipient` (may be
  // empty: no pair limit applies) is allowed, or until `timeout_seconds` passes
  // (nullopt: wait as long as needed). Returns false on timeout, taking nothing.
  virtual bool acquire(const std::string& key, const std::string& recipient,
                       std::optional<double> timeout_seconds) = 0;

  // Takes a token only if one is available now.
  virtual bool try_acquire(const std::string& key, const std::string& recipient) = 0;
};

// ---- configuration ---------------------------------------------------------

// The budget of one phone number id. Every limit is a token bucket: it holds at
// most its capacity and refills continuously at its rate.
struct RateLimitConfig {
  double per_second = 80;  // Meta's default throughput per phone number
  // Sends allowed at once after an idle spell; nullopt: `per_second`.
  std::optional<double> burst;
  // Also at most this many per hour (capacity `per_hour`, refilled over an hour).
  std::optional<double> per_hour;
  // At most `pair_limit` sends to one recipient per `pair_period_seconds`.
  std::optional<double> pair_limit;
  double pair_period_seconds = 6.0;

  double burst_capacity() const { return burst.value_or(per_second); }
};

// Throws std::invalid_argument naming the first bad field: rates and periods
// must be positive and finite, capacities (burst, per_hour, pair_limit) >= 1.
void validate(const RateLimitConfig& config);

// ---- building blocks (shared by the limiters, public for tests) -----------

// Where a limiter reads the time (seconds as a double) and how it waits.
// Injectable so tests can drive the bucket math without sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual double now() = 0;
  virtual void sleep_for(double seconds) = 0;
};

// Monotonic: right for one process, immune to wall clock changes.
std::shared_ptr<Clock> steady_clock();
// The system clock: the only clock processes on one host share.
std::shared_ptr<Clock> wall_clock();

// A token bucket as plain data, so the SQLite limiter can keep it in a row.
struct TokenBucket {
  double tokens = 0;
  double updated = 0;  // clock time `tokens` was computed at

  static TokenBucket full(double capacity, double now) { return {capacity, now}; }
  // Adds what accrued since `updated`, capped at `capacity`. A clock that went
  // backwards adds nothing and resynchronises `updated`.
  void refill(double capacity, double rate, double now);
  // Seconds until one whole token is there (0 when it is there now).
  double wait_for_token(double rate) const;
  // True when refilled to `capacity` by `now`: the bucket can be forgotten.
  bool is_full_at(double capacity, double rate, double now) const;
};

// Shared by the two limiters below; not part of the API.
namespace rate_limit_detail {

// The capacities and rates (tokens per second) a config implies.
struct BucketRates {
  explicit BucketRates(const RateLimitConfig& config);
  double burst, second_rate;
  double hour_capacity, hour_rate;
  double pair_capacity, pair_rate;
  bool has_hour, has_pair;
  double sweep_interval;  // seconds between sweeps of idle buckets
};

// What a limiter decided for one request. Only the per-second bucket may be
// drawn into debt: when it alone is short, and its wait fits the caller's
// timeout, the token is taken now for a slot `wait` seconds ahead (granted,
// the caller sleeps `wait`). Reserving keeps slots exactly 1/rate apart
// however late a waiter wakes up, and waiters never stampede. A refusing pair
// or hourly bucket takes nothing: `wait` is when to decide again.
struct Decision {
  bool granted = false;
  double wait = 0;  // seconds
};

// Waits are never shorter than this: a shorter one might not even move a
// double wall clock (resolution ~0.24 us), and the waiter would spin.
constexpr double kMinimumSleep = 1e-6;

// Throws std::invalid_argument for an empty key.
void require_key(const std::string& key);
// `now + timeout` (infinity for nullopt); throws std::invalid_argument for a
// negative or NaN timeout.
double deadline_after(double now, std::optional<double> timeout_seconds);

// The blocking loop every limiter shares. `decide()` takes the limiter's lock
// and returns {now, Decision}; the sleeping happens here, outside that lock,
// until the reserved slot or until deciding again can help. Returns false,
// taking nothing, when the wait would pass `deadline`.
template <typename Decide>
bool acquire_until(Clock& clock, double deadline, Decide&& decide) {
  for (;;) {
    const std::pair<double, Decision> answer = decide();
    const double now = answer.first;
    const Decision& decision = answer.second;
    if (decision.granted) {
      if (decision.wait > 0) clock.sleep_for(decision.wait);
      return true;
    }
    if (now + decision.wait > deadline) return false;
    clock.sleep_for(decision.wait > kMinimumSleep ? decision.wait : kMinimumSleep);
  }
}

}  // namespace rate_limit_detail

// ---- limiters --------------------------------------------------------------

// In-process limiter: one budget shared by every thread of this process.
// Idle pair buckets are swept out, so memory stays bounded by the recipients
// seen in the last couple of pair periods.
class MemoryRateLimiter : public RateLimiter {
 public:
  explicit MemoryRateLimiter(RateLimitConfig config = {},
                             std::shared_ptr<Clock> clock = steady_clock());
  ~MemoryRateLimiter() override;
  MemoryRateLimiter(const MemoryRateLimiter&) = delete;
  MemoryRateLimiter& operator=(const MemoryRateLimiter&) = delete;

  // Returns false at once, taking nothing, when the wait would outlast the
  // timeout: tokens only ever arrive with time, so waiting could not help.
  // Otherwise reserves the next per-second slot and sleeps until it (see
  // rate_limit_detail::Decision), so it returns true after the wait.
  bool acquire(const std::string& key, const std::string& recipient,
               std::optional<double> timeout_seconds) override;
  bool try_acquire(const std::string& key, const std::string& recipient) override;

  // Seconds until try_acquire would succeed (0: now). Takes nothing.
  double wait_time(const std::string& key, const std::string& recipient);
  // Buckets held in memory (per key and per pair); for tests and monitoring.
  std::size_t tracked_buckets() const;
  const RateLimitConfig& config() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Host-wide limiter: the buckets live in one SQLite file (WAL mode), so every
// process using the same path (e.g. several Celery workers) shares one budget.
// Refill is computed from the wall clock. A limiter used after fork() reopens
// its connection in the child. SQLite failures throw wacloud::Error.
class SqliteRateLimiter : public RateLimiter {
 public:
  SqliteRateLimiter(std::string path, RateLimitConfig config = {},
                    std::shared_ptr<Clock> clock = wall_clock());
  ~SqliteRateLimiter() override;
  SqliteRateLimiter(const SqliteRateLimiter&) = delete;
  SqliteRateLimiter& operator=(const SqliteRateLimiter&) = delete;

  // Same timeout rule as MemoryRateLimiter::acquire.
  bool acquire(const std::string& key, const std::string& recipient,
               std::optional<double> timeout_seconds) override;
  bool try_acquire(const std::string& key, const std::string& recipient) override;

  // Buckets stored in the file; for tests and monitoring.
  std::size_t tracked_buckets();
  const RateLimitConfig& config() const noexcept;
  const std::string& path() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace wacloud
