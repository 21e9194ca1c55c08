// Shared by webhook.cpp (the envelope, statuses, fields), webhook_messages.cpp
// (messages and echoes), webhook_user_ids.cpp and webhook_fields.cpp (the field
// readers). Not part of the public API.
#pragma once

#include <array>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wacloud/webhook.hpp"

namespace wacloud::webhook_detail {

// A position in the document, kept as a chain on the stack so the path string
// ("entry[0].changes[1].value") is only built when an error is thrown.
struct Path {
  const Path* parent = nullptr;
  std::string_view key;
  std::size_t index = 0;
  bool is_index = false;

  Path child(std::string_view name) const { return Path{this, name, 0, false}; }
  Path at(std::size_t i) const { return Path{this, {}, i, true}; }
  std::string str() const;  // "$" for the document itself
};

[[noreturn]] void fail(const Path& path, const std::string& message);

struct Field;
Field find_field(const boost::json::object& parent, std::string_view key);

// A key's value in an object, nullptr when the key is absent. The readers
// below count JSON null as absent too. `{object, "key"}` looks the key up.
struct Field {
  Field(const boost::json::value* found, std::string_view name) : value(found), key(name) {}
  Field(const boost::json::object& parent, std::string_view name)
      : Field(find_field(parent, name)) {}

  const boost::json::value* value = nullptr;
  std::string_view key;
};

// The fields of an object named in `keys` (a static table; callers name its
// entries with an enum in the same order), found in one pass over its entries.
// A lookup scans the entries one by one (Boost.JSON hashes only objects of more
// than 18), so reading an object for many keys, most of them absent, costs one
// scan this way instead of one per key. Parsed objects have no duplicate keys:
// the pass and the lookups find the same values.
template <std::size_t N>
class Fields {
 public:
  Fields(const boost::json::object& object, const std::array<std::string_view, N>& keys)
      : keys_(keys) {
    for (const auto& item : object) {
      const std::string_view key = item.key();
      for (std::size_t i = 0; i < N; ++i) {
        if (key == keys[i]) {
          values_[i] = &item.value();
          break;
        }
      }
    }
  }
  Field operator[](std::size_t i) const { return Field{values_[i], keys_[i]}; }

 private:
  const std::array<std::string_view, N>& keys_;
  std::array<const boost::json::value*, N> values_{};
};

// Field readers. A missing field or JSON null counts as absent; any other
// wrong JSON type throws WebhookPayloadError at the field's path (`path` is the
// object's). Each reads a field already found, or `{parent, "key"}` to look it up.
const boost::json::object* optional_object(Field field, const Path& path);
const boost::json::array* optional_array(Field field, const Path& path);
std::optional<std::string> optional_string(Field field, const Path& path);
std::string required_string(Field field, const Path& path);
// The same without a copy: views into the document.
std::optional<std::string_view> optional_string_view(Field field, const Path& path);
std::string_view required_string_view(Field field, const Path& path);
// Ids Meta sends sometimes as strings, sometimes as integers.
std::optional<std::string> optional_id(Field field, const Path& path);
std::string required_id(Field field, const Path& path);
std::optional<bool> optional_bool(Field field, const Path& path);
// Unix seconds given as an integer or a string of digits.
std::optional<std::int64_t> optional_timestamp(Field field, const Path& path);
std::int64_t required_timestamp(Field field, const Path& path);

const boost::json::object& require_object(const boost::json::value& value, const Path& path);

// The `errors` array `field` holds (empty when it is absent).
std::vector<ErrorDetail> parse_errors(Field field, const Path& path);

// What every event of one `changes[]` entry shares.
struct ChangeScope {
  std::shared_ptr<const boost::json::value> document;
  std::string_view field;
  const std::string* waba_id = nullptr;
  std::optional<std::string> phone_number_id, display_phone_number;
  std::optional<std::int64_t> entry_time;
  const boost::json::array* contacts = nullptr;  // value.contacts, already checked

  RawJson raw(const boost::json::object& object) const { return RawJson(document, &object); }
  // Appends an event of this change about `raw_object`; its data is an empty
  // InboundMessage (std::variant's first alternative) until the caller sets it.
  Event& add_event(std::vector<Event>& out, const boost::json::object& raw_object,
                   std::optional<std::int64_t> timestamp) const;
};

// The item parsers below append one event to `out`, made in place there: an
// Event is 2 KB, never moved once made. When one throws, the event it began may
// be left at the end of `out` for the caller to drop.

// messages[] (is_echo = false) and message_echoes[] (is_echo = true) entries.
void parse_message(const boost::json::object& message, const Path& path, const ChangeScope& scope,
                   bool is_echo, std::vector<Event>& out);

// True when the contacts[] entry's wa_id (or BSUID user_id) is exactly the one given.
bool contact_names(const boost::json::object& contact, const std::optional<std::string>& wa_id,
                   const std::optional<std::string>& user_id);
// The value.contacts[] entry whose wa_id (or BSUID user_id) is exactly the one given.
const boost::json::object* find_contact(const ChangeScope& scope,
                                        const std::optional<std::string>& wa_id,
                                        const std::optional<std::string>& user_id);
// One value.user_id_update[] entry (webhook_user_ids.cpp).
void parse_user_id_update(const boost::json::object& item, const Path& path,
                          const ChangeScope& scope, std::vector<Event>& out);
// Fills the business-scoped ids an event's item left out from its contacts[] entry.
void adopt_contact_ids(Event& event);

// Makes `contact` the message's contact (and its profile name the contact_name).
void set_contact(InboundMessage& message, const ChangeScope& scope,
                 const boost::json::object& contact);

}  // namespace wacloud::webhook_detail
