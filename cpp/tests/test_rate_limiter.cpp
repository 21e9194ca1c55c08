#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "wacloud/errors.hpp"
#include "wacloud/rate_limiter.hpp"

using wacloud::MemoryRateLimiter;
using wacloud::RateLimitConfig;
using wacloud::SqliteRateLimiter;
using wacloud::TokenBucket;

namespace {

// A clock that only moves when told to; sleeping advances it, so blocking
// acquires run instantly and their waits are recorded exactly.
class FakeClock : public wacloud::Clock {
 public:
  explicit FakeClock(double start = 1000.0) : now_(start) {}
  double now() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return now_;
  }
  void sleep_for(double seconds) override {
    std::lock_guard<std::mutex> lock(mutex_);
    // A limiter that keeps sleeping without getting anywhere fails the test
    // instead of hanging it.
    if (++sleeps_ > 100000) throw std::runtime_error("acquire keeps sleeping: no progress");
    slept_ += seconds;
    now_ += seconds;
  }
  void advance(double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    now_ += seconds;
  }
  double slept() {
    std::lock_guard<std::mutex> lock(mutex_);
    return slept_;
  }

 private:
  std::mutex mutex_;
  double now_;
  double slept_ = 0;
  long sleeps_ = 0;
};

RateLimitConfig config(double per_second, std::optional<double> burst = std::nullopt) {
  RateLimitConfig c;
  c.per_second = per_second;
  c.burst = burst;
  return c;
}

int take_all(wacloud::RateLimiter& limiter, const std::string& key,
             const std::string& recipient = "") {
  int taken = 0;
  while (taken < 100000 && limiter.try_acquire(key, recipient)) ++taken;
  return taken;
}

// A fresh SQLite file per test, removed with its WAL side files.
class TempDatabase {
 public:
  TempDatabase() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = (std::filesystem::temp_directory_path() /
             (std::string("wacloud_rl_") + info->name() + "_" + std::to_string(getpid()) + ".db"))
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

}  // namespace

// ---- configuration and bucket math ------------------------------------------

TEST(RateLimitConfig, RejectsBadValues) {
  auto rejects = [](RateLimitConfig c) {
    EXPECT_THROW(wacloud::validate(c), std::invalid_argument);
    EXPECT_THROW(MemoryRateLimiter{c}, std::invalid_argument);
  };
  rejects(config(0));
  rejects(config(-5));
  rejects(config(NAN));
  rejects(config(INFINITY));
  rejects(config(10, 0.5));
  RateLimitConfig hour = config(10);
  hour.per_hour = 0;
  rejects(hour);
  RateLimitConfig pair = config(10);
  pair.pair_limit = 0;
  rejects(pair);
  pair.pair_limit = 1;
  pair.pair_period_seconds = 0;
  rejects(pair);
  EXPECT_NO_THROW(wacloud::validate(config(0.5)));  // one send every 2 s is fine
}

TEST(RateLimitConfig, ErrorNamesTheField) {
  RateLimitConfig c = config(10);
  c.pair_limit = -1;
  try {
    wacloud::validate(c);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("pair_limit"), std::string::npos) << e.what();
  }
}

TEST(TokenBucket, RefillsAtRateUpToCapacity) {
  TokenBucket bucket{0, 10.0};
  bucket.refill(5, 2, 11.0);
  EXPECT_DOUBLE_EQ(bucket.tokens, 2);
  bucket.refill(5, 2, 100.0);
  EXPECT_DOUBLE_EQ(bucket.tokens, 5);
  EXPECT_DOUBLE_EQ(bucket.wait_for_token(2), 0);
  bucket.tokens = 0.25;
  EXPECT_DOUBLE_EQ(bucket.wait_for_token(2), 0.375);
}

