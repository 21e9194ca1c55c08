#include <gtest/gtest.h>

#include <string>

#include "wacloud/errors.hpp"
#include "wacloud/token_info.hpp"

using wacloud::debug_token_path;
using wacloud::missing_scopes;
using wacloud::parse_token_info;
using wacloud::required_token_scopes;

TEST(DebugTokenRequest, PercentEncodesTheInputToken) {
  EXPECT_EQ(debug_token_path("EAAG-abc_1.2~"), "/debug_token?input_token=EAAG-abc_1.2~");
  EXPECT_EQ(debug_token_path("a b&c=d/e|f"), "/debug_token?input_token=a%20b%26c%3Dd%2Fe%7Cf");
  EXPECT_THROW(debug_token_path(""), wacloud::GraphError);
}

TEST(DebugTokenParse, ReadsMetasShape) {
  auto info = parse_token_info(std::string(R"({"data": {
    "app_id": "1234567890", "type": "SYSTEM_USER", "application": "Shop",
    "data_access_expires_at": 1767225600, "expires_at": 0, "is_valid": true,
    "issued_at": 1700000000,
    "scopes": ["whatsapp_business_messaging", "whatsapp_business_management", "public_profile"],
    "granular_scopes": [
      {"scope": "whatsapp_business_messaging", "target_ids": ["102290129340398"]},
      {"scope": "whatsapp_business_management"}],
    "user_id": "998877"}})"));
  EXPECT_TRUE(info.is_valid);
  EXPECT_EQ(info.app_id, "1234567890");
  EXPECT_EQ(info.type, "SYSTEM_USER");
  EXPECT_EQ(info.application, "Shop");
  EXPECT_EQ(info.user_id, "998877");
  EXPECT_EQ(info.expires_at, 0);
  EXPECT_EQ(info.data_access_expires_at, 1767225600);
  EXPECT_EQ(info.issued_at, 1700000000);
  ASSERT_EQ(info.scopes.size(), 3u);
  ASSERT_EQ(info.granular_scopes.size(), 2u);
  EXPECT_EQ(info.granular_scopes[0].scope, "whatsapp_business_messaging");
  ASSERT_EQ(info.granular_scopes[0].target_ids.size(), 1u);
  EXPECT_EQ(info.granular_scopes[0].target_ids[0], "102290129340398");
  EXPECT_TRUE(info.granular_scopes[1].target_ids.empty());
  EXPECT_TRUE(missing_scopes(info, required_token_scopes()).empty());
  EXPECT_EQ(info.error_code, 0);
}

TEST(DebugTokenParse, InvalidTokenCarriesTheErrorInsideData) {
  auto info = parse_token_info(std::string(R"({"data": {
    "app_id": "1", "type": "USER", "expires_at": "1700003600", "is_valid": false,
    "error": {"code": 190, "message": "Error validating access token: Session has expired",
              "subcode": 463},
    "scopes": ["whatsapp_business_messaging"]}})"));
  EXPECT_FALSE(info.is_valid);
  EXPECT_EQ(info.expires_at, 1700003600);  // a numeric string is read too
  EXPECT_EQ(info.error_code, 190);
  EXPECT_EQ(info.error_subcode, 463);
  EXPECT_EQ(info.error_message, "Error validating access token: Session has expired");
  auto missing = missing_scopes(info, required_token_scopes());
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0], "whatsapp_business_management");
}

TEST(DebugTokenParse, ErrorObjectWinsOverIsValid) {
  auto info = parse_token_info(
      std::string(R"({"data": {"is_valid": true, "error": {"code": 190, "message": "x"}}})"));
  EXPECT_FALSE(info.is_valid);
}

TEST(DebugTokenParse, RefusesOtherShapes) {
  EXPECT_THROW(parse_token_info(std::string("not json")), wacloud::GraphError);
  EXPECT_THROW(parse_token_info(std::string("[]")), wacloud::GraphError);
  EXPECT_THROW(parse_token_info(std::string(R"({"data": []})")), wacloud::GraphError);
  EXPECT_THROW(parse_token_info(std::string(R"({"id": "1"})")), wacloud::GraphError);
}
