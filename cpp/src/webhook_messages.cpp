// messages[] and message_echoes[] entries -> InboundMessage events. The
// content object is read by Meta's `type`; an absent content object is
// tolerated (Meta sends "interactive" without one when it could not render the
// reply), an unknown type keeps only its raw JSON.
#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <functional>
#include <iterator>
#include <utility>

#include "webhook_internal.hpp"

namespace wacloud::webhook_detail {
namespace {

namespace json = boost::json;

double required_number(const json::object& parent, std::string_view key, const Path& path) {
  const json::value* value = parent.if_contains(key);
  if (value == nullptr || value->is_null()) fail(path.child(key), "is missing");
  if (const double* number = value->if_double()) return *number;
  if (const std::int64_t* integer = value->if_int64()) return static_cast<double>(*integer);
  if (const std::uint64_t* integer = value->if_uint64()) return static_cast<double>(*integer);
  fail(path.child(key), "expected a number");
}

MediaRef parse_media(const json::object& media, const Path& path) {
  enum Key : std::size_t {
    kId,
    kMimeType,
    kSha256,
    kCaption,
    kFilename,
    kUrl,
    kVoice,
    kAnimated,
    kKeyCount
  };
  static constexpr std::array<std::string_view, kKeyCount> kKeys = {
      "id", "mime_type", "sha256", "caption", "filename", "url", "voice", "animated"};
  const Fields<kKeyCount> fields(media, kKeys);
  MediaRef ref;
  ref.id = required_id(fields[kId], path);
  ref.mime_type = optional_string(fields[kMimeType], path);
  ref.sha256 = optional_string(fields[kSha256], path);
  ref.caption = optional_string(fields[kCaption], path);
  ref.filename = optional_string(fields[kFilename], path);
  ref.url = optional_string(fields[kUrl], path);
  ref.voice = optional_bool(fields[kVoice], path);
  ref.animated = optional_bool(fields[kAnimated], path);
  return ref;
}

Location parse_location(const json::object& location, const Path& path) {
  Location out;
  out.latitude = required_number(location, "latitude", path);
  out.longitude = required_number(location, "longitude", path);
  out.name = optional_string({location, "name"}, path);
  out.address = optional_string({location, "address"}, path);
  out.url = optional_string({location, "url"}, path);
  return out;
}

InteractiveReply parse_interactive(const json::object& interactive, const Path& path,
                                   const ChangeScope& scope) {
  InteractiveReply reply;
  reply.type = required_string({interactive, "type"}, path);
  // Every kind keeps its own object in `content`; the kinds whose shape Meta
  // documents also get typed fields.
  const json::object* content = optional_object({interactive, reply.type}, path);
  if (content == nullptr) return reply;
  reply.content = scope.raw(*content);
  const Path content_path = path.child(reply.type);
  if (reply.type == "button_reply" || reply.type == "list_reply") {
    reply.id = optional_string({*content, "id"}, content_path);
    reply.title = optional_string({*content, "title"}, content_path);
    reply.description = optional_string({*content, "description"}, content_path);
  } else if (reply.type == "nfm_reply") {
    reply.response_json = optional_string({*content, "response_json"}, content_path);
    reply.body = optional_string({*content, "body"}, content_path);
    reply.name = optional_string({*content, "name"}, content_path);
  } else if (reply.type == "call_permission_reply") {
    reply.response = optional_string({*content, "response"}, content_path);
    reply.response_source = optional_string({*content, "response_source"}, content_path);
    reply.expiration = optional_timestamp({*content, "expiration_timestamp"}, content_path);
  }
  return reply;
}

MessageContext parse_context(const json::object& context, const Path& path,
                             const ChangeScope& scope) {
  enum Key : std::size_t { kId, kFrom, kForwarded, kFrequentlyForwarded, kProduct, kKeyCount };
  static constexpr std::array<std::string_view, kKeyCount> kKeys = {
      "id", "from", "forwarded", "frequently_forwarded", "referred_product"};
  const Fields<kKeyCount> fields(context, kKeys);
  MessageContext out;
  out.message_id = optional_string(fields[kId], path);
  out.from_wa_id = optional_string(fields[kFrom], path);
  out.forwarded = optional_bool(fields[kForwarded], path).value_or(false);
  out.frequently_forwarded = optional_bool(fields[kFrequentlyForwarded], path).value_or(false);
  if (const json::object* product = optional_object(fields[kProduct], path)) {
    out.referred_product = scope.raw(*product);
  }
  return out;
}

// Reads the content of a message of `type`; shared by messages and the new
// content carried by an "edit".
void parse_content(const json::object& message, const std::string& type, const Path& path,
                   const ChangeScope& scope, InboundMessage& out) {
  const json::value* raw_content = message.if_contains(type);
  if (raw_content == nullptr || raw_content->is_null()) return;
  const Path content_path = path.child(type);
  if (type == "contacts") {
    const json::array* cards = optional_array({message, type}, path);
    out.contacts.reserve(cards->size());
    for (std::size_t i = 0; i < cards->size(); ++i) {
      out.contacts.push_back(scope.raw(require_object((*cards)[i], content_path.at(i))));
    }
    return;
  }
  const json::object& content = require_object(*raw_content, content_path);
  if (type == "text") {
    out.text = optional_string({content, "body"}, content_path);
  } else if (type == "image" || type == "audio" || type == "video" || type == "document" ||
             type == "sticker") {
    out.media = parse_media(content, content_path);
  } else if (type == "location") {
    out.location = parse_location(content, content_path);
  } else if (type == "interactive") {
    out.interactive = parse_interactive(content, content_path, scope);
  } else if (type == "button") {
    out.button = ButtonReply{optional_string({content, "payload"}, content_path),
                             optional_string({content, "text"}, content_path)};
  } else if (type == "reaction") {
    Reaction reaction;
    reaction.message_id = required_id({content, "message_id"}, content_path);
    reaction.emoji = optional_string({content, "emoji"}, content_path);
    if (reaction.emoji && reaction.emoji->empty()) reaction.emoji.reset();  // "" means removed
    out.reaction = std::move(reaction);
  } else if (type == "order") {
    out.order = scope.raw(content);
  } else if (type == "system") {
    out.system = scope.raw(content);
  } else if (type == "unsupported") {
    out.unsupported_type = optional_string({content, "type"}, content_path);
  } else if (type == "revoke") {
    out.original_message_id = required_id({content, "original_message_id"}, content_path);
  } else if (type == "edit") {
    out.original_message_id = required_id({content, "original_message_id"}, content_path);
    if (const json::object* edited = optional_object({content, "message"}, content_path)) {
      const Path edited_path = content_path.child("message");
      std::optional<std::string> edited_type = optional_string({*edited, "type"}, edited_path);
      if (edited_type && *edited_type != "edit") {  // an edit never nests another one
        parse_content(*edited, *edited_type, edited_path, scope, out);
      }
      out.edited_type = std::move(edited_type);
      if (const json::object* context = optional_object({*edited, "context"}, edited_path)) {
        out.context = parse_context(*context, edited_path.child("context"), scope);
      }
    }
  }
  // Any other type (one Meta adds later) keeps only the raw JSON.
}

}  // namespace

bool contact_names(const json::object& contact, const std::optional<std::string>& wa_id,
                   const std::optional<std::string>& user_id) {
  const auto same = [&](std::string_view key, const std::optional<std::string>& id) {
    const json::value* value = id ? contact.if_contains(key) : nullptr;
    return value != nullptr && value->is_string() && value->get_string() == *id;
  };
  return same("wa_id", wa_id) || same("user_id", user_id);
}

const json::object* find_contact(const ChangeScope& scope, const std::optional<std::string>& wa_id,
                                 const std::optional<std::string>& user_id) {
  if (scope.contacts == nullptr) return nullptr;
  for (const json::value& item : *scope.contacts) {
    const json::object& contact = item.get_object();  // checked by checked_contacts
    if (contact_names(contact, wa_id, user_id)) return &contact;
  }
  return nullptr;
}

void set_contact(InboundMessage& message, const ChangeScope& scope, const json::object& contact) {
  message.contact = scope.raw(contact);
  if (const json::value* profile = contact.if_contains("profile");
      profile && profile->is_object()) {
    if (const json::value* name = profile->get_object().if_contains("name");
        name && name->is_string()) {
      message.contact_name = std::string(name->get_string().subview());
    }
  }
}

void parse_message(const json::object& message, const Path& path, const ChangeScope& scope,
                   bool is_echo, std::vector<Event>& events) {
  enum Key : std::size_t {
    kId,
    kTimestamp,
    kType,
    kFrom,
    kTo,
    kFromUserId,
    kFromParentUserId,
    kToUserId,
    kToParentUserId,
    kGroupId,
    kContext,
    kReferral,
    kErrors,
    kKeyCount
  };
  static constexpr std::array<std::string_view, kKeyCount> kKeys = {"id",
                                                                    "timestamp",
                                                                    "type",
                                                                    "from",
                                                                    "to",
                                                                    "from_user_id",
                                                                    "from_parent_user_id",
                                                                    "to_user_id",
                                                                    "to_parent_user_id",
                                                                    "group_id",
                                                                    "context",
                                                                    "referral",
                                                                    "errors"};
  const Fields<kKeyCount> fields(message, kKeys);
  Event& event = scope.add_event(events, message, std::nullopt);
  InboundMessage& out = std::get<InboundMessage>(event.data);  // a new event's data
  out.is_echo = is_echo;
  out.message_id = required_id(fields[kId], path);
  event.timestamp = required_timestamp(fields[kTimestamp], path);
  out.type = required_string(fields[kType], path);
  // Neither from nor from_user_id: the sender is unknown, the message is kept.
  out.from_wa_id = optional_string(fields[kFrom], path);
  out.to_wa_id = optional_string(fields[kTo], path);
  // The business-scoped ids and the group, read in the body's order (the first
  // bad one names the error), as they were when found by a pass over the keys.
  std::pair<Field, std::optional<std::string>*> ids[] = {
      {fields[kFromUserId], &out.from_user_id},
      {fields[kFromParentUserId], &out.from_parent_user_id},
      {fields[kToUserId], &out.to_user_id},
      {fields[kToParentUserId], &out.to_parent_user_id},
      {fields[kGroupId], &out.group_id}};
  std::sort(std::begin(ids), std::end(ids), [](const auto& a, const auto& b) {
    return std::less<const json::value*>()(a.first.value, b.first.value);
  });
  for (const auto& [field, slot] : ids) {
    if (field.value != nullptr) *slot = optional_string(field, path);
  }
  if (is_echo && !out.to_wa_id && !out.to_user_id) fail(path.child("to"), "is missing");

  // Echoes are sent to the user; inbound messages come from them.
  const json::object* contact = is_echo ? find_contact(scope, out.to_wa_id, out.to_user_id)
                                        : find_contact(scope, out.from_wa_id, out.from_user_id);
  if (contact != nullptr) set_contact(out, scope, *contact);

  parse_content(message, out.type, path, scope, out);
  if (const json::object* context = optional_object(fields[kContext], path)) {
    out.context = parse_context(*context, path.child("context"), scope);
  }
  if (const json::object* referral = optional_object(fields[kReferral], path)) {
    out.referral = scope.raw(*referral);
  }
  out.errors = parse_errors(fields[kErrors], path);
}

}  // namespace wacloud::webhook_detail
