#include <gtest/gtest.h>

#include <string>

#include "wacloud/webhook_routing.hpp"

namespace {

using wacloud::RoutedChangeIds;
using wacloud::webhook_routing;

TEST(WebhookRouting, NamesEachEntrysWabaAndEachChangesNumber) {
  const auto routing = webhook_routing(R"({"object":"whatsapp_business_account","entry":[
    {"id":"waba-1","changes":[
      {"field":"messages","value":{"metadata":{"phone_number_id":"111"},"messages":[{"id":"x"}]}},
      {"field":"messages","value":{"metadata":{"phone_number_id":"222"}}},
      {"field":"messages","value":{"metadata":{"phone_number_id":"111"}}}]},
    {"id":"waba-2","changes":[{"field":"message_template_status_update","value":{"event":"APPROVED"}}]}]})");
  ASSERT_TRUE(routing.has_value());
  const std::vector<RoutedChangeIds> expected{
      {"waba-1", "111"}, {"waba-1", "222"}, {"waba-2", std::nullopt}};
  EXPECT_EQ(routing->changes, expected);  // the repeat of (waba-1, 111) once
  const std::vector<std::string> fields{"messages", "messages", "messages",
                                        "message_template_status_update"};
  EXPECT_EQ(routing->fields, fields);
}

TEST(WebhookRouting, IntegerIdsReadAsTheirDecimalText) {
  const auto routing = webhook_routing(
      R"({"entry":[{"id":102290129340398,"changes":[{"field":7,"value":{"metadata":{"phone_number_id":18446744073709551615}}}]}]})");
  ASSERT_TRUE(routing.has_value());
  ASSERT_EQ(routing->changes.size(), 1u);
  EXPECT_EQ(routing->changes[0].waba_id, "102290129340398");
  EXPECT_EQ(routing->changes[0].phone_number_id, "18446744073709551615");
  EXPECT_EQ(routing->fields, std::vector<std::string>{"7"});
}

TEST(WebhookRouting, MissingNullAndEmptyIdsNameNothing) {
  const auto routing = webhook_routing(R"({"entry":[
    {"changes":[{"value":{}}, 5, {"field":"", "value":{"metadata":{"phone_number_id":""}}}]},
    {"id":null,"changes":[{"field":null,"value":{"metadata":{"phone_number_id":null}}}]},
    {"id":"","changes":"not a list"}, "not an entry", {"id":"w"}]})");
  ASSERT_TRUE(routing.has_value());
  // Every item of a changes list names its entry's WABA, even one that is not an object.
  EXPECT_EQ(routing->changes, (std::vector<RoutedChangeIds>{{"", std::nullopt}}));
  EXPECT_TRUE(routing->fields.empty());
}

TEST(WebhookRouting, LastOfDuplicateKeysCounts) {
  const auto routing = webhook_routing(
      R"({"entry":[{"id":"first","id":"second","changes":[{"value":{"metadata":{"phone_number_id":"1","phone_number_id":"2"}}}]}]})");
  ASSERT_TRUE(routing.has_value());
  EXPECT_EQ(routing->changes, (std::vector<RoutedChangeIds>{{"second", "2"}}));
}

TEST(WebhookRouting, ABodyWithoutEntriesNamesNothing) {
  for (const char* body :
       {R"({})", R"({"entry":{}})", R"({"entry":null})", R"( {"object":"x"} )"}) {
    const auto routing = webhook_routing(body);
    ASSERT_TRUE(routing.has_value()) << body;
    EXPECT_TRUE(routing->changes.empty()) << body;
  }
}

TEST(WebhookRouting, LeavesWhatItCannotReadExactlyToTheCaller) {
  const std::string too_deep = R"({"entry":[)" + std::string(40, '[') + std::string(40, ']') + "]}";
  for (
      const std::string& body : {
          std::string("not json"),
          std::string("[1, 2]"),
          std::string("\"text\""),
          std::string(""),
          std::string(R"({"entry":[]} extra)"),
          std::string(R"({"entry":[],})"),
          std::string("{\"a\":\"\xff\"}"),          // not UTF-8
          std::string("{\"a\":\"\xed\xa0\x80\"}"),  // a UTF-8-encoded surrogate
          std::string(R"({"a":NaN})"),
          too_deep,
          std::string(R"({"entry":[{"id":1.5,"changes":[]}]})"),
          std::string(R"({"entry":[{"id":true,"changes":[]}]})"),
          std::string(
              R"({"entry":[{"id":"w","changes":[{"value":{"metadata":{"phone_number_id":["1"]}}}]}]})"),
          std::string(R"({"entry":[{"id":"w","changes":[{"field":false}]}]})"),
      }) {
    EXPECT_FALSE(webhook_routing(body).has_value()) << body;
  }
}

TEST(WebhookRouting, LargeBodiesAreRoutedToo) {
  std::string statuses;
  for (int i = 0; i < 2000; ++i) {
    statuses += std::string(i ? "," : "") + R"({"id":"wamid.)" + std::to_string(i) +
                R"(","status":"sent"})";
  }
  const auto routing =
      webhook_routing(R"({"entry":[{"id":"w","changes":[{"field":"messages","value":{)"
                      R"("metadata":{"phone_number_id":"9"},"statuses":[)" +
                      statuses + "]}}]}]}");
  ASSERT_TRUE(routing.has_value());
  EXPECT_EQ(routing->changes, (std::vector<RoutedChangeIds>{{"w", "9"}}));
}

}  // namespace
