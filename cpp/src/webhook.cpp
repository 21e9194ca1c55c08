// The webhook envelope (object, entry[], changes[]), statuses, value-level
// errors, template status changes and generic fields. Messages live in
// webhook_messages.cpp.
#include "wacloud/webhook.hpp"

#include <algorithm>
#include <array>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <utility>

#include "webhook_internal.hpp"

namespace wacloud {

const boost::json::object& RawJson::empty() {
  static const boost::json::object kEmpty;
  return kEmpty;
}

namespace webhook_detail {
namespace {

namespace json = boost::json;

// datetime.max is 9999-12-31T23:59:59Z; later timestamps cannot be represented.
constexpr std::int64_t kMaxTimestamp = 253402300799;

const char* kind_name(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "an integer";
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

[[noreturn]] void wrong_type(const json::value& value, const Path& path, const char* expected) {
  fail(path, std::string("expected ") + expected + ", got " + kind_name(value));
}

// Looks `key` up; nullptr when it is absent or null.
const json::value* find(const json::object& parent, std::string_view key) {
  const json::value* value = parent.if_contains(key);
  return value == nullptr || value->is_null() ? nullptr : value;
}

const json::value& require(const json::object& parent, std::string_view key, const Path& path) {
  const json::value* value = find(parent, key);
  if (value == nullptr) fail(path, "is missing");
  return *value;
}

std::optional<std::int64_t> to_timestamp(const json::value& value, const Path& path) {
  std::int64_t seconds = -1;
  if (const std::int64_t* integer = value.if_int64()) {
    seconds = *integer;
  } else if (const std::uint64_t* unsigned_integer = value.if_uint64()) {
    if (*unsigned_integer <= static_cast<std::uint64_t>(kMaxTimestamp)) {
      seconds = static_cast<std::int64_t>(*unsigned_integer);
    }
  } else if (const json::string* text = value.if_string()) {
    if (text->empty() || text->size() > 12)
      fail(path, "expected Unix seconds, got \"" + std::string(text->subview()) + "\"");
    seconds = 0;
    for (char c : *text) {
      if (c < '0' || c > '9') {
        fail(path, "expected Unix seconds, got \"" + std::string(text->subview()) + "\"");
      }
      seconds = seconds * 10 + (c - '0');
    }
  } else {
    wrong_type(value, path, "Unix seconds (an integer or a string of digits)");
  }
  if (seconds < 0 || seconds > kMaxTimestamp) {
    fail(path, "timestamp out of range (0 to " + std::to_string(kMaxTimestamp) + ")");
  }
  return seconds;
}

}  // namespace

std::string Path::str() const {
  std::vector<const Path*> chain;
  for (const Path* node = this; node->parent != nullptr; node = node->parent) chain.push_back(node);
  if (chain.empty()) return "$";
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const Path& node = **it;
    if (node.is_index) {
      out += '[' + std::to_string(node.index) + ']';
    } else {
      if (!out.empty()) out += '.';
      out += node.key;
    }
  }
  return out;
}

void fail(const Path& path, const std::string& message) {
  throw WebhookPayloadError(path.str(), message);
}

const json::object& require_object(const json::value& value, const Path& path) {
  const json::object* object = value.if_object();
  if (object == nullptr) wrong_type(value, path, "an object");
  return *object;
}

const json::object* optional_object(const json::object& parent, std::string_view key,
                                    const Path& path) {
  const json::value* value = find(parent, key);
  if (value == nullptr) return nullptr;
  return &require_object(*value, path.child(key));
}

const json::array* optional_array(const json::object& parent, std::string_view key,
                                  const Path& path) {
  const json::value* value = find(parent, key);
  if (value == nullptr) return nullptr;
  const json::array* array = value->if_array();
  if (array == nullptr) wrong_type(*value, path.child(key), "an array");
  return array;
}

std::optional<std::string> optional_string(const json::object& parent, std::string_view key,
                                           const Path& path) {
  const json::value* value = find(parent, key);
  if (value == nullptr) return std::nullopt;
  const json::string* text = value->if_string();
  if (text == nullptr) wrong_type(*value, path.child(key), "a string");
  return std::string(text->subview());
}

std::string required_string(const json::object& parent, std::string_view key, const Path& path) {
  const json::value& value = require(parent, key, path.child(key));
  const json::string* text = value.if_string();
  if (text == nullptr) wrong_type(value, path.child(key), "a string");
  return std::string(text->subview());
}

std::optional<std::string> optional_id(const json::object& parent, std::string_view key,
                                       const Path& path) {
  const json::value* value = find(parent, key);
  if (value == nullptr) return std::nullopt;
  if (const json::string* text = value->if_string()) {
    if (text->empty()) fail(path.child(key), "is empty");
    return std::string(text->subview());
  }
  if (const std::int64_t* integer = value->if_int64()) return std::to_string(*integer);
  if (const std::uint64_t* integer = value->if_uint64()) return std::to_string(*integer);
  wrong_type(*value, path.child(key), "an id (a string or an integer)");
}

std::string required_id(const json::object& parent, std::string_view key, const Path& path) {
  std::optional<std::string> id = optional_id(parent, key, path);
  if (!id) fail(path.child(key), "is missing");
  return *std::move(id);
}

std::optional<bool> optional_bool(const json::object& parent, std::string_view key,
                                  const Path& path) {
  const json::value* value = find(parent, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_bool()) wrong_type(*value, path.child(key), "a boolean");
  return value->get_bool();
}

std::optional<std::int64_t> optional_timestamp(const json::object& parent, std::string_view key,
                                               const Path& path) {
  const json::value* value = find(parent, key);
  if (value == nullptr) return std::nullopt;
  return to_timestamp(*value, path.child(key));
}

std::int64_t required_timestamp(const json::object& parent, std::string_view key,
                                const Path& path) {
  return *to_timestamp(require(parent, key, path.child(key)), path.child(key));
}

std::vector<ErrorDetail> parse_errors(const json::object& parent, std::string_view key,
                                      const Path& path) {
  std::vector<ErrorDetail> errors;
  const json::array* array = optional_array(parent, key, path);
  if (array == nullptr) return errors;
  const Path array_path = path.child(key);
  errors.reserve(array->size());
  for (std::size_t i = 0; i < array->size(); ++i) {
    const Path item_path = array_path.at(i);
    const json::object& item = require_object((*array)[i], item_path);
    ErrorDetail error;
    if (const json::value* code = find(item, "code")) {
      if (const std::int64_t* integer = code->if_int64()) {
        error.code = *integer;
      } else {
        wrong_type(*code, item_path.child("code"), "an integer");
      }
    }
    error.title = optional_string(item, "title", item_path).value_or("");
    error.message = optional_string(item, "message", item_path).value_or("");
    error.href = optional_string(item, "href", item_path).value_or("");
    if (const json::object* data = optional_object(item, "error_data", item_path)) {
      error.details = optional_string(*data, "details", item_path.child("error_data")).value_or("");
    } else {  // the older shape: details beside title, no error_data
      error.details = optional_string(item, "details", item_path).value_or("");
    }
    errors.push_back(std::move(error));
  }
  return errors;
}

Event ChangeScope::event(const json::object& raw_object,
                         std::optional<std::int64_t> timestamp) const {
  Event event;
  event.field = *field;
  event.waba_id = *waba_id;
  event.phone_number_id = phone_number_id;
  event.display_phone_number = display_phone_number;
  event.timestamp = timestamp;
  event.raw = raw(raw_object);
  return event;
}

namespace {

Event parse_status(const json::object& status, const Path& path, const ChangeScope& scope) {
  StatusUpdate update;
  update.message_id = required_id(status, "id", path);
  update.status = required_string(status, "status", path);
  const std::int64_t timestamp = required_timestamp(status, "timestamp", path);
  update.recipient_id = optional_string(status, "recipient_id", path);
  update.recipient_user_id = optional_string(status, "recipient_user_id", path);
  // Meta's BSUID reference spells it parent_recipient_user_id; the other order is read too.
  update.recipient_parent_user_id = optional_string(status, "parent_recipient_user_id", path);
  if (!update.recipient_parent_user_id) {
    update.recipient_parent_user_id = optional_string(status, "recipient_parent_user_id", path);
  }
  update.recipient_type = optional_string(status, "recipient_type", path);
  update.recipient_participant_id = optional_string(status, "recipient_participant_id", path);
  update.biz_opaque_callback_data = optional_string(status, "biz_opaque_callback_data", path);
  if (const json::object* conversation = optional_object(status, "conversation", path)) {
    const Path conversation_path = path.child("conversation");
    update.conversation_id = optional_string(*conversation, "id", conversation_path);
    update.conversation_expiration =
        optional_timestamp(*conversation, "expiration_timestamp", conversation_path);
    if (const json::object* origin = optional_object(*conversation, "origin", conversation_path)) {
      update.conversation_origin =
          optional_string(*origin, "type", conversation_path.child("origin"));
    }
  }
  if (const json::object* pricing = optional_object(status, "pricing", path)) {
    const Path pricing_path = path.child("pricing");
    update.billable = optional_bool(*pricing, "billable", pricing_path);
    update.pricing_model = optional_string(*pricing, "pricing_model", pricing_path);
    update.pricing_category = optional_string(*pricing, "category", pricing_path);
    update.pricing_type = optional_string(*pricing, "type", pricing_path);
  }
  update.errors = parse_errors(status, "errors", path);
  // Group messages: recipient_id is the group, the contact is the participant's.
  const json::object* contact = find_contact(scope, update.recipient_id, update.recipient_user_id);
  if (contact == nullptr && update.recipient_participant_id) {
    contact = find_contact(scope, update.recipient_participant_id, std::nullopt);
  }
  if (contact != nullptr) update.contact = scope.raw(*contact);
  Event event = scope.event(status, timestamp);
  event.data = std::move(update);
  return event;
}

// The keys of a messages / smb_message_echoes value this parser understands.
bool is_known_message_value_key(std::string_view key) {
  static constexpr std::array<std::string_view, 7> kKnown = {
      "messaging_product", "metadata",       "contacts", "messages",
      "statuses",          "message_echoes", "errors"};
  for (std::string_view known : kKnown) {
    if (key == known) return true;
  }
  return false;
}

Event field_update(const json::object& value, const ChangeScope& scope) {
  Event event = scope.event(value, scope.entry_time);
  event.data = FieldUpdate{};
  return event;
}

// An item of messages[], message_echoes[] or statuses[] that could not be read.
// Its id and timestamp are kept when they are readable on their own.
Event invalid_item(const json::value& item, const char* kind, const WebhookPayloadError& error,
                   const Path& path, const ChangeScope& scope) {
  static const json::object kNotAnObject;  // raw of an item that is not an object
  const json::object* object = item.if_object();
  InvalidItem invalid{kind, error.path(), error.what(), std::nullopt};
  std::optional<std::int64_t> timestamp;
  if (object != nullptr) {
    try {
      invalid.item_id = optional_id(*object, "id", path);
    } catch (const WebhookPayloadError&) {
    }
    try {
      timestamp = optional_timestamp(*object, "timestamp", path);
    } catch (const WebhookPayloadError&) {
    }
  }
  Event event = scope.event(object != nullptr ? *object : kNotAnObject, timestamp);
  event.data = std::move(invalid);
  return event;
}

// The contacts[] entry an event is about (messages: the user; statuses: the recipient).
std::optional<RawJson>* contact_slot(Event& event) {
  if (auto* message = std::get_if<InboundMessage>(&event.data)) return &message->contact;
  if (auto* status = std::get_if<StatusUpdate>(&event.data)) return &status->contact;
  return nullptr;
}

// Checks that every value.contacts[] entry is some event's contact. Entries
// match by wa_id or user_id; Meta documents that a user's wa_id may differ from
// the number in `from`, so a single entry that matched nothing exactly is the
// user's contact of every message, echo and status of the value without one
// (but never of an echo it names as the sender). Returns false when an entry is
// still nobody's contact, so the caller can hand the value over whole.
bool share_contacts(const json::array& contacts, const ChangeScope& scope, std::vector<Event>& out,
                    std::size_t first_event) {
  bool all_claimed = true;
  for (const json::value& entry : contacts) {
    const json::object* contact = &entry.get_object();  // checked by checked_contacts
    bool claimed = false;
    for (std::size_t i = first_event; i < out.size() && !claimed; ++i) {
      const std::optional<RawJson>* slot = contact_slot(out[i]);
      claimed = slot != nullptr && *slot && &(*slot)->get() == contact;
    }
    if (!claimed && contacts.size() == 1) {
      for (std::size_t i = first_event; i < out.size(); ++i) {
        std::optional<RawJson>* slot = contact_slot(out[i]);
        if (slot == nullptr || *slot) continue;
        if (auto* message = std::get_if<InboundMessage>(&out[i].data)) {
          if (message->is_echo &&
              contact_names(*contact, message->from_wa_id, message->from_user_id)) {
            continue;
          }
          set_contact(*message, scope, *contact);
        } else {
          *slot = scope.raw(*contact);
        }
        claimed = true;
      }
    }
    all_claimed &= claimed;
  }
  return all_claimed;
}

// True when the value holds something no event carries: a key this parser does
// not know (`also_known` is one more it does), metadata beyond the two ids, or
// a messaging_product other than "whatsapp".
bool has_unmodelled_parts(const json::object& value, std::string_view also_known = {}) {
  for (const auto& item : value) {
    const std::string_view key = item.key();
    if (!also_known.empty() && key == also_known) continue;
    if (key == "messaging_product") {
      const json::string* text = item.value().if_string();
      if (text == nullptr || *text != "whatsapp") return true;
    } else if (key == "metadata") {
      if (const json::object* metadata = item.value().if_object()) {
        for (const auto& id : *metadata) {
          if (id.key() != "phone_number_id" && id.key() != "display_phone_number") return true;
        }
      }
    } else if (!is_known_message_value_key(key)) {
      return true;
    }
  }
  return false;
}

// A messages-shaped value: its arrays are parsed by key, whatever the field.
// One unreadable item becomes an InvalidItem; its neighbours are still parsed.
void parse_message_value(const json::object& value, const Path& path, const ChangeScope& scope,
                         std::vector<Event>& out) {
  const std::size_t first_event = out.size();
  bool item_lost = false;  // an item that is not an object: its raw cannot hold it
  const std::pair<std::string_view, bool> message_arrays[] = {{"messages", false},
                                                              {"message_echoes", true}};
  for (const auto& [key, is_echo] : message_arrays) {
    if (const json::array* messages = optional_array(value, key, path)) {
      const Path array_path = path.child(key);
      for (std::size_t i = 0; i < messages->size(); ++i) {
        const Path item_path = array_path.at(i);
        const json::value& item = (*messages)[i];
        try {
          out.push_back(parse_message(require_object(item, item_path), item_path, scope, is_echo));
        } catch (const WebhookPayloadError& error) {
          out.push_back(
              invalid_item(item, is_echo ? "message_echo" : "message", error, item_path, scope));
          item_lost |= !item.is_object();
        }
      }
    }
  }
  if (const json::array* statuses = optional_array(value, "statuses", path)) {
    const Path array_path = path.child("statuses");
    for (std::size_t i = 0; i < statuses->size(); ++i) {
      const Path item_path = array_path.at(i);
      const json::value& item = (*statuses)[i];
      try {
        out.push_back(parse_status(require_object(item, item_path), item_path, scope));
      } catch (const WebhookPayloadError& error) {
        out.push_back(invalid_item(item, "status", error, item_path, scope));
        item_lost |= !item.is_object();
      }
    }
  }
  const bool contacts_lost = scope.contacts != nullptr && !scope.contacts->empty() &&
                             !share_contacts(*scope.contacts, scope, out, first_event);
  for (std::size_t i = first_event; i < out.size(); ++i) adopt_contact_ids(out[i]);
  if (value.contains("errors")) {
    WebhookError error{parse_errors(value, "errors", path)};
    Event event = scope.event(value, scope.entry_time);
    event.data = std::move(error);
    out.push_back(std::move(event));
  }
  // A value that produced nothing, or holds what no event above carries, is
  // also handed over whole so nothing Meta sends is lost.
  if (out.size() == first_event || item_lost || contacts_lost || has_unmodelled_parts(value)) {
    out.push_back(field_update(value, scope));
  }
}

Event parse_template_status(const json::object& value, const Path& path, const ChangeScope& scope) {
  TemplateStatusUpdate update;
  update.template_id = required_id(value, "message_template_id", path);
  update.status = required_string(value, "event", path);
  update.template_name = optional_string(value, "message_template_name", path).value_or("");
  update.language = optional_string(value, "message_template_language", path).value_or("");
  update.reason = optional_string(value, "reason", path);
  update.category = optional_string(value, "message_template_category", path);
  Event event = scope.event(value, scope.entry_time);
  event.data = std::move(update);
  return event;
}

// A user_id_update value: one event per entry (an unreadable one becomes an
// InvalidItem); a value with nothing else to say, or more, is handed over too.
void parse_user_id_update_value(const json::object& value, const Path& path,
                                const ChangeScope& scope, std::vector<Event>& out) {
  const std::size_t first_event = out.size();
  bool item_lost = false;
  if (const json::array* items = optional_array(value, "user_id_update", path)) {
    const Path array_path = path.child("user_id_update");
    for (std::size_t i = 0; i < items->size(); ++i) {
      const Path item_path = array_path.at(i);
      const json::value& item = (*items)[i];
      try {
        out.push_back(parse_user_id_update(require_object(item, item_path), item_path, scope));
      } catch (const WebhookPayloadError& error) {
        out.push_back(invalid_item(item, "user_id_update", error, item_path, scope));
        item_lost |= !item.is_object();
      }
    }
  }
  bool other_keys = false;  // contacts, statuses, ...: nothing above carries them
  for (const auto& entry : value) {
    const std::string_view key = entry.key();
    other_keys |= key != "messaging_product" && key != "metadata" && key != "user_id_update";
  }
  if (out.size() == first_event || item_lost || other_keys ||
      has_unmodelled_parts(value, "user_id_update")) {
    out.push_back(field_update(value, scope));
  }
}

// Checks value.contacts once; messages look their sender up in it.
const json::array* checked_contacts(const json::object& value, const Path& path) {
  const json::array* contacts = optional_array(value, "contacts", path);
  if (contacts == nullptr) return nullptr;
  const Path array_path = path.child("contacts");
  for (std::size_t i = 0; i < contacts->size(); ++i) {
    const Path item_path = array_path.at(i);
    const json::object& contact = require_object((*contacts)[i], item_path);
    optional_string(contact, "wa_id", item_path);
    optional_string(contact, "user_id", item_path);
    if (const json::object* profile = optional_object(contact, "profile", item_path)) {
      optional_string(*profile, "name", item_path.child("profile"));
    }
  }
  return contacts;
}

void parse_change(const json::object& change, const Path& path, ChangeScope& scope,
                  std::vector<Event>& out) {
  const std::string field = required_string(change, "field", path);
  const Path value_path = path.child("value");
  const json::value* raw_value = change.if_contains("value");
  if (raw_value == nullptr) fail(value_path, "is missing");
  const json::object& value = require_object(*raw_value, value_path);
  scope.field = &field;
  scope.phone_number_id.reset();
  scope.display_phone_number.reset();
  if (const json::object* metadata = optional_object(value, "metadata", value_path)) {
    const Path metadata_path = value_path.child("metadata");
    scope.phone_number_id = optional_id(*metadata, "phone_number_id", metadata_path);
    scope.display_phone_number = optional_string(*metadata, "display_phone_number", metadata_path);
  }
  if (field == "messages" || field == "smb_message_echoes") {
    scope.contacts = checked_contacts(value, value_path);
    parse_message_value(value, value_path, scope, out);
  } else if (field == "user_id_update") {
    parse_user_id_update_value(value, value_path, scope, out);
  } else if (field == "message_template_status_update" && find(value, "event") != nullptr) {
    out.push_back(parse_template_status(value, value_path, scope));
  } else {
    // Every other field, and template quality updates that Meta's own docs label
    // message_template_status_update (they have no "event"), is handed over whole.
    out.push_back(field_update(value, scope));
  }
  scope.contacts = nullptr;
}

// A parsed body and the arena its nodes live in. The value reaches the arena
// through a non-owning storage_ptr, which tells Boost.JSON that nodes need no
// destruction one by one (with a shared one it walked the whole tree): the
// arena frees everything at once with the last event.
struct Document {
  explicit Document(std::size_t first_block)
      : arena(first_block), value(json::storage_ptr(&arena)) {}
  json::monotonic_resource arena;
  json::value value;
};

// "\uXXXX" at `at` as its code unit, or -1 when there is no such escape there.
int escaped_code_unit(std::string_view text, std::size_t at) {
  if (at + 6 > text.size() || text[at] != '\\' || text[at + 1] != 'u') return -1;
  int unit = 0;
  for (std::size_t i = at + 2; i < at + 6; ++i) {
    const char c = text[i];
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return -1;
    }
    unit = unit * 16 + digit;
  }
  return unit;
}

// Boost.JSON before 1.82 refuses a whole body for one lone UTF-16 surrogate
// escape ("\ud800" with no low surrogate escape after it, or a lone "\udc00"),
// which json.loads accepts. A copy with each such escape rewritten to "\ufffd"
// (U+FFFD, what allow_invalid_utf16 gives in later versions) has the same length,
// so byte offsets in later errors stay right. Every backslash in valid JSON
// starts an escape inside a string, so escapes are read in order from each
// backslash: an escaped backslash ("\\ud800") is skipped with its pair.
// nullopt when there is no lone surrogate escape.
std::optional<std::string> replace_lone_surrogates(std::string_view body) {
  std::string text(body);
  bool replaced = false;
  for (std::size_t at = text.find('\\'); at != std::string::npos; at = text.find('\\', at)) {
    const int unit = escaped_code_unit(text, at);
    if (unit < 0xD800 || unit > 0xDFFF) {  // another escape, or not a surrogate
      at += 2;
      continue;
    }
    if (unit <= 0xDBFF) {
      const int next = escaped_code_unit(text, at + 6);
      if (next >= 0xDC00 && next <= 0xDFFF) {  // a well-formed pair
        at += 12;
        continue;
      }
    }
    text.replace(at, 6, "\\ufffd");
    at += 6;
    replaced = true;
  }
  if (!replaced) return std::nullopt;
  return text;
}

std::shared_ptr<const json::value> parse_document(std::string_view body, bool repaired = false) {
  json::parse_options options;
  options.max_depth = kWebhookMaxDepth;
  // Parsed trees take about twice the text: one block for most bodies.
  auto document = std::make_shared<Document>(std::max<std::size_t>(1024, 2 * body.size()));
  // The parser's working stack lives here, not on the heap (its storage_ptr is
  // only for that stack); the tree goes to the arena through reset().
  unsigned char scratch[4096];
  json::parser parser(json::storage_ptr(), options, scratch, sizeof scratch);
  parser.reset(json::storage_ptr(&document->arena));
  json::error_code error;
  const std::size_t consumed = parser.write(body.data(), body.size(), error);
  // A high surrogate escape followed by anything but a backslash is a syntax
  // error to Boost 1.81, not a surrogate error: both are retried when the body
  // holds a lone surrogate escape (failing bodies only: the scan costs nothing
  // on the way bodies usually take).
  if (!repaired &&
      (error == json::error::illegal_leading_surrogate ||
       error == json::error::illegal_trailing_surrogate || error == json::error::syntax)) {
    if (const std::optional<std::string> text = replace_lone_surrogates(body)) {
      return parse_document(*text, true);
    }
  }
  if (error == json::error::too_deep) {
    throw WebhookPayloadError(
        "$", "nested deeper than the limit of " + std::to_string(kWebhookMaxDepth) + " levels");
  }
  if (error) {
    throw WebhookPayloadError(
        "$", "not valid JSON (" + error.message() + ") at byte " + std::to_string(consumed));
  }
  document->value = parser.release();  // same arena: moved, not copied
  const json::value* value = &document->value;
  return std::shared_ptr<const json::value>(std::move(document), value);
}

}  // namespace
}  // namespace webhook_detail

