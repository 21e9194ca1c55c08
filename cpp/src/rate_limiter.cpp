// Configuration checks, clocks, token bucket math and the in-process limiter.
// The SQLite limiter (rate_limiter_sqlite.cpp) reuses all but the last.
#include "wacloud/rate_limiter.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace wacloud {
namespace {

// Refill is floating point, and a double holding wall clock seconds resolves
// only ~0.24 us: a token that is there up to rounding counts as there.
constexpr double kTokenEpsilon = 1e-6;

void require(bool ok, const char* field, const char* rule, double value) {
  if (ok) return;
  std::ostringstream message;
  message << field << " must be " << rule << ", got " << value;
  throw std::invalid_argument(message.str());
}

bool positive_finite(double value) { return std::isfinite(value) && value > 0; }

class SteadyClock final : public Clock {
 public:
  double now() override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void sleep_for(double seconds) override {
    if (seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  }
};

class WallClock final : public Clock {
 public:
  double now() override {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void sleep_for(double seconds) override {
    if (seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  }
};

}  // namespace

void validate(const RateLimitConfig& config) {
  require(positive_finite(config.per_second), "per_second", "a positive finite number",
          config.per_second);
  if (config.burst) {
    require(std::isfinite(*config.burst) && *config.burst >= 1, "burst", "a finite number >= 1",
            *config.burst);
  }
  if (config.per_hour) {
    require(std::isfinite(*config.per_hour) && *config.per_hour >= 1, "per_hour",
            "a finite number >= 1", *config.per_hour);
  }
  if (config.pair_limit) {
    require(std::isfinite(*config.pair_limit) && *config.pair_limit >= 1, "pair_limit",
            "a finite number >= 1", *config.pair_limit);
  }
  require(positive_finite(config.pair_period_seconds), "pair_period_seconds",
          "a positive finite number", config.pair_period_seconds);
}

std::shared_ptr<Clock> steady_clock() { return std::make_shared<SteadyClock>(); }
std::shared_ptr<Clock> wall_clock() { return std::make_shared<WallClock>(); }

void TokenBucket::refill(double capacity, double rate, double now) {
  const double elapsed = std::max(0.0, now - updated);
  tokens = std::min(capacity, tokens + elapsed * rate);
  updated = now;
}

double TokenBucket::wait_for_token(double rate) const {
  if (tokens >= 1 - kTokenEpsilon) return 0;
  return (1 - tokens) / rate;
}

bool TokenBucket::is_full_at(double capacity, double rate, double now) const {
  return tokens + std::max(0.0, now - updated) * rate >= capacity - kTokenEpsilon;
}

namespace rate_limit_detail {

BucketRates::BucketRates(const RateLimitConfig& config)
    : burst(config.burst_capacity()),
      second_rate(config.per_second),
      hour_capacity(config.per_hour.value_or(0)),
      hour_rate(config.per_hour.value_or(0) / 3600.0),
      pair_capacity(config.pair_limit.value_or(0)),
      pair_rate(config.pair_limit.value_or(0) / config.pair_period_seconds),
      has_hour(config.per_hour.has_value()),
      has_pair(config.pair_limit.has_value()),
      // Sweeping every pair period keeps a pair bucket at most about two
      // periods; capped so long periods still get swept now and then.
      sweep_interval(std::clamp(config.pair_period_seconds, 1.0, 60.0)) {}

void require_key(const std::string& key) {
  if (key.empty()) throw std::invalid_argument("key (the phone number id) must not be empty");
}

double deadline_after(double now, std::optional<double> timeout_seconds) {
  if (!timeout_seconds) return std::numeric_limits<double>::infinity();
  if (std::isnan(*timeout_seconds) || *timeout_seconds < 0) {
    std::ostringstream message;
    message << "timeout must be None or a number >= 0, got " << *timeout_seconds;
    throw std::invalid_argument(message.str());
  }
  return now + *timeout_seconds;
}

}  // namespace rate_limit_detail

// ---- MemoryRateLimiter -----------------------------------------------------

using rate_limit_detail::BucketRates;
using rate_limit_detail::Decision;

struct MemoryRateLimiter::State {
  struct KeyBuckets {
    TokenBucket second;
    TokenBucket hour;
  };

  State(RateLimitConfig config_in, std::shared_ptr<Clock> clock_in)
      : config((validate(config_in), std::move(config_in))),
        rates(config),
        clock(std::move(clock_in)) {
    if (!clock) throw std::invalid_argument("clock must not be null");
    next_sweep = clock->now() + rates.sweep_interval;
  }

