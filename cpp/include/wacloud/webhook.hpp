// Meta's webhook bodies -> typed events. One body ({"object":
// "whatsapp_business_account", "entry": [...]}) yields one event per inbound
// message, message echo, status, value-level error list, template status
// change, and one generic event for every other field. Unknown message types
// and unknown fields become events that carry their raw JSON: nothing is
// dropped. A message, echo or status that cannot be read becomes an InvalidItem
// event and its neighbours are still parsed; a body whose envelope cannot be
// read throws WebhookPayloadError naming the offending path.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "wacloud/errors.hpp"

namespace wacloud {

// Boost.JSON's default nesting limit. Real payloads nest about a dozen levels;
// anything deeper is refused before it can exhaust the stack.
inline constexpr std::size_t kWebhookMaxDepth = 32;

// A JSON object inside a parsed body. Events share the parsed document, so
// keeping an event keeps its raw JSON alive without copying it.
class RawJson {
 public:
  RawJson() = default;
  RawJson(std::shared_ptr<const boost::json::value> document, const boost::json::object* object)
      : document_(std::move(document)), object_(object) {}
  const boost::json::object& get() const { return object_ ? *object_ : empty(); }

 private:
  static const boost::json::object& empty();
  std::shared_ptr<const boost::json::value> document_;
  const boost::json::object* object_ = nullptr;
};

// One entry of Meta's `errors` arrays.
struct ErrorDetail {
  std::int64_t code = 0;
  std::string title;
  std::string message;
  std::string details;  // error_data.details (older bodies: details beside title)
  std::string href;
};

struct MediaRef {  // image, audio, video, document, sticker
  std::string id;
  std::optional<std::string> mime_type, sha256, caption, filename, url;
  std::optional<bool> voice;     // audio: recorded as a voice note
  std::optional<bool> animated;  // sticker
};

struct Location {
  double latitude = 0;
  double longitude = 0;
  std::optional<std::string> name, address, url;
};

struct InteractiveReply {
  std::string type;  // button_reply, list_reply, nfm_reply, call_permission_reply, or newer
  std::optional<std::string> id, title, description;     // button_reply, list_reply
  std::optional<std::string> response_json, body, name;  // nfm_reply (Flows)
  std::optional<std::string> response, response_source;  // call_permission_reply
  std::optional<std::int64_t> expiration;                // call_permission_reply, Unix seconds
  std::optional<RawJson> content;  // interactive[type], the kind's own object, whatever the kind
};

struct ButtonReply {  // quick-reply button of a template
  std::optional<std::string> payload, text;
};

struct Reaction {
  std::string message_id;
  std::optional<std::string> emoji;  // nullopt: the reaction was removed
};

struct MessageContext {
  std::optional<std::string> message_id;  // the message replied to
  std::optional<std::string> from_wa_id;
  bool forwarded = false;
  bool frequently_forwarded = false;
  std::optional<RawJson> referred_product;
};

// An inbound message (field "messages") or an echo of a message the business
// sent from another client (field "smb_message_echoes", is_echo = true).
struct InboundMessage {
  std::string message_id;
  std::optional<std::string> from_wa_id, from_user_id, to_wa_id;  // no from: sender unknown
  std::optional<std::string> from_parent_user_id;
  std::optional<std::string> to_user_id, to_parent_user_id;  // echoes: the user's BSUIDs
  std::optional<std::string> group_id;                       // messages sent in a group
  std::optional<std::string> contact_name;
  std::optional<RawJson> contact;          // the value.contacts[] entry of the sender
  std::string type;                        // Meta's type string, kept as sent
  std::optional<std::string> edited_type;  // type of the new content of an "edit"
  std::optional<std::string> text;
  std::optional<MediaRef> media;
  std::optional<Location> location;
  std::vector<RawJson> contacts;
  std::optional<InteractiveReply> interactive;
  std::optional<ButtonReply> button;
  std::optional<Reaction> reaction;
  std::optional<RawJson> order, system, referral;
  std::optional<MessageContext> context;
  std::optional<std::string> original_message_id;  // edit, revoke
  std::optional<std::string> unsupported_type;     // unsupported: the type Meta could not show
  std::vector<ErrorDetail> errors;
  bool is_echo = false;
};

struct StatusUpdate {
  std::string message_id;
  std::string status;  // Meta's string as sent: sent, delivered, read, failed, ...
  std::optional<std::string> recipient_id, recipient_user_id, recipient_parent_user_id;
  std::optional<std::string> recipient_type, recipient_participant_id;  // group messages
  std::optional<RawJson> contact;  // the value.contacts[] entry of the recipient
  std::optional<std::string> conversation_id, conversation_origin;
  std::optional<std::int64_t> conversation_expiration;
  std::optional<std::string> pricing_category, pricing_model, pricing_type;
  std::optional<bool> billable;
  std::vector<ErrorDetail> errors;
  std::optional<std::string> biz_opaque_callback_data;
};

struct WebhookError {  // value.errors: Meta could not deliver the change itself
  std::vector<ErrorDetail> errors;
};

struct TemplateStatusUpdate {  // field "message_template_status_update"
  std::string template_id;
  std::string template_name;
  std::string language;
  std::string status;  // value.event, e.g. APPROVED, REJECTED, PAUSED
  std::optional<std::string> reason, category;
};

struct FieldUpdate {};  // any other field: the change's value is the raw JSON

// A message, status or echo that could not be read; its neighbours were parsed.
// The event's raw is the item when it is a JSON object (else an empty object).
struct InvalidItem {
  std::string kind;    // "message", "status", "message_echo" or "user_id_update"
  std::string path;    // e.g. "entry[0].changes[0].value.messages[1].type"
  std::string reason;  // what WebhookPayloadError would have said
  std::optional<std::string> item_id;
};

// Field "user_id_update": a user's business-scoped user id changed (each
// value.user_id_update[] entry). The ids come as {"previous", "current"}.
struct UserIdUpdate {
  std::string previous_user_id, user_id;  // user_id: the current one
  std::optional<std::string> previous_parent_user_id, parent_user_id;
  std::optional<std::string> wa_id;   // when Meta may share the user's number
  std::optional<std::string> detail;  // Meta's description of the change
};

enum class EventType {
  kMessage,
  kStatus,
  kError,
  kTemplateStatus,
  kFieldUpdate,
  kInvalid,
  kUserIdUpdate
};

struct Event {
  std::string field;                                                 // changes[].field
  std::string waba_id;                                               // entry[].id
  std::optional<std::string> phone_number_id, display_phone_number;  // value.metadata
  std::optional<std::int64_t> timestamp;                             // Unix seconds (UTC)
  RawJson raw;  // the object this event came from (message, status or change value)
  // Alternatives in EventType order.
  std::variant<InboundMessage, StatusUpdate, WebhookError, TemplateStatusUpdate, FieldUpdate,
               InvalidItem, UserIdUpdate>
      data;

  EventType type() const noexcept { return static_cast<EventType>(data.index()); }
};

// Parses one webhook body. Throws WebhookPayloadError (path "$" for the body as
// a whole) when it is not JSON, nests deeper than kWebhookMaxDepth, or its
// envelope (entry, changes, field, value, metadata, contacts) is not shaped as
// Meta documents it. A missing top-level "object" is tolerated; another value
// than "whatsapp_business_account" is refused. Lone UTF-16 surrogate escapes
// become U+FFFD.
std::vector<Event> parse_webhook(std::string_view body);

struct WebhookParseResult {
  std::vector<Event> events;
  std::optional<WebhookPayloadError> error;  // set when the body was refused
};

// Parses many bodies; a bad body yields its error and never stops the batch.
std::vector<WebhookParseResult> parse_webhooks(const std::vector<std::string_view>& bodies);

}  // namespace wacloud