TEST(TokenBucket, ClockGoingBackwardsAddsNothing) {
  TokenBucket bucket{0.5, 100.0};
  bucket.refill(5, 1, 90.0);
  EXPECT_DOUBLE_EQ(bucket.tokens, 0.5);
  EXPECT_DOUBLE_EQ(bucket.updated, 90.0);  // resynchronised, not stuck until 100
  bucket.refill(5, 1, 90.5);
  EXPECT_DOUBLE_EQ(bucket.tokens, 1.0);
}

// ---- MemoryRateLimiter ------------------------------------------------------

TEST(MemoryRateLimiter, BurstThenSteadyRate) {
  auto clock = std::make_shared<FakeClock>();
  MemoryRateLimiter limiter(config(10, 3), clock);
  EXPECT_EQ(take_all(limiter, "pn"), 3);
  EXPECT_NEAR(limiter.wait_time("pn", ""), 0.1, 1e-9);
  clock->advance(0.05);
  EXPECT_FALSE(limiter.try_acquire("pn", ""));
  clock->advance(0.05);
  EXPECT_TRUE(limiter.try_acquire("pn", ""));
  clock->advance(10);  // a long idle spell refills only up to the burst
  EXPECT_EQ(take_all(limiter, "pn"), 3);
}

TEST(MemoryRateLimiter, BurstDefaultsToPerSecond) {
  auto clock = std::make_shared<FakeClock>();
  MemoryRateLimiter limiter(config(80), clock);
  EXPECT_EQ(take_all(limiter, "pn"), 80);
}

TEST(MemoryRateLimiter, KeysHaveSeparateBudgets) {
  auto clock = std::make_shared<FakeClock>();
  MemoryRateLimiter limiter(config(5), clock);
  EXPECT_EQ(take_all(limiter, "pn-1"), 5);
  EXPECT_EQ(take_all(limiter, "pn-2"), 5);
}

TEST(MemoryRateLimiter, PerHourCapsAfterTheSecondBucketRefills) {
  auto clock = std::make_shared<FakeClock>();
  RateLimitConfig c = config(100);
  c.per_hour = 150;
  MemoryRateLimiter limiter(c, clock);
  EXPECT_EQ(take_all(limiter, "pn"), 100);
  clock->advance(1);
  EXPECT_EQ(take_all(limiter, "pn"), 50);  // hourly bucket: 150 - 100 + 1 s of refill (~0.04)
  // The per-second bucket is full again but the hourly one refuses, and the
  // wait reflects the hourly refill rate (150/h: 24 s per token).
  EXPECT_NEAR(limiter.wait_time("pn", ""), 24 - (1.0 * 150 / 3600) * 24, 1.0);
  clock->advance(24);
  EXPECT_EQ(take_all(limiter, "pn"), 1);
}

TEST(MemoryRateLimiter, PairLimitIsPerRecipient) {
  auto clock = std::make_shared<FakeClock>();
  RateLimitConfig c = config(100);
  c.pair_limit = 2;
  c.pair_period_seconds = 6;
  MemoryRateLimiter limiter(c, clock);
  EXPECT_EQ(take_all(limiter, "pn", "alice"), 2);
  EXPECT_EQ(take_all(limiter, "pn", "bob"), 2);  // alice's limit does not touch bob
  EXPECT_NEAR(limiter.wait_time("pn", "alice"), 3.0, 1e-9);
  EXPECT_TRUE(limiter.try_acquire("pn", ""));             // no recipient: no pair limit
  EXPECT_TRUE(limiter.try_acquire("other-pn", "alice"));  // pairs are per phone number id
  clock->advance(3);
  EXPECT_EQ(take_all(limiter, "pn", "alice"), 1);
}

TEST(MemoryRateLimiter, RefusedPairTakesNoPerSecondToken) {
  auto clock = std::make_shared<FakeClock>();
  RateLimitConfig c = config(1, 2);
  c.pair_limit = 1;
  MemoryRateLimiter limiter(c, clock);
  EXPECT_TRUE(limiter.try_acquire("pn", "alice"));
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(limiter.try_acquire("pn", "alice"));
  EXPECT_TRUE(limiter.try_acquire("pn", "bob"));  // the second burst token is still there
}

