#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
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

TEST(Webhook, EveryFixtureParses) {
  std::size_t files = 0;
  for (const auto& item : std::filesystem::directory_iterator(WACLOUD_FIXTURES_DIR)) {
    if (item.path().extension() != ".json") continue;
    ++files;
    std::vector<Event> events;
    EXPECT_NO_THROW(events = parse_webhook(read_file(item.path()))) << item.path();
    EXPECT_FALSE(events.empty()) << item.path();
    for (const Event& event : events) {
      EXPECT_EQ(event.waba_id.empty(), false) << item.path();
      EXPECT_FALSE(event.field.empty()) << item.path();
    }
  }
  EXPECT_GE(files, 70u);
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
  InboundMessage edit = message_of(only_event("outgoing_message__edit.json"));
  EXPECT_EQ(edit.text, "Text was edited");
  EXPECT_EQ(edit.original_message_id, "wamid.zzzzzz");
  EXPECT_EQ(edit.contact_name, std::nullopt);  // the contact is the sender, not the recipient
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
  EXPECT_EQ(error_path(R"({"entry":[]})"), "object");
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

  EXPECT_EQ(error_path(with_message(R"({"from":"1","timestamp":"1","type":"text"})")),
            "entry[0].changes[0].value.messages[0].id");
  EXPECT_EQ(error_path(with_message(R"({"from":"1","id":"m","timestamp":"soon","type":"text"})")),
            "entry[0].changes[0].value.messages[0].timestamp");
  EXPECT_EQ(error_path(with_message(R"({"from":"1","id":"m","timestamp":1.5,"type":"text"})")),
            "entry[0].changes[0].value.messages[0].timestamp");
  EXPECT_EQ(error_path(with_message(R"({"from":"1","id":"m","timestamp":-1,"type":"text"})")),
            "entry[0].changes[0].value.messages[0].timestamp");
  EXPECT_EQ(
      error_path(with_message(R"({"from":"1","id":"m","timestamp":"1","type":"text","text":[]})")),
      "entry[0].changes[0].value.messages[0].text");
  EXPECT_EQ(error_path(with_message(
                R"({"from":"1","id":"m","timestamp":"1","type":"text","text":{"body":5}})")),
            "entry[0].changes[0].value.messages[0].text.body");
  EXPECT_EQ(error_path(with_message(
                R"({"from":"1","id":"m","timestamp":"1","type":"image","image":{"caption":"x"}})")),
            "entry[0].changes[0].value.messages[0].image.id");
  EXPECT_EQ(error_path(with_message(R"({"from":"1","id":"m","timestamp":"1","type":"location",)"
                                    R"("location":{"latitude":"north","longitude":1}})")),
            "entry[0].changes[0].value.messages[0].location.latitude");
  EXPECT_EQ(error_path(with_message(R"({"id":"m","timestamp":"1","type":"text"})")),
            "entry[0].changes[0].value.messages[0].from");
  EXPECT_EQ(error_path(with_message(R"({"from":"1","id":"m","timestamp":"1","type":"text",)"
                                    R"("context":{"forwarded":"yes"}})")),
            "entry[0].changes[0].value.messages[0].context.forwarded");
  EXPECT_EQ(error_path(with_message(R"({"from":"1","id":"m","timestamp":"1","type":"text",)"
                                    R"("errors":[{"code":"E1"}]})")),
            "entry[0].changes[0].value.messages[0].errors[0].code");
  EXPECT_EQ(error_path(with_message("7")), "entry[0].changes[0].value.messages[0]");

  std::string status = fixture("message_status__sent.json");
  status.replace(status.find("\"recipient_id\""), 14, "\"id_recipient\"");
  status.replace(status.find("\"id\": \"wamid"), 4, "\"xx\"");
  EXPECT_EQ(error_path(status), "entry[0].changes[0].value.statuses[0].id");
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
