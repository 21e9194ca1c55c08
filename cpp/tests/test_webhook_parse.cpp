// The parser's shortcuts must not show: each object's keys found in one pass,
// events made in place in the result, one parser per thread reused across bodies.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "wacloud/webhook.hpp"

namespace {

using wacloud::Event;
using wacloud::EventType;
using wacloud::InboundMessage;
using wacloud::InvalidItem;
using wacloud::parse_webhook;
using wacloud::StatusUpdate;
using wacloud::WebhookPayloadError;

std::string fixture(const std::string& name) {
  std::ifstream in(std::filesystem::path(WACLOUD_FIXTURES_DIR) / name, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A body of one entry whose changes[] is `changes` (JSON text).
std::string body_with_changes(const std::string& changes, const std::string& waba_id = "1") {
  return R"({"object":"whatsapp_business_account","entry":[)" + std::string(R"({"id":")") +
         waba_id + R"(","changes":[)" + changes + "]}]}";
}

// A body with one "messages" change whose value is `value` (JSON text).
std::string body_with_value(const std::string& value) {
  return body_with_changes(R"({"field":"messages","value":)" + value + "}");
}

// A text message object; `extra` is JSON text added after its last key.
std::string text_message(const std::string& id, const std::string& extra = "") {
  return R"({"from":"1","id":")" + id + R"(","timestamp":"1","type":"text","text":{"body":"hi"})" +
         extra + "}";
}

// Each event's type and raw JSON, to compare two parses of a body.
std::string summary(const std::vector<Event>& events) {
  std::string out;
  for (const Event& event : events) {
    out += std::to_string(static_cast<int>(event.type())) + boost::json::serialize(event.raw.get());
  }
  return out;
}

TEST(WebhookParse, TheFirstBadIdInTheBodysOrderNamesTheError) {
  const auto path_of = [](const std::string& ids) {
    const std::vector<Event> events =
        parse_webhook(body_with_value(R"({"messages":[)" + text_message("m", ids) + "]}"));
    return std::get<InvalidItem>(events.at(0).data).path;
  };
  const std::string at = "entry[0].changes[0].value.messages[0].";
  EXPECT_EQ(path_of(R"(,"group_id":5,"from_user_id":6)"), at + "group_id");
  EXPECT_EQ(path_of(R"(,"from_user_id":6,"group_id":5)"), at + "from_user_id");
  EXPECT_EQ(path_of(R"(,"to_parent_user_id":[],"to_user_id":{})"), at + "to_parent_user_id");
}

