// Shared by webhook.cpp (the envelope, statuses, fields) and
// webhook_messages.cpp (messages and echoes). Not part of the public API.
#pragma once

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

// Field readers. A missing field or JSON null counts as absent; any other
// wrong JSON type throws WebhookPayloadError at the field's path.
const boost::json::object* optional_object(const boost::json::object& parent, std::string_view key,
                                           const Path& path);
const boost::json::array* optional_array(const boost::json::object& parent, std::string_view key,
                                         const Path& path);
std::optional<std::string> optional_string(const boost::json::object& parent, std::string_view key,
                                           const Path& path);
std::string required_string(const boost::json::object& parent, std::string_view key,
                            const Path& path);
// Ids Meta sends sometimes as strings, sometimes as integers.
std::optional<std::string> optional_id(const boost::json::object& parent, std::string_view key,
                                       const Path& path);
std::string required_id(const boost::json::object& parent, std::string_view key, const Path& path);
std::optional<bool> optional_bool(const boost::json::object& parent, std::string_view key,
                                  const Path& path);
// Unix seconds given as an integer or a string of digits.
std::optional<std::int64_t> optional_timestamp(const boost::json::object& parent,
                                               std::string_view key, const Path& path);
std::int64_t required_timestamp(const boost::json::object& parent, std::string_view key,
                                const Path& path);
const boost::json::object& require_object(const boost::json::value& value, const Path& path);

std::vector<ErrorDetail> parse_errors(const boost::json::object& parent, std::string_view key,
                                      const Path& path);

// What every event of one `changes[]` entry shares.
struct ChangeScope {
  std::shared_ptr<const boost::json::value> document;
  const std::string* field = nullptr;
  const std::string* waba_id = nullptr;
  std::optional<std::string> phone_number_id, display_phone_number;
  std::optional<std::int64_t> entry_time;
  const boost::json::array* contacts = nullptr;  // value.contacts, already checked

  RawJson raw(const boost::json::object& object) const { return RawJson(document, &object); }
  Event event(const boost::json::object& raw_object, std::optional<std::int64_t> timestamp) const;
};

// messages[] (is_echo = false) and message_echoes[] (is_echo = true) entries.
Event parse_message(const boost::json::object& message, const Path& path, const ChangeScope& scope,
                    bool is_echo);

// True when the contacts[] entry's wa_id (or BSUID user_id) is exactly the one given.
bool contact_names(const boost::json::object& contact, const std::optional<std::string>& wa_id,
                   const std::optional<std::string>& user_id);
// The value.contacts[] entry whose wa_id (or BSUID user_id) is exactly the one given.
const boost::json::object* find_contact(const ChangeScope& scope,
                                        const std::optional<std::string>& wa_id,
                                        const std::optional<std::string>& user_id);
// One value.user_id_update[] entry (webhook_user_ids.cpp).
Event parse_user_id_update(const boost::json::object& item, const Path& path,
                           const ChangeScope& scope);
// Fills the business-scoped ids an event's item left out from its contacts[] entry.
void adopt_contact_ids(Event& event);

// Makes `contact` the message's contact (and its profile name the contact_name).
void set_contact(InboundMessage& message, const ChangeScope& scope,
                 const boost::json::object& contact);

}  // namespace wacloud::webhook_detail
