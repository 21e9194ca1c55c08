// A circuit breaker per key (a phone number id) for calls to Meta: after a run
// of transient failures, or too high a share of them, calls stop being made;
// after a cool-down exactly one probe is let through, and its outcome closes
// the circuit or opens it again for a longer cool-down.
//
//   closed --(N consecutive failures, or error rate >= R over >= M calls
//             within the window)--> open
//   open --(cool-down passed: the first allow() takes the probe)--> half-open
//   half-open --(success)--> closed     half-open --(failure)--> open, cool-down x2
//
// Time is passed in by the caller (seconds as a double), so every process and
// host must read the same clock (the wall clock; a skew only shifts a
// cool-down by that much) and tests drive it without sleeping.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace wacloud {

struct CircuitBreakerConfig {
  // Consecutive transient failures that open the circuit.
  int failure_threshold = 5;
  // Open when failures / calls reaches this within one window of
  // `window_seconds`, once the window holds at least `min_calls` calls.
  // nullopt: only the consecutive count opens it.
  std::optional<double> error_rate = 0.5;
  double window_seconds = 60;
  int min_calls = 20;
  // How long an open circuit refuses calls before letting one probe through;
  // each failed probe doubles it, up to `max_cool_down_seconds`.
  double cool_down_seconds = 30;
  double max_cool_down_seconds = 300;
};

// Throws std::invalid_argument naming the first bad field.
void validate(const CircuitBreakerConfig& config);

enum class CircuitState { kClosed = 0, kOpen = 1, kHalfOpen = 2 };

// What a call changed; only the caller that made a transition sees it, so
// each one is announced exactly once across processes.
enum class CircuitTransition { kNone, kOpened, kHalfOpened, kReopened, kClosed };

const char* circuit_state_name(CircuitState state) noexcept;        // "closed", "open", "half_open"
const char* circuit_transition_name(CircuitTransition t) noexcept;  // "", "opened", ...

// One key's state as plain data, so the SQLite breaker can keep it in a row.
struct CircuitRecord {
  CircuitState state = CircuitState::kClosed;
  int consecutive_failures = 0;
  // The current window (closed state only): when it started, calls and failures in it.
  double window_start = 0;
  int calls = 0;
  int failures = 0;
  double opened_at = 0;      // when it last opened (open and half-open)
  double cool_down = 0;      // the current cool-down (open and half-open)
  double probe_started = 0;  // half-open: when the probe in flight was let through
};

// The answer to "may I call Meta now?".
struct CircuitPermit {
  bool allowed = true;
  bool probe = false;   // this call is the one probe of a half-open circuit
  double retry_in = 0;  // refused: seconds until a call may be allowed
  CircuitTransition transition = CircuitTransition::kNone;
};

// The state machine on one record; shared by every backend (public for tests).
namespace circuit_detail {
CircuitPermit allow(CircuitRecord& record, const CircuitBreakerConfig& config, double now);
CircuitTransition record_success(CircuitRecord& record, const CircuitBreakerConfig& config,
                                 double now);
CircuitTransition record_failure(CircuitRecord& record, const CircuitBreakerConfig& config,
                                 double now);
// Throws std::invalid_argument for an empty key.
void require_key(const std::string& key);
}  // namespace circuit_detail

// Implementations are thread-safe. Keys must not be empty (std::invalid_argument).
class CircuitBreaker {
 public:
  virtual ~CircuitBreaker() = default;
  // Asks before a call. A probe that never reports back (its process died) is
  // presumed lost after one cool-down, and the next caller gets the probe.
  virtual CircuitPermit allow(const std::string& key, double now) = 0;
  // Reports a call's outcome: a success (Meta answered, even with a permanent
  // error) or a transient failure (Meta unreachable or failing).
  virtual CircuitTransition record_success(const std::string& key, double now) = 0;
  virtual CircuitTransition record_failure(const std::string& key, double now) = 0;
  // The key's record as of now (a closed default for an unknown key).
  virtual CircuitRecord status(const std::string& key) = 0;
  virtual const CircuitBreakerConfig& config() const noexcept = 0;
};

// One process: the records live in memory.
class MemoryCircuitBreaker : public CircuitBreaker {
 public:
  explicit MemoryCircuitBreaker(CircuitBreakerConfig config = {});
  ~MemoryCircuitBreaker() override;
  MemoryCircuitBreaker(const MemoryCircuitBreaker&) = delete;
  MemoryCircuitBreaker& operator=(const MemoryCircuitBreaker&) = delete;

  CircuitPermit allow(const std::string& key, double now) override;
  CircuitTransition record_success(const std::string& key, double now) override;
  CircuitTransition record_failure(const std::string& key, double now) override;
  CircuitRecord status(const std::string& key) override;
  const CircuitBreakerConfig& config() const noexcept override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One host: the records are rows of one SQLite file (WAL mode), each change one
// BEGIN IMMEDIATE transaction, so every process opening the same path shares
// them (the rate limiter's file can hold them too). A breaker used after
// fork() reopens its connection in the child. SQLite failures throw wacloud::Error.
class SqliteCircuitBreaker : public CircuitBreaker {
 public:
  SqliteCircuitBreaker(std::string path, CircuitBreakerConfig config = {});
  ~SqliteCircuitBreaker() override;
  SqliteCircuitBreaker(const SqliteCircuitBreaker&) = delete;
  SqliteCircuitBreaker& operator=(const SqliteCircuitBreaker&) = delete;

  CircuitPermit allow(const std::string& key, double now) override;
  CircuitTransition record_success(const std::string& key, double now) override;
  CircuitTransition record_failure(const std::string& key, double now) override;
  CircuitRecord status(const std::string& key) override;
  const CircuitBreakerConfig& config() const noexcept override;
  const std::string& path() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace wacloud
