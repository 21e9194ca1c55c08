#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "wacloud/circuit_breaker.hpp"

using wacloud::CircuitBreaker;
using wacloud::CircuitBreakerConfig;
using wacloud::CircuitState;
using wacloud::CircuitTransition;
using wacloud::MemoryCircuitBreaker;
using wacloud::SqliteCircuitBreaker;

namespace {

constexpr double kStart = 1000.0;

CircuitBreakerConfig small_config() {
  CircuitBreakerConfig config;
  config.failure_threshold = 3;
  config.error_rate = 0.5;
  config.window_seconds = 60;
  config.min_calls = 10;
  config.cool_down_seconds = 30;
  config.max_cool_down_seconds = 100;
  return config;
}

// A fresh SQLite file per test, removed with its WAL side files.
class TempDatabase {
 public:
  TempDatabase() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info->name();  // "Case/param" for parameterized tests
    for (char& c : name) c = c == '/' ? '_' : c;
    path_ = (std::filesystem::temp_directory_path() /
             ("wacloud_cb_" + name + "_" + std::to_string(getpid()) + ".db"))
                .string();
    remove_files();
  }
  ~TempDatabase() { remove_files(); }
  const std::string& path() const { return path_; }

 private:
  void remove_files() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
  }
  std::string path_;
};

// Every backend must behave the same: the tests run on each.
class Backend : public ::testing::TestWithParam<const char*> {
 protected:
  std::unique_ptr<CircuitBreaker> make(CircuitBreakerConfig config = small_config()) {
    if (std::string(GetParam()) == "memory") {
      return std::make_unique<MemoryCircuitBreaker>(config);
    }
    return std::make_unique<SqliteCircuitBreaker>(database_.path(), config);
  }
  TempDatabase database_;
};

void fail_times(CircuitBreaker& breaker, int times, double now) {
  for (int i = 0; i < times; ++i) breaker.record_failure("pn", now);
}

}  // namespace

TEST(CircuitBreakerConfig, RejectsBadValuesNamingTheField) {
  auto expect_bad = [](auto change, const char* field) {
    CircuitBreakerConfig config = small_config();
    change(config);
    try {
      wacloud::validate(config);
      FAIL() << "accepted a bad " << field;
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(field), std::string::npos) << error.what();
    }
  };
  expect_bad([](auto& c) { c.failure_threshold = 0; }, "failure_threshold");
  expect_bad([](auto& c) { c.error_rate = 1.5; }, "error_rate");
  expect_bad([](auto& c) { c.error_rate = 0.0; }, "error_rate");
  expect_bad([](auto& c) { c.window_seconds = 0; }, "window_seconds");
  expect_bad([](auto& c) { c.min_calls = 0; }, "min_calls");
  expect_bad([](auto& c) { c.cool_down_seconds = -1; }, "cool_down_seconds");
  expect_bad([](auto& c) { c.max_cool_down_seconds = 10; }, "max_cool_down_seconds");
  CircuitBreakerConfig no_rate = small_config();
  no_rate.error_rate.reset();
  EXPECT_NO_THROW(wacloud::validate(no_rate));
}

TEST_P(Backend, OpensAfterConsecutiveFailuresOnly) {
  auto breaker = make();
  fail_times(*breaker, 2, kStart);
  breaker->record_success("pn", kStart);  // breaks the run
  fail_times(*breaker, 2, kStart);
  EXPECT_TRUE(breaker->allow("pn", kStart).allowed);
  EXPECT_EQ(breaker->record_failure("pn", kStart), CircuitTransition::kOpened);
  const auto refused = breaker->allow("pn", kStart + 10);
  EXPECT_FALSE(refused.allowed);
  EXPECT_DOUBLE_EQ(refused.retry_in, 20);
  EXPECT_EQ(breaker->status("pn").state, CircuitState::kOpen);
  EXPECT_TRUE(breaker->allow("other", kStart + 10).allowed);  // per key
}

