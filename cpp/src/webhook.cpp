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

namespace json = boost::json;

Event& ChangeScope::add_event(std::vector<Event>& out, const json::object& raw_object,
                              std::optional<std::int64_t> timestamp) const {
  Event& event = out.emplace_back();
  event.field = field;
  event.waba_id = *waba_id;
  event.phone_number_id = phone_number_id;
  event.display_phone_number = display_phone_number;
  event.timestamp = timestamp;
  event.raw = raw(raw_object);
  return event;
}

namespace {

// Room for `more` events, so that they are made in place and never moved.
void reserve_events(std::vector<Event>& out, std::size_t more) {
  const std::size_t needed = out.size() + more;
  if (needed > out.capacity()) out.reserve(std::max(needed, 2 * out.capacity()));
}

std::size_t size_of(const json::array* array) { return array == nullptr ? 0 : array->size(); }

// True when `key` is there and not null.
bool holds(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && !value->is_null();
}

void parse_status(const json::object& status, const Path& path, const ChangeScope& scope,
                  std::vector<Event>& out) {
  enum Key : std::size_t {
    kId,
    kStatus,
    kTimestamp,
    kRecipientId,
    kRecipientUserId,
    kParentRecipientUserId,
    kRecipientParentUserId,
    kRecipientType,
    kRecipientParticipantId,
    kBizOpaqueCallbackData,
    kConversation,
    kPricing,
    kErrors,
    kKeyCount
  };
  static constexpr std::array<std::string_view, kKeyCount> kKeys = {"id",
                                                                    "status",
                                                                    "timestamp",
                                                                    "recipient_id",
                                                                    "recipient_user_id",
                                                                    "parent_recipient_user_id",
                                                                    "recipient_parent_user_id",
                                                                    "recipient_type",
                                                                    "recipient_participant_id",
                                                                    "biz_opaque_callback_data",
                                                                    "conversation",
                                                                    "pricing",
                                                                    "errors"};
  const Fields<kKeyCount> fields(status, kKeys);
  Event& event = scope.add_event(out, status, std::nullopt);
  StatusUpdate& update = event.data.emplace<StatusUpdate>();
  update.message_id = required_id(fields[kId], path);
  update.status = required_string(fields[kStatus], path);
  event.timestamp = required_timestamp(fields[kTimestamp], path);
  update.recipient_id = optional_string(fields[kRecipientId], path);
  update.recipient_user_id = optional_string(fields[kRecipientUserId], path);
  // Meta's BSUID reference spells it parent_recipient_user_id; the other order is read too.
  update.recipient_parent_user_id = optional_string(fields[kParentRecipientUserId], path);
  if (!update.recipient_parent_user_id) {
    update.recipient_parent_user_id = optional_string(fields[kRecipientParentUserId], path);
  }
  update.recipient_type = optional_string(fields[kRecipientType], path);
  update.recipient_participant_id = optional_string(fields[kRecipientParticipantId], path);
  update.biz_opaque_callback_data = optional_string(fields[kBizOpaqueCallbackData], path);
  if (const json::object* conversation = optional_object(fields[kConversation], path)) {
    enum ConversationKey : std::size_t { kConversationId, kExpiration, kOrigin, kConversationKeys };
    static constexpr std::array<std::string_view, kConversationKeys> kConversationKeyNames = {
        "id", "expiration_timestamp", "origin"};
    const Fields<kConversationKeys> conversation_fields(*conversation, kConversationKeyNames);
    const Path conversation_path = path.child("conversation");
    update.conversation_id =
        optional_string(conversation_fields[kConversationId], conversation_path);
    update.conversation_expiration =
        optional_timestamp(conversation_fields[kExpiration], conversation_path);
    if (const json::object* origin =
            optional_object(conversation_fields[kOrigin], conversation_path)) {
      update.conversation_origin =
          optional_string({*origin, "type"}, conversation_path.child("origin"));
    }
  }
  if (const json::object* pricing = optional_object(fields[kPricing], path)) {
    enum PricingKey : std::size_t { kBillable, kModel, kCategory, kType, kPricingKeys };
    static constexpr std::array<std::string_view, kPricingKeys> kPricingKeyNames = {
        "billable", "pricing_model", "category", "type"};
    const Fields<kPricingKeys> pricing_fields(*pricing, kPricingKeyNames);
    const Path pricing_path = path.child("pricing");
    update.billable = optional_bool(pricing_fields[kBillable], pricing_path);
    update.pricing_model = optional_string(pricing_fields[kModel], pricing_path);
    update.pricing_category = optional_string(pricing_fields[kCategory], pricing_path);
    update.pricing_type = optional_string(pricing_fields[kType], pricing_path);
  }
  update.errors = parse_errors(fields[kErrors], path);
  // Group messages: recipient_id is the group, the contact is the participant's.
  const json::object* contact = find_contact(scope, update.recipient_id, update.recipient_user_id);
  if (contact == nullptr && update.recipient_participant_id) {
    contact = find_contact(scope, update.recipient_participant_id, std::nullopt);
  }
  if (contact != nullptr) update.contact = scope.raw(*contact);
}

// The keys of a messages / smb_message_echoes value this parser reads.
enum ValueKey : std::size_t {
  kMessages,
  kMessageEchoes,
  kStatuses,
  kContacts,
  kValueErrors,
  kValueKeyCount
};
constexpr std::array<std::string_view, kValueKeyCount> kValueKeys = {
    "messages", "message_echoes", "statuses", "contacts", "errors"};
using ValueFields = Fields<kValueKeyCount>;

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

void add_field_update(const json::object& value, const ChangeScope& scope,
                      std::vector<Event>& out) {
  scope.add_event(out, value, scope.entry_time).data.emplace<FieldUpdate>();
}

// An item of messages[], message_echoes[] or statuses[] that could not be read.
// Its id and timestamp are kept when they are readable on their own.
void add_invalid_item(const json::value& item, const char* kind, const WebhookPayloadError& error,
                      const Path& path, const ChangeScope& scope, std::vector<Event>& out) {
  static const json::object kNotAnObject;  // raw of an item that is not an object
  const json::object* object = item.if_object();
  InvalidItem invalid{kind, error.path(), error.what(), std::nullopt};
  std::optional<std::int64_t> timestamp;
  if (object != nullptr) {
    try {
      invalid.item_id = optional_id({*object, "id"}, path);
    } catch (const WebhookPayloadError&) {
    }
    try {
      timestamp = optional_timestamp({*object, "timestamp"}, path);
    } catch (const WebhookPayloadError&) {
    }
  }
  Event& event = scope.add_event(out, object != nullptr ? *object : kNotAnObject, timestamp);
  event.data.emplace<InvalidItem>(std::move(invalid));
}

// Appends an event for each item of `items` (absent: none), which
// `parse_item(object, path)` reads. An item that cannot be read becomes an
// InvalidItem in place of what was made of its event, and its neighbours are
// still read. True when such an item was not an object: no event's raw holds it.
template <class ParseItem>
bool parse_items(const json::array* items, const Path& array_path, const char* kind,
                 const ChangeScope& scope, std::vector<Event>& out, ParseItem parse_item) {
  if (items == nullptr) return false;
  bool item_lost = false;
  for (std::size_t i = 0; i < items->size(); ++i) {
    const Path item_path = array_path.at(i);
    const json::value& item = (*items)[i];
    const std::size_t event_count = out.size();
    try {
      parse_item(require_object(item, item_path), item_path);
    } catch (const WebhookPayloadError& error) {
      while (out.size() > event_count) out.pop_back();
      add_invalid_item(item, kind, error, item_path, scope, out);
      item_lost |= !item.is_object();
    }
  }
  return item_lost;
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
void parse_message_value(const json::object& value, const ValueFields& fields, const Path& path,
                         const ChangeScope& scope, std::vector<Event>& out) {
  const std::size_t first_event = out.size();
  const json::array* messages = optional_array(fields[kMessages], path);
  const json::array* echoes = optional_array(fields[kMessageEchoes], path);
  const json::array* statuses = optional_array(fields[kStatuses], path);
  // Even "errors": null makes an event (with no errors).
  const bool has_errors = fields[kValueErrors].value != nullptr;
  reserve_events(out, size_of(messages) + size_of(echoes) + size_of(statuses) + has_errors);
  bool item_lost = false;  // an item that is not an object: its raw cannot hold it
  item_lost |= parse_items(messages, path.child("messages"), "message", scope, out,
                           [&](const json::object& item, const Path& item_path) {
                             parse_message(item, item_path, scope, false, out);
                           });
  item_lost |= parse_items(echoes, path.child("message_echoes"), "message_echo", scope, out,
                           [&](const json::object& item, const Path& item_path) {
                             parse_message(item, item_path, scope, true, out);
                           });
  item_lost |= parse_items(statuses, path.child("statuses"), "status", scope, out,
                           [&](const json::object& item, const Path& item_path) {
                             parse_status(item, item_path, scope, out);
                           });
  const bool contacts_lost = scope.contacts != nullptr && !scope.contacts->empty() &&
                             !share_contacts(*scope.contacts, scope, out, first_event);
  for (std::size_t i = first_event; i < out.size(); ++i) adopt_contact_ids(out[i]);
  if (has_errors) {
    std::vector<ErrorDetail> errors = parse_errors(fields[kValueErrors], path);
    scope.add_event(out, value, scope.entry_time)
        .data.emplace<WebhookError>(WebhookError{std::move(errors)});
  }
  // A value that produced nothing, or holds what no event above carries, is
  // also handed over whole so nothing Meta sends is lost.
  if (out.size() == first_event || item_lost || contacts_lost || has_unmodelled_parts(value)) {
    add_field_update(value, scope, out);
  }
}

void parse_template_status(const json::object& value, const Path& path, const ChangeScope& scope,
                           std::vector<Event>& out) {
  TemplateStatusUpdate update;
  update.template_id = required_id({value, "message_template_id"}, path);
  update.status = required_string({value, "event"}, path);
  update.template_name = optional_string({value, "message_template_name"}, path).value_or("");
  update.language = optional_string({value, "message_template_language"}, path).value_or("");
  update.reason = optional_string({value, "reason"}, path);
  update.category = optional_string({value, "message_template_category"}, path);
  scope.add_event(out, value, scope.entry_time)
      .data.emplace<TemplateStatusUpdate>(std::move(update));
}

// A user_id_update value: one event per entry (an unreadable one becomes an
// InvalidItem); a value with nothing else to say, or more, is handed over too.
void parse_user_id_update_value(const json::object& value, const Path& path,
                                const ChangeScope& scope, std::vector<Event>& out) {
  const std::size_t first_event = out.size();
  const json::array* items = optional_array({value, "user_id_update"}, path);
  reserve_events(out, size_of(items));
  const bool item_lost = parse_items(items, path.child("user_id_update"), "user_id_update", scope,
                                     out, [&](const json::object& item, const Path& item_path) {
                                       parse_user_id_update(item, item_path, scope, out);
                                     });
  bool other_keys = false;  // contacts, statuses, ...: nothing above carries them
  for (const auto& entry : value) {
    const std::string_view key = entry.key();
    other_keys |= key != "messaging_product" && key != "metadata" && key != "user_id_update";
  }
  if (out.size() == first_event || item_lost || other_keys ||
      has_unmodelled_parts(value, "user_id_update")) {
    add_field_update(value, scope, out);
  }
}

// Checks value.contacts once; messages look their sender up in it.
const json::array* checked_contacts(Field contacts_field, const Path& path) {
  enum Key : std::size_t { kWaId, kUserId, kProfile, kKeyCount };
  static constexpr std::array<std::string_view, kKeyCount> kKeys = {"wa_id", "user_id", "profile"};
  const json::array* contacts = optional_array(contacts_field, path);
  if (contacts == nullptr) return nullptr;
  const Path array_path = path.child(contacts_field.key);
  for (std::size_t i = 0; i < contacts->size(); ++i) {
    const Path item_path = array_path.at(i);
    const Fields<kKeyCount> contact(require_object((*contacts)[i], item_path), kKeys);
    optional_string(contact[kWaId], item_path);
    optional_string(contact[kUserId], item_path);
    if (const json::object* profile = optional_object(contact[kProfile], item_path)) {
      optional_string({*profile, "name"}, item_path.child("profile"));
    }
  }
  return contacts;
}

void parse_change(const json::object& change, const Path& path, ChangeScope& scope,
                  std::vector<Event>& out) {
  enum Key : std::size_t { kField, kValue, kKeyCount };
  static constexpr std::array<std::string_view, kKeyCount> kKeys = {"field", "value"};
  const Fields<kKeyCount> fields(change, kKeys);
  const std::string_view field = required_string_view(fields[kField], path);
  const Path value_path = path.child("value");
  if (fields[kValue].value == nullptr) fail(value_path, "is missing");
  const json::object& value = require_object(*fields[kValue].value, value_path);
  scope.field = field;
  scope.phone_number_id.reset();
  scope.display_phone_number.reset();
  if (const json::object* metadata = optional_object({value, "metadata"}, value_path)) {
    enum MetadataKey : std::size_t { kPhoneNumberId, kDisplayPhoneNumber, kMetadataKeys };
    static constexpr std::array<std::string_view, kMetadataKeys> kMetadataKeyNames = {
        "phone_number_id", "display_phone_number"};
    const Fields<kMetadataKeys> ids(*metadata, kMetadataKeyNames);
    const Path metadata_path = value_path.child("metadata");
    scope.phone_number_id = optional_id(ids[kPhoneNumberId], metadata_path);
    scope.display_phone_number = optional_string(ids[kDisplayPhoneNumber], metadata_path);
  }
  if (field == "messages" || field == "smb_message_echoes") {
    const ValueFields value_fields(value, kValueKeys);
    scope.contacts = checked_contacts(value_fields[kContacts], value_path);
    parse_message_value(value, value_fields, value_path, scope, out);
  } else if (field == "user_id_update") {
    parse_user_id_update_value(value, value_path, scope, out);
  } else if (field == "message_template_status_update" && holds(value, "event")) {
    parse_template_status(value, value_path, scope, out);
  } else {
    // Every other field, and template quality updates that Meta's own docs label
    // message_template_status_update (they have no "event"), is handed over whole.
    add_field_update(value, scope, out);
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

// Bodies up to this size are parsed by their thread's parser, whose working
// stack then stays allocated for the next body; a larger body's stack is freed
// with the parser of its own it gets.
constexpr std::size_t kReusedParserMaxBody = 64 * 1024;

json::parse_options parse_options() {
  json::parse_options options;
  options.max_depth = kWebhookMaxDepth;
  return options;
}

std::shared_ptr<const json::value> parse_document(std::string_view body, bool repaired = false) {
  // Parsed trees take about twice the text: one block for most bodies.
  auto document = std::make_shared<Document>(std::max<std::size_t>(1024, 2 * body.size()));
  // The parser's storage_ptr is only for its working stack; the tree goes to
  // the arena through reset().
  thread_local json::parser reused_parser(json::storage_ptr(), parse_options());
  std::optional<json::parser> own_parser;
  json::parser& parser = body.size() <= kReusedParserMaxBody
                             ? reused_parser
                             : own_parser.emplace(json::storage_ptr(), parse_options());
  parser.reset(json::storage_ptr(&document->arena));
  json::error_code error;
  const std::size_t consumed = parser.write(body.data(), body.size(), error);
  if (error) {
    // Drops what the parser holds of a partial tree while its arena lives.
    parser.reset();
  } else {
    document->value = parser.release();  // same arena: moved, not copied
  }
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
  enum Key : std::size_t { kObject, kEntry, kKeyCount };
  static constexpr std::array<std::string_view, kKeyCount> kKeys = {"object", "entry"};
  const Fields<kKeyCount> payload(require_object(*document, root), kKeys);
  // Meta's own example bodies sometimes leave "object" out: only another value is refused.
  const std::optional<std::string_view> object = optional_string_view(payload[kObject], root);
  if (object && *object != "whatsapp_business_account") {
    fail(root.child("object"),
         "expected \"whatsapp_business_account\", got \"" + std::string(*object) + "\"");
  }
  const json::array* entries = optional_array(payload[kEntry], root);
  if (entries == nullptr) fail(root.child("entry"), "is missing");
  std::vector<Event> events;
  const Path entries_path = root.child("entry");
  for (std::size_t i = 0; i < entries->size(); ++i) {
    enum EntryKey : std::size_t { kId, kTime, kChanges, kEntryKeys };
    static constexpr std::array<std::string_view, kEntryKeys> kEntryKeyNames = {"id", "time",
                                                                                "changes"};
    const Path entry_path = entries_path.at(i);
    const Fields<kEntryKeys> entry(require_object((*entries)[i], entry_path), kEntryKeyNames);
    const std::string waba_id = required_id(entry[kId], entry_path);
    ChangeScope scope;
    scope.document = document;
    scope.waba_id = &waba_id;
    scope.entry_time = optional_timestamp(entry[kTime], entry_path);
    const json::array* changes = optional_array(entry[kChanges], entry_path);
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
