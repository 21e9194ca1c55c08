// The host-wide breaker: one row per key in a SQLite file, read, stepped
// through the state machine and written back in one `BEGIN IMMEDIATE`
// transaction, so two processes can never both take the one probe. The same
// file as the SQLite rate limiter works (its own table); WAL mode and a busy
// timeout as there.
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

#include "wacloud/circuit_breaker.hpp"
#include "wacloud/errors.hpp"

namespace wacloud {
namespace {

constexpr int kBusyTimeoutMs = 10000;

constexpr const char* kSetup =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS wacloud_circuit_breakers ("
    "  key TEXT PRIMARY KEY,"    // phone number id
    "  state INTEGER NOT NULL,"  // CircuitState
    "  consecutive_failures INTEGER NOT NULL,"
    "  window_start REAL NOT NULL,"
    "  calls INTEGER NOT NULL,"
    "  failures INTEGER NOT NULL,"
    "  opened_at REAL NOT NULL,"
    "  cool_down REAL NOT NULL,"
    "  probe_started REAL NOT NULL) WITHOUT ROWID;"
    "COMMIT;";

// One connection, its statements, and the one-transaction read-modify-write.
class Store {
 public:
  explicit Store(const std::string& path) : path_(path) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw Error("SQLite circuit breaker (" + path + "): opening the database: " + message);
    }
    try {
      sqlite3_busy_timeout(db_, kBusyTimeoutMs);
      setup();
      select_ = prepare(
          "SELECT state, consecutive_failures, window_start, calls, failures, opened_at,"
          " cool_down, probe_started FROM wacloud_circuit_breakers WHERE key = ?1");
      store_ = prepare(
          "INSERT OR REPLACE INTO wacloud_circuit_breakers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
          "?9)");
    } catch (...) {
      close();
      throw;
    }
  }
  ~Store() { close(); }
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // After fork(): the child must not touch (or close) the parent's connection.
  void abandon() noexcept {
    select_ = store_ = nullptr;
    db_ = nullptr;
  }

  // Runs `step(record)` on the key's record in one write transaction; stores
  // the record when `step` says it changed.
  template <typename Step>
  auto update(const std::string& key, Step&& step) {
    exec("BEGIN IMMEDIATE");
    try {
      CircuitRecord record = load(key);
      const CircuitRecord before = record;
      auto result = step(record);
      if (!same(before, record)) save(key, record);
      exec("COMMIT");
      return result;
    } catch (...) {
      rollback();
      throw;
    }
  }

  CircuitRecord load(const std::string& key) {
    sqlite3_reset(select_);
    check(sqlite3_bind_text(select_, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT),
          "binding the key");
    CircuitRecord record;
    const int rc = sqlite3_step(select_);
    if (rc == SQLITE_ROW) {
      record.state = static_cast<CircuitState>(sqlite3_column_int(select_, 0));
      record.consecutive_failures = sqlite3_column_int(select_, 1);
      record.window_start = sqlite3_column_double(select_, 2);
      record.calls = sqlite3_column_int(select_, 3);
      record.failures = sqlite3_column_int(select_, 4);
      record.opened_at = sqlite3_column_double(select_, 5);
      record.cool_down = sqlite3_column_double(select_, 6);
      record.probe_started = sqlite3_column_double(select_, 7);
    } else if (rc != SQLITE_DONE) {
      fail("reading a circuit");
    }
    sqlite3_reset(select_);
    return record;
  }