TEST_P(Backend, OpensOnTheErrorRateOnceTheWindowHoldsEnoughCalls) {
  CircuitBreakerConfig config = small_config();
  config.failure_threshold = 100;
  auto breaker = make(config);
  // Alternating: never two failures in a row, 50% over ten calls.
  for (int i = 0; i < 9; ++i) {
    const auto transition = i % 2 == 0 ? breaker->record_failure("pn", kStart + i)
                                       : breaker->record_success("pn", kStart + i);
    EXPECT_EQ(transition, CircuitTransition::kNone) << i;
  }
  EXPECT_EQ(breaker->record_success("pn", kStart + 9), CircuitTransition::kNone);  // 5/10 but
  // a success never opens; the next failure makes 6/11 >= 0.5.
  EXPECT_EQ(breaker->record_failure("pn", kStart + 10), CircuitTransition::kOpened);
}

TEST_P(Backend, TheErrorRateCountsWithinOneWindow) {
  CircuitBreakerConfig config = small_config();
  config.failure_threshold = 100;
  auto breaker = make(config);
  for (int i = 0; i < 9; ++i) breaker->record_failure("pn", kStart);
  // The window is over: its nine failures are forgotten (else the first failure below opens).
  for (int i = 0; i < 9; ++i) breaker->record_success("pn", kStart + 61);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(breaker->record_failure("pn", kStart + 62), CircuitTransition::kNone) << i;
  }
  EXPECT_EQ(breaker->status("pn").calls, 17);
  EXPECT_EQ(breaker->record_failure("pn", kStart + 62), CircuitTransition::kOpened);  // 9/18
}

TEST_P(Backend, WithoutAnErrorRateOnlyTheRunOpens) {
  CircuitBreakerConfig config = small_config();
  config.error_rate.reset();
  auto breaker = make(config);
  for (int i = 0; i < 50; ++i) {
    breaker->record_failure("pn", kStart);
    breaker->record_failure("pn", kStart);
    breaker->record_success("pn", kStart);
  }
  EXPECT_EQ(breaker->status("pn").state, CircuitState::kClosed);
}

TEST_P(Backend, OneProbeAfterTheCoolDownThenClosedOnSuccess) {
  auto breaker = make();
  fail_times(*breaker, 3, kStart);
  EXPECT_FALSE(breaker->allow("pn", kStart + 29.9).allowed);
  const auto probe = breaker->allow("pn", kStart + 30);
  EXPECT_TRUE(probe.allowed && probe.probe);
  EXPECT_EQ(probe.transition, CircuitTransition::kHalfOpened);
  const auto second = breaker->allow("pn", kStart + 31);
  EXPECT_FALSE(second.allowed);  // exactly one probe
  EXPECT_DOUBLE_EQ(second.retry_in, 29);
  EXPECT_EQ(breaker->status("pn").state, CircuitState::kHalfOpen);
  EXPECT_EQ(breaker->record_success("pn", kStart + 31), CircuitTransition::kClosed);
  const auto after = breaker->allow("pn", kStart + 31);
  EXPECT_TRUE(after.allowed && !after.probe);
  EXPECT_EQ(breaker->status("pn").state, CircuitState::kClosed);
  // Closed afresh: a new run of three is needed to open again.
  fail_times(*breaker, 2, kStart + 32);
  EXPECT_TRUE(breaker->allow("pn", kStart + 32).allowed);
}

TEST_P(Backend, AFailedProbeReopensWithAGrowingCoolDown) {
  auto breaker = make();
  fail_times(*breaker, 3, kStart);
  double now = kStart + 30;
  for (const double expected : {60.0, 100.0, 100.0}) {  // doubled, capped at 100
    ASSERT_TRUE(breaker->allow("pn", now).probe);
    EXPECT_EQ(breaker->record_failure("pn", now), CircuitTransition::kReopened);
    EXPECT_DOUBLE_EQ(breaker->status("pn").cool_down, expected);
    EXPECT_FALSE(breaker->allow("pn", now + expected - 1).allowed);
    now += expected;
  }
  ASSERT_TRUE(breaker->allow("pn", now).probe);
  EXPECT_EQ(breaker->record_success("pn", now), CircuitTransition::kClosed);
  // The next opening starts from the base cool-down again.
  fail_times(*breaker, 3, now);
  EXPECT_DOUBLE_EQ(breaker->status("pn").cool_down, 30);
}

