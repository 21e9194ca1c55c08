#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "wacloud/webhook.hpp"

namespace {

using wacloud::Event;
using wacloud::EventType;
using wacloud::InboundMessage;
using wacloud::parse_webhook;
using wacloud::StatusUpdate;
using wacloud::WebhookPayloadError;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string fixture(const std::string& name) {
  const std::filesystem::path path = std::filesystem::path(WACLOUD_FIXTURES_DIR) / name;
  EXPECT_TRUE(std::filesystem::exists(path)) << path;
  return read_file(path);
}

// The single event of a fixture.
Event only_event(const std::string& name) {
  std::vector<Event> events = parse_webhook(fixture(name));
  EXPECT_EQ(events.size(), 1u) << name;
  return events.at(0);
}

const InboundMessage& message_of(const Event& event) {
  return std::get<InboundMessage>(event.data);
}

// The path of the error `body` throws; fails the test when it parses.
std::string error_path(const std::string& body) {
  try {
    parse_webhook(body);
  } catch (const WebhookPayloadError& error) {
    return error.path();
  }
  ADD_FAILURE() << "parsed: " << body;
  return "<parsed>";
}

// A messages body around one message object (JSON text).
std::string with_message(const std::string& message) {
  return R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",)"
         R"("value":{"metadata":{"phone_number_id":"5","display_phone_number":"15550000000"},)"
         R"("messages":[)" +
         message + "]}}]}]}";
}

// The project's samples, then those of the shared directory beside the
// checkout (when present) whose names the project's lack: extra cases only.
std::vector<std::filesystem::path> all_fixture_paths() {
  std::vector<std::filesystem::path> paths;
  std::set<std::filesystem::path> names;
  for (const char* dir : {WACLOUD_FIXTURES_DIR, WACLOUD_SHARED_FIXTURES_DIR}) {
    std::error_code missing;
    for (const auto& item : std::filesystem::directory_iterator(dir, missing)) {
      if (item.path().extension() != ".json") continue;
      if (names.insert(item.path().filename()).second) paths.push_back(item.path());
    }
  }
  return paths;
}

TEST(Webhook, EveryFixtureParses) {
  std::size_t own = 0;
  for (const std::filesystem::path& path : all_fixture_paths()) {
    if (path.parent_path() == std::filesystem::path(WACLOUD_FIXTURES_DIR)) ++own;
    std::vector<Event> events;
    EXPECT_NO_THROW(events = parse_webhook(read_file(path))) << path;
    EXPECT_FALSE(events.empty()) << path;
    for (const Event& event : events) {
      EXPECT_EQ(event.waba_id.empty(), false) << path;
      EXPECT_FALSE(event.field.empty()) << path;
    }
  }
  EXPECT_GE(own, 70u);
}

TEST(Webhook, TextMessageCarriesMetadataContactAndTimestamp) {
  Event event = only_event("message__text.json");
  ASSERT_EQ(event.type(), EventType::kMessage);
  EXPECT_EQ(event.field, "messages");
  EXPECT_EQ(event.waba_id, "1234567890987654321");
  EXPECT_EQ(event.phone_number_id, "1122334455667");
  EXPECT_EQ(event.display_phone_number, "972123456789");
  EXPECT_EQ(event.timestamp, 1697043223);
  EXPECT_EQ(event.raw.get().at("id").as_string(), "wamid.xyzxyz");
  const InboundMessage& message = message_of(event);
  EXPECT_EQ(message.message_id, "wamid.xyzxyz");
  EXPECT_EQ(message.from_wa_id, "972987654321");
  EXPECT_EQ(message.contact_name, "Test Name");
  ASSERT_TRUE(message.contact.has_value());
  EXPECT_EQ(message.contact->get().at("user_id").as_string(), "US.13491208655302741918");
  EXPECT_EQ(message.type, "text");
  EXPECT_EQ(message.text, "Body Text");
  EXPECT_FALSE(message.is_echo);
  EXPECT_FALSE(message.context.has_value());
}

TEST(Webhook, MediaMessages) {
  InboundMessage voice = message_of(only_event("message__voice.json"));
  ASSERT_TRUE(voice.media);
  EXPECT_EQ(voice.media->id, "1234567890987654321");
  EXPECT_EQ(voice.media->mime_type, "audio/ogg; codecs=opus");
  EXPECT_EQ(voice.media->voice, true);
  EXPECT_EQ(message_of(only_event("message__audio.json")).media->voice, false);

  InboundMessage document = message_of(only_event("message__document.json"));
  EXPECT_EQ(document.media->filename, "filename.pdf");
  EXPECT_EQ(document.media->caption, "caption");
  EXPECT_TRUE(document.context->forwarded);

  EXPECT_EQ(message_of(only_event("message__animated_sticker.json")).media->animated, true);
  EXPECT_EQ(message_of(only_event("message__static_sticker.json")).media->animated, false);
  EXPECT_EQ(message_of(only_event("message__video.json")).media->mime_type, "video/mp4");
  InboundMessage image = message_of(only_event("message__media_with_url.json"));
  EXPECT_EQ(image.media->sha256, "4654+8g=");
  EXPECT_TRUE(image.media->url->find("lookaside.fbsbx.com") != std::string::npos);
}

TEST(Webhook, LocationContactsOrderSystemReferral) {
  InboundMessage location = message_of(only_event("message__chosen_location.json"));
  ASSERT_TRUE(location.location);
  EXPECT_DOUBLE_EQ(location.location->latitude, 37.4611978);
  EXPECT_DOUBLE_EQ(location.location->longitude, -122.2164385);
  EXPECT_EQ(location.location->name, "Facebook HQ");
  EXPECT_FALSE(message_of(only_event("message__current_location.json")).location->name);

  InboundMessage cards = message_of(only_event("message__contacts.json"));
  ASSERT_EQ(cards.contacts.size(), 3u);
  EXPECT_EQ(cards.contacts[1].get().at("name").at("first_name").as_string(), "Monica");

  InboundMessage order = message_of(only_event("message__order.json"));
  ASSERT_TRUE(order.order);
  EXPECT_EQ(order.order->get().at("product_items").as_array().size(), 3u);

  InboundMessage system = message_of(only_event("system__phone_number_change.json"));
  EXPECT_EQ(system.system->get().at("type").as_string(), "user_changed_number");
  EXPECT_FALSE(system.contact_name);  // this payload has no contacts

  InboundMessage referral = message_of(only_event("message__referral.json"));
  EXPECT_EQ(referral.text, "BODY");
  EXPECT_EQ(referral.referral->get().at("ctwa_clid").as_string(), "CTWA_CLID");
}

TEST(Webhook, InteractiveAndButtonReplies) {
  InboundMessage button = message_of(only_event("callback_button__button.json"));
  EXPECT_EQ(button.interactive->type, "button_reply");
  EXPECT_EQ(button.interactive->id, "callback_data");
  EXPECT_EQ(button.interactive->title, "title");

  InboundMessage list = message_of(only_event("callback_selection__description.json"));
  EXPECT_EQ(list.interactive->type, "list_reply");
  EXPECT_EQ(list.interactive->description, "description");

  InboundMessage flow = message_of(only_event("flow_completion__completion.json"));
  EXPECT_EQ(flow.interactive->type, "nfm_reply");
  EXPECT_TRUE(flow.interactive->response_json->find("flow_token") != std::string::npos);
  EXPECT_EQ(flow.interactive->name, "flow");

  InboundMessage permission = message_of(only_event("call_permission_update__accept.json"));
  EXPECT_EQ(permission.interactive->type, "call_permission_reply");
  EXPECT_FALSE(permission.interactive->id);

  InboundMessage quick = message_of(only_event("callback_button__quick_reply.json"));
  EXPECT_EQ(quick.button->payload, "callback_data");
  EXPECT_EQ(quick.button->text, "title");
  EXPECT_EQ(quick.context->message_id, "wamid.xyzxyz==");
  EXPECT_EQ(quick.context->from_wa_id, "972123456789");
}

TEST(Webhook, ReactionsAndRemovedReactions) {
  InboundMessage reaction = message_of(only_event("message__reaction.json"));
  EXPECT_EQ(reaction.reaction->message_id, "wamid.yzxyzx=");
  EXPECT_EQ(reaction.reaction->emoji, "\xF0\x9F\x98\xAE");
  EXPECT_FALSE(message_of(only_event("message__unreaction_empty.json")).reaction->emoji);
  EXPECT_FALSE(message_of(only_event("message__unreaction_no_emoji.json")).reaction->emoji);
}

TEST(Webhook, EditsRevokesAndForwardFlags) {
  InboundMessage edit = message_of(only_event("edited_message__image.json"));
  EXPECT_EQ(edit.type, "edit");
  EXPECT_EQ(edit.edited_type, "image");
  EXPECT_EQ(edit.original_message_id,
            "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=");
  EXPECT_EQ(edit.media->caption, "Updated image caption");
  EXPECT_EQ(edit.context->message_id, "M0");

  InboundMessage revoke = message_of(only_event("deleted_message__revoke.json"));
  EXPECT_EQ(revoke.original_message_id, "<ORIGINAL_WHATSAPP_MESSAGE_ID>");

  EXPECT_TRUE(message_of(only_event("message__forwarded.json")).context->forwarded);
  InboundMessage many = message_of(only_event("message__forwarded_many_times.json"));
  EXPECT_TRUE(many.context->frequently_forwarded);
  EXPECT_FALSE(many.context->forwarded);
}

TEST(Webhook, UnsupportedAndErrorsKeepTheirRawJson) {
  InboundMessage unsupported = message_of(only_event("message__unsupported_with_type.json"));
  EXPECT_EQ(unsupported.type, "unsupported");
  ASSERT_EQ(unsupported.errors.size(), 1u);
  EXPECT_EQ(unsupported.errors[0].code, 131051);
  EXPECT_EQ(unsupported.errors[0].details, "Message type is currently not supported.");

  // "interactive" without its object, plus a value-level errors array.
  std::vector<Event> events = parse_webhook(fixture("message__interactive_message_with_err.json"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type(), EventType::kMessage);
  EXPECT_FALSE(message_of(events[0]).interactive);
  ASSERT_EQ(events[1].type(), EventType::kError);
  const auto& error = std::get<wacloud::WebhookError>(events[1].data);
  ASSERT_EQ(error.errors.size(), 1u);
  EXPECT_EQ(error.errors[0].code, 131000);
  EXPECT_EQ(error.errors[0].title, "Something went wrong");

  InboundMessage future = message_of(parse_webhook(with_message(
      R"({"from":"1","id":"m","timestamp":1,"type":"hologram","hologram":{"x":1}})"))[0]);
  EXPECT_EQ(future.type, "hologram");
}

TEST(Webhook, MessageEchoes) {
  InboundMessage text = message_of(only_event("outgoing_message__text.json"));
  EXPECT_TRUE(text.is_echo);
  EXPECT_EQ(text.to_wa_id, "<WHATSAPP_USER_PHONE_NUMBER>");
  EXPECT_EQ(text.text, "Test message");
  EXPECT_EQ(text.to_user_id, "<BSUID>");
  EXPECT_EQ(text.contact_name, "Test Name");  // the one contacts entry is the user's
  std::vector<Event> events = parse_webhook(fixture("outgoing_message__edit.json"));
  ASSERT_EQ(events.size(), 2u);
  InboundMessage edit = message_of(events[0]);
  EXPECT_EQ(edit.text, "Text was edited");
  EXPECT_EQ(edit.original_message_id, "wamid.zzzzzz");
  // The entry names the sender, not the recipient: nobody's contact, so the
  // value is handed over whole as well.
  EXPECT_EQ(edit.contact_name, std::nullopt);
  EXPECT_EQ(events[1].type(), EventType::kFieldUpdate);
  EXPECT_TRUE(events[1].raw.get().contains("contacts"));
}

TEST(Webhook, Statuses) {
  Event sent = only_event("message_status__with_tracker.json");
  ASSERT_EQ(sent.type(), EventType::kStatus);
  const auto& status = std::get<StatusUpdate>(sent.data);
  EXPECT_EQ(status.message_id, "wamid.xyzxyz");
  EXPECT_EQ(status.status, "sent");
  EXPECT_EQ(status.recipient_id, "972987654321");
  EXPECT_EQ(status.conversation_id, "7270432eae37498234f4444b35ffc5");
  EXPECT_EQ(status.conversation_origin, "service");
  EXPECT_EQ(status.conversation_expiration, 1698339900);
  EXPECT_EQ(status.billable, true);
  EXPECT_EQ(status.pricing_model, "CBP");
  EXPECT_EQ(status.pricing_category, "service");
  EXPECT_EQ(status.biz_opaque_callback_data, "some data");
  EXPECT_EQ(sent.timestamp, 1698266945);

  const auto failed = std::get<StatusUpdate>(only_event("message_status__failed.json").data);
  ASSERT_EQ(failed.errors.size(), 1u);
  EXPECT_EQ(failed.errors[0].code, 130472);
  EXPECT_EQ(failed.errors[0].href,
            "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/");

  const auto group = std::get<StatusUpdate>(only_event("message_status__group.json").data);
  EXPECT_EQ(group.recipient_type, "group");
  EXPECT_EQ(group.recipient_participant_id, "<GROUP_PARTICIPANT_USER_PHONE_NUMBER>");
  EXPECT_EQ(std::get<StatusUpdate>(only_event("message_status__played.json").data).status,
            "played");
}

TEST(Webhook, TemplateStatusAndGenericFields) {
  Event approved = only_event("template_status_update__rejected.json");
  ASSERT_EQ(approved.type(), EventType::kTemplateStatus);
  const auto& update = std::get<wacloud::TemplateStatusUpdate>(approved.data);
  EXPECT_EQ(update.template_id, "1689556908129835");
  EXPECT_EQ(update.template_name, "abandoned_cart");
  EXPECT_EQ(update.language, "en");
  EXPECT_EQ(update.status, "REJECTED");
  EXPECT_EQ(update.reason, "INVALID_FORMAT");
  EXPECT_EQ(update.category, "MARKETING");
  EXPECT_EQ(approved.timestamp, 1751247548);  // entry.time

  Event account = only_event("account_update__account_restriction.json");
  ASSERT_EQ(account.type(), EventType::kFieldUpdate);
  EXPECT_EQ(account.field, "account_update");
  EXPECT_EQ(account.raw.get().at("event").as_string(), "ACCOUNT_RESTRICTION");

  // Calls are generic: the call status stays inside the field's value.
  Event call = only_event("call_status__call_status.json");
  ASSERT_EQ(call.type(), EventType::kFieldUpdate);
  EXPECT_EQ(call.phone_number_id, "5483758353");
  EXPECT_TRUE(call.raw.get().contains("statuses"));
}

TEST(Webhook, UnknownValueKeysAreHandedOverWhole) {
  std::vector<Event> events = parse_webhook(
      R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",)"
      R"("value":{"messages":[{"from":"1","id":"m","timestamp":"1","type":"text",)"
      R"("text":{"body":"hi"}}],"surprise":{"a":1}}}]}]})");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type(), EventType::kMessage);
  ASSERT_EQ(events[1].type(), EventType::kFieldUpdate);
  EXPECT_TRUE(events[1].raw.get().contains("surprise"));

  // A messages value with nothing in it is not dropped either.
  events = parse_webhook(
      R"({"object":"whatsapp_business_account","entry":[{"id":1,"changes":[{"field":"messages",)"
      R"("value":{"messaging_product":"whatsapp"}}]}]})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type(), EventType::kFieldUpdate);
  EXPECT_EQ(events[0].waba_id, "1");
}

TEST(Webhook, MalformedBodiesNameTheirPath) {
  EXPECT_EQ(error_path("not json"), "$");
  EXPECT_EQ(error_path("[1,2]"), "$");
  EXPECT_EQ(error_path(""), "$");
  EXPECT_EQ(error_path(R"({"object":7,"entry":[]})"), "object");
  EXPECT_EQ(error_path(R"({"object":"page","entry":[]})"), "object");
  EXPECT_EQ(error_path(R"({"object":"whatsapp_business_account","entry":{}})"), "entry");
  EXPECT_EQ(error_path(R"({"object":"whatsapp_business_account"})"), "entry");
  EXPECT_EQ(error_path(R"({"object":"whatsapp_business_account","entry":[{"changes":[]}]})"),
            "entry[0].id");
  EXPECT_EQ(
      error_path(R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":7}]})"),
      "entry[0].changes");
  EXPECT_EQ(error_path(R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[)"
                       R"({"field":"x","value":{}},{"field":"messages"}]}]})"),
            "entry[0].changes[1].value");
  EXPECT_EQ(error_path(R"({"object":"whatsapp_business_account","entry":[{"id":"1","time":"x",)"
                       R"("changes":[]}]})"),
            "entry[0].time");

  // Body-level parts of a messages value still refuse the body.
  EXPECT_EQ(error_path(R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[)"
                       R"({"field":"messages","value":{"contacts":[7]}}]}]})"),
            "entry[0].changes[0].value.contacts[0]");
  EXPECT_EQ(error_path(R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[)"
                       R"({"field":"messages","value":{"messages":{}}}]}]})"),
            "entry[0].changes[0].value.messages");
}

constexpr const char* kGoodMessage =
    R"({"from":"1","id":"good","timestamp":"1","type":"text","text":{"body":"ok"}})";

// The InvalidItem that `item` (JSON text) becomes, checking that a good message
// after it in the same array is still parsed.
wacloud::InvalidItem invalid_message(const std::string& item) {
  std::vector<Event> events = parse_webhook(with_message(item + "," + kGoodMessage));
  if (events.size() < 2 || events[0].type() != EventType::kInvalid) {
    ADD_FAILURE() << "not an InvalidItem: " << item;
    return {};
  }
  EXPECT_EQ(events[1].type(), EventType::kMessage) << item;
  if (events[1].type() == EventType::kMessage) {
    EXPECT_EQ(message_of(events[1]).message_id, "good");
  }
  return std::get<wacloud::InvalidItem>(events[0].data);
}

TEST(Webhook, UnreadableMessagesBecomeInvalidItemsBesideParsedNeighbours) {
  const std::string at = "entry[0].changes[0].value.messages[0]";
  EXPECT_EQ(invalid_message(R"({"from":"1","timestamp":"1","type":"text"})").path, at + ".id");
  EXPECT_EQ(invalid_message(R"({"from":"1","id":"m","timestamp":"soon","type":"text"})").path,
            at + ".timestamp");
  EXPECT_EQ(invalid_message(R"({"from":"1","id":"m","timestamp":1.5,"type":"text"})").path,
            at + ".timestamp");
  EXPECT_EQ(invalid_message(R"({"from":"1","id":"m","timestamp":-1,"type":"text"})").path,
            at + ".timestamp");
  EXPECT_EQ(
      invalid_message(R"({"from":"1","id":"m","timestamp":"1","type":"text","text":[]})").path,
      at + ".text");
  EXPECT_EQ(
      invalid_message(R"({"from":"1","id":"m","timestamp":"1","type":"text","text":{"body":5}})")
          .path,
      at + ".text.body");
  EXPECT_EQ(invalid_message(
                R"({"from":"1","id":"m","timestamp":"1","type":"image","image":{"caption":"x"}})")
                .path,
            at + ".image.id");
  EXPECT_EQ(invalid_message(R"({"from":"1","id":"m","timestamp":"1","type":"location",)"
                            R"("location":{"latitude":"north","longitude":1}})")
                .path,
            at + ".location.latitude");
  EXPECT_EQ(invalid_message(R"({"from":"1","id":"m","timestamp":"1","type":"text",)"
                            R"("context":{"forwarded":"yes"}})")
                .path,
            at + ".context.forwarded");
  EXPECT_EQ(invalid_message(R"({"from":"1","id":"m","timestamp":"1","type":"text",)"
                            R"("errors":[{"code":"E1"}]})")
                .path,
            at + ".errors[0].code");

  const wacloud::InvalidItem no_type =
      invalid_message(R"({"from":"1","id":"m","timestamp":"7","location":{"latitude":1}})");
  EXPECT_EQ(no_type.kind, "message");
  EXPECT_EQ(no_type.path, at + ".type");
  EXPECT_EQ(no_type.reason, at + ".type: is missing");
  EXPECT_EQ(no_type.item_id, "m");

  // The event around it: the item as raw, the envelope, a readable timestamp.
  std::vector<Event> events = parse_webhook(with_message(
      std::string(R"({"from":"1","id":9,"timestamp":"7","type":{}},)") + kGoodMessage));
  ASSERT_EQ(events.size(), 2u);
  ASSERT_EQ(events[0].type(), EventType::kInvalid);
  EXPECT_EQ(events[0].field, "messages");
  EXPECT_EQ(events[0].waba_id, "1");
  EXPECT_EQ(events[0].phone_number_id, "5");
  EXPECT_EQ(events[0].display_phone_number, "15550000000");
  EXPECT_EQ(events[0].timestamp, 7);
  EXPECT_EQ(events[0].raw.get().at("id").as_int64(), 9);
  const auto& invalid = std::get<wacloud::InvalidItem>(events[0].data);
  EXPECT_EQ(invalid.item_id, "9");
  EXPECT_EQ(invalid.reason, at + ".type: expected a string, got an object");

  // An item that is not an object: empty raw, and the value handed over whole.
  events = parse_webhook(with_message(std::string("7,") + kGoodMessage));
  ASSERT_EQ(events.size(), 3u);
  ASSERT_EQ(events[0].type(), EventType::kInvalid);
  EXPECT_TRUE(events[0].raw.get().empty());
  EXPECT_FALSE(events[0].timestamp);
  EXPECT_EQ(std::get<wacloud::InvalidItem>(events[0].data).path, at);
  EXPECT_EQ(events[1].type(), EventType::kMessage);
  ASSERT_EQ(events[2].type(), EventType::kFieldUpdate);
  EXPECT_EQ(events[2].raw.get().at("messages").as_array().at(0).as_int64(), 7);
}

TEST(Webhook, UnreadableStatusesAndEchoesBecomeInvalidItems) {
  std::string status = fixture("message_status__sent.json");
  status.replace(status.find("\"recipient_id\""), 14, "\"id_recipient\"");
  status.replace(status.find("\"id\": \"wamid"), 4, "\"xx\"");
  std::vector<Event> events = parse_webhook(status);
  ASSERT_EQ(events.size(), 2u);  // value.contacts is nobody's now: the value goes out whole
  EXPECT_EQ(events[1].type(), EventType::kFieldUpdate);
  ASSERT_EQ(events[0].type(), EventType::kInvalid);
  const auto& invalid = std::get<wacloud::InvalidItem>(events[0].data);
  EXPECT_EQ(invalid.kind, "status");
  EXPECT_EQ(invalid.path, "entry[0].changes[0].value.statuses[0].id");
  EXPECT_FALSE(invalid.item_id);
  EXPECT_TRUE(events[0].raw.get().contains("xx"));

  events = parse_webhook(
      R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[)"
      R"({"field":"smb_message_echoes","value":{"message_echoes":[)"
      R"({"from":"2","id":"e1","timestamp":"1","type":"text","text":{"body":"x"}},)"
      R"({"from":"2","to":"3","id":"e2","timestamp":"1","type":"text","text":{"body":"y"}}]}}]}]})");
  ASSERT_EQ(events.size(), 2u);
  ASSERT_EQ(events[0].type(), EventType::kInvalid);
  EXPECT_EQ(std::get<wacloud::InvalidItem>(events[0].data).kind, "message_echo");
  EXPECT_EQ(std::get<wacloud::InvalidItem>(events[0].data).path,
            "entry[0].changes[0].value.message_echoes[0].to");
  ASSERT_EQ(events[1].type(), EventType::kMessage);
  EXPECT_TRUE(message_of(events[1]).is_echo);
}

TEST(Webhook, ToleratesAMissingObject) {
  std::vector<Event> events =
      parse_webhook(R"({"entry":[{"id":"1","time":5,"changes":[{"field":"account_update",)"
                    R"("value":{"event":"PARTNER_ADDED"}}]}]})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type(), EventType::kFieldUpdate);
  EXPECT_TRUE(parse_webhook(R"({"entry":[]})").empty());
}

TEST(Webhook, MessagesWithoutSenderAreKept) {
  std::vector<Event> events = parse_webhook(
      with_message(R"({"id":"m","timestamp":"1","type":"text","text":{"body":"x"}})"));
  ASSERT_EQ(events.size(), 1u);
  ASSERT_EQ(events[0].type(), EventType::kMessage);
  EXPECT_FALSE(message_of(events[0]).from_wa_id);
  EXPECT_FALSE(message_of(events[0]).from_user_id);
  EXPECT_EQ(message_of(events[0]).text, "x");
}

// A messages body with `contacts` (JSON text) and one message from `from`.
std::string with_contacts(const std::string& contacts, const std::string& from) {
  return R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",)"
         R"("value":{"messaging_product":"whatsapp","contacts":)" +
         contacts + R"(,"messages":[{"from":")" + from +
         R"(","id":"m","timestamp":"1","type":"text","text":{"body":"x"}}]}}]}]})";
}

