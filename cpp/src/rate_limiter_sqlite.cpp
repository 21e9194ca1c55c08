// The host-wide limiter: token buckets kept as rows of one SQLite table, so
// every process opening the same file draws on one budget. Each decision is
// one `BEGIN IMMEDIATE` transaction (a write lock taken up front, so two
// processes never both read a bucket and then both spend it); WAL mode and
// synchronous=NORMAL keep those transactions short, and a busy timeout makes
// SQLite wait for the lock instead of failing.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "wacloud/errors.hpp"
#include "wacloud/rate_limiter.hpp"

namespace wacloud {
namespace {

using rate_limit_detail::BucketRates;
using rate_limit_detail::Decision;

constexpr int kBusyTimeoutMs = 10000;

constexpr const char* kJournal = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
// BEGIN IMMEDIATE takes the write lock up front, waiting through the busy
// handler, instead of upgrading a read lock (which SQLite refuses at once).
constexpr const char* kSchema =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS wacloud_rate_buckets ("
    "  kind TEXT NOT NULL,"       // 's' per second, 'h' per hour, 'p' pair
    "  key TEXT NOT NULL,"        // phone number id
    "  recipient TEXT NOT NULL,"  // '' unless kind = 'p'
    "  tokens REAL NOT NULL,"
    "  updated REAL NOT NULL,"  // wall clock seconds
    "  PRIMARY KEY (kind, key, recipient)) WITHOUT ROWID;"
    "COMMIT;";

// Runs set-up SQL, retrying for up to the busy timeout while another process
// holds a lock: SQLite skips the busy handler where waiting could deadlock (a
// journal-mode switch, a lock upgrade), and several workers opening a new file
// at once must not fail for that.
void exec_setup(sqlite3* db, const std::string& path, const char* sql, const char* what) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (;;) {
    char* message = nullptr;
    const int status = sqlite3_exec(db, sql, nullptr, nullptr, &message);
    if (status == SQLITE_OK) return;
    const std::string text = message != nullptr ? message : sqlite3_errstr(status);
    sqlite3_free(message);
    if (sqlite3_get_autocommit(db) == 0) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    const int primary = status & 0xff;
    if ((primary != SQLITE_BUSY && primary != SQLITE_LOCKED) ||
        std::chrono::steady_clock::now() >= deadline) {
      throw Error("SQLite rate limiter (" + path + "): " + what + ": " + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

[[noreturn]] void fail(sqlite3* db, const std::string& path, const std::string& what) {
  throw Error("SQLite rate limiter (" + path + "): " + what + ": " +
              (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

class Statement {
 public:
  Statement(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(&path) {
    if (sqlite3_prepare_v2(db, sql, -1, &statement_, nullptr) != SQLITE_OK) {
      fail(db, path, std::string("preparing \"") + sql + "\"");
    }
  }
  ~Statement() {
    if (statement_ != nullptr) sqlite3_finalize(statement_);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const std::string& text) {
    check(sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                            SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind(int index, double value) {
    check(sqlite3_bind_double(statement_, index, value));
    return *this;
  }
  // True while a row is available; false when done. Resets after done.
  bool step() {
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    sqlite3_reset(statement_);
    if (rc != SQLITE_DONE) fail(db_, *path_, "executing statement");
    return false;
  }
  double column_double(int column) { return sqlite3_column_double(statement_, column); }
  long long column_int(int column) { return sqlite3_column_int64(statement_, column); }
  void reset() { sqlite3_reset(statement_); }
  // After fork(): forget the handle without touching the parent's connection.
  void abandon() noexcept { statement_ = nullptr; }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail(db_, *path_, "binding a parameter");
  }
  sqlite3* db_;
  const std::string* path_;
  sqlite3_stmt* statement_ = nullptr;
};

// One open connection with its prepared statements.
class Connection {
 public:
  explicit Connection(const std::string& path) : path_(path), db_(open(path)) {
    try {
      sqlite3_busy_timeout(db_, kBusyTimeoutMs);
      exec_setup(db_, path, kJournal, "switching to WAL mode");
      exec_setup(db_, path, kSchema, "creating the table");
      begin_.emplace(db_, path_, "BEGIN IMMEDIATE");
      commit_.emplace(db_, path_, "COMMIT");
      rollback_.emplace(db_, path_, "ROLLBACK");
      select_.emplace(db_, path_,
                      "SELECT tokens, updated FROM wacloud_rate_buckets"
                      " WHERE kind = ?1 AND key = ?2 AND recipient = ?3");
      store_.emplace(db_, path_,
                     "INSERT OR REPLACE INTO wacloud_rate_buckets"
                     " (kind, key, recipient, tokens, updated) VALUES (?1, ?2, ?3, ?4, ?5)");
      // A full bucket behaves like a missing row, so deleting it is free.
      sweep_.emplace(db_, path_,
                     "DELETE FROM wacloud_rate_buckets WHERE kind = ?1"
                     " AND tokens + max(0, ?2 - updated) * ?3 >= ?4 - 1e-6");
      count_.emplace(db_, path_, "SELECT count(*) FROM wacloud_rate_buckets");
    } catch (...) {
      close();
      throw;
    }
  }
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // SQLite forbids using a connection across fork(); the child drops it
  // without closing it, as closing could disturb the parent's locks.
  void abandon() noexcept {
    for (auto* statement : {&begin_, &commit_, &rollback_, &select_, &store_, &sweep_, &count_}) {
      if (*statement) (*statement)->abandon();
    }
    db_ = nullptr;
  }

  void begin() { begin_->step(); }
  void commit() { commit_->step(); }
  void rollback() noexcept {
    try {
      if (sqlite3_get_autocommit(db_) == 0) rollback_->step();
    } catch (...) {
      // Nothing better to do: the transaction ends with the connection.
    }
  }

  std::optional<TokenBucket> load(const char* kind, const std::string& key,
                                  const std::string& recipient) {
    select_->bind(1, std::string(kind)).bind(2, key).bind(3, recipient);
    if (!select_->step()) return std::nullopt;
    TokenBucket bucket{select_->column_double(0), select_->column_double(1)};
    select_->reset();
    return bucket;
  }

  void store(const char* kind, const std::string& key, const std::string& recipient,
             const TokenBucket& bucket) {
    store_->bind(1, std::string(kind)).bind(2, key).bind(3, recipient);
    store_->bind(4, bucket.tokens).bind(5, bucket.updated).step();
  }

  void sweep(const char* kind, double now, double rate, double capacity) {
    sweep_->bind(1, std::string(kind)).bind(2, now).bind(3, rate).bind(4, capacity).step();
  }

  std::size_t count() {
    count_->step();
    auto rows = static_cast<std::size_t>(count_->column_int(0));
    count_->reset();
    return rows;
  }

 private:
  static sqlite3* open(const std::string& path) {
    sqlite3* db = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
      std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
      sqlite3_close(db);
      throw Error("SQLite rate limiter (" + path + "): opening the database: " + message);
    }
    return db;
  }

  void close() noexcept {
    for (auto* statement : {&begin_, &commit_, &rollback_, &select_, &store_, &sweep_, &count_}) {
      statement->reset();
    }
    if (db_ != nullptr) sqlite3_close(db_);
    db_ = nullptr;
  }

  const std::string& path_;
  sqlite3* db_;
  std::optional<Statement> begin_, commit_, rollback_, select_, store_, sweep_, count_;
};

}  // namespace

struct SqliteRateLimiter::State {
  State(std::string path_in, RateLimitConfig config_in, std::shared_ptr<Clock> clock_in)
      : path(std::move(path_in)),
        config((validate(config_in), std::move(config_in))),
        rates(config),
        clock(std::move(clock_in)) {
    if (path.empty()) throw std::invalid_argument("path (the SQLite file) must not be empty");
    if (!clock) throw std::invalid_argument("clock must not be null");
    reconnect();
    next_sweep = clock->now() + rates.sweep_interval;
  }

  ~State() {
    if (connection && owner != getpid()) connection->abandon();
  }

  void reconnect() {
    if (connection) connection->abandon();
    connection.reset();
    connection = std::make_unique<Connection>(path);
    owner = getpid();
  }

  Connection& db() {
    if (owner != getpid()) reconnect();
    return *connection;
  }

  // Under `mutex`; the same decision as MemoryRateLimiter's, in one
  // transaction. slots[0] is always the per-second bucket.
  Decision decide(const std::string& key, const std::string& recipient, double now,
                  double max_reserve) {
    Connection& conn = db();
    conn.begin();
    // Read the clock again under the write lock: a reading taken before waiting for it
    // can be older than what another process stored meanwhile, and applying it would
    // move the bucket's time back, so that interval would be refilled twice.
    now = std::max(now, clock->now());
    try {
      struct Slot {
        const char* kind;
        const std::string* recipient;
        double capacity, rate;
        TokenBucket bucket;
      };
      static const std::string kNoRecipient;
      Slot slots[3];
      int used = 0;
      slots[used++] = {"s", &kNoRecipient, rates.burst, rates.second_rate, {}};
      if (rates.has_hour) {
        slots[used++] = {"h", &kNoRecipient, rates.hour_capacity, rates.hour_rate, {}};
      }
      if (rates.has_pair && !recipient.empty()) {
        slots[used++] = {"p", &recipient, rates.pair_capacity, rates.pair_rate, {}};
      }
      double second_wait = 0, other_wait = 0;
      for (int i = 0; i < used; ++i) {
        Slot& slot = slots[i];
        slot.bucket = conn.load(slot.kind, key, *slot.recipient)
                          .value_or(TokenBucket::full(slot.capacity, now));
        slot.bucket.refill(slot.capacity, slot.rate, now);
        const double wait = slot.bucket.wait_for_token(slot.rate);
        if (i == 0) {
          second_wait = wait;
        } else {
          other_wait = std::max(other_wait, wait);
        }
      }
      Decision decision{false, std::max(second_wait, other_wait)};
      if (other_wait <= 0 && second_wait <= max_reserve) {
        for (int i = 0; i < used; ++i) {
          slots[i].bucket.tokens -= 1;  // the per-second one may go below zero
          conn.store(slots[i].kind, key, *slots[i].recipient, slots[i].bucket);
        }
        decision = {true, second_wait};
      }
      if (now >= next_sweep) {
        conn.sweep("s", now, rates.second_rate, rates.burst);
        if (rates.has_hour) conn.sweep("h", now, rates.hour_rate, rates.hour_capacity);
        if (rates.has_pair) conn.sweep("p", now, rates.pair_rate, rates.pair_capacity);
        next_sweep = now + rates.sweep_interval;
      }
      conn.commit();
      return decision;
    } catch (...) {
      conn.rollback();
      throw;
    }
  }

  const std::string path;
  const RateLimitConfig config;
  const BucketRates rates;
  const std::shared_ptr<Clock> clock;
  std::mutex mutex;  // one connection, used by one thread at a time
  std::unique_ptr<Connection> connection;
  pid_t owner = 0;
  double next_sweep = 0;
};

SqliteRateLimiter::SqliteRateLimiter(std::string path, RateLimitConfig config,
                                     std::shared_ptr<Clock> clock)
    : state_(std::make_unique<State>(std::move(path), std::move(config), std::move(clock))) {}

SqliteRateLimiter::~SqliteRateLimiter() = default;

bool SqliteRateLimiter::acquire(const std::string& key, const std::string& recipient,
                                std::optional<double> timeout_seconds) {
  rate_limit_detail::require_key(key);
  const double deadline = rate_limit_detail::deadline_after(state_->clock->now(), timeout_seconds);
  return rate_limit_detail::acquire_until(*state_->clock, deadline, [&] {
    std::lock_guard<std::mutex> lock(state_->mutex);
    const double now = state_->clock->now();
    return std::make_pair(now, state_->decide(key, recipient, now, deadline - now));
  });
}

bool SqliteRateLimiter::try_acquire(const std::string& key, const std::string& recipient) {
  rate_limit_detail::require_key(key);
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->decide(key, recipient, state_->clock->now(), 0).granted;
}

std::size_t SqliteRateLimiter::tracked_buckets() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->db().count();
}

const RateLimitConfig& SqliteRateLimiter::config() const noexcept { return state_->config; }

const std::string& SqliteRateLimiter::path() const noexcept { return state_->path; }

}  // namespace wacloud
