// Catalog product messages (single product, product list), the business profile's vertical
// and email checks, and the partial result a 139100 error carries.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "wacloud/errors.hpp"
#include "wacloud/graph_errors.hpp"
#include "wacloud/payloads.hpp"

namespace json = boost::json;
using namespace wacloud;

namespace {

template <typename M>
std::string refused_field(const M& message) {
  try {
    build_message_payload("16505551234", message);
  } catch (const GraphError& e) {
    EXPECT_EQ(e.info().code, 100);
    std::string what = e.what();
    return what.substr(0, what.find(':'));
  }
  return "";
}

ProductListMessage product_list() {
  ProductListMessage message;
  message.header = "Menu";
  message.body = "Pick a dish";
  message.catalog_id = "1234";
  message.sections = {{std::string("Drinks"), {"a", "b"}}, {std::string("Food"), {"c"}}};
  return message;
}

std::string profile_refusal(const json::object& fields) {
  try {
    build_business_profile_update(fields);
  } catch (const GraphError& e) {
    std::string what = e.what();
    return what.substr(0, what.find(':'));
  }
  return "";
}

}  // namespace

TEST(ProductMessage, IsAnInteractiveProductWithoutHeader) {
  ProductMessage message{"1234", "sku-1", std::string("Best seller"), std::nullopt};
  json::object interactive =
      build_message_payload("16505551234", message).at("interactive").as_object();
  EXPECT_EQ(json::serialize(interactive),
            R"({"type":"product","body":{"text":"Best seller"},)"
            R"("action":{"catalog_id":"1234","product_retailer_id":"sku-1"}})");
  EXPECT_EQ(refused_field(ProductMessage{"1234", "", std::nullopt, std::nullopt}),
            "product_retailer_id");
}

TEST(ProductListMessage, HasHeaderBodyAndTitledSections) {
  json::object interactive =
      build_message_payload("16505551234", product_list()).at("interactive").as_object();
  EXPECT_EQ(interactive.at("type"), "product_list");
  EXPECT_EQ(interactive.at("header").at("text"), "Menu");
  const json::array& sections = interactive.at("action").at("sections").as_array();
  ASSERT_EQ(sections.size(), 2u);
  EXPECT_EQ(json::serialize(sections[0]),
            R"({"title":"Drinks","product_items":[{"product_retailer_id":"a"},)"
            R"({"product_retailer_id":"b"}]})");
}

TEST(ProductListMessage, FollowsMetasLimits) {
  ProductListMessage untitled = product_list();
  untitled.sections[1].title.reset();
  EXPECT_EQ(refused_field(untitled), "sections[1].title");
  ProductListMessage headless = product_list();
  headless.header.clear();
  EXPECT_EQ(refused_field(headless), "header");
  ProductListMessage crowded = product_list();
  crowded.sections[0].product_retailer_ids.assign(30, "x");
  EXPECT_EQ(refused_field(crowded), "sections");  // 31 products in all
  ProductListMessage empty = product_list();
  empty.sections[0].product_retailer_ids.clear();
  EXPECT_EQ(refused_field(empty), "sections[0].product_retailer_ids");
  ProductListMessage one_untitled = product_list();
  one_untitled.sections.resize(1);
  one_untitled.sections[0].title.reset();
  EXPECT_EQ(refused_field(one_untitled), "");  // one section needs no title
}

TEST(BusinessProfile, VerticalIsOneOfMetasAndEmailLooksLikeOne) {
  EXPECT_EQ(profile_refusal({{"vertical", "RETAIL"}, {"email", "a@shop.example"}}), "");
  EXPECT_EQ(profile_refusal({{"vertical", "SHOPPING"}}), "vertical");
  EXPECT_EQ(profile_refusal({{"vertical", "UNDEFINED"}}), "vertical");  // read back only
  EXPECT_EQ(profile_refusal({{"email", "not-an-address"}}), "email");
  EXPECT_EQ(profile_refusal({{"email", "a@b"}}), "email");
  EXPECT_EQ(profile_refusal({{"email", ""}}), "");  // clearing it
}

TEST(GraphErrors, KeepWhatAPartlyDoneCallDid) {
  std::string body =
      R"({"messaging_product":"whatsapp","block_users":{"added_users":[{"input":"1","wa_id":"1"}]},)"
      R"("error":{"message":"(#139100) Failed to block/unblock users","code":139100}})";
  GraphErrorInfo info = parse_graph_error(400, body, std::nullopt);
  EXPECT_EQ(info.code, 139100);
  EXPECT_EQ(json::parse(info.partial_result).at("block_users").at("added_users").as_array().size(),
            1u);
  EXPECT_EQ(parse_graph_error(400, R"({"error":{"code":100}})", std::nullopt).partial_result, "");
}

TEST(GraphErrors, OnboardingAndBlockListCodesHaveTheirKinds) {
  EXPECT_EQ(classify_graph_error(133006, 0, 400), GraphErrorKind::kPermissionDenied);
  EXPECT_EQ(classify_graph_error(133010, 0, 400), GraphErrorKind::kPermissionDenied);
  EXPECT_EQ(classify_graph_error(139103, 0, 400), GraphErrorKind::kTransient);
  EXPECT_TRUE(is_retriable(classify_graph_error(139103, 0, 400), 139103));
  EXPECT_EQ(classify_graph_error(133005, 0, 400), GraphErrorKind::kInvalidParameter);
}
