// Interactive Flow messages (WhatsApp Flows): the exact body, Meta's rules, the
// field reader, and the Flow management error kind.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "wacloud/errors.hpp"
#include "wacloud/graph_errors.hpp"
#include "wacloud/payloads.hpp"

namespace json = boost::json;
using namespace wacloud;

namespace {

FlowMessage flow() {
  FlowMessage message;
  message.body = "Book your table";
  message.flow_cta = "Book!";
  message.flow_id = "1234567890";
  return message;
}

json::object interactive_of(const FlowMessage& message) {
  return build_message_payload("16505551234", message).at("interactive").as_object();
}

// The field that a refused message names (empty when it was accepted).
std::string refused_field(const FlowMessage& message) {
  try {
    build_message_payload("16505551234", message);
  } catch (const GraphError& e) {
    EXPECT_EQ(e.info().code, 100);
    std::string what = e.what();
    return what.substr(0, what.find(':'));
  }
  return "";
}

}  // namespace

TEST(FlowPayload, NavigateWithScreenAndData) {
  FlowMessage message = flow();
  message.flow_token = "AQAAAAACS5FpgQ_cAAAAAD0QI3s.";
  message.screen = "WELCOME";
  message.data = json::object{{"name", "Ana"}};
  message.header = "Tables";
  message.footer = "Open 9-5";
  EXPECT_EQ(json::serialize(build_message_payload("16505551234", message)),
            R"({"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234",)"
            R"("type":"interactive","interactive":{"type":"flow","header":{"type":"text",)"
            R"("text":"Tables"},"body":{"text":"Book your table"},"footer":{"text":"Open 9-5"},)"
            R"("action":{"name":"flow","parameters":{"flow_message_version":"3",)"
            R"("flow_token":"AQAAAAACS5FpgQ_cAAAAAD0QI3s.","flow_id":"1234567890",)"
            R"("flow_cta":"Book!","flow_action":"navigate","flow_action_payload":)"
            R"({"screen":"WELCOME","data":{"name":"Ana"}}}}}})");
}

TEST(FlowPayload, DataExchangeByNameInDraftMode) {
  FlowMessage message = flow();
  message.flow_id.clear();
  message.flow_name = "table booking";
  message.flow_action = "data_exchange";
  message.mode = "draft";
  const json::object parameters = interactive_of(message).at("action").at("parameters").as_object();
  EXPECT_EQ(parameters.at("flow_name"), "table booking");
  EXPECT_EQ(parameters.at("mode"), "draft");
  EXPECT_EQ(parameters.at("flow_action"), "data_exchange");
  EXPECT_FALSE(parameters.contains("flow_id"));
  EXPECT_FALSE(parameters.contains("flow_token"));  // Meta's default, "unused"
  EXPECT_FALSE(parameters.contains("flow_action_payload"));
}

TEST(FlowPayload, MetasRulesNameTheField) {
  FlowMessage both = flow();
  both.flow_name = "also";
  EXPECT_EQ(refused_field(both), "flow_id");
  FlowMessage neither = flow();
  neither.flow_id.clear();
  EXPECT_EQ(refused_field(neither), "flow_id");
  FlowMessage long_cta = flow();
  long_cta.flow_cta = std::string(31, 'c');
  EXPECT_EQ(refused_field(long_cta), "flow_cta");
  FlowMessage long_body = flow();
  long_body.body = std::string(1025, 'b');
  EXPECT_EQ(refused_field(long_body), "body");
  FlowMessage mode = flow();
  mode.mode = "live";
  EXPECT_EQ(refused_field(mode), "mode");
  FlowMessage action = flow();
  action.flow_action = "open";
  EXPECT_EQ(refused_field(action), "flow_action");
  FlowMessage exchange_with_screen = flow();
  exchange_with_screen.flow_action = "data_exchange";
  exchange_with_screen.screen = "FIRST";
  EXPECT_EQ(refused_field(exchange_with_screen), "screen");
  FlowMessage empty_data = flow();
  empty_data.data = json::object{};
  EXPECT_EQ(refused_field(empty_data), "data");
  FlowMessage blank_screen = flow();
  blank_screen.screen = " ";
  EXPECT_EQ(refused_field(blank_screen), "screen");
  EXPECT_EQ(refused_field(flow()), "");
}

TEST(FlowPayload, ReadFromFields) {
  json::object fields{{"body", "Hi"},        {"flow_cta", "Go"},   {"flow_id", "42"},
                      {"screen", "START"},   {"data", {{"a", 1}}}, {"flow_token", "t-1"},
                      {"mode", "published"}, {"header", nullptr}};
  Message message = message_from_fields("flow", fields);
  const auto& read = std::get<FlowMessage>(message);
  EXPECT_EQ(read.flow_id, "42");
  EXPECT_EQ(read.flow_action, "navigate");
  EXPECT_EQ(*read.screen, "START");
  EXPECT_EQ(read.data->at("a"), 1);
  EXPECT_FALSE(read.header.has_value());
  fields["data"] = "not an object";
  try {
    message_from_fields("flow", fields);
    ADD_FAILURE() << "a string accepted as data";
  } catch (const GraphError& e) {
    EXPECT_EQ(std::string(e.what()), "data: must be an object");
  }
}

TEST(FlowErrors, FlowManagementCodesHaveTheirOwnKind) {
  for (long code : {139000L, 139001L, 139002L, 139003L, 139004L}) {
    EXPECT_EQ(classify_graph_error(code, 0, 400, true), GraphErrorKind::kFlow) << code;
  }
  // Block-user codes (1391xx) are not Flow errors.
  EXPECT_NE(classify_graph_error(139100, 0, 400, true), GraphErrorKind::kFlow);
  EXPECT_FALSE(is_retriable(GraphErrorKind::kFlow));
}
