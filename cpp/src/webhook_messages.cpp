// messages[] and message_echoes[] entries -> InboundMessage events. The
// content object is read by Meta's `type`; an absent content object is
// tolerated (Meta sends "interactive" without one when it could not render the
// reply), an unknown type keeps only its raw JSON.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

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
  MediaRef ref;
  ref.id = required_id(media, "id", path);
  ref.mime_type = optional_string(media, "mime_type", path);
  ref.sha256 = optional_string(media, "sha256", path);
  ref.caption = optional_string(media, "caption", path);
  ref.filename = optional_string(media, "filename", path);
  ref.url = optional_string(media, "url", path);
  ref.voice = optional_bool(media, "voice", path);
  ref.animated = optional_bool(media, "animated", path);
  return ref;
}

Location parse_location(const json::object& location, const Path& path) {
  Location out;
  out.latitude = required_number(location, "latitude", path);
  out.longitude = required_number(location, "longitude", path);
  out.name = optional_string(location, "name", path);
  out.address = optional_string(location, "address", path);
  out.url = optional_string(location, "url", path);
  return out;
}

InteractiveReply parse_interactive(const json::object& interactive, const Path& path,
                                   const ChangeScope& scope) {
  InteractiveReply reply;
  reply.type = required_string(interactive, "type", path);
  // Every kind keeps its own object in `content`; the kinds whose shape Meta
  // documents also get typed fields.
  const json::object* content = optional_object(interactive, reply.type, path);
  if (content == nullptr) return reply;
  reply.content = scope.raw(*content);
  const Path content_path = path.child(reply.type);
  if (reply.type == "button_reply" || reply.type == "list_reply") {
    reply.id = optional_string(*content, "id", content_path);
    reply.title = optional_string(*content, "title", content_path);
    reply.description = optional_string(*content, "description", content_path);
  } else if (reply.type == "nfm_reply") {
    reply.response_json = optional_string(*content, "response_json", content_path);
    reply.body = optional_string(*content, "body", content_path);
    reply.name = optional_string(*content, "name", content_path);
  } else if (reply.type == "call_permission_reply") {
    reply.response = optional_string(*content, "response", content_path);
    reply.response_source = optional_string(*content, "response_source", content_path);
    reply.expiration = optional_timestamp(*content, "expiration_timestamp", content_path);
  }
  return reply;
}

MessageContext parse_context(const json::object& context, const Path& path,
                             const ChangeScope& scope) {
  MessageContext out;
  out.message_id = optional_string(context, "id", path);
  out.from_wa_id = optional_string(context, "from", path);
  out.forwarded = optional_bool(context, "forwarded", path).value_or(false);
  out.frequently_forwarded = optional_bool(context, "frequently_forwarded", path).value_or(false);
  if (const json::object* product = optional_object(context, "referred_product", path)) {
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
    const json::array* cards = optional_array(message, type, path);
    out.contacts.reserve(cards->size());
    for (std::size_t i = 0; i < cards->size(); ++i) {
      out.contacts.push_back(scope.raw(require_object((*cards)[i], content_path.at(i))));
    }
    return;
  }
  const json::object& content = require_object(*raw_content, content_path);
  if (type == "text") {
    out.text = optional_string(content, "body", content_path);
  } else if (type == "image" || type == "audio" || type == "video" || type == "document" ||
             type == "sticker") {
    out.media = parse_media(content, content_path);
  } else if (type == "location") {
    out.location = parse_location(content, content_path);
  } else if (type == "interactive") {
    out.interactive = parse_interactive(content, content_path, scope);
  } else if (type == "button") {
    out.button = ButtonReply{optional_string(content, "payload", content_path),
                             optional_string(content, "text", content_path)};
  } else if (type == "reaction") {
    Reaction reaction;
    reaction.message_id = required_id(content, "message_id", content_path);
    reaction.emoji = optional_string(content, "emoji", content_path);
    if (reaction.emoji && reaction.emoji->empty()) reaction.emoji.reset();  // "" means removed
    out.reaction = std::move(reaction);
  } else if (type == "order") {
    out.order = scope.raw(content);
  } else if (type == "system") {
    out.system = scope.raw(content);
  } else if (type == "unsupported") {
    out.unsupported_type = optional_string(content, "type", content_path);
  } else if (type == "revoke") {
    out.original_message_id = required_id(content, "original_message_id", content_path);
  } else if (type == "edit") {
    out.original_message_id = required_id(content, "original_message_id", content_path);
    if (const json::object* edited = optional_object(content, "message", content_path)) {
      const Path edited_path = content_path.child("message");
      std::optional<std::string> edited_type = optional_string(*edited, "type", edited_path);
      if (edited_type && *edited_type != "edit") {  // an edit never nests another one
        parse_content(*edited, *edited_type, edited_path, scope, out);
      }
      out.edited_type = std::move(edited_type);
      if (const json::object* context = optional_object(*edited, "context", edited_path)) {
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

Event parse_message(const json::object& message, const Path& path, const ChangeScope& scope,
                    bool is_echo) {
  InboundMessage out;
  out.is_echo = is_echo;
  out.message_id = required_id(message, "id", path);
  const std::int64_t timestamp = required_timestamp(message, "timestamp", path);
  out.type = required_string(message, "type", path);
  // Neither from nor from_user_id: the sender is unknown, the message is kept.
  out.from_wa_id = optional_string(message, "from", path);
  out.to_wa_id = optional_string(message, "to", path);
  // The business-scoped ids and the group in one pass over the keys: most
  // messages have none of them, and a lookup for each cost more.
  for (const auto& item : message) {
    const std::string_view key = item.key();
    std::optional<std::string>* field = nullptr;
    if (key == "from_user_id") {
      field = &out.from_user_id;
    } else if (key == "from_parent_user_id") {
      field = &out.from_parent_user_id;
    } else if (key == "to_user_id") {
      field = &out.to_user_id;
    } else if (key == "to_parent_user_id") {
      field = &out.to_parent_user_id;
    } else if (key == "group_id") {
      field = &out.group_id;
    }
    if (field != nullptr) *field = optional_string(message, key, path);
  }
  if (is_echo && !out.to_wa_id && !out.to_user_id) fail(path.child("to"), "is missing");

  // Echoes are sent to the user; inbound messages come from them.
  const json::object* contact = is_echo ? find_contact(scope, out.to_wa_id, out.to_user_id)
                                        : find_contact(scope, out.from_wa_id, out.from_user_id);
  if (contact != nullptr) set_contact(out, scope, *contact);

  parse_content(message, out.type, path, scope, out);
  if (const json::object* context = optional_object(message, "context", path)) {
    out.context = parse_context(*context, path.child("context"), scope);
  }
  if (const json::object* referral = optional_object(message, "referral", path)) {
    out.referral = scope.raw(*referral);
  }
  out.errors = parse_errors(message, "errors", path);

  Event event = scope.event(message, timestamp);
  event.data = std::move(out);
  return event;
}

}  // namespace wacloud::webhook_detail