 private:
  void rollback() noexcept {
    if (sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  static bool same(const CircuitRecord& a, const CircuitRecord& b) {
    return a.state == b.state && a.consecutive_failures == b.consecutive_failures &&
           a.window_start == b.window_start && a.calls == b.calls && a.failures == b.failures &&
           a.opened_at == b.opened_at && a.cool_down == b.cool_down &&
           a.probe_started == b.probe_started;
  }

  void save(const std::string& key, const CircuitRecord& r) {
    sqlite3_reset(store_);
    check(sqlite3_bind_text(store_, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT),
          "binding the key");
    const int ints[] = {static_cast<int>(r.state), r.consecutive_failures};
    for (int i = 0; i < 2; ++i) check(sqlite3_bind_int(store_, 2 + i, ints[i]), "binding");
    check(sqlite3_bind_double(store_, 4, r.window_start), "binding");
    check(sqlite3_bind_int(store_, 5, r.calls), "binding");
    check(sqlite3_bind_int(store_, 6, r.failures), "binding");
    check(sqlite3_bind_double(store_, 7, r.opened_at), "binding");
    check(sqlite3_bind_double(store_, 8, r.cool_down), "binding");
    check(sqlite3_bind_double(store_, 9, r.probe_started), "binding");
    if (sqlite3_step(store_) != SQLITE_DONE) fail("storing a circuit");
    sqlite3_reset(store_);
  }

  // Set-up SQL retried through the busy timeout: SQLite skips the busy handler
  // for a journal-mode switch, and workers opening a new file at once must not fail.
  void setup() {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
    for (;;) {
      char* message = nullptr;
      const int status = sqlite3_exec(db_, kSetup, nullptr, nullptr, &message);
      if (status == SQLITE_OK) return;
      const std::string text = message != nullptr ? message : sqlite3_errstr(status);
      sqlite3_free(message);
      rollback();
      const int primary = status & 0xff;
      if ((primary != SQLITE_BUSY && primary != SQLITE_LOCKED) ||
          std::chrono::steady_clock::now() >= deadline) {
        throw Error("SQLite circuit breaker (" + path_ + "): creating the table: " + text);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr) != SQLITE_OK) {
      fail(std::string("preparing \"") + sql + "\"");
    }
    return statement;
  }

  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
  }

  void check(int rc, const char* what) {
    if (rc != SQLITE_OK) fail(what);
  }

  [[noreturn]] void fail(const std::string& what) {
    throw Error("SQLite circuit breaker (" + path_ + "): " + what + ": " + sqlite3_errmsg(db_));
  }

  void close() noexcept {
    if (select_ != nullptr) sqlite3_finalize(select_);
    if (store_ != nullptr) sqlite3_finalize(store_);
    if (db_ != nullptr) sqlite3_close(db_);
    abandon();
  }

  const std::string& path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* select_ = nullptr;
  sqlite3_stmt* store_ = nullptr;
};

}  // namespace

struct SqliteCircuitBreaker::State {
  State(std::string path_in, CircuitBreakerConfig config_in)
      : path(std::move(path_in)), config((validate(config_in), std::move(config_in))) {
    if (path.empty()) throw std::invalid_argument("path (the SQLite file) must not be empty");
    reconnect();
  }

  ~State() {
    if (store && owner != getpid()) store->abandon();
  }

  void reconnect() {
    if (store) store->abandon();
    store.reset();
    store = std::make_unique<Store>(path);
    owner = getpid();
  }

  Store& db() {
    if (owner != getpid()) reconnect();
    return *store;
  }

  const std::string path;
  const CircuitBreakerConfig config;
  std::mutex mutex;  // one connection, used by one thread at a time
  std::unique_ptr<Store> store;
  pid_t owner = 0;
};

SqliteCircuitBreaker::SqliteCircuitBreaker(std::string path, CircuitBreakerConfig config)
    : state_(std::make_unique<State>(std::move(path), std::move(config))) {}

SqliteCircuitBreaker::~SqliteCircuitBreaker() = default;

CircuitPermit SqliteCircuitBreaker::allow(const std::string& key, double now) {
  circuit_detail::require_key(key);
  std::lock_guard<std::mutex> lock(state_->mutex);
  // The common case without the write lock: a closed circuit lets every call through (one
  // opening at this very moment lets at most this call through too, which is harmless).
  if (state_->db().load(key).state == CircuitState::kClosed) return {};
  return state_->db().update(key, [&](CircuitRecord& record) {
    return circuit_detail::allow(record, state_->config, now);
  });
}

CircuitTransition SqliteCircuitBreaker::record_success(const std::string& key, double now) {
  circuit_detail::require_key(key);
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->db().update(key, [&](CircuitRecord& record) {
    return circuit_detail::record_success(record, state_->config, now);
  });
}

CircuitTransition SqliteCircuitBreaker::record_failure(const std::string& key, double now) {
  circuit_detail::require_key(key);
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->db().update(key, [&](CircuitRecord& record) {
    return circuit_detail::record_failure(record, state_->config, now);
  });
}

CircuitRecord SqliteCircuitBreaker::status(const std::string& key) {
  circuit_detail::require_key(key);
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->db().load(key);
}

const CircuitBreakerConfig& SqliteCircuitBreaker::config() const noexcept { return state_->config; }

const std::string& SqliteCircuitBreaker::path() const noexcept { return state_->path; }

}  // namespace wacloud
