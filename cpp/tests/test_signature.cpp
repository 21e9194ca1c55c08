#include <gtest/gtest.h>

#include "wacloud/signature.hpp"

using wacloud::sign;
using wacloud::verify_signature;

// RFC 4231 test case 2: key "Jefe".
TEST(Signature, MatchesRfc4231Vector) {
  EXPECT_EQ(sign("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Signature, RoundTrips) {
  const std::string body = R"({"object":"whatsapp_business_account","entry":[]})";
  EXPECT_TRUE(verify_signature("secret", body, sign("secret", body)));
}

TEST(Signature, AcceptsUppercaseHex) {
  std::string header = sign("secret", "body");
  for (std::size_t i = 7; i < header.size(); ++i) header[i] = static_cast<char>(toupper(header[i]));
  EXPECT_TRUE(verify_signature("secret", "body", header));
}

TEST(Signature, RejectsWrongSecretOrBody) {
  const std::string header = sign("secret", "body");
  EXPECT_FALSE(verify_signature("other", "body", header));
  EXPECT_FALSE(verify_signature("secret", "body2", header));
}

TEST(Signature, RejectsMalformedHeadersWithoutThrowing) {
  const std::string good = sign("secret", "body");
  EXPECT_FALSE(verify_signature("secret", "body", ""));
  EXPECT_FALSE(verify_signature("secret", "body", "sha256="));
  EXPECT_FALSE(verify_signature("secret", "body", good.substr(0, good.size() - 1)));
  EXPECT_FALSE(verify_signature("secret", "body", good + "0"));
  EXPECT_FALSE(verify_signature("secret", "body", "sha1=" + good.substr(7)));
  EXPECT_FALSE(verify_signature("secret", "body", "SHA256=" + good.substr(7)));
  std::string not_hex = good;
  not_hex.back() = 'g';
  EXPECT_FALSE(verify_signature("secret", "body", not_hex));
}

TEST(Signature, EmptySecretNeverVerifies) {
  EXPECT_FALSE(verify_signature("", "body", sign("", "body")));
}