TEST(Webhook, SingleContactIsTheSendersEvenWhenItsWaIdDiffers) {
  std::vector<Event> events = parse_webhook(
      with_contacts(R"([{"profile":{"name":"Bruna"},"wa_id":"5511987654321"}])", "551187654321"));
  ASSERT_EQ(events.size(), 1u);
  const InboundMessage& message = message_of(events[0]);
  EXPECT_EQ(message.contact_name, "Bruna");
  ASSERT_TRUE(message.contact);
  EXPECT_EQ(message.contact->get().at("wa_id").as_string(), "5511987654321");

  // Several entries match exactly; the ones nobody matched go out with their value.
  events = parse_webhook(with_contacts(
      R"([{"profile":{"name":"A"},"wa_id":"11"},{"profile":{"name":"B"},"wa_id":"22"}])", "33"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_FALSE(message_of(events[0]).contact);
  EXPECT_EQ(events[1].type(), EventType::kFieldUpdate);
  events = parse_webhook(with_contacts(
      R"([{"profile":{"name":"A"},"wa_id":"11"},{"profile":{"name":"B"},"wa_id":"22"}])", "22"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(message_of(events[0]).contact_name, "B");
}

TEST(Webhook, StatusesCarryTheirRecipientsContact) {
  std::vector<Event> events = parse_webhook(
      R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",)"
      R"("value":{"contacts":[{"wa_id":"","user_id":"US.1"}],"statuses":[{"id":"s",)"
      R"("status":"delivered","timestamp":"1","recipient_user_id":"US.1"}]}}]}]})");
  ASSERT_EQ(events.size(), 1u);
  const auto& status = std::get<StatusUpdate>(events[0].data);
  ASSERT_TRUE(status.contact);
  EXPECT_EQ(status.contact->get().at("user_id").as_string(), "US.1");
}

TEST(Webhook, OlderErrorShapeKeepsDetailsAndTitle) {
  std::vector<Event> events = parse_webhook(with_message(
      R"({"from":"1","id":"m","timestamp":"1","type":"unknown","errors":[{"code":131051,)"
      R"("title":"Unsupported message type","details":"Message type is not supported"}]})"));
  ASSERT_EQ(events.size(), 1u);
  const InboundMessage& message = message_of(events[0]);
  ASSERT_EQ(message.errors.size(), 1u);
  EXPECT_EQ(message.errors[0].code, 131051);
  EXPECT_EQ(message.errors[0].title, "Unsupported message type");
  EXPECT_EQ(message.errors[0].details, "Message type is not supported");
}

TEST(Webhook, TemplateStatusChangeWithoutEventIsAFieldUpdate) {
  std::vector<Event> events = parse_webhook(
      R"({"object":"whatsapp_business_account","entry":[{"id":"1","time":5,"changes":[)"
      R"({"field":"message_template_status_update","value":{"previous_quality_score":"GREEN",)"
      R"("new_quality_score":"YELLOW","message_template_id":806312974732579}}]}]})");
  ASSERT_EQ(events.size(), 1u);
  ASSERT_EQ(events[0].type(), EventType::kFieldUpdate);
  EXPECT_EQ(events[0].field, "message_template_status_update");
  EXPECT_EQ(events[0].timestamp, 5);
  EXPECT_EQ(events[0].raw.get().at("new_quality_score").as_string(), "YELLOW");
}

TEST(Webhook, GroupBsuidUnsupportedAndInteractiveFieldsAreTyped) {
  InboundMessage group = message_of(parse_webhook(with_message(
      R"({"from":"1","from_user_id":"US.1","from_parent_user_id":"US.ENT.1","group_id":"G1",)"
      R"("id":"m","timestamp":"1","type":"text","text":{"body":"x"}})"))[0]);
  EXPECT_EQ(group.group_id, "G1");
  EXPECT_EQ(group.from_user_id, "US.1");
  EXPECT_EQ(group.from_parent_user_id, "US.ENT.1");

  InboundMessage unsupported = message_of(parse_webhook(with_message(
      R"({"from":"1","id":"m","timestamp":"1","type":"unsupported","unsupported":{"type":"edit"}})"))
                                              [0]);
  EXPECT_EQ(unsupported.unsupported_type, "edit");

  InboundMessage permission = message_of(parse_webhook(
      with_message(R"({"from":"1","id":"m","timestamp":"1","type":"interactive","interactive":{)"
                   R"("type":"call_permission_reply","call_permission_reply":{"response":"accept",)"
                   R"("expiration_timestamp":1753186982,"response_source":"user_action"}}})"))[0]);
  ASSERT_TRUE(permission.interactive);
  EXPECT_EQ(permission.interactive->response, "accept");
  EXPECT_EQ(permission.interactive->response_source, "user_action");
  EXPECT_EQ(permission.interactive->expiration, 1753186982);
  ASSERT_TRUE(permission.interactive->content);
  EXPECT_EQ(permission.interactive->content->get().at("response").as_string(), "accept");

  InboundMessage future = message_of(parse_webhook(
      with_message(R"({"from":"1","id":"m","timestamp":"1","type":"interactive","interactive":{)"
                   R"("type":"future_reply","future_reply":{"choice":2}}})"))[0]);
  ASSERT_TRUE(future.interactive && future.interactive->content);
  EXPECT_EQ(future.interactive->content->get().at("choice").as_int64(), 2);

  std::vector<Event> echoes = parse_webhook(
      R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[)"
      R"({"field":"smb_message_echoes","value":{"message_echoes":[{"from":"2","to_user_id":"US.3",)"
      R"("to_parent_user_id":"US.ENT.3","id":"e","timestamp":"1","type":"text",)"
      R"("text":{"body":"y"}}]}}]}]})");
  ASSERT_EQ(echoes.size(), 1u);
  EXPECT_FALSE(message_of(echoes[0]).to_wa_id);
  EXPECT_EQ(message_of(echoes[0]).to_user_id, "US.3");
  EXPECT_EQ(message_of(echoes[0]).to_parent_user_id, "US.ENT.3");
}

TEST(Webhook, LoneSurrogateEscapesBecomeReplacementCharacters) {
  const auto text_of = [](const std::string& escaped) {
    std::vector<Event> events = parse_webhook(
        with_message(R"({"from":"1","id":"m","timestamp":"1","type":"text","text":{"body":")" +
                     escaped + R"("}})"));
    return message_of(events.at(0)).text.value_or("<none>");
  };
  const std::string replacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8
  EXPECT_EQ(text_of(R"(a\ud83d)"), "a" + replacement);
  EXPECT_EQ(text_of(R"(\ud83dx)"), replacement + "x");
  EXPECT_EQ(text_of(R"(\ude00)"), replacement);
  EXPECT_EQ(text_of(R"(\ud800\u0041)"), replacement + "A");
  EXPECT_EQ(text_of(R"(\ud83d\ud83d\ude00)"), replacement + "\xF0\x9F\x98\x80");
  EXPECT_EQ(text_of(R"(\ud83d\ude00)"), "\xF0\x9F\x98\x80");  // a pair is untouched
  EXPECT_EQ(text_of(R"(C:\\ud800)"), "C:\\ud800");            // an escaped backslash
  EXPECT_EQ(text_of(R"(\\\ud800)"), "\\" + replacement);      // then a lone escape

  // The rewrite keeps every byte where it was: later errors name the same byte.
  const std::string body = R"({"note":"\ud800","entry":nope})";
  try {
    parse_webhook(body);
    FAIL() << "parsed";
  } catch (const WebhookPayloadError& error) {
    EXPECT_EQ(error.path(), "$");
    const std::string expected = "at byte " + std::to_string(body.find("nope"));
    EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
  }
}

TEST(Webhook, RefusesDeepNesting) {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  try {
    parse_webhook(deep);
    FAIL() << "parsed";
  } catch (const WebhookPayloadError& error) {
    EXPECT_EQ(error.path(), "$");
    EXPECT_NE(std::string(error.what()).find("deeper than the limit of 32"), std::string::npos)
        << error.what();
  }
}

TEST(Webhook, EveryPrefixOfARealPayloadThrowsAndNeverCrashes) {
  for (const char* name : {"message__text.json", "message_status__failed.json",
                           "edited_message__image.json", "template_status_update__approved.json"}) {
    const std::string body = fixture(name);
    ASSERT_NO_THROW(parse_webhook(body));
    // Stop before the last "}" so every prefix is truncated JSON.
    const std::size_t end = body.rfind('}');
    for (std::size_t length = 0; length < end; ++length) {
      EXPECT_THROW(parse_webhook(std::string_view(body).substr(0, length)), WebhookPayloadError)
          << name << " prefix " << length;
    }
  }
}

TEST(Webhook, BatchKeepsGoingPastBadBodies) {
  const std::string good = fixture("message__text.json");
  const std::vector<std::string_view> bodies = {good, "{", good};
  std::vector<wacloud::WebhookParseResult> results = wacloud::parse_webhooks(bodies);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].events.size(), 1u);
  EXPECT_FALSE(results[0].error);
  ASSERT_TRUE(results[1].error);
  EXPECT_EQ(results[1].error->path(), "$");
  EXPECT_TRUE(results[1].events.empty());
  EXPECT_EQ(results[2].events.size(), 1u);
}

TEST(Webhook, EventsOutliveTheirBody) {
  std::vector<Event> events;
  {
    std::string body = fixture("message__order.json");
    events = parse_webhook(body);
    body.assign(body.size(), 'x');
  }
  const InboundMessage& order = message_of(events.at(0));
  EXPECT_EQ(order.order->get().at("catalog_id").as_string(), "354160437058781");
}

}  // namespace
