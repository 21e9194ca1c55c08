// Business-scoped user ids (BSUIDs): sending by "recipient", the user_id_update
// field, and the ids events take from their contacts[] entry.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "wacloud/errors.hpp"
#include "wacloud/graph_client.hpp"
#include "wacloud/payloads.hpp"
#include "wacloud/webhook.hpp"

namespace json = boost::json;
using namespace wacloud;

namespace {

// A body of one change of `field` whose value is `value` (JSON text, without braces).
std::string change(const std::string& field, const std::string& value) {
  return R"({"object":"whatsapp_business_account","entry":[{"id":"1","time":1700000000,)"
         R"("changes":[{"field":")" +
         field +
         R"(","value":{"messaging_product":"whatsapp",)"
         R"("metadata":{"phone_number_id":"5","display_phone_number":"15550000000"},)" +
         value + "}}]}]}";
}

}  // namespace

// ---- sending ------------------------------------------------------------------
TEST(UserIds, ShapeIsACountryCodeAPeriodAndUpTo128LettersAndDigits) {
  EXPECT_TRUE(is_user_id("US.13491208655302741918"));
  EXPECT_TRUE(is_user_id("US.ENT.11815799212886844830"));
  EXPECT_TRUE(is_user_id("BR.abcDEF123"));
  EXPECT_TRUE(is_user_id("US." + std::string(128, '7')));
  EXPECT_FALSE(is_user_id("US." + std::string(129, '7')));
  for (const char* bad : {"", "16505551234", "+1 650 555 1234", "us.123", "USA.123", "US.",
                          "US.ENT.", "US.12 34", "US.12-34", "U.123"}) {
    EXPECT_FALSE(is_user_id(bad)) << bad;
  }
}

TEST(UserIds, PayloadNamesTheRecipientInPlaceOfTo) {
  json::object payload =
      build_user_message_payload("US.13491208655302741918", TextMessage{"Hi", false}, "wamid.A");
  EXPECT_EQ(json::serialize(payload),
            R"({"messaging_product":"whatsapp","recipient_type":"individual",)"
            R"("recipient":"US.13491208655302741918","context":{"message_id":"wamid.A"},)"
            R"("type":"text","text":{"preview_url":false,"body":"Hi"}})");
}

TEST(UserIds, AMalformedIdIsRefusedNamingTheField) {
  for (const char* bad : {"", "16505551234", "US.not-an-id"}) {
    try {
      build_user_message_payload(bad, TextMessage{"Hi", false});
      ADD_FAILURE() << "built for " << bad;
    } catch (const GraphError& error) {
      EXPECT_EQ(error.info().code, 100);
      EXPECT_EQ(std::string(error.what()).rfind("recipient: ", 0), 0u) << error.what();
    }
  }
  EXPECT_THROW(check_user_id("16505551234", "user_id"), GraphError);
  EXPECT_NO_THROW(check_user_id("US.ENT.1", "user_id"));
}

TEST(UserIds, ASendAnsweredWithAUserIdKeepsIt) {
  SendResult result = parse_send_result(
      R"({"messaging_product":"whatsapp","contacts":[{"input":"US.1","user_id":"US.1"}],)"
      R"("messages":[{"id":"wamid.X"}]})");
  EXPECT_EQ(result.message_id, "wamid.X");
  EXPECT_EQ(result.user_id, "US.1");
  EXPECT_EQ(result.wa_id, "");  // Meta does not share the number
}

TEST(UserIds, PrepareForUserKeysTheRateLimiterOnTheId) {
  ClientConfig config;
  config.access_token = "t";
  config.phone_number_id = "5";
  GraphClient client(config);
  PreparedSend prepared = client.prepare_for_user("US.77", TextMessage{"Hi", false});
  EXPECT_EQ(prepared.recipient, "US.77");
  EXPECT_EQ(json::parse(prepared.payload).at("recipient").as_string(), "US.77");
  EXPECT_THROW(client.prepare_for_user("+1 650 555 1234", TextMessage{"Hi", false}), GraphError);
}

// ---- user_id_update -------------------------------------------------------------
TEST(UserIds, UserIdUpdateIsOneEventPerEntry) {
  std::vector<Event> events = parse_webhook(change(
      "user_id_update",
      R"("user_id_update":[{"wa_id":"16505551234","detail":"changed",)"
      R"("user_id":{"previous":"US.1","current":"US.2"},)"
      R"("parent_user_id":{"previous":"US.ENT.1","current":"US.ENT.2"},"timestamp":"1750000000"},)"
      R"({"user_id":{"previous":"US.3","current":"US.4"}}])"));
  ASSERT_EQ(events.size(), 2u);
  ASSERT_EQ(events[0].type(), EventType::kUserIdUpdate);
  const auto& update = std::get<UserIdUpdate>(events[0].data);
  EXPECT_EQ(update.previous_user_id, "US.1");
  EXPECT_EQ(update.user_id, "US.2");
  EXPECT_EQ(update.previous_parent_user_id, "US.ENT.1");
  EXPECT_EQ(update.parent_user_id, "US.ENT.2");
  EXPECT_EQ(update.wa_id, "16505551234");
  EXPECT_EQ(update.detail, "changed");
  EXPECT_EQ(events[0].timestamp, 1750000000);
  EXPECT_EQ(events[0].phone_number_id, "5");
  EXPECT_EQ(events[0].raw.get().at("wa_id").as_string(), "16505551234");
  const auto& minimal = std::get<UserIdUpdate>(events[1].data);
  EXPECT_EQ(minimal.user_id, "US.4");
  EXPECT_FALSE(minimal.wa_id);
  EXPECT_FALSE(minimal.parent_user_id);
  EXPECT_EQ(events[1].timestamp, 1700000000);  // none of its own: the entry's time
}