TEST_P(Backend, ALostProbeIsReplacedAfterOneCoolDown) {
  auto breaker = make();
  fail_times(*breaker, 3, kStart);
  ASSERT_TRUE(breaker->allow("pn", kStart + 30).probe);
  EXPECT_FALSE(breaker->allow("pn", kStart + 59).allowed);
  const auto replacement = breaker->allow("pn", kStart + 60);
  EXPECT_TRUE(replacement.allowed && replacement.probe);
  EXPECT_EQ(replacement.transition, CircuitTransition::kNone);  // still half-open
}

TEST_P(Backend, LateOutcomesWhileOpenChangeNothing) {
  auto breaker = make();
  fail_times(*breaker, 3, kStart);
  EXPECT_EQ(breaker->record_success("pn", kStart + 1), CircuitTransition::kNone);
  EXPECT_EQ(breaker->record_failure("pn", kStart + 1), CircuitTransition::kNone);
  const auto status = breaker->status("pn");
  EXPECT_EQ(status.state, CircuitState::kOpen);
  EXPECT_DOUBLE_EQ(status.opened_at, kStart);
  EXPECT_DOUBLE_EQ(status.cool_down, 30);
}

TEST_P(Backend, AClockGoingBackwardsNeverWaitsLongerThanACoolDown) {
  auto breaker = make();
  fail_times(*breaker, 3, kStart);
  EXPECT_LE(breaker->allow("pn", kStart - 500).retry_in, 30);
}

TEST_P(Backend, EmptyKeyIsRefused) {
  auto breaker = make();
  EXPECT_THROW(breaker->allow("", kStart), std::invalid_argument);
  EXPECT_THROW(breaker->record_failure("", kStart), std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(CircuitBreaker, Backend, ::testing::Values("memory", "sqlite"),
                         [](const auto& info) { return std::string(info.param); });

TEST(SqliteCircuitBreaker, TwoInstancesOnOneFileShareTheCircuitAndTheOneProbe) {
  TempDatabase database;
  SqliteCircuitBreaker first(database.path(), small_config());
  SqliteCircuitBreaker second(database.path(), small_config());
  first.record_failure("pn", kStart);
  second.record_failure("pn", kStart);
  EXPECT_EQ(first.record_failure("pn", kStart), CircuitTransition::kOpened);
  EXPECT_FALSE(second.allow("pn", kStart + 1).allowed);
  EXPECT_TRUE(second.allow("pn", kStart + 30).probe);
  EXPECT_FALSE(first.allow("pn", kStart + 30).allowed);
  EXPECT_EQ(first.record_success("pn", kStart + 31), CircuitTransition::kClosed);
  EXPECT_TRUE(second.allow("pn", kStart + 31).allowed);
}

TEST(SqliteCircuitBreaker, ForkedProcessesGetExactlyOneProbe) {
  TempDatabase database;
  SqliteCircuitBreaker breaker(database.path(), small_config());
  fail_times(breaker, 3, kStart);
  constexpr int kChildren = 6;
  pid_t children[kChildren];
  for (int i = 0; i < kChildren; ++i) {
    children[i] = fork();
    ASSERT_GE(children[i], 0);
    if (children[i] == 0) {
      // The inherited breaker reopens its connection in the child.
      const bool probe = breaker.allow("pn", kStart + 30).probe;
      _exit(probe ? 1 : 0);
    }
  }
  int probes = 0;
  for (pid_t child : children) {
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    probes += WEXITSTATUS(status);
  }
  EXPECT_EQ(probes, 1);
  EXPECT_EQ(breaker.status("pn").state, CircuitState::kHalfOpen);
}

TEST(SqliteCircuitBreaker, BadPathIsAWacloudError) {
  EXPECT_THROW(SqliteCircuitBreaker("", small_config()), std::invalid_argument);
  EXPECT_THROW(SqliteCircuitBreaker("/nonexistent-dir/x/y.db", small_config()), std::runtime_error);
}
