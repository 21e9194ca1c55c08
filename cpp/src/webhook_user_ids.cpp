// Business-scoped user ids (BSUIDs) in webhooks: the user_id_update field's
// entries, and the ids an event takes from its contacts[] entry. Meta's
// reference: developers.facebook.com/documentation/business-messaging/whatsapp/
// business-scoped-user-ids/.
#include "webhook_internal.hpp"

namespace wacloud::webhook_detail {

namespace json = boost::json;

// One value.user_id_update[] entry: {"wa_id"?, "detail"?, "user_id":
// {"previous", "current"}, "parent_user_id"?: {...}, "timestamp"}.
void parse_user_id_update(const json::object& item, const Path& path, const ChangeScope& scope,
                          std::vector<Event>& out) {
  UserIdUpdate update;
  const json::object* ids = optional_object({item, "user_id"}, path);
  if (ids == nullptr) fail(path.child("user_id"), "is missing");
  const Path ids_path = path.child("user_id");
  update.previous_user_id = required_string({*ids, "previous"}, ids_path);
  update.user_id = required_string({*ids, "current"}, ids_path);
  if (const json::object* parents = optional_object({item, "parent_user_id"}, path)) {
    const Path parents_path = path.child("parent_user_id");
    update.previous_parent_user_id = optional_string({*parents, "previous"}, parents_path);
    update.parent_user_id = optional_string({*parents, "current"}, parents_path);
  }
  update.wa_id = optional_string({item, "wa_id"}, path);
  update.detail = optional_string({item, "detail"}, path);
  const std::optional<std::int64_t> timestamp = optional_timestamp({item, "timestamp"}, path);
  scope.add_event(out, item, timestamp ? timestamp : scope.entry_time)
      .data.emplace<UserIdUpdate>(std::move(update));
}

// The business-scoped ids of an event's contacts[] entry, where the item
// itself left them out: the sender's (messages), the user's (echoes), the
// recipient's (statuses; not of group messages, whose entry is a participant's).
void adopt_contact_ids(Event& event) {
  const auto copy = [](const std::optional<RawJson>& contact, std::string_view key,
                       std::optional<std::string>& field) {
    if (field || !contact) return;
    const json::value* value = contact->get().if_contains(key);
    if (value != nullptr && value->is_string() && !value->get_string().empty()) {
      field = std::string(value->get_string().subview());
    }
  };
  if (auto* message = std::get_if<InboundMessage>(&event.data)) {
    copy(message->contact, "user_id",
         message->is_echo ? message->to_user_id : message->from_user_id);
    copy(message->contact, "parent_user_id",
         message->is_echo ? message->to_parent_user_id : message->from_parent_user_id);
  } else if (auto* status = std::get_if<StatusUpdate>(&event.data)) {
    if (status->recipient_type == "group") return;
    copy(status->contact, "user_id", status->recipient_user_id);
    copy(status->contact, "parent_user_id", status->recipient_parent_user_id);
  }
}

}  // namespace wacloud::webhook_detail
