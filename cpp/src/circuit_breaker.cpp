// Configuration checks, the state machine on one record, and the in-process
// breaker. The SQLite breaker (circuit_breaker_sqlite.cpp) reuses all but the last.
#include "wacloud/circuit_breaker.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace wacloud {
namespace {

template <typename T>
void require(bool ok, const char* field, const char* rule, T value) {
  if (ok) return;
  std::ostringstream message;
  message << field << " must be " << rule << ", got " << value;
  throw std::invalid_argument(message.str());
}

bool positive_finite(double value) { return std::isfinite(value) && value > 0; }

// A new window once the current one is over (or was never started).
void roll_window(CircuitRecord& record, const CircuitBreakerConfig& config, double now) {
  if (record.calls == 0 || now >= record.window_start + config.window_seconds ||
      now < record.window_start) {
    record.window_start = now;
    record.calls = 0;
    record.failures = 0;
  }
}

void open(CircuitRecord& record, double now, double cool_down) {
  record.state = CircuitState::kOpen;
  record.opened_at = now;
  record.cool_down = cool_down;
  record.probe_started = 0;
  record.consecutive_failures = 0;
  record.window_start = 0;
  record.calls = 0;
  record.failures = 0;
}

}  // namespace

void validate(const CircuitBreakerConfig& config) {
  require(config.failure_threshold >= 1, "failure_threshold", "an integer >= 1",
          config.failure_threshold);
  if (config.error_rate) {
    require(std::isfinite(*config.error_rate) && *config.error_rate > 0 && *config.error_rate <= 1,
            "error_rate", "a number in (0, 1] or None", *config.error_rate);
  }
  require(positive_finite(config.window_seconds), "window_seconds", "a positive finite number",
          config.window_seconds);
  require(config.min_calls >= 1, "min_calls", "an integer >= 1", config.min_calls);
  require(positive_finite(config.cool_down_seconds), "cool_down_seconds",
          "a positive finite number", config.cool_down_seconds);
  require(std::isfinite(config.max_cool_down_seconds) &&
              config.max_cool_down_seconds >= config.cool_down_seconds,
          "max_cool_down_seconds", "a finite number >= cool_down_seconds",
          config.max_cool_down_seconds);
}

const char* circuit_state_name(CircuitState state) noexcept {
  switch (state) {
    case CircuitState::kClosed:
      return "closed";
    case CircuitState::kOpen:
      return "open";
    case CircuitState::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

const char* circuit_transition_name(CircuitTransition transition) noexcept {
  switch (transition) {
    case CircuitTransition::kNone:
      return "";
    case CircuitTransition::kOpened:
      return "opened";
    case CircuitTransition::kHalfOpened:
      return "half_opened";
    case CircuitTransition::kReopened:
      return "reopened";
    case CircuitTransition::kClosed:
      return "closed";
  }
  return "";
}

namespace circuit_detail {

CircuitPermit allow(CircuitRecord& record, const CircuitBreakerConfig& /*config*/, double now) {
  switch (record.state) {
    case CircuitState::kClosed:
      return {};
    case CircuitState::kOpen: {
      const double ready = record.opened_at + record.cool_down;
      if (now < ready) {
        // A clock that went backwards never makes the wait longer than one cool-down.
        return {false, false, std::min(ready - now, record.cool_down), CircuitTransition::kNone};
      }
      record.state = CircuitState::kHalfOpen;
      record.probe_started = now;
      return {true, true, 0, CircuitTransition::kHalfOpened};
    }
    case CircuitState::kHalfOpen: {
      // A probe silent for a whole cool-down is presumed lost with its process.
      const double lost = record.probe_started + record.cool_down;
      if (now < lost && now >= record.probe_started) {
        return {false, false, lost - now, CircuitTransition::kNone};
      }
      record.probe_started = now;
      return {true, true, 0, CircuitTransition::kNone};
    }
  }
  return {};
}

CircuitTransition record_success(CircuitRecord& record, const CircuitBreakerConfig& config,
                                 double now) {
  switch (record.state) {
    case CircuitState::kClosed:
      roll_window(record, config, now);
      record.calls += 1;
      record.consecutive_failures = 0;
      return CircuitTransition::kNone;
    case CircuitState::kOpen:
      // A late answer to a call made before the circuit opened: the probe decides.
      return CircuitTransition::kNone;
    case CircuitState::kHalfOpen:
      record = CircuitRecord{};
      return CircuitTransition::kClosed;
  }
  return CircuitTransition::kNone;
}

CircuitTransition record_failure(CircuitRecord& record, const CircuitBreakerConfig& config,
                                 double now) {
  switch (record.state) {
    case CircuitState::kClosed: {
      roll_window(record, config, now);
      record.calls += 1;
      record.failures += 1;
      record.consecutive_failures += 1;
      const bool run = record.consecutive_failures >= config.failure_threshold;
      const bool rate = config.error_rate && record.calls >= config.min_calls &&
                        record.failures >= *config.error_rate * record.calls;
      if (!run && !rate) return CircuitTransition::kNone;
      open(record, now, config.cool_down_seconds);
      return CircuitTransition::kOpened;
    }
    case CircuitState::kOpen:
      return CircuitTransition::kNone;  // late, like a late success
    case CircuitState::kHalfOpen:
      open(record, now, std::min(record.cool_down * 2, config.max_cool_down_seconds));
      return CircuitTransition::kReopened;
  }
  return CircuitTransition::kNone;
}

void require_key(const std::string& key) {
  if (key.empty()) throw std::invalid_argument("key (the phone number id) must not be empty");
}

}  // namespace circuit_detail

// ---- MemoryCircuitBreaker --------------------------------------------------

struct MemoryCircuitBreaker::State {
  explicit State(CircuitBreakerConfig config_in)
      : config((validate(config_in), std::move(config_in))) {}

  const CircuitBreakerConfig config;
  std::mutex mutex;
  std::unordered_map<std::string, CircuitRecord> records;  // one per phone number id
};

MemoryCircuitBreaker::MemoryCircuitBreaker(CircuitBreakerConfig config)
    : state_(std::make_unique<State>(std::move(config))) {}

MemoryCircuitBreaker::~MemoryCircuitBreaker() = default;

CircuitPermit MemoryCircuitBreaker::allow(const std::string& key, double now) {
  circuit_detail::require_key(key);
  std::lock_guard<std::mutex> lock(state_->mutex);
  auto found = state_->records.find(key);
  if (found == state_->records.end()) return {};
  return circuit_detail::allow(found->second, state_->config, now);
}

CircuitTransition MemoryCircuitBreaker::record_success(const std::string& key, double now) {
  circuit_detail::require_key(key);
  std::lock_guard<std::mutex> lock(state_->mutex);
  // Successes are counted too: they are the denominator of the error rate.
  return circuit_detail::record_success(state_->records[key], state_->config, now);
}

CircuitTransition MemoryCircuitBreaker::record_failure(const std::string& key, double now) {
  circuit_detail::require_key(key);
  std::lock_guard<std::mutex> lock(state_->mutex);
  return circuit_detail::record_failure(state_->records[key], state_->config, now);
}

CircuitRecord MemoryCircuitBreaker::status(const std::string& key) {
  circuit_detail::require_key(key);
  std::lock_guard<std::mutex> lock(state_->mutex);
  auto found = state_->records.find(key);
  return found == state_->records.end() ? CircuitRecord{} : found->second;
}

const CircuitBreakerConfig& MemoryCircuitBreaker::config() const noexcept { return state_->config; }

}  // namespace wacloud