TEST(WebhookParse, ANullErrorsListStillMakesAnErrorEvent) {
  const std::vector<Event> events = parse_webhook(
      body_with_value(R"({"messages":[)" + text_message("m") + R"(],"errors":null})"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type(), EventType::kMessage);
  ASSERT_EQ(events[1].type(), EventType::kError);
  EXPECT_TRUE(std::get<wacloud::WebhookError>(events[1].data).errors.empty());
}

TEST(WebhookParse, AnItemRefusedLateIsWhollyReplacedByItsInvalidItem) {
  // Each item's event is begun before its errors[] is read, the last thing read.
  const std::vector<Event> events = parse_webhook(
      body_with_value(R"({"messages":[)" + text_message("a") + "," +
                      text_message("b", R"(,"errors":[{"code":"x"}])") + "," + text_message("c") +
                      R"(],"statuses":[{"id":"s","status":"sent","timestamp":"2","errors":7},)"
                      R"({"id":"t","status":"read","timestamp":"3"}]})"));
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(std::get<InboundMessage>(events[0].data).message_id, "a");
  ASSERT_EQ(events[1].type(), EventType::kInvalid);
  const InvalidItem& message = std::get<InvalidItem>(events[1].data);
  EXPECT_EQ(message.kind, "message");
  EXPECT_EQ(message.path, "entry[0].changes[0].value.messages[1].errors[0].code");
  EXPECT_EQ(message.item_id, "b");
  EXPECT_EQ(events[1].timestamp, 1);
  EXPECT_EQ(events[1].raw.get().at("id").as_string(), "b");
  EXPECT_EQ(std::get<InboundMessage>(events[2].data).message_id, "c");
  ASSERT_EQ(events[3].type(), EventType::kInvalid);
  const InvalidItem& status = std::get<InvalidItem>(events[3].data);
  EXPECT_EQ(status.kind, "status");
  EXPECT_EQ(status.path, "entry[0].changes[0].value.statuses[0].errors");
  EXPECT_EQ(events[3].timestamp, 2);
  EXPECT_EQ(std::get<StatusUpdate>(events[4].data).message_id, "t");
  EXPECT_EQ(events[4].timestamp, 3);
}

TEST(WebhookParse, EventsOfManyEntriesAndChangesComeInTheBodysOrder) {
  std::string entries;
  std::vector<std::string> expected_ids;
  for (int entry = 0; entry < 3; ++entry) {
    std::string changes;
    for (int change = 0; change < 3; ++change) {
      std::string messages;
      for (int item = 0; item <= change + entry; ++item) {
        const std::string id =
            std::to_string(entry) + "." + std::to_string(change) + "." + std::to_string(item);
        messages += (item ? "," : "") + text_message(id);
        expected_ids.push_back(id);
      }
      changes += std::string(change ? "," : "") + R"({"field":"messages","value":{"messages":[)" +
                 messages + "]}}";
    }
    changes += R"(,{"field":"account_update","value":{"event":"x"}})";
    expected_ids.push_back("account_update");
    entries += std::string(entry ? "," : "") + R"({"id":"w)" + std::to_string(entry) +
               R"(","changes":[)" + changes + "]}";
  }
  const std::vector<Event> events =
      parse_webhook(R"({"object":"whatsapp_business_account","entry":[)" + entries + "]}");
  ASSERT_EQ(events.size(), expected_ids.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    const Event& event = events[i];
    if (const auto* message = std::get_if<InboundMessage>(&event.data)) {
      EXPECT_EQ(message->message_id, expected_ids[i]);
      EXPECT_EQ(event.waba_id, "w" + expected_ids[i].substr(0, 1));
      EXPECT_EQ(event.field, "messages");
      EXPECT_EQ(event.raw.get().at("id").as_string(), expected_ids[i]);
    } else {
      EXPECT_EQ(event.type(), EventType::kFieldUpdate) << i;
      EXPECT_EQ(event.field, expected_ids[i]);
    }
  }
}

TEST(WebhookParse, BodiesBeyondTheReusedParsersLimitParse) {
  const std::string long_text(200 * 1024, 'x');
  const std::vector<Event> events = parse_webhook(body_with_value(
      R"({"messages":[{"from":"1","id":"m","timestamp":"1","type":"text","text":{"body":")" +
      long_text + R"("}}]})"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(std::get<InboundMessage>(events[0].data).text, long_text);
  EXPECT_THROW(parse_webhook(std::string(100 * 1024, '[')), WebhookPayloadError);
  EXPECT_THROW(parse_webhook(body_with_value("[" + std::string(100 * 1024, ' ') + "nope]")),
               WebhookPayloadError);
}

TEST(WebhookParse, ARefusedBodyLeavesTheNextOneUnaffected) {
  const std::string good = fixture("message__text.json");
  const std::string expected = summary(parse_webhook(good));
  ASSERT_FALSE(expected.empty());
  const std::string refused[] = {good.substr(0, good.size() / 2), std::string(40, '['),
                                 R"({"entry":[{"id":"1","x":tru)", R"({"a":"\ud800",)"};
  for (const std::string& bad : refused) {
    EXPECT_THROW(parse_webhook(bad), WebhookPayloadError) << bad;
    EXPECT_EQ(summary(parse_webhook(good)), expected) << "after " << bad;
  }
}

TEST(WebhookParse, ThreadsParseSideBySide) {
  std::vector<std::string> bodies;
  for (const char* name :
       {"message__text.json", "message_status__failed.json", "message__contacts.json",
        "template_status_update__approved.json", "message__interactive_message_with_err.json"}) {
    bodies.push_back(fixture(name));
  }
  std::vector<std::string> expected;
  for (const std::string& body : bodies) expected.push_back(summary(parse_webhook(body)));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 50; ++round) {
        for (std::size_t i = 0; i < bodies.size(); ++i) {
          if (summary(parse_webhook(bodies[i])) != expected[i]) ++mismatches;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