std::vector<Event> parse_webhook(std::string_view body) {
  using namespace webhook_detail;
  namespace json = boost::json;
  const std::shared_ptr<const json::value> document = parse_document(body);
  const Path root;
  const json::object& payload = require_object(*document, root);
  // Meta's own example bodies sometimes leave "object" out: only another value is refused.
  const std::optional<std::string> object = optional_string(payload, "object", root);
  if (object && *object != "whatsapp_business_account") {
    fail(root.child("object"), "expected \"whatsapp_business_account\", got \"" + *object + "\"");
  }
  const json::array* entries = optional_array(payload, "entry", root);
  if (entries == nullptr) fail(root.child("entry"), "is missing");
  std::vector<Event> events;
  const Path entries_path = root.child("entry");
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const Path entry_path = entries_path.at(i);
    const json::object& entry = require_object((*entries)[i], entry_path);
    const std::string waba_id = required_id(entry, "id", entry_path);
    ChangeScope scope;
    scope.document = document;
    scope.waba_id = &waba_id;
    scope.entry_time = optional_timestamp(entry, "time", entry_path);
    const json::array* changes = optional_array(entry, "changes", entry_path);
    if (changes == nullptr) fail(entry_path.child("changes"), "is missing");
    const Path changes_path = entry_path.child("changes");
    for (std::size_t j = 0; j < changes->size(); ++j) {
      const Path change_path = changes_path.at(j);
      parse_change(require_object((*changes)[j], change_path), change_path, scope, events);
    }
  }
  return events;
}

std::vector<WebhookParseResult> parse_webhooks(const std::vector<std::string_view>& bodies) {
  // One thread: parsing takes less than building the Python objects after it,
  // and trees made on other threads made that building slower than it saved.
  std::vector<WebhookParseResult> results(bodies.size());
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    try {
      results[i].events = parse_webhook(bodies[i]);
    } catch (const WebhookPayloadError& error) {
      results[i].error = error;
    }
  }
  return results;
}

}  // namespace wacloud