  // Under `mutex`; see rate_limit_detail::Decision.
  Decision decide(const std::string& key, const std::string& recipient, double now,
                  double max_reserve, bool take) {
    if (now >= next_sweep) sweep(now);
    auto [entry, inserted] = keys.try_emplace(key);
    KeyBuckets& buckets = entry->second;
    if (inserted) {
      buckets.second = TokenBucket::full(rates.burst, now);
      buckets.hour = TokenBucket::full(rates.hour_capacity, now);
    }
    buckets.second.refill(rates.burst, rates.second_rate, now);
    const double second_wait = buckets.second.wait_for_token(rates.second_rate);
    double other_wait = 0;
    if (rates.has_hour) {
      buckets.hour.refill(rates.hour_capacity, rates.hour_rate, now);
      other_wait = buckets.hour.wait_for_token(rates.hour_rate);
    }
    TokenBucket* pair = nullptr;
    if (rates.has_pair && !recipient.empty()) {
      auto [found, created] = pairs.try_emplace(pair_id(key, recipient));
      pair = &found->second;
      if (created) *pair = TokenBucket::full(rates.pair_capacity, now);
      pair->refill(rates.pair_capacity, rates.pair_rate, now);
      other_wait = std::max(other_wait, pair->wait_for_token(rates.pair_rate));
    }
    if (other_wait > 0 || second_wait > max_reserve || !take) {
      return {false, std::max(other_wait, second_wait)};
    }
    buckets.second.tokens -= 1;  // below zero when reserving a future slot
    if (rates.has_hour) buckets.hour.tokens -= 1;
    if (pair != nullptr) pair->tokens -= 1;
    return {true, second_wait};
  }

  // A full bucket behaves exactly like a missing one, so forgetting it is free.
  void sweep(double now) {
    for (auto it = pairs.begin(); it != pairs.end();) {
      it = it->second.is_full_at(rates.pair_capacity, rates.pair_rate, now) ? pairs.erase(it)
                                                                            : std::next(it);
    }
    for (auto it = keys.begin(); it != keys.end();) {
      const KeyBuckets& b = it->second;
      const bool idle =
          b.second.is_full_at(rates.burst, rates.second_rate, now) &&
          (!rates.has_hour || b.hour.is_full_at(rates.hour_capacity, rates.hour_rate, now));
      it = idle ? keys.erase(it) : std::next(it);
    }
    next_sweep = now + rates.sweep_interval;
  }

  // Length-prefixed so no (key, recipient) pair can collide with another.
  static std::string pair_id(const std::string& key, const std::string& recipient) {
    return std::to_string(key.size()) + ':' + key + recipient;
  }

  const RateLimitConfig config;
  const BucketRates rates;
  const std::shared_ptr<Clock> clock;
  mutable std::mutex mutex;
  std::unordered_map<std::string, KeyBuckets> keys;
  std::unordered_map<std::string, TokenBucket> pairs;
  double next_sweep = 0;
};

MemoryRateLimiter::MemoryRateLimiter(RateLimitConfig config, std::shared_ptr<Clock> clock)
    : state_(std::make_unique<State>(std::move(config), std::move(clock))) {}

MemoryRateLimiter::~MemoryRateLimiter() = default;

bool MemoryRateLimiter::acquire(const std::string& key, const std::string& recipient,
                                std::optional<double> timeout_seconds) {
  rate_limit_detail::require_key(key);
  const double deadline = rate_limit_detail::deadline_after(state_->clock->now(), timeout_seconds);
  return rate_limit_detail::acquire_until(*state_->clock, deadline, [&] {
    std::lock_guard<std::mutex> lock(state_->mutex);
    const double now = state_->clock->now();
    return std::make_pair(now, state_->decide(key, recipient, now, deadline - now, true));
  });
}

bool MemoryRateLimiter::try_acquire(const std::string& key, const std::string& recipient) {
  rate_limit_detail::require_key(key);
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->decide(key, recipient, state_->clock->now(), 0, true).granted;
}

double MemoryRateLimiter::wait_time(const std::string& key, const std::string& recipient) {
  rate_limit_detail::require_key(key);
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->decide(key, recipient, state_->clock->now(), 0, false).wait;
}

std::size_t MemoryRateLimiter::tracked_buckets() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->keys.size() + state_->pairs.size();
}

const RateLimitConfig& MemoryRateLimiter::config() const noexcept { return state_->config; }

}  // namespace wacloud