TEST(MemoryRateLimiter, AcquireSleepsExactlyTheWait) {
  auto clock = std::make_shared<FakeClock>();
  MemoryRateLimiter limiter(config(4, 1), clock);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.acquire("pn", "", std::nullopt));
  EXPECT_NEAR(clock->slept(), 1.0, 1e-9);  // 4 waits of 0.25 s
}

TEST(MemoryRateLimiter, TimeoutReturnsFalseAndTakesNothing) {
  auto clock = std::make_shared<FakeClock>();
  RateLimitConfig c = config(1, 1);
  c.pair_limit = 1;
  c.pair_period_seconds = 60;
  MemoryRateLimiter limiter(c, clock);
  EXPECT_TRUE(limiter.try_acquire("pn", "alice"));
  clock->advance(1);
  // alice's pair bucket needs 59 s more: refused within 5 s, at once.
  EXPECT_FALSE(limiter.acquire("pn", "alice", 5.0));
  EXPECT_DOUBLE_EQ(clock->slept(), 0);
  EXPECT_TRUE(limiter.try_acquire("pn", "bob"));  // the per-second token was not spent
  EXPECT_FALSE(limiter.acquire("pn", "carol", 0.0));
  EXPECT_TRUE(limiter.acquire("pn", "carol", 1.0));  // exactly reachable within the timeout
  EXPECT_NEAR(clock->slept(), 1.0, 1e-9);
}

TEST(MemoryRateLimiter, RejectsBadArguments) {
  MemoryRateLimiter limiter(config(10));
  EXPECT_THROW(limiter.acquire("", "", std::nullopt), std::invalid_argument);
  EXPECT_THROW(limiter.try_acquire("", "x"), std::invalid_argument);
  EXPECT_THROW(limiter.acquire("pn", "", -1.0), std::invalid_argument);
  EXPECT_THROW(limiter.acquire("pn", "", NAN), std::invalid_argument);
  EXPECT_THROW(MemoryRateLimiter(config(10), nullptr), std::invalid_argument);
}

TEST(MemoryRateLimiter, IdlePairBucketsAreEvicted) {
  auto clock = std::make_shared<FakeClock>();
  RateLimitConfig c = config(1000);
  c.pair_limit = 1;
  c.pair_period_seconds = 6;
  MemoryRateLimiter limiter(c, clock);
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(limiter.try_acquire("pn", std::to_string(i)));
  EXPECT_EQ(limiter.tracked_buckets(), 501u);
  clock->advance(6.5);  // every pair bucket is full again, past the sweep time
  EXPECT_TRUE(limiter.try_acquire("pn", "new"));
  EXPECT_EQ(limiter.tracked_buckets(), 2u);        // the key and "new"
  EXPECT_FALSE(limiter.try_acquire("pn", "new"));  // a live bucket was kept
}

