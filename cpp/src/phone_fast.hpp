// The fast path of phone.cpp: normalize() without libphonenumber's Parse() for
// the shapes most numbers come in, and the answers normalize_many() remembers.
// Internal to the core (not installed).
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace wacloud::phone_fast {

constexpr std::size_t kMaxQuickLength = 64;  // longer text takes the full path

inline bool is_separator(char c) {
  return c == ' ' || c == '\t' || c == '.' || c == '-' || c == '(' || c == ')' || c == '/';
}

struct FastPathRules;
// Read once from libphonenumber's metadata (thread-safe).
const FastPathRules& fast_path_rules();

enum class Quick { kUnsure, kPossible, kImpossible };

// normalize() for the shapes the fast path knows: kPossible with the wa_id in
// `wa_id`, kImpossible where normalize() would throw, kUnsure where only the full
// path can tell. `wa_id` is scratch space otherwise.
Quick quick_normalize(const FastPathRules& rules, std::string_view input, bool no_region,
                      std::string& wa_id);

// ---- Recent answers -------------------------------------------------------------
// Webhook traffic repeats itself: the same wa_ids over and over. normalize_many()
// keeps the full path's answers (the fast path needs no memory) by (region,
// text), in shards of two halves: when a shard's newer half is full, its older
// half is dropped and the newer one takes its place; a hit in the older half
// moves back to the newer one. At most kShards * 2 * kPerHalf entries of at
// most kMaxQuickLength bytes of text.
class RecentAnswers {
 public:
  using Answer = std::optional<std::string>;

  bool find(const std::string& key, Answer& answer) {
    Shard& shard = shard_for(key);
    std::lock_guard<std::mutex> lock(shard.mutex);
    if (auto hit = shard.newer.find(key); hit != shard.newer.end()) {
      answer = hit->second;
      return true;
    }
    auto hit = shard.older.find(key);
    if (hit == shard.older.end()) return false;
    answer = hit->second;
    auto node = shard.older.extract(hit);
    insert(shard, std::move(node.key()), std::move(node.mapped()));
    return true;
  }

  void put(const std::string& key, const Answer& answer) {
    Shard& shard = shard_for(key);
    std::lock_guard<std::mutex> lock(shard.mutex);
    insert(shard, key, answer);
  }

 private:
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kPerHalf = 1024;

  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Answer> newer, older;
  };

  Shard& shard_for(const std::string& key) {
    return shards_[std::hash<std::string>{}(key) % kShards];
  }

  static void insert(Shard& shard, std::string key, Answer answer) {
    if (shard.newer.size() >= kPerHalf) {
      shard.older = std::move(shard.newer);
      shard.newer.clear();
    }
    shard.newer.insert_or_assign(std::move(key), std::move(answer));
  }

  std::array<Shard, kShards> shards_;
};

RecentAnswers& recent_answers();

}  // namespace wacloud::phone_fast