TEST(UserIds, AnUnreadableEntryIsAnInvalidItemBesideItsNeighbours) {
  std::vector<Event> events =
      parse_webhook(change("user_id_update", R"("user_id_update":[{"user_id":"US.2"},)"
                                             R"({"user_id":{"previous":"US.3","current":"US.4"}},)"
                                             R"({"user_id":{"current":"US.6"}}])"));
  ASSERT_EQ(events.size(), 3u);
  const auto& wrong_type = std::get<InvalidItem>(events[0].data);
  EXPECT_EQ(wrong_type.kind, "user_id_update");
  EXPECT_EQ(wrong_type.path, "entry[0].changes[0].value.user_id_update[0].user_id");
  EXPECT_EQ(events[1].type(), EventType::kUserIdUpdate);
  EXPECT_EQ(std::get<InvalidItem>(events[2].data).path,
            "entry[0].changes[0].value.user_id_update[2].user_id.previous");
}

TEST(UserIds, WhatNoUpdateCarriesIsHandedOverWhole) {
  // A key beside the updates, and a value without any: nothing is lost.
  std::vector<Event> events = parse_webhook(
      change("user_id_update", R"("user_id_update":[{"user_id":{"previous":"US.1",)"
                               R"("current":"US.2"}}],"contacts":[{"user_id":"US.2"}])"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type(), EventType::kUserIdUpdate);
  EXPECT_EQ(events[1].type(), EventType::kFieldUpdate);
  events = parse_webhook(change("user_id_update", R"("something_else":1)"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type(), EventType::kFieldUpdate);
}

// ---- ids taken from contacts[] ----------------------------------------------------
TEST(UserIds, AMessageWithoutFromUserIdTakesItsContactsIds) {
  std::vector<Event> events = parse_webhook(change(
      "messages", R"("contacts":[{"profile":{"name":"Ana"},"wa_id":"16505551234","user_id":"US.1",)"
                  R"("parent_user_id":"US.ENT.1"}],"messages":[{"from":"16505551234","id":"m",)"
                  R"("timestamp":"1","type":"text","text":{"body":"hi"}}])"));
  ASSERT_EQ(events.size(), 1u);
  const auto& message = std::get<InboundMessage>(events[0].data);
  EXPECT_EQ(message.from_user_id, "US.1");
  EXPECT_EQ(message.from_parent_user_id, "US.ENT.1");
}

TEST(UserIds, AUserWhoHidesTheirNumberIsNamedByIdOnly) {
  std::vector<Event> events = parse_webhook(
      change("messages", R"("contacts":[{"profile":{"name":"Ana"},"user_id":"US.1"}],)"
                         R"("messages":[{"from_user_id":"US.1","id":"m","timestamp":"1",)"
                         R"("type":"text","text":{"body":"hi"}}])"));
  ASSERT_EQ(events.size(), 1u);
  const auto& message = std::get<InboundMessage>(events[0].data);
  EXPECT_FALSE(message.from_wa_id);
  EXPECT_EQ(message.from_user_id, "US.1");
  EXPECT_EQ(message.contact_name, "Ana");
}

TEST(UserIds, StatusesReadBothParentSpellingsAndTheirContactsIds) {
  std::vector<Event> events = parse_webhook(change(
      "messages",
      R"("contacts":[{"profile":{"name":"A"},"user_id":"US.1","parent_user_id":"US.ENT.1"}],)"
      R"("statuses":[{"id":"a","status":"sent","timestamp":"1","recipient_user_id":"US.1"},)"
      R"({"id":"b","status":"sent","timestamp":"1","recipient_user_id":"US.9",)"
      R"("parent_recipient_user_id":"US.ENT.9"},)"
      R"({"id":"c","status":"sent","timestamp":"1","recipient_user_id":"US.8",)"
      R"("recipient_parent_user_id":"US.ENT.8"}])"));
  ASSERT_EQ(events.size(), 3u);
  const auto& adopted = std::get<StatusUpdate>(events[0].data);
  EXPECT_FALSE(adopted.recipient_id);
  EXPECT_EQ(adopted.recipient_parent_user_id, "US.ENT.1");
  EXPECT_EQ(std::get<StatusUpdate>(events[1].data).recipient_parent_user_id, "US.ENT.9");
  EXPECT_EQ(std::get<StatusUpdate>(events[2].data).recipient_parent_user_id, "US.ENT.8");
}

TEST(UserIds, AGroupStatusDoesNotTakeTheParticipantsIds) {
  std::vector<Event> events = parse_webhook(
      change("messages", R"("contacts":[{"profile":{"name":"P"},"wa_id":"22","user_id":"US.22"}],)"
                         R"("statuses":[{"id":"g","status":"delivered","timestamp":"1",)"
                         R"("recipient_id":"GROUP.1","recipient_type":"group",)"
                         R"("recipient_participant_id":"22"}])"));
  ASSERT_EQ(events.size(), 1u);
  const auto& status = std::get<StatusUpdate>(events[0].data);
  ASSERT_TRUE(status.contact);  // the participant's entry
  EXPECT_FALSE(status.recipient_user_id);
}