TEST(MemoryRateLimiter, ManyThreadsNeverExceedTheBudget) {
  const double rate = 500, burst = 10, run_seconds = 0.6;
  MemoryRateLimiter limiter(config(rate, burst));
  std::atomic<int> granted{0};
  const auto start = std::chrono::steady_clock::now();
  const auto stop = start + std::chrono::duration<double>(run_seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      while (std::chrono::steady_clock::now() < stop) {
        if (limiter.acquire("pn", "", 0.05)) ++granted;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LE(granted.load(), burst + rate * elapsed + 1);
  EXPECT_GE(granted.load(), 0.9 * (burst + rate * run_seconds));
}

// ---- SqliteRateLimiter ------------------------------------------------------

TEST(SqliteRateLimiter, SameBucketMathAsMemory) {
  TempDatabase db;
  auto clock = std::make_shared<FakeClock>(1.7e9);
  RateLimitConfig c = config(10, 3);
  c.pair_limit = 1;
  SqliteRateLimiter limiter(db.path(), c, clock);
  EXPECT_TRUE(limiter.try_acquire("pn", "alice"));
  EXPECT_FALSE(limiter.try_acquire("pn", "alice"));
  EXPECT_EQ(take_all(limiter, "pn"), 2);
  clock->advance(0.1);
  EXPECT_TRUE(limiter.acquire("pn", "bob", 0.0));
  EXPECT_FALSE(limiter.acquire("pn", "alice", 1.0));  // pair needs 5.9 s more
  EXPECT_TRUE(limiter.acquire("pn", "", std::nullopt));
  EXPECT_NEAR(clock->slept(), 0.1, 1e-5);
}

TEST(SqliteRateLimiter, TwoInstancesOnOneFileShareTheBudget) {
  TempDatabase db;
  auto clock = std::make_shared<FakeClock>(1.7e9);
  SqliteRateLimiter first(db.path(), config(1, 5), clock);
  SqliteRateLimiter second(db.path(), config(1, 5), clock);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(first.try_acquire("pn", ""));
  EXPECT_EQ(take_all(second, "pn"), 2);
  EXPECT_FALSE(first.try_acquire("pn", ""));
  clock->advance(1);
  EXPECT_TRUE(first.try_acquire("pn", ""));
  EXPECT_FALSE(second.try_acquire("pn", ""));
}

TEST(SqliteRateLimiter, ThreadsOnTwoInstancesNeverExceedTheBudget) {
  TempDatabase db;
  const double rate = 300, burst = 5, run_seconds = 0.6;
  SqliteRateLimiter first(db.path(), config(rate, burst));
  SqliteRateLimiter second(db.path(), config(rate, burst));
  std::atomic<int> granted{0};
  const auto start = std::chrono::steady_clock::now();
  const auto stop = start + std::chrono::duration<double>(run_seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      SqliteRateLimiter& limiter = t % 2 == 0 ? first : second;
      while (std::chrono::steady_clock::now() < stop) {
        if (limiter.acquire("pn", "", 0.05)) ++granted;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LE(granted.load(), burst + rate * elapsed + 1);
  EXPECT_GE(granted.load(), 0.85 * (burst + rate * run_seconds));
}

TEST(SqliteRateLimiter, IdleBucketsAreSweptFromTheFile) {
  TempDatabase db;
  auto clock = std::make_shared<FakeClock>(1.7e9);
  RateLimitConfig c = config(1000);
  c.pair_limit = 1;
  c.pair_period_seconds = 2;
  SqliteRateLimiter limiter(db.path(), c, clock);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(limiter.try_acquire("pn", std::to_string(i)));
  EXPECT_EQ(limiter.tracked_buckets(), 51u);
  clock->advance(3);
  EXPECT_TRUE(limiter.try_acquire("pn", "new"));
  EXPECT_EQ(limiter.tracked_buckets(), 2u);
}

TEST(SqliteRateLimiter, BadPathOrConfigThrowsTypedErrors) {
  EXPECT_THROW(SqliteRateLimiter("", config(10)), std::invalid_argument);
  EXPECT_THROW(SqliteRateLimiter("/tmp/x.db", config(-1)), std::invalid_argument);
  try {
    SqliteRateLimiter limiter("/nonexistent-dir-wacloud/limits.db", config(10));
    FAIL() << "no exception";
  } catch (const wacloud::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unable to open database file"), std::string::npos)
        << e.what();
  }
}

TEST(SqliteRateLimiter, NotADatabaseThrowsWacloudError) {
  TempDatabase db;
  {
    std::FILE* file = std::fopen(db.path().c_str(), "wb");
    ASSERT_NE(file, nullptr);
    const std::string junk(4096, 'x');
    std::fwrite(junk.data(), 1, junk.size(), file);
    std::fclose(file);
  }
  EXPECT_THROW(SqliteRateLimiter(db.path(), config(10)), wacloud::Error);
}
